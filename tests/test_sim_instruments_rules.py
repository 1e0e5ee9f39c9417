"""The simulator's futures calendar rules, tick grid and settings, without a socket."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantnb.errors import ConfigError
from quantnb.sim import SimConfig
from quantnb.sim.contract_rules import off_grid
from quantnb.sim.instruments import last_trading_day, listed_months
from quantnb.sim.quotes import bid_ask, on_grid
from quantnb.sim.venue_hours import open_mask


@pytest.mark.parametrize(
    ("root", "month", "day"),
    [
        ("ES", "2024-03", "2024-03-15"),  # third Friday
        ("ES", "2024-06", "2024-06-21"),
        ("NQ", "2024-12", "2024-12-20"),
        ("CL", "2024-02", "2024-01-22"),  # 25 Jan is a Thursday: three business days before
        ("CL", "2024-03", "2024-02-20"),  # 25 Feb is a Sunday: from Friday the 23rd
    ],
)
def test_last_trading_days(root, month, day):
    assert last_trading_day(root, month) == pd.Timestamp(day)


def test_listed_months_from_a_date():
    assert listed_months("ES", pd.Timestamp("2024-03-15")) == [
        "2024-03", "2024-06", "2024-09", "2024-12",
    ]  # fmt: skip
    assert listed_months("ES", pd.Timestamp("2024-03-16"))[0] == "2024-06"
    assert len(listed_months("CL", pd.Timestamp("2024-01-03"))) == 6


def test_cme_halt_and_fx_weekend():
    t = pd.DatetimeIndex(
        ["2024-01-03 21:30", "2024-01-03 22:30", "2024-01-03 23:30", "2024-01-06 12:00"], tz="UTC"
    ).as_unit("ns")
    # 15:30, 16:30 (the halt), 17:30 Chicago on a Wednesday; Saturday closed
    assert open_mask("CMES", t.asi8).tolist() == [True, False, True, False]
    fx = pd.DatetimeIndex(["2024-01-05 21:30", "2024-01-05 22:30", "2024-01-07 22:30"], tz="UTC")
    # Friday 16:30 New York open, 17:30 closed; Sunday 17:30 open again
    assert open_mask("FX", fx.as_unit("ns").asi8).tolist() == [True, False, True]


def test_tick_grid():
    assert on_grid(4700.13, 0.25) == 4700.25
    assert on_grid(1.095123, 0.00005) == pytest.approx(1.09510)
    bid, ask = bid_ask(np.array([4700.25]), 0.0002, 0.25)
    assert (bid[0], ask[0]) == (4700.25, 4700.5)
    assert off_grid(4700.1, 0.25) and not off_grid(4700.75, 0.25)
    assert not off_grid(1.09505, 0.00005) and off_grid(1.09501, 0.00005)


def test_settings_name_what_is_served():
    config = SimConfig(futures="es", fx=["EUR.USD"], indices=["spx"])
    assert (config.futures, config.fx, config.indices) == (("ES",), ("EURUSD",), ("SPX",))
    assert SimConfig().futures == ()
    with pytest.raises(ConfigError, match="futures='ZZ'"):
        SimConfig(futures=["ZZ"])
    with pytest.raises(ConfigError, match="fx='GBPJPY'"):
        SimConfig(fx=["GBPJPY"])
