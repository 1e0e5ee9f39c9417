import numpy as np
import pandas as pd
import pytest

from quantnb.data import validate
from quantnb.errors import DataError

T = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def bars(**override):
    data = {
        "open": [10.0, 11.0, 12.0, 13.0],
        "high": [11.0, 12.0, 13.0, 14.0],
        "low": [9.0, 10.0, 11.0, 12.0],
        "close": [10.5, 11.5, 12.5, 13.5],
        "volume": [100.0, 200.0, 300.0, 400.0],
    }
    data.update(override)
    index = pd.DatetimeIndex(override.pop("index", T), tz="UTC", name="time")
    return pd.DataFrame({k: v for k, v in data.items() if k != "index"}, index=index)


def test_clean_frame_passes_and_is_returned():
    df = bars()
    assert validate(df, "AAPL") is df


def test_empty_frame_passes():
    df = bars().iloc[:0]
    assert validate(df, "AAPL") is df


def check(df, *needles):
    with pytest.raises(DataError) as exc:
        validate(df, "XYZ")
    msg = str(exc.value)
    assert msg.startswith("XYZ:")
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_missing_columns():
    check(bars().drop(columns=["low", "volume"]), "low, volume", "open")


def test_not_datetime_index():
    check(bars().reset_index(drop=True), "DatetimeIndex", "RangeIndex")


def test_unsorted():
    df = bars(index=["2024-01-02", "2024-01-04", "2024-01-03", "2024-01-05"])
    check(df, "2024-01-03 00:00:00+00:00", "row 2", "2024-01-04", "sort_index")


def test_duplicate_with_count():
    df = bars(index=["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"])
    check(df, "duplicate", "2024-01-02 00:00:00+00:00", "row 1", "and 1 other row", "duplicated")


@pytest.mark.parametrize("col", ["open", "high", "low", "close", "volume"])
def test_nan(col):
    values = bars()[col].tolist()
    values[2] = np.nan
    check(bars(**{col: values}), col, "nan", "2024-01-04 00:00:00+00:00", "row 2", "dropna")


def test_infinite():
    check(bars(high=[11.0, np.inf, 13.0, 14.0]), "high is inf", "2024-01-03")


@pytest.mark.parametrize("value", [0.0, -5.0])
def test_non_positive_price(value):
    msg = check(
        bars(low=[9.0, value, value, 12.0]),
        f"low is {value!r}",
        "2024-01-03 00:00:00+00:00",
        "positive",
    )
    assert "and 1 other row" in msg


def test_negative_volume():
    check(bars(volume=[1.0, 2.0, 3.0, -4.0]), "volume is -4.0", "2024-01-05")


def test_high_below_low():
    check(
        bars(high=[11.0, 12.0, 10.0, 14.0], low=[9.0, 10.0, 10.5, 12.0]),
        "high < low",
        "high=10.0",
        "low=10.5",
        "2024-01-04 00:00:00+00:00",
    )


def test_high_below_open_or_close():
    check(
        bars(high=[11.0, 11.2, 13.0, 14.0]),
        "high 11.2",
        "close=11.5",
        "2024-01-03 00:00:00+00:00",
        "row 1",
    )


def test_low_above_open_or_close():
    check(
        bars(low=[9.0, 10.0, 12.2, 12.0]),
        "low 12.2",
        "open=12.0",
        "2024-01-04 00:00:00+00:00",
    )


def test_non_numeric_value():
    df = bars().astype({"close": object})
    df.iloc[1, df.columns.get_loc("close")] = "n/a"
    check(df, "close", "'n/a'", "2024-01-03 00:00:00+00:00")


def test_nat_in_index():
    df = bars()
    df.index = pd.DatetimeIndex([T[0], None, T[2], T[3]], tz="UTC")
    check(df, "NaT", "row 1")


def test_error_is_a_value_error():
    with pytest.raises(ValueError):
        validate(bars(high=[1.0, 1.0, 1.0, 1.0]), "XYZ")
