"""Futures contract months, continuous series, FX sessions and loading contract-month files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.calendar import fx_open, fx_sessions


@pytest.mark.parametrize(
    ("root", "month", "last_day"),
    [
        ("ES", "2024-03", "2024-03-15"),  # third Friday
        ("NQ", "2024-06", "2024-06-21"),
        ("ES", "2023-12", "2023-12-15"),
        ("CL", "2024-03", "2024-02-20"),  # 3 business days before Feb 25 (a Sunday -> Fri 23)
        ("CL", "2024-05", "2024-04-22"),  # 3 business days before Thursday Apr 25
    ],
)
def test_expiry_follows_the_exchange_rule(root, month, last_day):
    assert qn.data.expiry(root, month) == pd.Timestamp(last_day)


def test_sample_contract_months_trade_at_a_premium_and_gap_at_the_roll():
    data = qn.data.sample(qn.continuous("ES"), start="2023-11-01", end="2024-01-31", adjust="none")
    assert list(data) == ["ES", "ES 2023-12", "ES 2024-03"]
    dec, mar = data["ES 2023-12"], data["ES 2024-03"]
    assert dec.index[-1] == pd.Timestamp("2023-12-15", tz="UTC")  # trades to its expiry
    both = dec.index.intersection(mar.index)
    assert (mar.loc[both, "close"] > dec.loc[both, "close"]).all()  # contango: carry premium
    gap = (mar.loc[both, "close"] - dec.loc[both, "close"]) / dec.loc[both, "close"]
    assert gap.between(0.0005, 0.01).all()
    for df in (dec, mar):  # on the 0.25 tick grid
        assert np.allclose(df["close"] * 4, np.round(df["close"] * 4))
    assert data["ES 2024-03"].attrs["instrument"] == qn.future("ES", "2024-03")


@pytest.mark.parametrize("adjust", ["difference", "ratio", "none"])
def test_continuous_series_adjusts_as_chosen_and_records_it(adjust):
    data = qn.data.sample(qn.continuous("ES"), start="2023-11-01", end="2024-01-31", adjust=adjust)
    es, dec, mar = data["ES"], data["ES 2023-12"], data["ES 2024-03"]
    assert es.attrs["adjust"] == adjust and es.attrs["roll"] == "5 bars before expiry"
    ((at, old, new),) = es.attrs["rolls"]
    at = pd.Timestamp(at)
    assert (old, new) == ("ES 2023-12", "ES 2024-03")
    assert at == dec.index[-6]  # five bars before the last
    after = es.index >= at
    pd.testing.assert_series_equal(es.loc[after, "close"], mar.loc[es.index[after], "close"])
    before = es.index[~after]
    raw = dec.loc[before, "close"]
    diff = mar.loc[at, "close"] - dec.loc[at, "close"]
    ratio = mar.loc[at, "close"] / dec.loc[at, "close"]
    expected = {"difference": raw + diff, "ratio": raw * ratio, "none": raw}[adjust]
    np.testing.assert_allclose(es.loc[before, "close"], expected)


def test_continuous_needs_the_adjustment_chosen():
    with pytest.raises(qn.ConfigError, match="adjust='difference', 'ratio' or 'none'"):
        qn.data.sample(qn.continuous("ES"), start="2023-11-01", end="2024-01-31")


def test_roll_by_volume_when_the_next_month_trades_more():
    data = qn.data.sample(
        qn.continuous("ES"), start="2023-11-01", end="2024-01-31", adjust="none", roll="volume"
    )
    ((at, old, new),) = data["ES"].attrs["rolls"]
    assert data["ES"].attrs["roll"] == "volume"
    dec, mar = data[old], data[new]
    at = pd.Timestamp(at)
    assert mar.loc[at, "volume"] > dec.loc[at, "volume"]
    earlier = dec.index[(dec.index < at) & dec.index.isin(mar.index)]
    assert (mar.loc[earlier, "volume"] <= dec.loc[earlier, "volume"]).all()


def test_fx_sessions_run_sunday_17_to_friday_17_new_york():
    s = fx_sessions(pd.Timestamp("2024-03-08"), pd.Timestamp("2024-03-11"))
    ny = [pd.Timestamp(int(x), tz="UTC").tz_convert("America/New_York") for x in s.open]
    assert [str(t) for t in ny] == ["2024-03-07 17:00:00-05:00", "2024-03-10 17:00:00-04:00"]
    assert fx_open(pd.Timestamp("2024-03-08 21:59", tz="UTC"))  # Friday 16:59 New York
    assert not fx_open(pd.Timestamp("2024-03-08 22:00", tz="UTC"))
    assert not fx_open(pd.Timestamp("2024-03-10 20:59", tz="UTC"))  # Sunday 16:59 (EDT)
    assert fx_open(pd.Timestamp("2024-03-10 21:00", tz="UTC"))
    bars = qn.data.sample(qn.fx("EURUSD"), interval="1h", start="2024-03-04", end="2024-03-15")
    local = bars["EURUSD"].index.tz_convert("America/New_York")
    assert all(fx_open(t) for t in bars["EURUSD"].index)
    assert (local.day_of_week != 5).all()
    assert len(local) == 2 * 5 * 24  # two weeks, 24 hours a day
    assert bars["EURUSD"].attrs["instrument"] == qn.fx("EURUSD")


def test_load_contract_months_from_files_or_a_month_column(tmp_path):
    months = qn.data.sample(
        qn.continuous("ES"), start="2023-11-01", end="2024-01-31", adjust="none"
    )
    del months["ES"]
    for name, df in months.items():
        df.to_csv(tmp_path / f"{name.replace(' ', '_')}.csv")
    from_files = qn.data.load_months(tmp_path, "ES")
    column = pd.concat([df.assign(contract=n.split(" ")[1]) for n, df in months.items()])
    from_column = qn.data.load_months(column, "ES")
    for loaded in (from_files, from_column):
        assert list(loaded) == ["ES 2023-12", "ES 2024-03"]
        pd.testing.assert_frame_equal(loaded["ES 2024-03"], months["ES 2024-03"], check_freq=False)
    a = qn.data.continuous(from_files, adjust="ratio")
    b = qn.data.sample(qn.continuous("ES"), start="2023-11-01", end="2024-01-31", adjust="ratio")
    pd.testing.assert_frame_equal(a, b["ES"], check_freq=False)
    assert a.attrs["rolls"] == b["ES"].attrs["rolls"]
