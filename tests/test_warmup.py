"""The warm-up in a backtest: measured from the indicators and history asked for in
``initialize`` (or declared with ``ctx.warmup``); ``on_data`` starts once every symbol has it."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.engine import warmup
from quantnb.engine.backtest import BacktestEngine
from quantnb.errors import ConfigError
from quantnb.strategies.sma_cross import SmaCross


def _bars(n: int, start: str = "2024-01-02", seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    idx = pd.date_range(start, periods=n, freq="B", tz="UTC")
    df = pd.DataFrame({"open": close, "close": close, "volume": 1e6}, index=idx)
    df["high"] = df[["open", "close"]].max(axis=1) + 0.5
    df["low"] = df[["open", "close"]].min(axis=1) - 0.5
    return df


class BuysAtOnce(qn.Strategy):
    """Buys on its first on_data; records when on_data ran and the SMA it saw."""

    def __init__(self, window: int = 30, declare: int | None = None, history: int = 0) -> None:
        self.window, self.declare, self.depth = window, declare, history

    def initialize(self, ctx):
        if self.declare is not None:
            ctx.warmup(self.declare)
        if self.depth:
            ctx.history(ctx.symbols[0], self.depth)
        self.sma = ctx.indicator(qn.ind.sma, "close", self.window) if self.window else None
        self.calls: list[tuple[pd.Timestamp, float]] = []

    def on_data(self, ctx, data):
        s = ctx.symbols[0]
        self.calls.append((ctx.now, self.sma[s] if self.sma is not None else np.nan))
        if len(self.calls) == 1:
            ctx.buy(s, 10)


def test_sma30_measured_warm_up_no_decision_or_trade_before_bar_30():
    df = _bars(80)
    strat = BuysAtOnce(30)
    engine = BacktestEngine({"X": df}, progress=False)
    result = engine.run(strat)
    assert engine.warmup.bars == 30 and engine.warmup.declared is None
    assert strat.calls[0][0] == df.index[29]  # the 30th bar: the first with an SMA(30)
    assert np.isfinite([v for _, v in strat.calls]).all()
    assert len(strat.calls) == 80 - 29
    assert result.fills["time"].iloc[0] == df.index[30]  # filled at the next bar's open


def test_declared_warm_up_is_honoured():
    df = _bars(80)
    strat = BuysAtOnce(5, declare=50)
    engine = BacktestEngine({"X": df}, progress=False)
    result = engine.run(strat)
    assert engine.warmup.bars == 50 and engine.warmup.measured == 5
    assert strat.calls[0][0] == df.index[49]
    assert result.fills["time"].iloc[0] == df.index[50]


def test_history_depth_asked_in_initialize_counts():
    strat = BuysAtOnce(0, history=40)
    engine = BacktestEngine({"X": _bars(60)}, progress=False)
    engine.run(strat)
    assert engine.warmup.bars == 40
    assert strat.calls[0][0] == engine.frames["X"].index[39]


def test_no_indicators_no_warm_up():
    strat = BuysAtOnce(0)
    df = _bars(10)
    qn.backtest(strat, df, progress=False)
    assert strat.calls[0][0] == df.index[0]


def test_every_symbol_has_its_warm_up_before_the_first_decision():
    a, b = _bars(80), _bars(60, start="2024-01-30", seed=2)  # B is listed later
    strat = BuysAtOnce(10)
    qn.backtest(strat, {"A": a, "B": b}, progress=False)
    assert strat.calls[0][0] == b.index[9]


def test_data_shorter_than_the_warm_up_is_reported(caplog):
    strat = BuysAtOnce(30)
    with caplog.at_level(logging.WARNING, logger="quantnb.engine.warmup"):
        result = qn.backtest(strat, _bars(20), progress=False)
    assert strat.calls == [] and result.fills.empty
    text = caplog.text
    assert "warm-up of 30 bars (sma(close, 30): 30)" in text and "ASSET has 20 bars" in text


def test_warm_up_is_declared_in_initialize_only():
    class Late(qn.Strategy):
        def on_data(self, ctx, data):
            ctx.warmup(5)

    with pytest.raises(ConfigError, match=r"ctx.warmup\(5\) was called after initialize"):
        qn.backtest(Late(), _bars(5), progress=False)
    with pytest.raises(ConfigError, match="whole number of bars"):
        qn.backtest(BuysAtOnce(0, declare=-1), _bars(5), progress=False)


@pytest.mark.parametrize(
    ("fn", "fields", "args", "bars"),
    [
        (qn.ind.sma, ("close",), (30,), 30),
        (qn.ind.ema, ("close",), (20,), 20),
        (qn.ind.rsi, ("close",), (14,), 15),
        (qn.ind.atr, ("high", "low", "close"), (14,), 14),
        (lambda x: np.full(len(x), np.nan), ("close",), (), None),
    ],
)
def test_indicator_warm_up_is_measured_on_a_synthetic_series(fn, fields, args, bars):
    assert warmup.indicator_bars(fn, fields, args) == bars


def test_sma_cross_results_do_not_change_with_the_warm_up(monkeypatch):
    """SmaCross gave no signal before its SMA(30) had a value: holding on_data back until then
    changes nothing."""
    df = _bars(300, seed=7)
    gated = qn.backtest(SmaCross(10, 30), df, progress=False)
    monkeypatch.setattr(warmup, "first_ready_tick", lambda *a: (0, {}))
    ungated = qn.backtest(SmaCross(10, 30), df, progress=False)
    assert len(gated.fills) > 4
    pd.testing.assert_frame_equal(gated.fills, ungated.fills)
    pd.testing.assert_frame_equal(gated.equity, ungated.equity)
