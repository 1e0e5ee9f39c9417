"""Declared indicators: computed once over a whole series in a backtest, or over the rolling
history live, and read bar by bar as ``indicator[symbol]``.

The backtest checks each indicator is causal: it recomputes it on many truncated prefixes of the
data (``cut_points``) and raises ``LookAheadError`` naming it, the bar and both values if any
past value changes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from quantnb.errors import ConfigError, LookAheadError

IndicatorFn = Callable[..., np.ndarray]


def describe(fn: IndicatorFn, fields: tuple[str, ...], args: tuple[Any, ...]) -> str:
    """A readable name such as ``sma(close, 10)``."""
    name = getattr(fn, "__name__", type(fn).__name__)
    return f"{name}({', '.join([*fields, *map(repr, args)])})"


def compute(fn: IndicatorFn, columns: Sequence[np.ndarray], args: tuple, name: str) -> np.ndarray:
    """Run ``fn`` and check it returns one float per bar."""
    try:
        out = np.asarray(fn(*columns, *args), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"indicator {name} failed: {exc}") from exc
    if out.shape != (len(columns[0]),):
        raise ConfigError(
            f"indicator {name} returned shape {out.shape} for {len(columns[0])} bars: "
            "an indicator must return one value per bar"
        )
    return out


# The causal check recomputes an indicator on prefixes of its data. Peeking that happens only
# now and then (a shift(-1) on some bars, a whole-series maximum that comes early) shows only at
# some prefixes, so many are tried, in a bounded number of calls: every prefix of a short
# series; else the short prefixes, the powers of two, the quarters, the end and a seeded
# random set.
_ALL_UP_TO = 64
_SHORT = 16
_RANDOM = 12


def cut_points(n: int, seed: int) -> list[int]:
    """The prefix lengths (bar counts) at which ``check_causal`` recomputes an indicator."""
    if n <= _ALL_UP_TO:
        return list(range(2, n))
    cuts = set(range(2, _SHORT + 1))
    cuts.update(1 << j for j in range(5, n.bit_length()))
    cuts.update((n // 4, n // 2, (3 * n) // 4, n - 1))
    cuts.update(np.random.default_rng(seed).integers(2, n, _RANDOM).tolist())
    return sorted(k for k in cuts if k < n)


def check_causal(
    fn: IndicatorFn,
    columns: Sequence[np.ndarray],
    args: tuple,
    full: np.ndarray,
    name: str,
    symbol: str,
    times: Sequence[Any] | None = None,
) -> None:
    """Raise LookAheadError if ``fn`` on a prefix disagrees with ``full`` on that prefix."""
    n = len(full)
    for k in cut_points(n, zlib.crc32(f"{name}|{symbol}".encode())):
        part = compute(fn, [c[:k] for c in columns], args, name)
        if np.array_equal(part, full[:k], equal_nan=True):
            continue
        same = np.isclose(part, full[:k], rtol=1e-9, atol=1e-12, equal_nan=True)
        if not same.all():
            i = int(np.argmin(same))
            when = f"bar {i}" if times is None else f"bar {i} ({times[i]})"
            raise LookAheadError(
                f"indicator {name} looks ahead on {symbol}: its value at {when} is {full[i]:.12g} "
                f"with all {n} bars but {part[i]:.12g} with only the first {k}. An indicator may "
                "use only past and current bars (no centred windows, no shift(-n), no "
                "whole-series normalisation)."
            )


class Indicator:
    """A declared indicator; ``ind[symbol]`` is its value at the current bar."""

    __slots__ = ("args", "fields", "fn", "name")

    def __init__(self, fn: IndicatorFn, fields: tuple[str, ...], args: tuple[Any, ...]) -> None:
        self.fn, self.fields, self.args = fn, fields, args
        self.name = describe(fn, fields, args)

    def __getitem__(self, symbol: str) -> float:
        raise NotImplementedError

    def history(self, symbol: str, n: int) -> np.ndarray:
        """The last ``n`` values up to the current bar, oldest first."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Indicator {self.name}>"


class PrecomputedIndicator(dict):
    """Backtest form: the whole series per symbol; the engine sets ``self[symbol]`` to the
    current bar's value as it reveals each bar, so reading it is a plain dict lookup."""

    __slots__ = ("_rows", "_values", "args", "fields", "fn", "name")

    def __init__(self, fn, fields, args, values: dict[str, np.ndarray], rows: dict[str, int]):
        super().__init__()
        self.fn, self.fields, self.args = fn, fields, args
        self.name = describe(fn, fields, args)
        self._values = values
        self._rows = rows
        for s, r in rows.items():
            self[s] = float(values[s][r]) if r >= 0 and s in values else float("nan")

    def __missing__(self, symbol: str) -> float:
        raise KeyError(f"indicator {self.name} has no symbol {symbol!r}")

    def history(self, symbol: str, n: int) -> np.ndarray:
        """The last ``n`` values up to the current bar, oldest first."""
        r = self._rows[symbol] + 1
        return self._values[symbol][max(0, r - n) : r]

    def __repr__(self) -> str:
        return f"<Indicator {self.name}>"


class RollingIndicator(Indicator):
    """Live form: recomputed over the rolling history when a new bar has arrived."""

    __slots__ = ("_cache", "_history", "_version")

    def __init__(
        self,
        fn,
        fields,
        args,
        history: Callable[[str, str], np.ndarray],
        version: Callable[[str], int],
    ):
        super().__init__(fn, fields, args)
        self._history, self._version = history, version
        self._cache: dict[str, tuple[int, np.ndarray]] = {}

    def _series(self, symbol: str) -> np.ndarray:
        v = self._version(symbol)
        hit = self._cache.get(symbol)
        if hit is not None and hit[0] == v:
            return hit[1]
        cols = [self._history(symbol, f) for f in self.fields]
        out = compute(self.fn, cols, self.args, self.name) if len(cols[0]) else np.empty(0)
        self._cache[symbol] = (v, out)
        return out

    def __getitem__(self, symbol: str) -> float:
        s = self._series(symbol)
        return float(s[-1]) if len(s) else float("nan")

    def history(self, symbol: str, n: int) -> np.ndarray:
        return self._series(symbol)[-n:]


def normalise_fields(field: str | Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """``"close"`` or ``("high", "low", "close")`` as a checked tuple."""
    fields = (field,) if isinstance(field, str) else tuple(field)
    for f in fields:
        if f not in allowed:
            raise ConfigError(f"field {f!r} is not one of {', '.join(allowed)}")
    if not fields:
        raise ConfigError("an indicator needs at least one field, e.g. 'close'")
    return fields
