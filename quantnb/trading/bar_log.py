"""The bars a live run saw, journaled so the run can be replayed as a backtest over them.

At the start the history the strategy is given is journaled as "history"; every group of bars
handed to ``on_data`` as "live". ``replay_bars`` turns the journal's rows back into price
frames and the groups that reached ``on_data``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.engine.context import FIELDS
from quantnb.errors import JournalError
from quantnb.trading.context import LiveContext
from quantnb.trading.journal import Journal

logger = logging.getLogger(__name__)

HISTORY, LIVE = "history", "live"


def record_history(
    journal: Journal | None, ctx: LiveContext, symbols: Iterable[str] | None = None
) -> None:
    """Journal every bar ``ctx`` holds (of ``symbols``, default all) as history."""
    rows = []
    for symbol in symbols if symbols is not None else ctx.series:
        series = ctx.series.get(symbol)
        if series is None or not len(series):
            continue
        times = series.index()
        cols = [series.field(f).tolist() for f in FIELDS]
        rows += [(t, symbol, *values, HISTORY) for t, *values in zip(times, *cols, strict=True)]
    _write(journal, rows)


def record_group(journal: Journal | None, ctx: LiveContext, symbols: Iterable[str]) -> None:
    """Journal the newest bar of each of ``symbols``: the group just handed to ``on_data``."""
    rows = []
    for symbol in symbols:
        bar = ctx.series[symbol].last
        if bar is not None:
            values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            rows.append((bar.time, symbol, *values, LIVE))
    _write(journal, rows, later=True)  # after the orders: by the journal's worker thread


def _write(journal: Journal | None, rows: list[tuple], later: bool = False) -> None:
    if journal is None or journal.closed or not rows:
        return
    try:
        journal.record_bars(rows, later)
    except JournalError as exc:  # a lost bar record must not stop trading
        logger.error("%s", exc)


@dataclass(frozen=True, slots=True)
class Replay:
    """Price frames by symbol (every bar seen) and the groups handed to ``on_data`` by time."""

    frames: dict[str, pd.DataFrame]
    groups: dict[pd.Timestamp, tuple[str, ...]]

    @property
    def live_times(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(sorted(self.groups), tz="UTC")

    def live_times_of(self) -> dict[str, list[pd.Timestamp]]:
        """The times each symbol was handed to ``on_data``, oldest first."""
        out: dict[str, list[pd.Timestamp]] = {}
        for t in sorted(self.groups):
            for symbol in self.groups[t]:
                out.setdefault(symbol, []).append(t)
        return out


def replay_bars(bars: pd.DataFrame) -> Replay:
    """The frames and groups of ``Journal.bars()``; a bar journaled twice counts once."""
    if not len(bars):
        return Replay({}, {})
    bars = bars.sort_values(["symbol", "time"], kind="mergesort")
    frames = {}
    for symbol, rows in bars.groupby("symbol", sort=False):
        frame = rows.drop_duplicates("time", keep="last").set_index("time")[list(FIELDS)]
        frame.index = pd.DatetimeIndex(frame.index, name=None).as_unit("ns")
        frames[str(symbol)] = frame.astype(np.float64)
    live = bars[bars["kind"] == LIVE].drop_duplicates(["symbol", "time"])
    groups = {
        pd.Timestamp(t): tuple(rows["symbol"])
        for t, rows in live.sort_values("seq").groupby("time", sort=True)
    }
    return Replay(frames, groups)
