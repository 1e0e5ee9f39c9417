"""Causal indicators over numpy arrays: each value uses only its bar and the bars before it.

Warm-up values are NaN. All functions are vectorized, so a backtest computes them once per symbol;
live, the same functions run over the rolling history and give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantnb.errors import ConfigError


def _window(n: int, name: str = "n") -> int:
    if not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"{name}={n!r}: a window must be a positive whole number of bars")
    return int(n)


def _f64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over the last ``n`` values."""
    n = _window(n)
    x = _f64(x)
    out = np.full(x.shape, np.nan)
    if len(x) >= n:
        c = np.cumsum(x)
        out[n - 1] = c[n - 1] / n
        out[n:] = (c[n:] - c[:-n]) / n
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average with span ``n`` (alpha = 2/(n+1)), NaN for the first n-1."""
    n = _window(n)
    out = pd.Series(_f64(x)).ewm(span=n, adjust=False).mean().to_numpy(copy=True)
    out[: n - 1] = np.nan
    return out


def _wilder(x: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(x).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy(copy=True)


def rsi(x: np.ndarray, n: int = 14) -> np.ndarray:
    """Relative strength index (Wilder's smoothing), 0..100; NaN for the first ``n`` values."""
    n = _window(n)
    x = _f64(x)
    d = np.diff(x, prepend=np.nan)
    gain = np.where(d > 0, d, 0.0)
    loss = np.where(d < 0, -d, 0.0)
    gain[0] = loss[0] = 0.0
    ag, al = _wilder(gain, n), _wilder(loss, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(al == 0, np.where(ag == 0, 50.0, 100.0), 100.0 - 100.0 / (1.0 + ag / al))
    out[:n] = np.nan
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """The bar's range extended to the previous close."""
    high, low, close = _f64(high), _f64(low), _f64(close)
    prev = np.concatenate(([np.nan], close[:-1]))
    tr = np.fmax(high - low, np.fmax(np.abs(high - prev), np.abs(low - prev)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average true range (Wilder's smoothing); declare with fields ("high", "low", "close")."""
    n = _window(n)
    out = _wilder(true_range(high, low, close), n)
    out[: n - 1] = np.nan
    return out


def rolling_high(x: np.ndarray, n: int) -> np.ndarray:
    """Highest value of the last ``n`` (this bar included)."""
    n = _window(n)
    return pd.Series(_f64(x)).rolling(n).max().to_numpy()


def rolling_low(x: np.ndarray, n: int) -> np.ndarray:
    """Lowest value of the last ``n`` (this bar included)."""
    n = _window(n)
    return pd.Series(_f64(x)).rolling(n).min().to_numpy()


def crossover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1.0 where ``a`` crosses above ``b`` on this bar, -1.0 where below, else 0.0."""
    a, b = _f64(a), _f64(b)
    diff = a - b
    prev = np.concatenate(([np.nan], diff[:-1]))
    out = np.zeros(a.shape)
    out[(prev <= 0) & (diff > 0)] = 1.0
    out[(prev >= 0) & (diff < 0)] = -1.0
    return out


# Causal by construction and checked on every cut point by tests/test_lookahead.py: a backtest
# does not recompute these on prefixes again (that costs about ten whole computations each).
CAUSAL = frozenset({atr, crossover, ema, rolling_high, rolling_low, rsi, sma, true_range})

__all__ = ["atr", "crossover", "ema", "rolling_high", "rolling_low", "rsi", "sma", "true_range"]
