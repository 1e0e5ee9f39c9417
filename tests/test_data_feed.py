import pandas as pd
import pytest

from quantnb.data import HistoricalDataFeed, sample
from quantnb.errors import DataError, IntervalError
from quantnb.ports import IDataFeed


@pytest.fixture
def minute_feed():
    return HistoricalDataFeed(sample(["AAPL", "MSFT"], "1m", start="2022-06-01", end="2022-06-10"))


def test_is_a_data_feed(minute_feed):
    assert isinstance(minute_feed, IDataFeed)
    assert isinstance(HistoricalDataFeed(), IDataFeed)
    assert minute_feed.symbols == ("AAPL", "MSFT")


def test_slices_inclusive_with_whole_end_day(minute_feed):
    df = minute_feed.get_historical_data("AAPL", "2022-06-02", "2022-06-03", "1m")
    dates = set(df.index.tz_convert("America/New_York").date.astype(str))
    assert dates == {"2022-06-02", "2022-06-03"}
    assert len(df) == 2 * 390
    assert df.attrs["symbol"] == "AAPL"


def test_exact_time_bounds_inclusive(minute_feed):
    df = minute_feed.get_historical_data(
        "AAPL", "2022-06-02 14:00", pd.Timestamp("2022-06-02 14:04", tz="UTC"), "1m"
    )
    assert len(df) == 5


def test_open_bounds(minute_feed):
    assert len(minute_feed.get_historical_data("MSFT", None, None, "1m")) == 8 * 390


def test_resamples_to_coarser(minute_feed):
    daily = minute_feed.get_historical_data("AAPL", None, "2022-06-03", "1d")
    assert list(daily.index.strftime("%Y-%m-%d")) == ["2022-06-01", "2022-06-02", "2022-06-03"]
    assert daily.attrs["interval"] == "1d"
    again = minute_feed.get_historical_data("AAPL", None, "2022-06-03", "1d")
    pd.testing.assert_frame_equal(daily, again)


def test_finer_than_stored_rejected():
    feed = HistoricalDataFeed(sample("AAPL", "1d", bars=30))
    with pytest.raises(IntervalError, match=r"1d.*5m"):
        feed.get_historical_data("AAPL", None, None, "5m")


def test_unknown_symbol_names_it_and_known_ones(minute_feed):
    with pytest.raises(DataError) as exc:
        minute_feed.get_historical_data("APPL", None, None, "1m")
    msg = str(exc.value)
    assert "'APPL'" in msg and "AAPL, MSFT" in msg and "Did you mean 'AAPL'" in msg


def test_multiple_symbols(minute_feed):
    out = minute_feed.get_multiple_symbols(["MSFT", "AAPL"], "2022-06-01", "2022-06-01", "1h")
    assert list(out) == ["MSFT", "AAPL"]
    assert all(len(df) == 7 for df in out.values())


def test_ticker_info(minute_feed):
    info = minute_feed.get_ticker_info("MSFT")
    assert info["symbol"] == "MSFT" and info["sec_type"] == "STK"
    assert info["exchange"] == "SMART" and info["currency"] == "USD"
    assert info["bars"] == 8 * 390
    assert info["first_bar"] == pd.Timestamp("2022-06-01 13:30", tz="UTC")
    with pytest.raises(DataError, match="'NOPE'"):
        minute_feed.get_ticker_info("NOPE")


def test_synthetic_feed_is_deterministic_and_lazy():
    feed = HistoricalDataFeed(seed=1)
    assert feed.symbols == ()
    df = feed.get_historical_data("TSLA", "2021-01-01", "2021-01-31", "1d")
    assert feed.symbols == ("TSLA",)
    expected = sample("TSLA", "1d", seed=1)["TSLA"].loc["2021-01-01":"2021-01-31"]
    pd.testing.assert_frame_equal(df, expected, check_freq=False)
    intraday = feed.get_historical_data("TSLA", "2021-01-04", "2021-01-04", "5m")
    assert len(intraday) == 78
    info = feed.get_ticker_info("TSLA")
    assert info["bars"] > 1000


def test_feed_from_single_frame_and_path(tmp_path):
    df = sample("QQQ", "1d", bars=20)["QQQ"]
    assert HistoricalDataFeed(df).symbols == ("QQQ",)
    path = tmp_path / "spy.csv"
    df.to_csv(path)
    feed = HistoricalDataFeed(str(path))
    assert feed.get_ticker_info("SPY")["bars"] == 20
