"""Line up many symbols' bars on one shared clock without copying their data.

``rows[t, j]`` says where bar ``index[t]`` sits in symbol ``j``'s frame (-1: no bar then), so an
engine can step one clock and read each symbol's numpy arrays by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.errors import ConfigError, DataError


@dataclass(frozen=True, slots=True, eq=False)
class Aligned:
    """The union clock of several frames and each frame's row at every tick (-1 when absent)."""

    index: pd.DatetimeIndex
    symbols: tuple[str, ...]
    gaps: np.ndarray | None  # the rows when some symbol misses a tick, else None
    complete: bool

    @property
    def rows(self) -> np.ndarray:
        """``rows[t, j]``: the row of symbol ``j`` at tick ``t``, -1 when it has no bar (read-only).
        Without gaps it is ``t`` for every symbol, made on demand (8 bytes a tick to keep)."""
        if self.gaps is not None:
            return self.gaps
        n = len(self.index)
        return np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], (n, len(self.symbols)))


_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def align(frames: dict[str, pd.DataFrame]) -> Aligned:
    """Union of all timestamps, sorted, with per-symbol row positions found by searchsorted."""
    if not isinstance(frames, dict) or not frames:
        raise ConfigError(
            f"align() needs a non-empty dict of symbol -> DataFrame, got {type(frames).__name__}"
        )
    symbols = tuple(frames)
    stamps = [_stamps(frames[s], s) for s in symbols]
    first = stamps[0]
    if all(len(s) == len(first) and np.array_equal(s, first) for s in stamps[1:]):
        clock = first
        rows = None
        complete = True
        index = frames[symbols[0]].index
    else:
        clock = np.unique(np.concatenate(stamps))
        rows = np.empty((len(clock), len(symbols)), dtype=np.int64)
        for j, own in enumerate(stamps):
            pos = np.searchsorted(own, clock)
            hit = pos < len(own)
            hit[hit] = own[pos[hit]] == clock[hit]
            rows[:, j] = np.where(hit, pos, -1)
        complete = bool((rows >= 0).all())
        rows.flags.writeable = False
    if rows is not None or not (index.dtype == _UTC_NS and index.freq is None):
        index = pd.DatetimeIndex(clock.view("datetime64[ns]")).tz_localize("UTC")
    # (else the first frame's own index, shared rather than copied: the same stamps)
    index = index.rename("time")
    return Aligned(index=index, symbols=symbols, gaps=rows, complete=complete)


def in_ns(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """``index`` in nanoseconds: itself when it already is (``as_unit`` copies the stamps even
    then, 8 MB a million bars)."""
    return index if index.unit == "ns" else index.as_unit("ns")


def _stamps(df: pd.DataFrame, symbol: str) -> np.ndarray:
    index = getattr(df, "index", None)
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{symbol}: needs a DatetimeIndex to align, got {type(index).__name__}; "
            "load it with quantnb.data.load()"
        )
    if index.tz is None:
        raise DataError(f"{symbol}: the index has no time zone; load() makes it UTC")
    values = in_ns(index.tz_convert("UTC")).asi8  # tz_convert shares the stamps
    if len(values) > 1 and not (np.diff(values) > 0).all():
        raise DataError(
            f"{symbol}: timestamps must be sorted and unique to align; "
            "run quantnb.data.validate(df, symbol) to find the bad row"
        )
    return values
