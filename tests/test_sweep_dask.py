"""Sweeps and walk-forward runs on a real Dask cluster: the bars go to each worker once (one
scatter, no task carries them) and the table is the serial one."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import quantnb as qn
from quantnb.strategies import SmaCross
from quantnb.testing import eventually

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

DATA = qn.data.sample(["AAA", "BBB"], interval="1h", start="2021-01-01", end="2022-12-31")
GRID = {"fast": [5, 10], "slow": [20, 40]}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def sends(client, monkeypatch):
    """Records every scatter and every task's arguments the sweep sends through ``client``."""
    log = {"scatter": [], "submit": []}
    scatter, submit = client.scatter, client.submit

    def spy_scatter(data, *args, **kwargs):
        log["scatter"].append((data, kwargs))
        return scatter(data, *args, **kwargs)

    def spy_submit(fn, *args, **kwargs):
        log["submit"].append(args)
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", spy_scatter)
    monkeypatch.setattr(client, "submit", spy_submit)
    return log


def _no_frames(args) -> bool:
    """True when no DataFrame (nor dict of them) rides in a task's arguments."""
    for a in args:
        if isinstance(a, pd.DataFrame):
            return False
        if isinstance(a, dict | list | tuple) and not _no_frames(
            a.values() if isinstance(a, dict) else a
        ):
            return False
    return True


def test_dask_sweep_sends_the_bars_once_and_equals_serial(client, sends):
    size = sum(df.memory_usage().sum() for df in DATA.values())
    assert size > 200_000
    # a task that carried the bars would be a "large graph" at this threshold: make it an error
    with (
        dask.config.set({"distributed.admin.large-graph-warning-threshold": "50kB"}),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        table = qn.sweep(SmaCross, DATA, GRID, executor=client, progress=False)
    assert len(sends["scatter"]) == 1
    [(scattered, kwargs)] = sends["scatter"]
    assert kwargs.get("broadcast") is True and scattered[0] is not DATA
    assert set(scattered[0]) == {"AAA", "BBB"}
    assert len(sends["submit"]) == 4
    assert all(_no_frames(args) for args in sends["submit"])
    assert all(isinstance(args[1], distributed.Future) for args in sends["submit"])
    serial = qn.sweep(SmaCross, DATA, GRID, executor="serial", progress=False)
    pd.testing.assert_frame_equal(table, serial)
    # the scattered bars are released afterwards
    eventually(lambda: not any(client.has_what().values()), timeout=10)


def test_dask_executor_and_walk_forward_equal_serial(client):
    table = qn.sweep(SmaCross, DATA, GRID, executor=client.get_executor(), progress=False)
    serial = qn.sweep(SmaCross, DATA, GRID, executor="serial", progress=False)
    pd.testing.assert_frame_equal(table, serial)
    daily = qn.data.sample(["AAA", "BBB"], interval="1d", start="2019-01-01", end="2022-12-31")
    kw = {"train": "365D", "test": "180D", "progress": False}
    wf = qn.walk_forward(SmaCross, daily, GRID, executor=client, **kw)
    one = qn.walk_forward(SmaCross, daily, GRID, executor="serial", **kw)
    assert len(wf.windows) == 7
    pd.testing.assert_frame_equal(wf.windows, one.windows)
    pd.testing.assert_frame_equal(wf.equity, one.equity)
