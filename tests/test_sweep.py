"""Parameter sweeps give the same stats as single backtests, in any executor."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import quantnb as qn
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
