import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.data import Aligned, align, resample, sample
from quantnb.data.resample import infer_interval
from quantnb.errors import ConfigError, DataError, IntervalError


def minute_bars(**kw):
    return sample("SPY", "1m", **kw)["SPY"]


def test_minutes_to_five_minutes_by_hand():
    df = minute_bars(start="2022-06-01", bars=10)
    out = resample(df, "5m")
    assert len(out) == 2 and out.attrs["interval"] == "5m"
    first = df.iloc[:5]
    row = out.iloc[0]
    assert out.index[0] == df.index[0]
    assert row["open"] == first["open"].iloc[0] and row["close"] == first["close"].iloc[-1]
    assert row["high"] == first["high"].max() and row["low"] == first["low"].min()
    assert row["volume"] == first["volume"].sum()


def test_intraday_to_daily_uses_new_york_date_at_utc_midnight():
    df = minute_bars(start="2022-06-01", end="2022-06-03")
    out = resample(df, "1d")
    assert list(out.index) == list(pd.date_range("2022-06-01", periods=3, tz="UTC", name="time"))
    # a bar at 23:30 UTC is still on the New York date before
    late = pd.DataFrame(
        {
            "open": [1.0, 2.0],
            "high": [1.0, 2.0],
            "low": [1.0, 2.0],
            "close": [1.0, 2.0],
            "volume": [1.0, 1.0],
        },
        index=pd.DatetimeIndex(["2022-06-01 23:30", "2022-06-02 03:30"], tz="UTC"),
    )
    late.attrs["interval"] = "1h"
    daily = resample(late, "1d")
    assert len(daily) == 1 and daily.index[0] == pd.Timestamp("2022-06-01", tz="UTC")


def test_intraday_to_hourly_bins_left_closed():
    df = minute_bars(start="2022-06-01", end="2022-06-01")
    out = resample(df, "1h")
    ny = out.index.tz_convert("America/New_York").strftime("%H:%M").tolist()
    assert ny == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]
    assert out["volume"].sum() == df["volume"].sum()


def test_daily_to_weekly_labels_monday():
    df = sample("SPY", "1d", start="2024-01-03", end="2024-01-19")["SPY"]
    out = resample(df, "1w")
    assert list(out.index.strftime("%Y-%m-%d")) == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert out["open"].iloc[0] == df["open"].iloc[0]


def test_empty_bins_dropped():
    df = minute_bars(start="2022-06-03", end="2022-06-06")  # Friday and Monday
    out = resample(df, "1d")
    assert list(out.index.day_of_week) == [4, 0]


def test_finer_interval_rejected_naming_both():
    df = sample("SPY", "1d", bars=10)["SPY"]
    with pytest.raises(IntervalError) as exc:
        resample(df, "1h")
    assert "1d" in str(exc.value) and "1h" in str(exc.value) and "SPY" in str(exc.value)


def test_same_interval_is_unchanged_and_dict_supported():
    data = sample(["A", "B"], "5m", bars=30)
    out = resample(data, "5m")
    assert list(out) == ["A", "B"]
    pd.testing.assert_frame_equal(out["A"], data["A"])
    assert len(resample(data, "15m")["B"]) == 10


def test_infer_interval_without_attrs():
    df = sample("SPY", "1h", bars=50)["SPY"]
    df.attrs = {}
    assert infer_interval(df).name == "1h"
    weekly = sample("SPY", "1w", bars=5)["SPY"]
    weekly.attrs = {}
    assert infer_interval(weekly).name == "1w"
    assert infer_interval(weekly.iloc[:1]) is None


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    source=st.sampled_from(["1m", "5m", "15m"]),
    target=st.sampled_from(["30m", "1h", "1d", "1w"]),
    n=st.integers(1, 3000),
)
def test_resample_preserves_volume_and_extremes(seed, source, target, n):
    df = sample("X", source, seed=seed, bars=n)["X"]
    out = resample(df, target)
    assert out["volume"].sum() == pytest.approx(df["volume"].sum())
    assert out["high"].max() == df["high"].max() and out["low"].min() == df["low"].min()
    assert out["open"].iloc[0] == df["open"].iloc[0]
    assert out["close"].iloc[-1] == df["close"].iloc[-1]
    assert out.index.is_monotonic_increasing and out.index.is_unique
    assert (out.index <= df.index[-1]).all() and out.index[0] <= df.index[0]


def test_align_union_and_rows():
    data = sample(["A", "B", "C"], "1d", bars=6)
    frames = {"A": data["A"], "B": data["B"].iloc[[0, 2, 4]], "C": data["C"].iloc[3:]}
    al = align(frames)
    assert isinstance(al, Aligned)
    assert al.symbols == ("A", "B", "C")
    assert al.index.equals(data["A"].index.rename("time"))
    assert str(al.index.dtype) == "datetime64[ns, UTC]"
    assert al.rows.dtype == np.int64
    assert al.rows[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert al.rows[:, 1].tolist() == [0, -1, 1, -1, 2, -1]
    assert al.rows[:, 2].tolist() == [-1, -1, -1, 0, 1, 2]
    assert al.complete is False
    with pytest.raises(ValueError):
        al.rows[0, 0] = 5


def test_align_identical_indexes_complete():
    al = align(sample(["A", "B"], "1h", bars=40))
    assert al.complete and al.rows.shape == (40, 2)
    assert (al.rows[:, 1] == np.arange(40)).all()


def test_align_errors():
    with pytest.raises(ConfigError):
        align({})
    df = sample("A", bars=5)["A"]
    with pytest.raises(DataError, match="B: timestamps must be sorted"):
        align({"A": df, "B": df.iloc[::-1]})


def test_align_is_fast():
    base = sample("X", "1h", bars=10_000)["X"]
    many = {f"S{i}": base.iloc[i % 7 :] for i in range(100)}
    one = sample("Y", "1m", bars=1_000_000)
    t0 = time.perf_counter()
    al = align(many)
    al1 = align(one)
    assert time.perf_counter() - t0 < 1.0
    assert al.rows.shape == (10_000, 100) and not al.complete
    assert al1.complete and al1.rows.shape == (1_000_000, 1)
