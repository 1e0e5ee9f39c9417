"""Corporate actions: back-adjustment by Adj Close or by a table of splits and dividends, the
choice recorded in the bars and the result, and the warning about unadjusted splits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.data import load
from quantnb.data.adjust import corporate_actions, unadjusted_splits
from quantnb.errors import ConfigError, DataError, QuantnbWarning, UnadjustedSplitWarning
from tests.helpers import Scripted

# A raw 2-for-1 split on day 2 (ex-date 2024-01-04), then a 0.50 dividend on day 4 (2024-01-08).
DAYS = pd.bdate_range("2024-01-02", periods=6)
CLOSE = np.array([100.0, 102.0, 51.5, 52.0, 53.0, 52.5])
OPEN = np.array([100.0, 100.0, 51.0, 51.5, 52.5, 53.0])
SPLIT_DAY, DIV_DAY = DAYS[2], DAYS[4]
# back-adjustment by hand: bars before the dividend × (1 − 0.5 / 52), before the split ÷ 2
FACTOR = np.array([0.5, 0.5, 1, 1, 1, 1]) * np.array([1 - 0.5 / 52] * 4 + [1, 1])


def raw(adj_close: bool = False) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "Date": DAYS.strftime("%Y-%m-%d"),
            "Open": OPEN,
            "High": np.maximum(OPEN, CLOSE) + 1,
            "Low": np.minimum(OPEN, CLOSE) - 1,
            "Close": CLOSE,
            "Volume": [1000.0, 1100, 2400, 2000, 2100, 1900],
        }
    )
    if adj_close:
        df["Adj Close"] = CLOSE * FACTOR  # as Yahoo computes it
    return df


ACTIONS = pd.DataFrame({"date": [SPLIT_DAY, DIV_DAY], "split": [2.0, 0.0], "dividend": [0.0, 0.5]})


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load(*args, **kwargs)


def test_an_adj_close_column_needs_the_choice_said(tmp_path):
    path = tmp_path / "aapl.csv"
    raw(adj_close=True).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"AAPL.*'Adj Close'.*adjust='adj_close'.*adjust='none'"):
        load(path)
    with pytest.raises(ConfigError, match="Adj Close"):
        qn.backtest(Scripted(), str(path))


def test_adj_close_back_adjusts_prices_and_keeps_volume():
    df = load(raw(adj_close=True), symbol="AAPL", adjust="adj_close")
    np.testing.assert_allclose(df["close"], CLOSE * FACTOR, rtol=1e-15)
    np.testing.assert_allclose(df["open"], OPEN * FACTOR, rtol=1e-15)
    np.testing.assert_allclose(df["high"], (np.maximum(OPEN, CLOSE) + 1) * FACTOR, rtol=1e-15)
    assert df["close"].iloc[0] == pytest.approx(100 / 2 * (1 - 0.5 / 52))
    assert df["volume"].tolist() == raw()["Volume"].tolist()
    assert df.attrs["adjustment"] == "adj_close" and df.attrs["symbol"] == "AAPL"


def test_adjust_none_keeps_raw_prices_and_warns_of_the_split():
    with pytest.warns(UnadjustedSplitWarning) as caught:
        df = load(raw(adj_close=True), symbol="AAPL", adjust="none")
    assert df["close"].tolist() == CLOSE.tolist()
    assert df.attrs["adjustment"] == "none"
    (warning,) = caught
    text = str(warning.message)
    assert "AAPL" in text and str(SPLIT_DAY.tz_localize("UTC")) in text
    assert "×0.5049" in text and "2-for-1 split" in text
    assert issubclass(UnadjustedSplitWarning, QuantnbWarning)


def test_without_adj_close_the_default_is_none_and_unrecorded():
    bars = qn.data.sample("AAPL", bars=300)["AAPL"]
    assert "adjustment" not in quiet_load(bars).attrs
    assert quiet_load(bars, adjust="none").attrs["adjustment"] == "none"


def test_a_table_of_splits_and_dividends_back_adjusts_prices_and_volume():
    df = quiet_load(raw(), symbol="AAPL", adjust=ACTIONS)
    np.testing.assert_allclose(df["close"], CLOSE * FACTOR, rtol=1e-15)
    np.testing.assert_allclose(df["low"], (np.minimum(OPEN, CLOSE) - 1) * FACTOR, rtol=1e-15)
    # a split multiplies the volume before it; a dividend leaves volume alone
    assert df["volume"].tolist() == [2000.0, 2200, 2400, 2000, 2100, 1900]
    assert df.attrs["adjustment"] == "actions"
    by_adj_close = load(raw(adj_close=True), symbol="AAPL", adjust="adj_close")
    np.testing.assert_allclose(df[["open", "high", "low", "close"]], by_adj_close.iloc[:, :4])


def test_yfinance_actions_table_with_zeros_and_tz_aware_index():
    table = pd.DataFrame(
        {"Dividends": [0.0, 0.5, 0.0], "Stock Splits": [2.0, 0.0, 0.0]},
        index=pd.DatetimeIndex([SPLIT_DAY, DIV_DAY, DAYS[5]], name="Date").tz_localize(
            "America/New_York"
        ),
    )
    actions = corporate_actions(table, "AAPL")
    assert actions["split"].tolist() == [2.0, 1.0] and actions["dividend"].tolist() == [0.0, 0.5]
    assert actions.index.tolist() == [SPLIT_DAY, DIV_DAY]  # the dates as written
    # bars stamped at 00:00 UTC of their date take the actions of that date
    df = quiet_load(raw(), symbol="AAPL", adjust=table)
    np.testing.assert_allclose(df["close"], CLOSE * FACTOR)


def test_intraday_bars_take_an_action_from_the_first_bar_of_its_date_in_tz():
    # after-hours bars at 19:00 New York are 00:00 UTC of the next day: dates are New York's
    times = [f"{d:%Y-%m-%d} {t}" for d in DAYS for t in ("09:30", "19:00")]
    close = np.repeat(CLOSE, 2)
    bars = pd.DataFrame({"time": times, "open": close, "high": close, "low": close})
    bars = bars.assign(close=close, open=np.repeat(OPEN, 2).astype(float))
    bars = bars.assign(
        high=bars[["open", "close"]].max(axis=1), low=bars[["open", "close"]].min(axis=1)
    )
    df = quiet_load(bars, symbol="AAPL", tz="America/New_York", adjust=ACTIONS)
    np.testing.assert_allclose(df["close"], close * np.repeat(FACTOR, 2))
    assert df.index[3] == pd.Timestamp("2024-01-04 00:00", tz="UTC")  # Jan 3, 19:00 New York


def test_several_symbols_take_their_rows_or_their_dict_entry():
    other = raw().assign(Close=100.0, Open=100.0, High=101.0, Low=99.0)
    frames = {"AAPL": raw(), "MSFT": other}
    table = ACTIONS.assign(symbol="AAPL")
    for adjust in (table, {"AAPL": ACTIONS}):
        out = quiet_load(frames, adjust=adjust)
        np.testing.assert_allclose(out["AAPL"]["close"], CLOSE * FACTOR)
        assert out["MSFT"]["close"].tolist() == [100.0] * 6
        assert {s: f.attrs["adjustment"] for s, f in out.items()} == {
            "AAPL": "actions",
            "MSFT": "actions",
        }
    with pytest.raises(ConfigError, match=r"no symbol column.*AAPL, MSFT"):
        load(frames, adjust=ACTIONS)


def test_actions_outside_the_bars_change_nothing():
    table = pd.DataFrame({"date": ["2023-06-01", "2024-01-02", "2025-01-02"], "split": [4, 3, 2]})
    df = quiet_load(qn.data.sample("X", start="2024-01-02", end="2024-03-01")["X"], adjust=table)
    assert (
        df["close"].tolist()
        == qn.data.sample("X", start="2024-01-02", end="2024-03-01")["X"]["close"].tolist()
    )


def test_the_result_records_the_adjustment():
    bars = {
        "AAPL": quiet_load(raw(), symbol="AAPL", adjust=ACTIONS),
        "MSFT": quiet_load(qn.data.sample("MSFT", start="2024-01-02", end="2024-01-09")["MSFT"]),
    }
    res = qn.backtest(Scripted(), bars, progress=False)
    assert res.meta["adjustment"] == {"AAPL": "actions", "MSFT": "none"}
    assert " · prices adjusted (AAPL: actions)</div>" in res._repr_html_()
    plain = qn.backtest(Scripted(), bars["MSFT"], progress=False)
    assert plain.meta["adjustment"] == {"MSFT": "none"}
    assert "adjusted" not in plain._repr_html_()


def test_an_unadjusted_split_reads_as_a_loss_and_an_adjusted_one_does_not():
    def buy(ctx):
        ctx.buy("AAPL", 10)

    with pytest.warns(UnadjustedSplitWarning):
        unadjusted = load(raw(adj_close=True), symbol="AAPL", adjust="none")
    adjusted = load(raw(adj_close=True), symbol="AAPL", adjust="adj_close")
    runs = {}
    with pytest.warns(UnadjustedSplitWarning, match="AAPL"):  # backtest() checks its bars too
        runs["raw"] = qn.backtest(Scripted({0: buy}), unadjusted, commission=0, slippage=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs["adjusted"] = qn.backtest(Scripted({0: buy}), adjusted, commission=0, slippage=0)
    # bought 10 at day 1's open (100 raw, 100 × FACTOR[1] adjusted), held to the 52.5 close
    assert runs["raw"].stats["Final equity"] == pytest.approx(100_000 - 1000 + 525)
    assert runs["adjusted"].stats["Final equity"] == pytest.approx(
        100_000 + 10 * (52.5 - 100 * FACTOR[1])
    )
    assert runs["raw"].stats["Buy & hold return [%]"] == pytest.approx(-47.5)
    assert runs["adjusted"].stats["Buy & hold return [%]"] == pytest.approx(
        (52.5 / (100 * FACTOR[0]) - 1) * 100
    )
    assert runs["raw"].meta["adjustment"] == {"AAPL": "none"}
    assert runs["adjusted"].meta["adjustment"] == {"AAPL": "adj_close"}


def test_adjusting_twice_is_refused():
    once = quiet_load(raw(), symbol="AAPL", adjust=ACTIONS)
    with pytest.raises(ConfigError, match="already adjusted"):
        load(once, adjust=ACTIONS)
    again = quiet_load(once)  # passing it on (as backtest() does) keeps the record
    assert again.attrs["adjustment"] == "actions"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"adjust": "adj_close"}, ConfigError, "needs an 'Adj Close' column"),
        ({"adjust": "yahoo"}, ConfigError, "adjust='yahoo'"),
        ({"adjust": 2}, ConfigError, "got int"),
        ({"adjust": pd.DataFrame({"date": [SPLIT_DAY]})}, ConfigError, "no 'split' or 'div"),
        ({"adjust": pd.DataFrame({"split": [2.0]})}, ConfigError, "no dates"),
        ({"adjust": ACTIONS.assign(split=[-2.0, 0])}, DataError, "split -2.0 on 2024-01-04"),
        ({"adjust": ACTIONS.assign(dividend=[0, 60.0])}, DataError, "dividend of 60.0"),
    ],
)
def test_bad_choices_and_tables_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        load(raw(), symbol="AAPL", **kwargs)


def test_bad_adj_close_value_is_named():
    bars = raw(adj_close=True)
    bars.loc[3, "Adj Close"] = np.nan
    with pytest.raises(DataError, match=r"Adj Close is nan at 2024-01-05.*row 3"):
        load(bars, symbol="AAPL", adjust="adj_close")


def test_newest_first_file_keeps_adj_close_with_its_rows():
    df = load(raw(adj_close=True).iloc[::-1], symbol="AAPL", adjust="adj_close")
    np.testing.assert_allclose(df["close"], CLOSE * FACTOR)


@pytest.mark.parametrize(
    ("ratio", "name"),
    [(1 / 3, "3-for-1 split"), (0.25, "4-for-1 split"), (10.0, "1-for-10 reverse split")],
)
def test_split_like_jumps_are_found(ratio, name):
    close = np.array([40.0, 40.4, 40.4 * ratio * 1.02, 40.4 * ratio * 1.03])
    bars = pd.DataFrame(
        {"time": pd.bdate_range("2024-01-02", periods=4), "open": close, "close": close}
    )
    bars.loc[2, "open"] = 40.4 * ratio
    bars = bars.assign(
        high=bars[["open", "close"]].max(axis=1) * 1.01,
        low=bars[["open", "close"]].min(axis=1) * 0.99,
    )
    with pytest.warns(UnadjustedSplitWarning, match=f"XYZ: .*2024-01-04.*{name}"):
        load(bars, symbol="XYZ")


def test_a_crash_that_does_not_gap_is_not_a_split():
    rows = [(100, 101, 99, 100), (100, 101, 49, 50), (50, 52, 49, 51)]  # opened at 100
    bars = pd.DataFrame(rows, columns=["open", "high", "low", "close"])
    bars.index = pd.bdate_range("2024-01-02", periods=3, name="date")
    assert unadjusted_splits(quiet_load(bars, symbol="X")) == []


def test_many_suspects_are_listed_up_to_five():
    close = 100 * 2.0 ** -np.arange(8)
    bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close})
    bars.index = pd.bdate_range("2024-01-02", periods=8, name="date")
    with pytest.warns(UnadjustedSplitWarning, match="and 2 more") as caught:
        load(bars, symbol="X")
    assert str(caught[0].message).count("2-for-1 split") == 5


@pytest.mark.parametrize("interval", ["1d", "5m"])
def test_sample_data_raises_no_split_warning(interval):
    quiet_load(qn.data.sample(["A", "B", "C"], interval=interval, start="2020-01-01"))
