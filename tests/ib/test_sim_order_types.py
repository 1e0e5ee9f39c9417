"""IB's order types on the simulator through a real client: auctions (MOC/LOC, MOO/LOO), GTD,
IOC/FOK, OCA groups and the Adaptive algo, with IB's cut-offs and refusals. Where the
backtest can see the same bars, its fills are the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quantnb as qn
from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

NY = "America/New_York"


def day_bars() -> pd.DataFrame:
    """5-minute bars of a full session (2024-01-03) and the first half hour of the next one,
    which gaps up at its open."""
    first = pd.date_range("2024-01-03 09:30", "2024-01-03 15:55", freq="5min", tz=NY)
    second = pd.date_range("2024-01-04 09:30", periods=6, freq="5min", tz=NY)
    index = first.append(second).tz_convert("UTC")
    o = 100 + 0.1 * np.arange(len(index))
    o[len(first) :] += 5.0  # the gap at the next open
    c = o + 0.05
    return pd.DataFrame(
        {"open": o, "high": c + 0.2, "low": o - 0.2, "close": c, "volume": 1e6}, index=index
    )


BARS = day_bars()
LAST_CLOSE = float(BARS["close"].iloc[77])  # 15:55 bar: the closing price
NEXT_OPEN = float(BARS["open"].iloc[78])  # 09:30 next day: the opening price


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=NY).tz_convert("UTC")


def sim_at(start: str, **settings) -> GatewaySimulator:
    return GatewaySimulator(mode="manual", bars={"AAPL": BARS}, start=at(start), **settings)


def order(ibc, kind, action, qty, *prices, **fields):
    if kind == "Order":
        o = ibc.Order(action=action, totalQuantity=qty)
    else:
        o = getattr(ibc, kind)(action, qty, *prices)
    for name, value in fields.items():
        setattr(o, name, value)
    return o


def step_until(sim, when: str) -> None:
    """Play bars until the simulated clock reaches ``when`` (New York)."""
    t = at(when)
    while sim.now < t:
        sim.step()


def test_moc_fills_at_the_closing_price(connect, ibc, wait):
    with sim_at("2024-01-03 10:00", commission=0.0) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, order(ibc, "Order", "BUY", 10, orderType="MOC"))
        wait(ib, lambda: trade.orderStatus.status == "Submitted")
        step_until(sim, "2024-01-03 15:55")
        ib.sleep(0.05)
        assert not trade.isDone()  # not before the close
        step_until(sim, "2024-01-03 16:00")
        wait(ib, lambda: trade.isDone())
        assert trade.orderStatus.status == "Filled"
        assert trade.fills[0].execution.price == pytest.approx(LAST_CLOSE)
        ib.disconnect()
