"""A strategy written with another library's hook names warns before it runs, naming the
quantnb hooks to use; a strategy with quantnb's hooks runs without a word."""

from __future__ import annotations

import warnings

import pytest

import quantnb as qn
from quantnb.engine.hooks import hook_problems
from tests.helpers import Scripted, flat


class BacktestingPy(qn.Strategy):
    def init(self):
        self.sma = None

    def next(self):
        pass


class Backtrader(qn.Strategy):
    def next(self):
        pass

    def notify_order(self, order):
        pass


class NoCtx(qn.Strategy):
    def initialize(self, ctx):
        pass

    def on_data(self, data):
        pass


def test_backtesting_py_hooks_warn_naming_initialize_and_on_data():
    with pytest.warns(qn.StrategyHookWarning) as caught:
        res = qn.backtest(BacktestingPy(), flat(5))
    message = str(caught[0].message)
    assert "BacktestingPy.init() is backtesting.py's hook" in message
    assert "define initialize(self, ctx) instead" in message
    assert "BacktestingPy.next() is backtesting.py and backtrader's hook" in message
    assert "define on_data(self, ctx, data) instead" in message
    assert res.trades.empty  # it still runs: a warning, not an error


def test_backtrader_hooks_warn_naming_on_data_and_on_fill():
    problems = hook_problems(Backtrader())
    assert [p.split("()")[0] for p in problems] == ["Backtrader.next", "Backtrader.notify_order"]
    assert "define on_fill(self, ctx, fill) instead" in problems[1]


def test_a_hook_without_ctx_warns_with_the_signature_it_needs():
    needs = r"NoCtx\.on_data\(self, data\) cannot be called as on_data\(self, ctx, data\)"
    with pytest.warns(qn.StrategyHookWarning, match=needs), pytest.raises(TypeError):
        qn.backtest(NoCtx(), flat(5))


def test_a_foreign_name_beside_the_quantnb_hook_is_fine():
    class Both(Scripted):
        def next(self):  # a helper of its own, next to on_data
            pass

    assert hook_problems(Both()) == []


def test_quantnb_hooks_run_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", qn.QuantnbWarning)
        res = qn.backtest(Scripted(), flat(5))
    assert res.stats is not None


def test_a_backtest_whose_bars_were_all_filtered_away_says_which_and_why():
    bars = flat(5, symbol="AAPL")
    after = bars[bars.index > "2030-01-01"]  # a date range outside the data
    said = r"AAPL: no bars in .* but no rows\); check the file or the filter that built the frame"
    with pytest.raises(qn.DataError, match=said):
        qn.backtest(Scripted(), {"AAPL": after, "MSFT": flat(5)})
