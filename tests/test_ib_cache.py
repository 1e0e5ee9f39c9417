"""BarCache: last N bars per series, tagged by source, persisted atomically as Parquet."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from quantnb.domain.model import Bar
from quantnb.errors import DataError
from quantnb.ib.cache import BarCache


def bars(start: str, n: int, freq: str = "1min", base: float = 100.0) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="time")
    close = base + np.arange(n, dtype=float)
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 10.0},
        index=index,
    )


def test_memory_only_store_and_load() -> None:
    cache = BarCache()
    assert cache.load("AAPL", "1m") is None
    cache.store("AAPL", "1m", bars("2024-01-03 15:00", 5))
    out = cache.load("AAPL", "1m")
    assert len(out) == 5
    assert list(out.columns) == ["open", "high", "low", "close", "volume", "source"]
    assert set(out["source"]) == {"history"}
    assert str(out.index.tz) == "UTC"
    assert cache.path("AAPL", "1m") is None


def test_keeps_newest_size_bars_and_newer_rows_win() -> None:
    cache = BarCache(size=6)
    cache.store("AAPL", "1m", bars("2024-01-03 15:00", 5))
    live = bars("2024-01-03 15:03", 5, base=500.0)
    merged = cache.store("AAPL", "1m", live, source="live")
    assert len(merged) == 6
    assert merged.index[0] == pd.Timestamp("2024-01-03 15:02", tz="UTC")
    assert merged.index.is_monotonic_increasing and merged.index.is_unique
    assert merged.loc["2024-01-03 15:03", "close"].item() == 500.0
    assert list(merged["source"]) == ["history"] + ["live"] * 5


def test_series_are_separate_per_symbol_and_interval() -> None:
    cache = BarCache()
    cache.store("AAPL", "1m", bars("2024-01-03 15:00", 3))
    cache.store("AAPL", "5m", bars("2024-01-03 15:00", 2, "5min"))
    cache.store("MSFT", "1m", bars("2024-01-03 15:00", 4))
    assert [len(cache.load(*k)) for k in (("AAPL", "1m"), ("AAPL", "5m"), ("MSFT", "1m"))] == [
        3,
        2,
        4,
    ]
    assert len(cache.load("AAPL", "5min")) == 2  # interval spellings share a series


def test_disk_round_trip_tags_cache(tmp_path) -> None:
    cache = BarCache(tmp_path)
    cache.store("AAPL", "1d", bars("2024-01-01", 4, "1D"))
    path = cache.path("AAPL", "1d")
    assert path.exists() and path.suffix == ".parquet"
    fresh = BarCache(tmp_path)
    out = fresh.load("AAPL", "1d")
    assert len(out) == 4
    assert set(out["source"]) == {"cache"}
    pd.testing.assert_frame_equal(
        out.drop(columns="source"), cache.load("AAPL", "1d").drop(columns="source")
    )
    fresh.store("AAPL", "1d", bars("2024-01-05", 1, "1D"), source="live")
    assert list(BarCache(tmp_path).load("AAPL", "1d")["source"]) == ["cache"] * 5


def test_write_is_atomic(tmp_path, monkeypatch) -> None:
    cache = BarCache(tmp_path)
    cache.store("AAPL", "1m", bars("2024-01-03 15:00", 3))
    before = cache.path("AAPL", "1m").read_bytes()

    def broken(self, path, *a, **k):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        cache.store("AAPL", "1m", bars("2024-01-03 15:03", 3))
    assert cache.path("AAPL", "1m").read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == [cache.path("AAPL", "1m").name]  # no temp left


def test_replace_is_used(tmp_path, monkeypatch) -> None:
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    cache = BarCache(tmp_path)
    cache.store("BRK.B", "1h", bars("2024-01-03 15:00", 2, "1h"))
    assert len(calls) == 1 and str(calls[0][1]) == str(cache.path("BRK.B", "1h"))


def test_merge_and_errors() -> None:
    cache = BarCache(size=3)
    assert len(cache.merge(None, None)) == 0
    with pytest.raises(DataError, match="source"):
        cache.store("AAPL", "1m", bars("2024-01-03", 1), source="guess")
    with pytest.raises(DataError, match="size"):
        BarCache(size=0)
    with pytest.raises(DataError, match="close"):
        cache.store("AAPL", "1m", bars("2024-01-03", 1).drop(columns="close"))


def test_naive_times_are_utc_and_unreadable_file_is_ignored(tmp_path) -> None:
    cache = BarCache(tmp_path)
    naive = bars("2024-01-03 15:00", 2)
    naive.index = naive.index.tz_localize(None)
    out = cache.store("AAPL", "1m", naive)
    assert str(out.index.tz) == "UTC"
    cache.path("MSFT", "1m").write_bytes(b"not parquet")
    assert BarCache(tmp_path).load("MSFT", "1m") is None


def test_load_writes_buffered_bars_outside_the_main_lock(tmp_path, monkeypatch) -> None:
    """Writers take a file lock, then the main lock: ``load`` must never hold them the other way."""
    cache = BarCache(tmp_path)
    held: list[bool] = []
    real_write = cache._write

    def write(*args):
        held.append(cache._lock._is_owned())
        return real_write(*args)

    monkeypatch.setattr(cache, "_write", write)
    t = pd.Timestamp("2024-01-03 15:00", tz="UTC")
    cache.append("AAPL", "1m", [Bar("AAPL", t, 1.0, 2.0, 0.5, 1.5, 10.0)])
    loaded = cache.load("AAPL", "1m")
    assert list(loaded.index) == [t] and held == [False]
