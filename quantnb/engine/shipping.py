"""Getting a batch's bars to the processes that run its backtests, once per process.

A task carries a small ``Shipped`` ticket, never the bars: the worker finds them in its own
cache (put there by the pool's initializer) or loads them once from the ticket's path.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from quantnb.data.load import load_frames
from quantnb.errors import ConfigError

Frames = dict[str, pd.DataFrame]

_HELD: tuple[str, Frames] | None = None  # this process's copy of the newest batch's bars


@dataclass(frozen=True, slots=True)
class Shipped:
    """Names a batch's bars; ``path`` (a pickle we wrote, or the user's CSV/Parquet file) is
    where a worker that does not hold them yet loads them from."""

    key: str
    path: str | None = None


def new_key() -> str:
    return uuid.uuid4().hex


def hold(key: str, frames: Frames) -> None:
    """Keep ``frames`` as this process's copy (a pool initializer; replaces an older batch's)."""
    global _HELD
    _HELD = (key, frames)


def frames_of(source: Shipped | Frames) -> Frames:
    """The bars a task runs on: ``source`` itself when it is already the frames (in-process, or
    resolved by Dask from a scattered future), else this process's copy, loaded once."""
    if not isinstance(source, Shipped):
        return source
    if _HELD is not None and _HELD[0] == source.key:
        return _HELD[1]
    if source.path is None:
        raise ConfigError("a backtest worker started without the bars it was to be sent")
    if source.path.endswith(".pkl"):
        with open(source.path, "rb") as f:
            frames = pickle.load(f)
    else:
        frames = load_frames(source.path)
    hold(source.key, frames)
    return frames


def write_pickle(frames: Frames) -> Path:
    """The frames in a temporary file for workers to load (the caller deletes it)."""
    fd, name = tempfile.mkstemp(prefix="quantnb-bars-", suffix=".pkl")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(frames, f, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(name)


def window(frames: Frames, start: int | None, end: int | None) -> Frames:
    """The bars with start <= time < end (ns since the epoch; None: unbounded), symbols with
    none left out."""
    if start is None and end is None:
        return frames
    out = {}
    for sym, df in frames.items():
        times = df.index.asi8
        i = 0 if start is None else times.searchsorted(start)
        j = len(times) if end is None else times.searchsorted(end)
        if j > i:
            out[sym] = df.iloc[i:j]
    return out
