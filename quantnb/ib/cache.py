"""The last N bars per (symbol, interval), in memory and as Parquet on disk, tagged by source.

Serves history while the gateway is unreachable. Files are written to a temporary name and moved
into place, so a crash never leaves a half-written cache. Live bars can be ``append``-ed in O(1)
and merged/written later in batches by ``flush``; ``load`` always sees them.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantnb.data.validate import REQUIRED
from quantnb.domain.interval import Interval
from quantnb.errors import DataError

log = logging.getLogger(__name__)

SOURCES = ("history", "live", "cache")
COLUMNS = (*REQUIRED, "source")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BarCache:
    """The newest ``size`` bars per (symbol, interval); ``directory=None`` keeps memory only."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, size: int = 1000) -> None:
        if size <= 0:
            raise DataError(f"size={size!r}: the cache must hold at least one bar per series")
        self.directory = Path(directory) if directory is not None else None
        self.size = int(size)
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}
        self._buffer: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        self._lock = threading.RLock()
        self._file_locks: dict[tuple[str, str], threading.Lock] = {}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, symbol: str, interval: Interval | str) -> Path | None:
        """The Parquet file of one series (None for a memory-only cache)."""
        if self.directory is None:
            return None
        name = _UNSAFE.sub("_", f"{symbol}_{Interval.parse(interval).name}")
        return self.directory / f"{name}.parquet"

    def load(self, symbol: str, interval: Interval | str) -> pd.DataFrame | None:
        """Cached bars with a ``source`` column, or None; bars read from disk say "cache"."""
        key = (symbol, Interval.parse(interval).name)
        with self._lock:
            pending = key in self._buffer
        if pending:
            # outside the main lock: writing takes the file lock, and the order is file lock first
            self._flush_key(key)
        with self._lock:
            frame = self._frames.get(key)
            if frame is None:
                frame = self._read(symbol, key[1])
                if frame is None:
                    return None
                self._frames[key] = frame
            return frame.copy()

    def store(
        self, symbol: str, interval: Interval | str, bars: pd.DataFrame, source: str = "history"
    ) -> pd.DataFrame:
        """Merge ``bars`` into the series (newer rows win), keep the newest ``size``, persist."""
        if source not in SOURCES:
            raise DataError(f"source={source!r}: use one of {', '.join(SOURCES)}")
        key = (symbol, Interval.parse(interval).name)
        new = _tagged(bars, source, symbol)
        with self._lock:
            old = self._frames.get(key)
            if old is None:
                old = self._read(symbol, key[1])
            merged = self.merge(old, new)
            self._frames[key] = merged
        self._persist(key)
        return merged.copy()

    def _persist(self, key: tuple[str, str]) -> None:
        """Write the newest frame of ``key``, outside the main lock so readers and ``append``
        never wait for the disk; one writer per file, and it always writes the latest frame."""
        with self._lock:
            file_lock = self._file_locks.setdefault(key, threading.Lock())
        with file_lock:
            with self._lock:
                latest = self._frames.get(key)
            if latest is not None:
                self._write(key[0], key[1], latest)

    def append(
        self, symbol: str, interval: Interval | str, bars: Iterable[Any], source: str = "live"
    ) -> None:
        """Buffer bars (with time, open, high, low, close, volume) for the next ``flush``."""
        if source not in SOURCES:
            raise DataError(f"source={source!r}: use one of {', '.join(SOURCES)}")
        key = (symbol, Interval.parse(interval).name)
        rows = [(b.time, b.open, b.high, b.low, b.close, b.volume, source) for b in bars]
        if rows:
            with self._lock:
                self._buffer.setdefault(key, []).extend(rows)

    @property
    def unsaved(self) -> dict[tuple[str, str], int]:
        """Bars buffered by ``append`` and not yet flushed, per (symbol, interval)."""
        with self._lock:
            return {k: len(v) for k, v in self._buffer.items()}

    def flush(self, symbol: str | None = None, interval: Interval | str | None = None) -> int:
        """Merge buffered bars into their series and persist them; returns how many."""
        name = Interval.parse(interval).name if interval is not None else None
        with self._lock:
            keys = [
                k
                for k in self._buffer
                if (symbol is None or k[0] == symbol) and (name is None or k[1] == name)
            ]
        return sum(self._flush_key(key) for key in keys)

    def _flush_key(self, key: tuple[str, str]) -> int:
        with self._lock:
            rows = self._buffer.pop(key, None)
        if not rows:
            return 0
        index = pd.DatetimeIndex([r[0] for r in rows], name="time")
        cols = list(zip(*(r[1:] for r in rows), strict=True))
        frame = pd.DataFrame(
            {c: np.asarray(cols[i], dtype=np.float64) for i, c in enumerate(REQUIRED)},
            index=index,
        )
        frame["source"] = np.asarray(cols[len(REQUIRED)], dtype=object)
        try:
            self.store(key[0], key[1], frame, "live")
        except BaseException:
            with self._lock:  # keep them for the next try
                self._buffer[key] = rows + self._buffer.get(key, [])
            raise
        return len(rows)

    def merge(self, old: pd.DataFrame | None, new: pd.DataFrame | None) -> pd.DataFrame:
        """Union of two tagged frames by time, ``new`` winning ties, newest ``size`` rows kept."""
        frames = [f for f in (old, new) if f is not None and len(f)]
        if not frames:
            return _empty()
        both = pd.concat(frames) if len(frames) > 1 else frames[0]
        both = both[~both.index.duplicated(keep="last")].sort_index()
        return both.iloc[-self.size :]

    def _read(self, symbol: str, interval: str) -> pd.DataFrame | None:
        path = self.path(symbol, interval)
        if path is None or not path.exists():
            return None
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            log.warning("bar cache %s is unreadable (%s); ignoring it", path, exc)
            return None
        frame = _tagged(frame, "cache", symbol)
        frame["source"] = "cache"
        return frame.iloc[-self.size :]

    def _write(self, symbol: str, interval: str, frame: pd.DataFrame) -> None:
        path = self.path(symbol, interval)
        if path is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            frame.to_parquet(tmp)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def _empty() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="time", dtype="datetime64[ns, UTC]")
    data: dict[str, object] = {c: np.array([], dtype=np.float64) for c in REQUIRED}
    data["source"] = np.array([], dtype=object)
    return pd.DataFrame(data, index=index)


def _tagged(bars: pd.DataFrame, source: str, symbol: str) -> pd.DataFrame:
    """OHLCV float64 on a UTC ns index named "time", plus ``source`` (kept if present)."""
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError(f"{symbol}: bars to cache need a DatetimeIndex, got {type(bars.index)}")
    missing = [c for c in REQUIRED if c not in bars.columns]
    if missing:
        raise DataError(f"{symbol}: bars to cache lack column(s) {', '.join(missing)}")
    index = bars.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    index = index.as_unit("ns").rename("time")
    out = pd.DataFrame({c: bars[c].to_numpy(dtype=np.float64) for c in REQUIRED}, index=index)
    if "source" in bars.columns:
        out["source"] = bars["source"].astype(object).to_numpy()
    else:
        out["source"] = np.full(len(out), source, dtype=object)
    return out
