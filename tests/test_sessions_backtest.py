"""Extended hours in the backtest, on hand-made bars spanning the pre-market, the regular session
and the after-hours: which bars the strategy sees and which orders trade outside regular hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain import sessions
from quantnb.errors import ConfigError
from quantnb.strategies import SmaCross

NY = "America/New_York"


def day_bars(day: str, start: str = "04:00", end: str = "19:30", freq: str = "30min"):
    """30-minute bars of ``day`` from ``start`` to ``end`` New York: the price climbs 0.1 a bar
    and the regular open gaps up by 2."""
    index = pd.date_range(f"{day} {start}", f"{day} {end}", freq=freq, tz=NY)
    o = 100 + 0.1 * np.arange(len(index))
    o[index.strftime("%H:%M") >= "09:30"] += 2.0
    c = o + 0.05
    return pd.DataFrame(
        {"open": o, "high": c + 0.2, "low": o - 0.2, "close": c, "volume": 1e4},
        index=index.tz_convert("UTC"),
    )


def run(data, place=None, when=None, **kwargs):
    """Backtest recording the bars seen, placing ``place(ctx)`` once on the bar at ``when``."""
    stamp = None if when is None else pd.Timestamp(when, tz=NY).tz_convert("UTC")

    class Probe(qn.Strategy):
        seen: list[str]
        done = False

        def on_data(self, ctx, bars):
            self.seen.append(ctx.now.tz_convert(NY).strftime("%Y-%m-%d %H:%M"))
            if place is not None and not self.done and (stamp is None or ctx.now == stamp):
                self.done = True
                place(ctx)

    strategy = Probe()
    strategy.seen = []
    kwargs.setdefault("commission", 0.0)
    kwargs.setdefault("slippage", 0.0)
    result = qn.backtest(strategy, {"X": data}, progress=False, **kwargs)
    return result, strategy.seen


def fill_time(result) -> str:
    return result.fills["time"].iloc[0].tz_convert(NY).strftime("%H:%M")


def test_regular_hours_see_no_extended_bars():
    _, seen = run(day_bars("2024-01-03"))
    assert seen[0] == "2024-01-03 09:30" and seen[-1] == "2024-01-03 15:30"
    assert len(seen) == 13


def test_extended_hours_see_every_bar():
    _, seen = run(day_bars("2024-01-03"), hours="extended")
    assert seen[0] == "2024-01-03 04:00" and seen[-1] == "2024-01-03 19:30"
    assert len(seen) == 32


def test_regular_results_unchanged_for_regular_hours_data():
    data = qn.data.sample("AAPL", "5m", start="2024-01-02", end="2024-01-10")["AAPL"]
    assert not sessions.has_extended_bars(data.index)
    base = qn.backtest(SmaCross(5, 20), data, progress=False)
    regular = qn.backtest(SmaCross(5, 20), data, progress=False, hours="regular")
    pd.testing.assert_frame_equal(base.equity, regular.equity)
    pd.testing.assert_frame_equal(base.fills, regular.fills)


def test_a_limit_fills_in_the_pre_market_only_with_extended_hours():
    def buy(ctx):
        ctx.buy("X", 10, limit=100.45)  # the 06:00 bar's low is 100.2

    ext, _ = run(day_bars("2024-01-03"), buy, "2024-01-03 05:00", hours="extended")
    assert fill_time(ext) == "05:30"
    assert ext.fills["price"].iloc[0] == pytest.approx(100.3)  # the 05:30 bar opens below it
    # regular hours: the order is placed at the open and the market has gapped above the limit
    reg, _ = run(day_bars("2024-01-03"), buy, "2024-01-03 09:30")
    assert reg.fills.empty


def test_a_market_order_placed_in_the_pre_market_fills_at_the_regular_open():
    bars = day_bars("2024-01-03")
    result, _ = run(bars, lambda ctx: ctx.buy("X", 10), "2024-01-03 05:00", hours="extended")
    assert fill_time(result) == "09:30"
    assert result.fills["price"].iloc[0] == bars["open"].iloc[11]  # the 09:30 bar's open
    stop, _ = run(bars, lambda ctx: ctx.buy("X", 10, stop=100.4), "2024-01-03 05:00",
                  hours="extended")  # fmt: skip
    assert fill_time(stop) == "09:30"  # a stop's trigger waits for the regular session too


def test_a_stop_limit_triggers_in_the_after_hours_with_extended_hours():
    bars = day_bars("2024-01-03")
    place = lambda ctx: ctx.buy("X", 10, stop=104.6, limit=104.7)  # noqa: E731
    result, _ = run(bars, place, "2024-01-03 16:00", hours="extended")
    assert fill_time(result) == "16:30"  # the 16:30 bar opens at 104.5, its high 104.75
    assert result.fills["price"].iloc[0] == pytest.approx(104.6)
    regular, _ = run(bars, place, "2024-01-03 15:30")
    assert regular.fills.empty


def test_a_half_days_after_hours_end_at_five():
    # 2023-11-24, the day after Thanksgiving: the close at 13:00, after-hours until 17:00
    bars = day_bars("2023-11-24")
    _, seen = run(bars, hours="extended")
    assert seen[0] == "2023-11-24 04:00" and seen[-1] == "2023-11-24 19:30"  # data is data
    phases = sessions.bar_phases(bars.index)
    local = bars.index.tz_convert(NY).strftime("%H:%M")
    assert phases[list(local).index("12:30")] == sessions.REGULAR
    assert phases[list(local).index("13:00")] == sessions.POST
    assert phases[list(local).index("16:30")] == sessions.POST
    assert phases[list(local).index("17:00")] == sessions.CLOSED
    _, regular = run(bars)
    assert regular[-1] == "2023-11-24 12:30"
    # a limit placed after 17:00 does not trade that evening
    late, _ = run(bars, lambda ctx: ctx.buy("X", 10, limit=200.0), "2023-11-24 17:00",
                  hours="extended")  # fmt: skip
    assert late.fills.empty
    ok, _ = run(bars, lambda ctx: ctx.buy("X", 10, limit=200.0), "2023-11-24 16:00",
                hours="extended")  # fmt: skip
    assert fill_time(ok) == "16:30"


def test_hours_must_be_regular_or_extended():
    with pytest.raises(ConfigError, match="hours='all'"):
        run(day_bars("2024-01-03"), hours="all")


def test_sample_data_can_include_the_extended_session():
    regular = qn.data.sample("AAPL", "5m", start="2024-01-03", end="2024-01-04 08:00")["AAPL"]
    ext = qn.data.sample("AAPL", "5m", start="2024-01-03", end="2024-01-04 08:00", hours="extended")
    bars = ext["AAPL"]
    local = bars.index.tz_convert(NY).strftime("%H:%M")
    assert local[0] == "04:00" and local[-1] == "19:55" and len(bars) == 16 * 12
    phases = sessions.bar_phases(bars.index)
    assert (phases == sessions.REGULAR).sum() == len(regular) == 78
    inside = bars["volume"][phases == sessions.REGULAR].mean()
    outside = bars["volume"][phases != sessions.REGULAR].mean()
    assert outside < inside / 5  # thinner volume outside regular hours
    assert ((bars["high"] >= bars[["open", "close"]].max(axis=1)) & (bars["low"] > 0)).all()
    # regular hours leave the extended bars out; extended hours see them all
    _, seen = run(bars)
    assert len(seen) == 78 and seen[0].endswith("09:30")
    _, seen = run(bars, hours="extended")
    assert len(seen) == len(bars)
    with pytest.raises(ConfigError, match="hours='night'"):
        qn.data.sample("AAPL", "5m", hours="night")


def test_ioc_and_fok_keep_to_regular_hours_and_gtd_trades_outside_them():
    # IB: outside regular hours is not available for IOC, OPG, FOK, MOC or LOC orders
    bars = day_bars("2024-01-03")
    ioc, _ = run(bars, lambda c: c.buy("X", 10, limit=120, tif="IOC"), "2024-01-03 05:00",
                 hours="extended")  # fmt: skip
    assert fill_time(ioc) == "09:30" and ioc.fills["price"].iloc[0] == bars["open"].iloc[11]
    fok, _ = run(bars, lambda c: c.buy("X", 10, limit=101, tif="FOK"), "2024-01-03 05:00",
                 hours="extended")  # fmt: skip
    assert fok.fills.empty and fok.orders["status"].tolist() == ["cancelled"]  # the open gapped up

    def gtd(c):
        c.buy("X", 10, limit=100.45, tif="GTD", good_till="2024-01-03 12:00")

    result, _ = run(bars, gtd, "2024-01-03 05:00", hours="extended")
    assert fill_time(result) == "05:30"


@pytest.mark.parametrize("tif", ["IOC", "FOK", "OPG"])
def test_outside_rth_is_never_set_on_ioc_fok_and_opg_orders(tif):
    from quantnb.domain.model import Order, OrderType, Side, TimeInForce

    order = Order("1", "X", Side.BUY, 1, type=OrderType.LIMIT, limit=1.0, tif=TimeInForce(tif))
    assert not sessions.order_outside_rth(order, True)
    order.tif = TimeInForce.GTD
    assert sessions.order_outside_rth(order, True) and not sessions.order_outside_rth(order, False)
