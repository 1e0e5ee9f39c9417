"""Market hours through a real client: the exchange calendar, extended hours, orders that wait
for the open, DAY orders that end with their session, and a clock that lets closed hours pass."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

NY = "America/New_York"


def _ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=NY)


def _warnings(ib) -> list[tuple[int, int, str]]:
    """The warnings IB sends about orders, as they come."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


def _local(bars) -> list[str]:
    return [pd.Timestamp(b.date).tz_convert(NY).strftime("%Y-%m-%d %H:%M") for b in bars]


@pytest.mark.ib_sim(start="2023-11-22 15:00")
def test_contract_details_hours_come_from_the_exchange_calendar(ib, aapl):
    (details,) = ib.reqContractDetails(aapl)
    assert details.timeZoneId == "US/Eastern"
    assert details.tradingHours.split(";")[:5] == [
        "20231122:0400-20231122:2000",
        "20231123:CLOSED",  # Thanksgiving
        "20231124:0400-20231124:1700",  # early close: after-hours end at 17:00
        "20231125:CLOSED",
        "20231126:CLOSED",
    ]
    assert details.liquidHours.split(";")[:4] == [
        "20231122:0930-20231122:1600",
        "20231123:CLOSED",
        "20231124:0930-20231124:1300",
        "20231125:CLOSED",
    ]


@pytest.mark.ib_sim(start="2024-01-03 23:00")  # 18:00 New York, after-hours
def test_use_rth_chooses_regular_or_all_hours(ib, aapl):
    regular = ib.reqHistoricalData(aapl, "", "1 D", "1 hour", "TRADES", True)
    assert _local(regular) == [
        f"2024-01-03 {h}" for h in ("09:30", *(f"{x}:00" for x in range(10, 16)))
    ]
    every = ib.reqHistoricalData(aapl, "", "1 D", "1 hour", "TRADES", False)
    assert _local(every) == [f"2024-01-03 {h:02d}:00" for h in range(4, 19)]  # 04:00-18:01
    minutes = ib.reqHistoricalData(aapl, "", "1 D", "1 min", "TRADES", False)
    assert len(minutes) == 330 + 390 + 121  # 04:00 to 18:01
    rth = ib.reqHistoricalData(aapl, "", "1 D", "1 min", "TRADES", True)
    assert len(rth) == 390
    by_time = {b.date: b for b in minutes}
    assert all(by_time[b.date].close == b.close for b in rth)  # the same bars, filtered
    extended = [b for b in minutes if b.date not in {r.date for r in rth}]
    assert sum(b.volume for b in extended) / len(extended) < sum(b.volume for b in rth) / 390 / 5


@pytest.mark.ib_sim(start="2024-01-03 15:00")
def test_history_skips_holidays_and_honours_early_closes(ib, aapl):
    daily = ib.reqHistoricalData(aapl, "", "2 M", "1 day", "TRADES", True)
    dates = {str(b.date) for b in daily}
    assert "2023-12-22" in dates and "2023-12-26" in dates and "2024-01-02" in dates
    assert not dates & {"2023-11-23", "2023-12-25", "2024-01-01"}
    end = "20231124 23:00:00 US/Eastern"
    early = ib.reqHistoricalData(aapl, end, "1 D", "1 min", "TRADES", True)
    assert _local(early)[0] == "2023-11-24 09:30" and _local(early)[-1] == "2023-11-24 12:59"
    late = ib.reqHistoricalData(aapl, end, "1 D", "1 min", "TRADES", False)
    assert _local(late)[0] == "2023-11-24 04:00" and _local(late)[-1] == "2023-11-24 16:59"


@pytest.mark.ib_sim(start="2024-01-03 20:57")  # 15:57 New York
def test_kept_up_to_date_bars_follow_use_rth(ib_sim, ib, aapl, wait):
    regular = ib.reqHistoricalData(aapl, "", "1800 S", "1 min", "TRADES", True, keepUpToDate=True)
    every = ib.reqHistoricalData(aapl, "", "1800 S", "1 min", "TRADES", False, keepUpToDate=True)
    ib_sim.step(10)  # through the 16:00 close into the after-hours session
    wait(ib, lambda: _local(every)[-1] >= "2024-01-03 16:06")
    ib.reqCurrentTime()  # a round trip: what was sent before it has arrived
    assert _local(regular)[-1] == "2024-01-03 15:59"
    assert "2024-01-03 16:00" in _local(every)
    ib_sim.step(12 * 60 + 20)  # through the night to the next regular open
    wait(ib, lambda: _local(regular)[-1] >= "2024-01-04 09:30")
    assert all(t[-5:] < "16:00" and t[-5:] >= "09:30" for t in _local(regular))


@pytest.mark.ib_sim(start="2024-01-03 13:00")  # 08:00 New York, pre-market
def test_ticks_and_realtime_bars_flow_in_the_pre_market(ib_sim, ib, aapl, wait):
    bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    ticker = ib.reqMktData(aapl)
    ib_sim.step(2)
    wait(ib, lambda: len(bars) >= 24)
    assert pd.Timestamp(bars[0].time).tz_convert(NY) == _ny("2024-01-03 08:01")
    wait(ib, lambda: ticker.last == ib_sim.price("AAPL"))
    assert ticker.ask - ticker.bid > 0


@pytest.mark.ib_sim(start="2024-01-03 21:00", commission=0.0)  # 16:00 New York
def test_orders_placed_after_the_close_wait_for_the_next_open(ib_sim, ib, aapl, ibc, wait):
    warnings = _warnings(ib)
    last = ib_sim.price("AAPL")
    limit = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 10, round(last * 1.5, 2)))
    market = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 5))
    wait(ib, lambda: len(warnings) == 2)
    assert [(w[0], w[1]) for w in warnings] == [
        (limit.order.orderId, 399),
        (market.order.orderId, 399),
    ]
    assert "BUY 5 AAPL SMART" in warnings[1][2]
    assert "not be placed at the exchange until 2024-01-04 09:30:00 US/Eastern" in warnings[1][2]
    ib_sim.step(239 + 330)  # the after-hours session, the night, the pre-market
    assert ib_sim.now == _ny("2024-01-04 09:30")
    ib.sleep(0.05)
    assert not limit.fills and not market.fills
    assert not limit.isDone() and not market.isDone()  # working, for Jan 4
    ib_sim.step()
    wait(ib, lambda: limit.isDone() and market.isDone())
    bars = ib.reqHistoricalData(aapl, "", "1 D", "1 min", "TRADES", True)
    assert _local(bars)[0] == "2024-01-04 09:30"
    assert limit.fills[0].execution.price == bars[0].open  # the open's price
    for trade in (limit, market):  # in the open's first five seconds
        assert _ny("2024-01-04 09:30") < trade.fills[0].execution.time <= _ny("2024-01-04 09:30:05")


@pytest.mark.ib_sim(start="2024-01-03 21:00", commission=0.0)  # 16:00 New York
def test_only_outside_rth_limit_orders_trade_after_hours(ib_sim, ib, aapl, ibc, wait):
    last = ib_sim.price("AAPL")
    outside = ibc.LimitOrder("BUY", 10, round(last * 1.01, 2), outsideRth=True)
    regular = ibc.LimitOrder("BUY", 10, round(last * 1.01, 2))
    market = ibc.MarketOrder("BUY", 10, outsideRth=True)  # IB ignores the flag on MKT
    warnings = _warnings(ib)
    trades = [ib.placeOrder(aapl, o) for o in (outside, regular, market)]
    wait(ib, lambda: trades[0].isDone())
    wait(ib, lambda: len(warnings) == 3)
    ids = [t.order.orderId for t in trades]
    assert [(w[0], w[1]) for w in warnings] == [(ids[1], 399), (ids[2], 2109), (ids[2], 399)]
    assert "'Outside Regular Trading Hours' is ignored" in warnings[1][2]
    assert trades[0].fills[0].execution.price == last  # the after-hours price
    ib_sim.step(30)
    ib.sleep(0.05)
    assert not trades[1].fills and not trades[2].fills
    assert not trades[1].isDone() and not trades[2].isDone()


@pytest.mark.ib_sim(start="2024-01-01 17:00", commission=0.0)  # New Year's Day, 12:00 New York
def test_nothing_fills_on_a_holiday(ib_sim, ib, aapl, ibc, wait):
    warnings = _warnings(ib)
    last = ib_sim.price("AAPL")
    outside = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 10, round(last * 1.2, 2), outsideRth=True))
    market = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: outside.orderStatus.status == "Submitted" and warnings)
    assert warnings[0][:2] == (market.order.orderId, 399)
    assert "until 2024-01-02 09:30:00 US/Eastern" in warnings[0][2]
    ib.sleep(0.05)
    assert not outside.fills and not market.fills
    ib_sim.step()  # the first bar after the holiday: 04:00 on Jan 2
    wait(ib, lambda: outside.isDone())
    assert _ny("2024-01-02 04:00") < outside.fills[0].execution.time <= _ny("2024-01-02 04:00:05")
    assert not market.fills


@pytest.mark.ib_sim(start="2024-01-03 20:57")  # 15:57 New York
def test_day_orders_end_at_the_close_or_after_hours_end(ib_sim, ib, aapl, ibc, wait):
    low = round(ib_sim.price("AAPL") * 0.5, 2)
    regular = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, low, tif="DAY"))
    outside = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, low, tif="DAY", outsideRth=True))
    wait(ib, lambda: outside.orderStatus.status == "Submitted")
    ib_sim.step(2)  # to 16:00
    ib.sleep(0.05)
    assert regular.orderStatus.status == outside.orderStatus.status == "Submitted"
    ib_sim.step()
    wait(ib, lambda: regular.orderStatus.status == "Cancelled")
    assert outside.orderStatus.status == "Submitted"
    ib_sim.step(239)  # to 20:00
    ib.sleep(0.05)
    assert outside.orderStatus.status == "Submitted"
    ib_sim.step()  # 04:00 the next day
    wait(ib, lambda: outside.orderStatus.status == "Cancelled")


@pytest.mark.ib_sim(start="2024-01-03 22:00")  # 17:00 New York
def test_a_day_order_placed_after_the_close_is_for_the_next_session(ib_sim, ib, aapl, ibc, wait):
    low = round(ib_sim.price("AAPL") * 0.5, 2)
    warnings = _warnings(ib)
    trade = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, low, tif="DAY"))
    wait(ib, lambda: [w[1] for w in warnings] == [399])
    ib_sim.step(179 + 330 + 390)  # through the night and all of Jan 4's regular session
    assert ib_sim.now == _ny("2024-01-04 16:00")
    ib.sleep(0.05)
    assert not trade.isDone()
    ib_sim.step()
    wait(ib, lambda: trade.orderStatus.status == "Cancelled")


def test_closed_hours_take_their_time_unless_skipped():
    saturday = "2024-01-06 17:00"  # 12:00 New York
    monday = _ny("2024-01-08 04:00")
    with GatewaySimulator(mode="realtime", speed=3600, start=saturday) as sim:
        price = sim.price("AAPL")
        eventually(lambda: sim.now >= _ny("2024-01-06 12:30"), timeout=10)
        assert sim.now < monday
        assert sim.price("AAPL") == price  # no bars on a Saturday
    with GatewaySimulator(mode="realtime", speed=3600, start=saturday, skip_closed=True) as sim:
        eventually(lambda: sim.now > monday, timeout=10)


def test_the_cli_announces_how_the_clock_runs():
    cmd = [sys.executable, "-m", "quantnb.sim", "--port", "0", "--symbols", "AAPL"]
    for extra, text in (([], "closed hours take their time"), (["--skip-closed"], "skipped")):
        proc = subprocess.Popen(
            cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            lines = [proc.stdout.readline() for _ in range(4)]
            assert text in lines[3] and "60x" in lines[3], lines
        finally:
            proc.kill()
            proc.communicate(timeout=20)
