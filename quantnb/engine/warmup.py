"""The warm-up: how many bars of every symbol a strategy needs before its first ``on_data``.

A strategy declares it with ``ctx.warmup(n)`` in ``initialize``; otherwise it is measured from
what ``initialize`` sets up: each declared indicator's first valid bar (found by running it on a
synthetic series) and the deepest ``ctx.history(symbol, n)`` asked for. A backtest and a live run
use the same number: ``on_data`` is first called at the bar where every symbol has that many bars
(that bar included); live, the history loaded at the start is sized to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantnb.engine.indicators import IndicatorFn, compute, describe, normalise_fields

logger = logging.getLogger(__name__)

_PROBE_LENGTHS = (512, 8192, 131072)  # bars of synthetic data an indicator is measured on
_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(slots=True)
class Warmup:
    """The bars a strategy needs before its first decision, and where that number comes from."""

    bars: int = 0
    declared: int | None = None
    measured: int = 0
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.declared is not None:
            return f"{self.bars} bars (declared with ctx.warmup)"
        why = ", ".join(self.reasons)
        return f"{self.bars} bars ({why})" if why else f"{self.bars} bars"


def _probe(n: int) -> dict[str, np.ndarray]:
    """A deterministic, plausible OHLCV series of ``n`` bars (a positive random walk); the
    short ones are made once and kept (read-only: every run measures on the same bars)."""
    if n > _KEPT_PROBE:
        return _make_probe(n)
    probe = _PROBES.get(n)
    if probe is None:
        probe = _PROBES[n] = _make_probe(n)
        for values in probe.values():
            values.flags.writeable = False
    return probe


_KEPT_PROBE = 8192  # longer probes (a few megabytes) are made when needed, not kept
_PROBES: dict[int, dict[str, np.ndarray]] = {}


def _make_probe(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12345)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.005, n)) * close
    return {
        "open": open_,
        "high": np.maximum(open_, close) + spread,
        "low": np.minimum(open_, close) - spread,
        "close": close,
        "volume": rng.integers(1_000, 100_000, n).astype(np.float64),
    }


def indicator_bars(fn: IndicatorFn, fields: tuple[str, ...], args: tuple[Any, ...]) -> int | None:
    """Bars the indicator needs to give its first value (its first finite bar + 1); None when it
    gives none on a long synthetic series or fails on it."""
    name = describe(fn, fields, args)
    for n in _PROBE_LENGTHS:
        data = _probe(n)
        try:
            values = compute(fn, [data[f] for f in fields], args, name)
        except Exception as exc:  # any failure only means "not measured"
            logger.info("warm-up of %s not measured: %s", name, exc)
            return None
        finite = np.flatnonzero(np.isfinite(values))
        if len(finite):
            return int(finite[0]) + 1
    return None


class _Recorder:
    """Watches ``ctx.indicator`` and ``ctx.history`` while ``initialize`` runs."""

    def __init__(self) -> None:
        self.indicators: list[tuple[IndicatorFn, tuple[str, ...], tuple[Any, ...]]] = []
        self.history = 0

    def wrap(self, ctx: Any) -> None:
        indicator, history = ctx.indicator, ctx.history

        def recording_indicator(fn: IndicatorFn, field: Any = "close", *args: Any) -> Any:
            out = indicator(fn, field, *args)
            self.indicators.append((fn, normalise_fields(field, _FIELDS), args))
            return out

        def recording_history(symbol: str, n: int, field: str = "close") -> Any:
            self.history = max(self.history, int(n))
            return history(symbol, n, field)

        ctx.indicator, ctx.history = recording_indicator, recording_history

    @staticmethod
    def unwrap(ctx: Any) -> None:
        for name in ("indicator", "history"):
            ctx.__dict__.pop(name, None)


def initialize(strategy: Any, ctx: Any, call: Callable[[], Any] | None = None) -> Warmup:
    """Run ``strategy.initialize(ctx)`` (or ``call()``) and return the strategy's warm-up."""
    recorder = _Recorder()
    ctx._declared_warmup = None
    ctx._warmup_open = True
    recorder.wrap(ctx)
    try:
        if call is None:
            strategy.initialize(ctx)
        else:
            call()
    finally:
        recorder.unwrap(ctx)
        ctx._warmup_open = False
    return measure(recorder, ctx._declared_warmup)


def measure(recorder: _Recorder, declared: int | None) -> Warmup:
    """The warm-up from what ``initialize`` declared or set up."""
    reasons: list[str] = []
    measured = 0
    for fn, fields, args in recorder.indicators:
        bars = indicator_bars(fn, fields, args)
        name = describe(fn, fields, args)
        if bars is None:
            logger.warning(
                "the warm-up of indicator %s could not be measured (no value on %d synthetic "
                "bars): declare it with ctx.warmup(n) in initialize",
                name,
                _PROBE_LENGTHS[-1],
            )
            continue
        reasons.append(f"{name}: {bars}")
        measured = max(measured, bars)
    if recorder.history:
        reasons.append(f"ctx.history(..., {recorder.history})")
        measured = max(measured, recorder.history)
    if declared is None:
        return Warmup(measured, None, measured, reasons)
    if declared < measured:
        logger.warning(
            "ctx.warmup(%d) is shorter than the %d bars measured (%s): on_data may see "
            "indicators without a value",
            declared,
            measured,
            ", ".join(reasons),
        )
    return Warmup(declared, declared, measured, reasons)


def first_ready_tick(
    warmup: Warmup, clock: pd.DatetimeIndex, index: Mapping[str, pd.DatetimeIndex]
) -> tuple[int, dict[str, int]]:
    """The first tick of ``clock`` at which every symbol (its bars' ``index``) has
    ``warmup.bars`` bars, and the symbols that never do with their bar counts (then the tick is
    ``len(clock)``)."""
    if warmup.bars <= 0:
        return 0, {}
    short = {s: len(i) for s, i in index.items() if len(i) < warmup.bars}
    if short:
        return len(clock), short
    ready = max(i[warmup.bars - 1] for i in index.values())
    return int(clock.searchsorted(ready)), {}


def warn_short(warmup: Warmup, short: Mapping[str, int], what: str = "the data") -> None:
    """Say that ``what`` is shorter than the warm-up, naming the numbers."""
    listed = ", ".join(f"{s} has {n} bars" for s, n in short.items())
    logger.warning(
        "%s is shorter than the strategy's warm-up of %s: %s, so on_data is never called and "
        "nothing trades. Use more data or shorter indicator windows.",
        what,
        warmup,
        listed,
    )


__all__ = ["Warmup", "first_ready_tick", "indicator_bars", "initialize", "warn_short"]
