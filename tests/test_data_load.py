import numpy as np
import pandas as pd
import pytest

from quantnb.data import load, sample, to_canonical
from quantnb.errors import ConfigError, DataError

COLUMNS = ["open", "high", "low", "close", "volume"]


def raw(n=5, start="2024-01-02"):
    return pd.DataFrame(
        {
            "Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"),
            "Open": np.arange(n) + 10.0,
            "High": np.arange(n) + 11.0,
            "Low": np.arange(n) + 9.0,
            "Close": np.arange(n) + 10.5,
            "Volume": np.arange(n) * 100 + 1000,
        }
    )


def assert_canonical(df, symbol):
    assert list(df.columns) == COLUMNS
    assert str(df.index.dtype) == "datetime64[ns, UTC]"
    assert df.index.name == "time"
    assert (df.dtypes == np.float64).all()
    assert df.index.is_monotonic_increasing
    assert df.attrs["symbol"] == symbol


def test_csv_path_symbol_from_stem(tmp_path):
    path = tmp_path / "aapl.csv"
    raw().to_csv(path, index=False)
    df = load(path)
    assert_canonical(df, "AAPL")
    assert df.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert df["volume"].iloc[1] == 1100.0
    assert load(str(path), symbol="Apple").attrs["symbol"] == "Apple"


def test_parquet_round_trip(tmp_path):
    original = sample("MSFT", "5m", bars=200)["MSFT"]
    path = tmp_path / "msft.parquet"
    original.to_parquet(path)
    df = load(path)
    assert_canonical(df, "MSFT")
    pd.testing.assert_frame_equal(df, original, check_freq=False, check_like=False)


def test_multi_symbol_csv_gives_dict(tmp_path):
    a, b = raw(), raw(3, "2024-02-01")
    a["symbol"], b["symbol"] = "AAA", "BBB"
    path = tmp_path / "many.csv"
    pd.concat([b, a]).to_csv(path, index=False)
    out = load(path)
    assert list(out) == ["BBB", "AAA"]
    assert len(out["AAA"]) == 5 and len(out["BBB"]) == 3
    for sym, df in out.items():
        assert_canonical(df, sym)
    assert len(load(path, symbol="AAA")) == 5
    with pytest.raises(DataError, match=r"'ZZZ'.*BBB, AAA"):
        load(path, symbol="ZZZ")


def test_single_value_symbol_column_gives_frame(tmp_path):
    df = raw()
    df["Ticker"] = "SPY"
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    out = load(path)
    assert isinstance(out, pd.DataFrame)
    assert out.attrs["symbol"] == "SPY"


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv"):
        load(tmp_path / "nope.csv")
    path = tmp_path / "bars.xlsx"
    path.write_text("x")
    with pytest.raises(ConfigError, match=r"'\.xlsx'"):
        load(path)


def test_dataframe_with_datetime_index_and_aliases():
    df = raw().set_index("Date")
    df.index = pd.to_datetime(df.index)
    df = df.rename(columns={"Volume": "vol"})
    out = load(df, symbol="X")
    assert_canonical(out, "X")


def test_unnamed_dataframe_gets_placeholder_symbol():
    assert load(raw()).attrs["symbol"] == "ASSET"
    named = raw()
    named.attrs["symbol"] = "QQQ"
    assert load(named).attrs["symbol"] == "QQQ"


def test_volume_optional():
    out = load(raw().drop(columns=["Volume"]), symbol="X")
    assert (out["volume"] == 0.0).all()


def test_dict_of_frames():
    out = load({"A": raw(), "B": raw(2)})
    assert list(out) == ["A", "B"]
    assert_canonical(out["B"], "B")
    assert load({"A": raw(), "B": raw(2)}, symbol="B").attrs["symbol"] == "B"


@pytest.mark.parametrize("order", [("symbol", "time"), ("time", "symbol")])
def test_multiindex_rows(order):
    frames = sample(["AAA", "BBB"], bars=20)
    long = pd.concat(frames, names=["symbol", "time"])
    if order == ("time", "symbol"):
        long = long.swaplevel().sort_index()
    out = load(long)
    assert set(out) == {"AAA", "BBB"}
    for sym in out:
        assert_canonical(out[sym], sym)
        np.testing.assert_array_equal(out[sym]["close"], frames[sym]["close"])


def test_multiindex_columns_either_order():
    frames = sample(["AAA", "BBB"], bars=10)
    wide = pd.concat(frames, axis=1)  # (symbol, field)
    for frame in (wide, wide.swaplevel(axis=1)):
        out = load(frame)
        assert list(out) == ["AAA", "BBB"]
        np.testing.assert_array_equal(out["BBB"]["open"], frames["BBB"]["open"])


def test_naive_times_are_utc_unless_tz_given():
    df = raw()
    df["Date"] = df["Date"] + " 09:30"
    assert load(df, symbol="X").index[0] == pd.Timestamp("2024-01-02 09:30", tz="UTC")
    ny = load(df, symbol="X", tz="America/New_York")
    assert ny.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")


def test_aware_times_converted_and_mixed_offsets():
    df = raw(2)
    df["Date"] = ["2021-03-12 09:30:00-05:00", "2021-03-15 09:30:00-04:00"]
    out = load(df, symbol="X")
    assert list(out.index.strftime("%H:%M")) == ["14:30", "13:30"]


def test_newest_first_file_is_reversed():
    out = load(raw().iloc[::-1], symbol="X")
    assert out.index.is_monotonic_increasing
    assert out["open"].iloc[0] == 10.0


def test_shuffled_rows_raise():
    df = raw().iloc[[0, 2, 1, 3, 4]]
    with pytest.raises(DataError, match="X: timestamps are not sorted: 2024-01-03"):
        load(df, symbol="X")


def test_missing_price_column_names_symbol_and_columns():
    with pytest.raises(DataError) as exc:
        load(raw().drop(columns=["Low"]), symbol="X")
    assert "X: missing column(s) low" in str(exc.value) and "'Open'" in str(exc.value)


def test_no_time_column():
    with pytest.raises(DataError, match="X: no time column"):
        load(raw().drop(columns=["Date"]), symbol="X")


def test_bad_time_value_named():
    df = raw()
    df.loc[3, "Date"] = "yesterday-ish"
    with pytest.raises(DataError, match="X: cannot read time 'yesterday-ish' at row 3"):
        load(df, symbol="X")


def test_numeric_times_rejected():
    df = raw()
    df["Date"] = np.arange(5) * 86400
    with pytest.raises(DataError, match="unit='s'"):
        load(df, symbol="X")


def test_bad_number_named():
    df = raw().astype({"Close": object})
    df.loc[2, "Close"] = "abc"
    with pytest.raises(DataError) as exc:
        load(df, symbol="X")
    msg = str(exc.value)
    assert "X: close" in msg and "'abc'" in msg and "2024-01-04 00:00:00+00:00" in msg


def test_validation_runs_on_load():
    df = raw()
    df.loc[1, "High"] = 1.0
    with pytest.raises(DataError, match=r"X: high < low .* 2024-01-03"):
        load(df, symbol="X")


def test_two_columns_for_one_field():
    df = raw()
    df["close"] = df["Close"]
    with pytest.raises(DataError, match="'Close' and 'close'"):
        load(df, symbol="X")


def test_to_canonical_of_canonical_is_identity():
    df = sample("AAA", bars=50)["AAA"]
    out = to_canonical(df, "AAA")
    pd.testing.assert_frame_equal(out, df)
    assert out is not df


def test_to_canonical_rejects_several_symbols():
    df = raw()
    df["symbol"] = ["A", "B", "A", "B", "A"]
    with pytest.raises(DataError, match="several symbols"):
        to_canonical(df, "A")


def test_bad_source_type():
    with pytest.raises(ConfigError, match="list"):
        load([1, 2, 3])
