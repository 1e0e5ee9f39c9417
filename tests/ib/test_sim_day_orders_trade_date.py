"""DAY orders on futures and FX end with the instrument's own trade date on the simulator, as
at IB and as in the backtest (tests/test_day_orders_trade_date.py): a CME order placed in the
evening is for the next date and works until CME's close at 17:00 New York, past the US-stock
close; an FX order ends at the 17:00 New York roll."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

NY = "America/New_York"


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=NY)


def step_to(ib_sim, when: str) -> None:
    """Play one-minute bars until the clock reads ``when`` (New York); the hours between have
    bars (the venues' sessions and the US-stock after-hours cover them)."""
    minutes = int((ny(when) - ib_sim.now) / pd.Timedelta(minutes=1))
    ib_sim.step(minutes)
    assert ib_sim.now == ny(when)


def status(*trades) -> list[str]:
    return [t.orderStatus.status for t in trades]


@pytest.mark.ib_sim(futures=["ES"], start="2024-01-10 01:00")  # Tuesday 20:00 New York
def test_es_day_order_placed_in_the_evening_ends_at_the_next_days_cme_close(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    far = round(ib_sim.price(es.localSymbol) * 0.5 / 0.25) * 0.25
    day = lambda **kw: ibc.LimitOrder("BUY", 1, far, tif="DAY", **kw)  # noqa: E731
    rests = ib.placeOrder(es, day())
    outside = ib.placeOrder(es, day(outsideRth=True))
    fills = ib.placeOrder(es, day())
    wait(ib, lambda: status(rests, outside, fills) == ["Submitted"] * 3)
    step_to(ib_sim, "2024-01-10 10:00")  # past New York midnight: Wednesday's trade date
    ib.sleep(0.05)
    assert status(rests, outside, fills) == ["Submitted"] * 3
    fills.order.lmtPrice = round(ib_sim.price(es.localSymbol) * 1.01 / 0.25) * 0.25
    ib.placeOrder(es, fills.order)  # still working: it trades once its limit is reached
    wait(ib, lambda: fills.orderStatus.status == "Filled")
    step_to(ib_sim, "2024-01-10 16:30")  # past the US-stock close: CME trades on
    late = ib.placeOrder(es, day())  # Wednesday's trade date too
    wait(ib, lambda: late.orderStatus.status == "Submitted")
    step_to(ib_sim, "2024-01-10 17:00")  # the 16:59 bar has played
    ib.sleep(0.05)
    assert status(rests, outside, late) == ["Submitted"] * 3
    ib_sim.step()  # 17:00: CME's close ends Wednesday's trade date
    wait(ib, lambda: status(rests, outside, late) == ["Cancelled"] * 3)
    step_to(ib_sim, "2024-01-10 17:05")  # in the daily halt: an order for Thursday
    thursday = ib.placeOrder(es, day())
    wait(ib, lambda: thursday.orderStatus.status == "Submitted")
    step_to(ib_sim, "2024-01-10 18:05")  # Globex reopened for Thursday
    ib.sleep(0.05)
    assert thursday.orderStatus.status == "Submitted"
    ib.cancelOrder(thursday.order)


@pytest.mark.ib_sim(fx=["EURUSD"], start="2024-01-09 21:30")  # Tuesday 16:30 New York
def test_fx_day_order_ends_at_the_1700_new_york_roll(ib, ibc, ib_sim, wait):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    day = lambda: ibc.LimitOrder("BUY", 20_000, 0.5, tif="DAY")  # noqa: E731
    before = ib.placeOrder(eur, day())
    wait(ib, lambda: before.orderStatus.status == "Submitted")
    step_to(ib_sim, "2024-01-09 17:00")
    ib.sleep(0.05)
    assert before.orderStatus.status == "Submitted"
    ib_sim.step()  # 17:00: Tuesday's FX day is over
    wait(ib, lambda: before.orderStatus.status == "Cancelled")
    step_to(ib_sim, "2024-01-09 17:30")
    after = ib.placeOrder(eur, day())  # for Wednesday: it lives past New York midnight
    wait(ib, lambda: after.orderStatus.status == "Submitted")
    step_to(ib_sim, "2024-01-10 17:00")
    ib.sleep(0.05)
    assert after.orderStatus.status == "Submitted"
    ib_sim.step()
    wait(ib, lambda: after.orderStatus.status == "Cancelled")
