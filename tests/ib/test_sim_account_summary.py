"""The account summary answers every standard tag, with values from the one accounting."""

from __future__ import annotations

import pandas as pd
import pytest

from quantnb.sim.account_values import SUMMARY_TAGS

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

# AccountSummaryTags.All of IB's API, spelled as IB sends them
_ALL = (
    "AccountType,NetLiquidation,TotalCashValue,SettledCash,AccruedCash,BuyingPower,"
    "EquityWithLoanValue,PreviousDayEquityWithLoanValue,GrossPositionValue,RegTEquity,"
    "RegTMargin,SMA,InitMarginReq,MaintMarginReq,AvailableFunds,ExcessLiquidity,Cushion,"
    "FullInitMarginReq,FullMaintMarginReq,FullAvailableFunds,FullExcessLiquidity,"
    "LookAheadNextChange,LookAheadInitMarginReq,LookAheadMaintMarginReq,"
    "LookAheadAvailableFunds,LookAheadExcessLiquidity,HighestSeverity,DayTradesRemaining,Leverage"
)
ALL_TAGS = _ALL.split(",")


def _buy(ib, aapl, ibc, wait, qty, action="BUY"):
    trade = ib.placeOrder(aapl, ibc.MarketOrder(action, qty))
    wait(ib, lambda: trade.isDone() and trade.fills and trade.fills[-1].commissionReport.execId)
    return trade.fills[0]


def _summary(ib) -> dict[str, str]:
    return {v.tag: v.value for v in ib.accountSummary() if v.currency != "BASE"}


def test_every_standard_tag_is_answered_from_the_account(ib_sim, ib, aapl, ibc, wait):
    assert list(SUMMARY_TAGS) == ALL_TAGS
    fill = _buy(ib, aapl, ibc, wait, 50)
    cost = 50 * fill.execution.price + fill.commissionReport.commission
    ib_sim.step()
    price = ib_sim.price("AAPL")
    got = _summary(ib)
    assert set(ALL_TAGS) <= set(got), sorted(set(ALL_TAGS) - set(got))
    v = {tag: float(text) for tag, text in got.items() if tag != "AccountType"}
    assert got["AccountType"] == "INDIVIDUAL"
    cash, gross = 100_000 - cost, 50 * price
    net = cash + gross
    init, maint = gross / 2, gross / 4  # leverage 2: Reg T initial 50 %, maintenance 25 %
    expected = {
        "NetLiquidation": net, "TotalCashValue": cash, "SettledCash": cash, "AccruedCash": 0.0,
        "EquityWithLoanValue": net, "PreviousDayEquityWithLoanValue": 100_000.0,
        "GrossPositionValue": gross, "RegTEquity": net, "RegTMargin": init, "SMA": net - init,
        "InitMarginReq": init, "MaintMarginReq": maint, "AvailableFunds": net - init,
        "ExcessLiquidity": net - maint, "BuyingPower": 2 * (net - init),
        "FullInitMarginReq": init, "FullMaintMarginReq": maint,
        "FullAvailableFunds": net - init, "FullExcessLiquidity": net - maint,
        "LookAheadInitMarginReq": init, "LookAheadMaintMarginReq": maint,
        "LookAheadAvailableFunds": net - init, "LookAheadExcessLiquidity": net - maint,
    }  # fmt: skip
    for tag, value in expected.items():
        assert v[tag] == pytest.approx(value, abs=0.011), tag
    assert v["Cushion"] == pytest.approx((net - maint) / net, abs=1e-6)
    assert v["Leverage"] == pytest.approx(gross / net, abs=1e-6)
    # over $25,000: no day-trade limit (IB: -1); no margin change ahead; no margin warning
    assert (v["DayTradesRemaining"], v["LookAheadNextChange"], v["HighestSeverity"]) == (-1, 0, 0)
    # the clients ask for the days ahead and the ledger too
    assert {got[f"DayTradesRemainingT+{k}"] for k in range(1, 5)} == {"-1"}
    ledger = {(a.tag, a.currency): a.value for a in ib.accountSummary()}
    cash_text = got["TotalCashValue"]
    assert ledger[("CashBalance", "BASE")] == ledger[("CashBalance", "USD")] == cash_text


def test_account_updates_carry_the_same_values(ib_sim, ib, aapl, ibc, wait):
    _buy(ib, aapl, ibc, wait, 20)
    updates = {(a.tag, a.currency): a.value for a in ib.accountValues()}
    summary = {(a.tag, a.currency): a.value for a in ib.accountSummary()}
    for tag in ALL_TAGS:
        name = "Leverage-S" if tag == "Leverage" else tag  # IB's name in account updates
        (key,) = [k for k in summary if k[0] == tag and k[1] != "BASE"]
        assert updates[(name, key[1])] == summary[key], tag


def test_previous_day_equity_is_the_equity_at_the_last_close(ib_sim, ib, aapl, ibc, wait):
    _buy(ib, aapl, ibc, wait, 100)
    now = ib_sim.now.tz_convert("America/New_York")
    close = now.normalize() + pd.Timedelta(hours=20)  # the end of after-hours trading
    ib_sim.step(int((close - now).total_seconds() // 60))
    assert ib_sim.now.tz_convert("America/New_York").hour == 20
    at_close = ib_sim.account_values()["NetLiquidation"]
    ib_sim.step()  # the next session's first bar, in its pre-market
    assert ib_sim.now.tz_convert("America/New_York").day != now.day
    assert ib_sim.account_values()["NetLiquidation"] != at_close
    got = _summary(ib)
    assert float(got["PreviousDayEquityWithLoanValue"]) == pytest.approx(at_close, abs=0.01)


@pytest.mark.ib_sim(cash=10_000)
def test_day_trades_remaining_under_25000(ib_sim, ib, aapl, ibc, wait):
    assert _summary(ib)["DayTradesRemaining"] == "3"
    _buy(ib, aapl, ibc, wait, 10)
    ib_sim.step()
    _buy(ib, aapl, ibc, wait, 10, action="SELL")  # bought and sold on one day: a day trade
    ib_sim.step()
    got = _summary(ib)
    assert got["DayTradesRemaining"] == "2"
    assert got["DayTradesRemainingT+4"] == "2"  # still within five business days then
