"""Parameter sweeps give the same stats as single backtests, in any executor."""

from __future__ import annotations

import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import quantnb as qn
from quantnb.engine import shipping
from quantnb.strategies import SmaCross

DATA = qn.data.sample(["AAA"], interval="1d", start="2021-01-01", end="2022-12-31")

GRID = {"fast": [5, 10], "slow": [20, 40]}


def test_sweep_matches_single_runs_and_sorts_by_metric():
    table = qn.sweep(SmaCross, DATA, GRID, executor="serial", progress=False)
    assert len(table) == 4 and table.index.names == ["fast", "slow"]
    sharpe = table["Sharpe ratio"].tolist()
    assert sharpe == sorted(sharpe, reverse=True)
    one = qn.backtest(SmaCross(fast=10, slow=40), DATA, progress=False).stats
    assert table.loc[(10, 40), "Final equity"] == pytest.approx(one["Final equity"])


def test_sweep_process_pool_equals_serial():
    serial = qn.sweep(SmaCross, DATA, GRID, executor="serial", progress=False)
    pooled = qn.sweep(SmaCross, DATA, GRID, progress=False)
    threads = qn.sweep(SmaCross, DATA, GRID, executor=ThreadPoolExecutor(2), progress=False)
    for other in (pooled, threads):
        assert other.sort_index()["Final equity"].tolist() == pytest.approx(
            serial.sort_index()["Final equity"].tolist()
        )


def test_sweep_errors_name_the_problem():
    with pytest.raises(qn.ConfigError, match="strategy class"):
        qn.sweep(SmaCross(), DATA, GRID)
    with pytest.raises(qn.ConfigError, match="nope"):
        qn.sweep(SmaCross, DATA, {"nope": [1]})
    with pytest.raises(qn.ConfigError, match="metric='Shrape'"):
        qn.sweep(SmaCross, DATA, GRID, metric="Shrape", executor="serial", progress=False)
    with pytest.raises(qn.ConfigError, match="executor='dask'"):
        qn.sweep(SmaCross, DATA, GRID, executor="dask", progress=False)


def test_other_executors_load_the_bars_from_a_file_once(tmp_path):
    serial = qn.sweep(SmaCross, DATA, GRID, executor="serial", progress=False)
    before = set(Path(tempfile.gettempdir()).glob("quantnb-bars-*"))
    with ProcessPoolExecutor(2) as pool:
        pooled = qn.sweep(SmaCross, DATA, GRID, executor=pool, progress=False)
        # each worker keeps the bars it loaded: one copy per process, whatever the tasks
        held = {pool.submit(_held_key).result() for _ in range(8)}
    pd.testing.assert_frame_equal(pooled, serial)
    assert len(held) == 1 and None not in held
    assert set(Path(tempfile.gettempdir()).glob("quantnb-bars-*")) == before  # removed
    # a CSV path is what the workers load themselves
    path = tmp_path / "aaa.csv"
    DATA["AAA"].to_csv(path)
    with ProcessPoolExecutor(2) as pool:
        from_file = qn.sweep(SmaCross, str(path), GRID, executor=pool, progress=False)
    assert from_file["Final equity"].tolist() == pytest.approx(serial["Final equity"].tolist())


def _held_key():
    from quantnb.engine import shipping

    return shipping._HELD[0] if shipping._HELD else None


def test_a_worker_loads_a_shipped_file_once(tmp_path):
    frames = dict(DATA)
    path = shipping.write_pickle(frames)
    try:
        ticket = shipping.Shipped("k1", str(path))
        first = shipping.frames_of(ticket)
        path.unlink()  # a second task must not read the file again
        assert shipping.frames_of(ticket) is first
        pd.testing.assert_frame_equal(first["AAA"], DATA["AAA"])
    finally:
        path.unlink(missing_ok=True)
        shipping.hold("", {})
    with pytest.raises(qn.ConfigError, match="without the bars"):
        shipping.frames_of(shipping.Shipped("k2"))
