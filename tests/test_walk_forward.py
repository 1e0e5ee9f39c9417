"""Walk-forward optimisation: windows by hand, the in-sample winner per window, the stitched
out-of-sample run made of the test runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.engine.walk_forward import Window, make_windows
from quantnb.strategies import SmaCross

DAY = 86_400 * 10**9
DATA = qn.data.sample(["AAA", "BBB"], interval="1d", start="2019-01-01", end="2022-12-31")
GRID = {"fast": [5, 10], "slow": [20, 40]}


def days(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int64) * DAY


def test_windows_by_bar_count_roll_or_anchor():
    t = days(10)
    assert make_windows(t, train=4, test=3) == [
        Window(0, 4 * DAY, 7 * DAY),
        Window(3 * DAY, 7 * DAY, 9 * DAY + 1),  # the last test window ends after the last bar
    ]
    assert make_windows(t, train=4, test=3, anchored=True) == [
        Window(0, 4 * DAY, 7 * DAY),
        Window(0, 7 * DAY, 9 * DAY + 1),
    ]


def test_windows_by_span_skip_a_gap_without_bars():
    t = np.concatenate([days(6), days(4, start=12)])  # no bars on days 6..11
    assert make_windows(t, train="4D", test="2D") == [
        Window(0, 4 * DAY, 6 * DAY),
        # tests from days 6, 8 and 10 hold no bar; the one from 12 has no training bar
        Window(10 * DAY, 14 * DAY, 16 * DAY),
    ]
    assert make_windows(t, train=pd.DateOffset(days=4), test=pd.Timedelta("2D"))[0] == Window(
        0, 4 * DAY, 6 * DAY
    )


@pytest.mark.parametrize(
    ("train", "test", "match"),
    [
        ("6M", "30D", "pd.DateOffset"),
        (0, 5, "at least one bar"),
        (100, "30D", "both as numbers of bars or both as spans"),
        (5000, 10, "no test window in"),
    ],
)
def test_bad_windows_name_the_fix(train, test, match):
    with pytest.raises(qn.ConfigError, match=match):
        qn.walk_forward(SmaCross, DATA, GRID, train=train, test=test, progress=False)


def test_each_window_trades_its_in_sample_winner_and_the_runs_are_stitched():
    wf = qn.walk_forward(
        SmaCross, DATA, GRID, train="365D", test="180D", executor="serial", progress=False
    )
    w = wf.windows
    assert len(w) == len(wf.tests) == len(wf.params) == 7
    metric = "Sharpe ratio"
    for k, row in w.iterrows():
        # no test window overlaps its training window; the test windows follow each other
        assert row["train start"] <= row["train end"] < row["test start"] <= row["test end"]
        if k:
            assert w.loc[k - 1, "test end"] < row["test start"]
        # the winner is the best of a sweep run on the training bars alone
        train = {s: df.loc[row["train start"] : row["train end"]] for s, df in DATA.items()}
        table = qn.sweep(SmaCross, train, GRID, executor="serial", progress=False)
        assert table[metric].iloc[0] == table[metric].max()
        assert wf.params[k] == dict(zip(["fast", "slow"], table.index[0]))
        assert (row["fast"], row["slow"]) == table.index[0]
        assert row[f"in-sample {metric}"] == pytest.approx(table[metric].iloc[0])
        # the test run is a plain backtest of the winner on the test bars
        test = {s: df.loc[row["test start"] : row["test end"]] for s, df in DATA.items()}
        one = qn.backtest(SmaCross(**wf.params[k]), test, progress=False)
        pd.testing.assert_frame_equal(wf.tests[k].equity, one.equity)
        assert row[f"out-of-sample {metric}"] == pytest.approx(one.stats[metric], nan_ok=True)
    # the stitched equity: the test runs back to back, each shifted by the P&L before it
    pnl = [r.equity["equity"].iloc[-1] - r.initial_cash for r in wf.tests]
    parts = [r.equity["equity"] + sum(pnl[:k]) for k, r in enumerate(wf.tests)]
    pd.testing.assert_series_equal(wf.equity["equity"], pd.concat(parts))
    assert wf.stats["Final equity"] == pytest.approx(100_000 + sum(pnl))
    assert wf.stats["Start"] == w["test start"].iloc[0]
    assert wf.stats["Trades"] == sum(len(r.trades) for r in wf.tests)
    assert len(wf.result.fills) == sum(len(r.fills) for r in wf.tests)


def test_process_pool_and_anchored_bar_windows_equal_serial():
    kw = {"train": 250, "test": 250, "anchored": True, "progress": False}
    pooled = qn.walk_forward(SmaCross, DATA, GRID, **kw)
    serial = qn.walk_forward(SmaCross, DATA, GRID, executor="serial", **kw)
    pd.testing.assert_frame_equal(pooled.windows, serial.windows)
    assert (pooled.windows["train start"] == DATA["AAA"].index[0]).all()
    assert "4 windows" in repr(pooled)
