"""compare(): one stats column per run and their normalised equity curves in one figure."""

from __future__ import annotations

import ipywidgets as W
import pytest

import quantnb as qn
from quantnb.results import STATS_KEYS
from quantnb.strategies import SmaCross
from quantnb.widgets import compare, compare_table
from quantnb.widgets.compare import equity_figure


@pytest.fixture(scope="module")
def runs() -> dict[str, qn.BacktestResult]:
    bars = qn.data.sample(["AAPL", "MSFT"], interval="1d", start="2022-01-01", end="2022-12-31")
    return {
        "fast": qn.backtest(SmaCross(fast=5, slow=20), bars, cash=100_000),
        "slow": qn.backtest(SmaCross(fast=10, slow=40), bars, cash=50_000),
    }


def test_table_has_one_column_per_run(runs):
    table = compare_table(runs)
    assert list(table.columns) == ["fast", "slow"]
    assert list(table.index) == STATS_KEYS
    assert table.loc["Initial equity", "slow"] == 50_000
    assert table.loc["Sharpe ratio", "fast"] == runs["fast"].stats["Sharpe ratio"]


def test_a_list_is_named_by_strategy_with_repeats_numbered(runs):
    table = compare_table(list(runs.values()))
    assert list(table.columns) == ["SmaCross", "SmaCross #2"]


def test_bad_input_names_the_problem(runs):
    with pytest.raises(qn.ConfigError, match="at least one"):
        compare_table({})
    with pytest.raises(qn.ConfigError, match="'b' is a str"):
        compare_table({"a": runs["fast"], "b": "oops"})


def test_equity_curves_start_at_one(runs):
    fig = equity_figure(runs)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in runs]
    assert [ln.get_label() for ln in lines] == ["fast", "slow"]
    for line in lines:
        assert line.get_ydata()[0] == pytest.approx(1.0)


def test_widget_holds_the_table_and_the_figure(runs):
    widget = compare(runs)
    assert isinstance(widget, W.VBox)
    table, image = widget.children
    assert "fast" in table.value and "Sharpe ratio" in table.value
    assert "50,000.00" in table.value
    assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
