import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.data import sample, validate
from quantnb.errors import ConfigError, IntervalError

COLUMNS = ["open", "high", "low", "close", "volume"]


def test_daily_shape_and_canonical_form():
    out = sample(["MSFT", "AAPL"])
    assert list(out) == ["MSFT", "AAPL"]
    df = out["AAPL"]
    assert list(df.columns) == COLUMNS
    assert str(df.index.dtype) == "datetime64[ns, UTC]"
    assert df.index.name == "time"
    assert (df.dtypes == np.float64).all()
    assert df.index[0] == pd.Timestamp("2020-01-01", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2023-12-29", tz="UTC")
    assert (df.index.day_of_week < 5).all()
    assert (df.index == df.index.normalize()).all()
    assert df.attrs == {"symbol": "AAPL", "interval": "1d"}
    validate(df, "AAPL")


def test_symbol_series_independent_of_other_symbols():
    alone = sample("AAPL", seed=3)["AAPL"]
    together = sample(["MSFT", "AAPL"], seed=3)["AAPL"]
    pd.testing.assert_frame_equal(alone, together)
    again = sample("AAPL", seed=3)["AAPL"]
    pd.testing.assert_frame_equal(alone, again)
    other_seed = sample("AAPL", seed=4)["AAPL"]
    assert not np.allclose(alone["close"], other_seed["close"])


def test_symbols_get_different_prices():
    out = sample(["AAPL", "MSFT", "SPY", "TSLA"])
    firsts = {s: df["open"].iloc[0] for s, df in out.items()}
    assert len(set(firsts.values())) == 4
    assert all(15 <= p <= 600 for p in firsts.values())


def test_intraday_session_in_new_york():
    df = sample("SPY", "5m", start="2021-03-12", end="2021-03-16")["SPY"]
    local = df.index.tz_convert("America/New_York")
    assert local.min().strftime("%H:%M") == "09:30"
    assert local.max().strftime("%H:%M") == "15:55"
    # a DST change on 2021-03-14: the session stays at 09:30 local, moves in UTC
    days = pd.Series(local.date).unique()
    assert len(days) == 3 and len(df) == 3 * 78
    opens_utc = df.index[local.strftime("%H:%M") == "09:30"].strftime("%H:%M").tolist()
    assert opens_utc == ["14:30", "13:30", "13:30"]
    assert str(df.index.tz) == "UTC"


def test_hourly_bars_start_at_open_then_on_the_hour():
    df = sample("SPY", "1h", start="2022-06-01", end="2022-06-01")["SPY"]
    local = df.index.tz_convert("America/New_York").strftime("%H:%M").tolist()
    assert local == ["09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]


def test_weekly_on_mondays():
    df = sample("SPY", "1w", bars=10)["SPY"]
    assert len(df) == 10 and (df.index.day_of_week == 0).all()
    assert df.index[0] == pd.Timestamp("2020-01-06", tz="UTC")


def test_bars_exact_count_ignores_end():
    out = sample(["A", "B"], "1m", start="2021-01-04", end="2021-01-04", bars=1000)
    assert all(len(df) == 1000 for df in out.values())
    df = out["A"]
    assert df.index.is_monotonic_increasing and df.index.is_unique


def test_bars_with_start_inside_session():
    df = sample("A", "1m", start="2021-01-04 15:00", bars=5)["A"]
    assert df.index[0] == pd.Timestamp("2021-01-04 15:00", tz="UTC")
    assert len(df) == 5


def test_million_minute_bars_fast():
    t0 = time.perf_counter()
    df = sample("AAPL", "1m", bars=1_000_000)["AAPL"]
    elapsed = time.perf_counter() - t0
    assert len(df) == 1_000_000
    assert elapsed < 2.0
    validate(df, "AAPL")


def test_volume_is_integer_valued_and_positive():
    df = sample("AAPL", "15m", bars=2000)["AAPL"]
    vol = df["volume"].to_numpy()
    assert (vol >= 1).all() and (vol == np.round(vol)).all()


def test_volatility_is_realistic():
    df = sample("AAPL", "1d", bars=2520)["AAPL"]
    log_ret = np.diff(np.log(df["close"].to_numpy()))
    annual = log_ret.std() * np.sqrt(252)
    assert 0.10 < annual < 0.55


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"symbols": []}, "at least one symbol"),
        ({"symbols": ["AAPL", ""]}, "''"),
        ({"symbols": "AAPL", "seed": -1}, "-1"),
        ({"symbols": "AAPL", "bars": 0}, "0"),
        ({"symbols": "AAPL", "start": "not a date"}, "'not a date'"),
        ({"symbols": "AAPL", "start": "2021-01-01", "end": "2020-01-01"}, "swap"),
    ],
)
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ConfigError) as exc:
        sample(**kwargs)
    assert needle in str(exc.value)


def test_bad_interval():
    with pytest.raises(IntervalError, match="'2m'"):
        sample("AAPL", "2m")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    symbol=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=6),
    interval=st.sampled_from(["1m", "5m", "1h", "1d", "1w"]),
)
def test_ohlc_invariants(seed, symbol, interval):
    df = sample(symbol, interval, seed=seed, bars=300)[symbol]
    o, h, lo, c = (df[k].to_numpy() for k in ["open", "high", "low", "close"])
    assert len(df) == 300
    assert (lo > 0).all()
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert df.index.is_monotonic_increasing and df.index.is_unique
    validate(df, symbol)
