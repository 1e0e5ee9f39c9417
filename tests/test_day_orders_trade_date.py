"""DAY orders on futures and FX end with the instrument's own trade date in a backtest, as at
IB: a CME or FX order placed in the evening is for the next date and ends at 17:00 New York;
stocks keep the New York day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.calendar import trade_date_end, trade_dates

NY = "America/New_York"
ES = qn.future("ES", "2024-03")
EUR = qn.fx("EURUSD")


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=NY)


def minute_bars(index: pd.DatetimeIndex, price: float, dips: dict[str, float]) -> pd.DataFrame:
    """Flat bars at ``price`` whose low dips to ``dips[time]`` at those New York minutes."""
    low = np.full(len(index), price * 0.999)
    for when, value in dips.items():
        low[index.get_loc(ny(when))] = value
    return pd.DataFrame(
        {"open": price, "high": price * 1.001, "low": low, "close": price, "volume": 100.0},
        index=index.tz_convert("UTC"),
    )


def es_index() -> pd.DatetimeIndex:
    """Globex minutes from Tuesday 18:00 to Thursday 10:00 New York, without Wednesday's
    17:00-18:00 halt."""
    index = pd.date_range(ny("2024-01-09 18:00"), ny("2024-01-11 10:00"), freq="1min")
    return index[~((index.hour == 17) & (index.day == 10))]


class PlaceAt(qn.Strategy):
    """Places the ``plan`` orders (New York time -> list of (name, buy kwargs)) on those bars
    and notes every order's status at the ``watch`` times."""

    def __init__(self, symbol, plan, watch) -> None:
        super().__init__()
        self.symbol, self.plan, self.watch = symbol, plan, watch
        self.orders: dict[str, qn.Order] = {}
        self.seen: dict[tuple[str, str], str] = {}

    def on_data(self, ctx, bars):
        now = ctx.now.tz_convert(NY).strftime("%Y-%m-%d %H:%M")
        for name, kwargs in self.plan.get(now, ()):
            self.orders[name] = ctx.buy(self.symbol, 1, tif="DAY", **kwargs)
        if now in self.watch:
            for name, order in self.orders.items():
                self.seen[(name, now)] = str(order.status)


def test_es_day_order_placed_in_the_evening_lives_to_the_next_days_close():
    bars = minute_bars(es_index(), 4800.0, {"2024-01-10 10:00": 4789.0})
    plan = {
        "2024-01-09 20:00": [("fills", {"limit": 4790.0}), ("rests", {"limit": 4700.0})],
        "2024-01-10 16:30": [("late", {"limit": 4700.0})],
    }
    watch = ("2024-01-10 09:59", "2024-01-10 16:59", "2024-01-10 18:00")
    s = PlaceAt(ES, plan, watch)
    r = qn.backtest(s, {ES: bars}, cash=100_000, slippage=0, commission=0)
    # past New York midnight and into Wednesday's day session: still working, and it fills
    assert s.seen[("rests", "2024-01-10 09:59")] == "submitted"
    (fill,) = r.fills.itertuples()
    assert fill.time == ny("2024-01-10 10:00") and fill.price == 4790.0
    # past the US-stock close at 16:00: still working until CME's close at 17:00
    assert s.seen[("rests", "2024-01-10 16:59")] == s.seen[("late", "2024-01-10 16:59")]
    assert s.seen[("late", "2024-01-10 16:59")] == "submitted"
    # the first bar of Thursday's trade date (Wednesday 18:00) finds both expired
    assert s.seen[("rests", "2024-01-10 18:00")] == "expired"
    orders = r.orders.set_index("order_id") if "order_id" in r.orders else r.orders
    expired = orders[orders["status"] == "expired"]
    assert len(expired) == 2
    assert set(pd.DatetimeIndex(expired["updated"]).tz_convert(NY)) == {ny("2024-01-10 18:00")}


def fx_index() -> pd.DatetimeIndex:
    return pd.date_range(ny("2024-01-09 16:00"), ny("2024-01-10 18:00"), freq="1min")


def test_fx_day_order_ends_at_1700_new_york():
    bars = minute_bars(fx_index(), 1.1, {})
    plan = {
        "2024-01-09 16:30": [("before", {"limit": 1.0})],
        "2024-01-09 17:30": [("after", {"limit": 1.0})],
    }
    watch = ("2024-01-09 16:59", "2024-01-09 17:00", "2024-01-10 16:59", "2024-01-10 17:00")
    s = PlaceAt(EUR, plan, watch)
    r = qn.backtest(s, {EUR: bars}, cash=100_000, slippage=0, commission=0)
    assert s.seen[("before", "2024-01-09 16:59")] == "submitted"
    assert s.seen[("before", "2024-01-09 17:00")] == "expired"  # Tuesday's FX day is over
    assert s.seen[("after", "2024-01-10 16:59")] == "submitted"  # past midnight: Wednesday's
    assert s.seen[("after", "2024-01-10 17:00")] == "expired"
    updated = pd.DatetimeIndex(r.orders["updated"]).tz_convert(NY)
    assert sorted(updated) == [ny("2024-01-09 17:00"), ny("2024-01-10 17:00")]


def test_stock_day_orders_keep_the_new_york_day():
    index = pd.date_range(ny("2024-01-09 09:30"), ny("2024-01-10 15:59"), freq="1min")
    index = index[(index.hour * 60 + index.minute >= 570) & (index.hour < 16)]
    bars = minute_bars(index, 100.0, {})
    plan = {"2024-01-09 15:30": [("aapl", {"limit": 50.0})]}
    s = PlaceAt("AAPL", plan, ("2024-01-09 15:59", "2024-01-10 09:30"))
    qn.backtest(s, {"AAPL": bars}, cash=100_000, slippage=0, commission=0)
    assert s.seen[("aapl", "2024-01-09 15:59")] == "submitted"
    assert s.seen[("aapl", "2024-01-10 09:30")] == "expired"


@pytest.mark.parametrize("calendar", ["CMES", "FX"])
def test_trade_dates_roll_at_1700_new_york(calendar):
    times = pd.DatetimeIndex(
        [ny("2024-01-09 16:59"), ny("2024-01-09 17:00"), ny("2024-01-09 23:59"),
         ny("2024-01-10 00:00"), ny("2024-07-10 16:59"), ny("2024-07-10 17:00")]
    ).tz_convert("UTC").as_unit("ns")  # fmt: skip
    days = trade_dates(calendar, times.asi8)
    dates = pd.to_datetime(days, unit="D").strftime("%Y-%m-%d").tolist()
    assert dates == ["2024-01-09", "2024-01-10", "2024-01-10", "2024-01-10",
                     "2024-07-10", "2024-07-11"]  # fmt: skip
    end = trade_date_end(calendar, int(days[1]))
    assert pd.Timestamp(end, tz="UTC") == ny("2024-01-10 17:00")
    # stocks: the New York date
    new_york = times.tz_convert(NY).tz_localize(None).normalize().as_unit("ns").asi8
    assert list(trade_dates("XNYS", times.asi8)) == list(new_york // 86_400_000_000_000)
