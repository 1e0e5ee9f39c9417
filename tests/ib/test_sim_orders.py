"""Orders against the simulated market: fills, modify/cancel, partial fills, account updates."""

from __future__ import annotations

import pandas as pd
import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def _order(ibc, kind, action, qty, *prices, ref="", tif="DAY"):
    order = getattr(ibc, kind)(action, qty, *prices)
    order.orderRef = ref
    order.tif = tif
    return order


def test_market_order_fills_with_the_message_sequence_of_a_gateway(ib_sim, ib, aapl, ibc, wait):
    seen = []
    ib.openOrderEvent += lambda t: seen.append(("open", t.orderStatus.status))
    ib.orderStatusEvent += lambda t: seen.append(("status", t.orderStatus.status))
    ib.execDetailsEvent += lambda t, f: seen.append(("exec", f.execution.shares))
    ib.commissionReportEvent += lambda t, f, r: seen.append(("commission", r.commission))
    ib.positionEvent += lambda p: seen.append(("position", p.position))
    trade = ib.placeOrder(aapl, _order(ibc, "MarketOrder", "BUY", 100, ref="strat-1"))
    wait(ib, lambda: trade.isDone() and trade.fills and trade.fills[0].commissionReport.execId)
    assert trade.orderStatus.status == "Filled"
    kinds = [k for k, _ in seen]
    assert kinds.index("exec") < kinds.index("commission") < kinds.index("position")
    # IB's order: acknowledged (Submitted) first, Filled only after the execution
    submitted, filled = seen.index(("status", "Submitted")), seen.index(("status", "Filled"))
    assert kinds[0] == "open" and submitted < kinds.index("exec") < filled
    fill = trade.fills[0]
    last = ib_sim.price("AAPL")
    assert fill.execution.price == pytest.approx(last * 1.0005)  # the cost model's slippage
    assert fill.execution.side == "BOT" and fill.execution.orderRef == "strat-1"
    assert fill.execution.permId == trade.order.permId > 0
    expected = max(1.0, 100 * fill.execution.price * 0.001)
    assert fill.commissionReport.commission == pytest.approx(expected, abs=1e-3)
    wait(ib, lambda: ib.positions() and ib.positions()[0].position == 100)
    assert ib_sim.positions() == {"AAPL": 100}


def test_account_values_portfolio_and_summary_follow_fills(ib_sim, ib, aapl, ibc, wait):
    cash0 = float(next(v.value for v in ib.accountValues() if v.tag == "TotalCashValue"))
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 50))
    wait(ib, lambda: trade.isDone())

    def value(tag):
        return float(
            next(v.value for v in ib.accountValues() if v.tag == tag and v.currency == "USD")
        )

    wait(ib, lambda: value("TotalCashValue") < cash0)
    fill = trade.fills[0]
    cost = 50 * fill.execution.price + fill.commissionReport.commission
    assert value("TotalCashValue") == pytest.approx(cash0 - cost, abs=0.01)
    assert value("GrossPositionValue") == pytest.approx(50 * ib_sim.price("AAPL"), abs=0.01)
    assert value("NetLiquidation") == pytest.approx(
        value("TotalCashValue") + value("GrossPositionValue"), abs=0.02
    )
    for tag in ("AvailableFunds", "BuyingPower", "UnrealizedPnL", "RealizedPnL"):
        value(tag)
    (item,) = wait(ib, lambda: ib.portfolio())
    assert item.position == 50 and item.averageCost == pytest.approx(cost / 50)  # commission in
    summary = {v.tag: float(v.value) for v in ib.accountSummary() if v.tag != "AccountType"}
    assert summary["NetLiquidation"] == pytest.approx(value("NetLiquidation"), abs=0.01)
    pnl = ib.reqPnL(ib_sim.account)
    ib_sim.step()
    unrealized = ib_sim.account_values()["UnrealizedPnL"]
    wait(ib, lambda: pnl.unrealizedPnL == pytest.approx(unrealized, abs=0.01))


def test_limit_order_rests_then_fills_at_its_price(ib_sim, ib, aapl, ibc, wait):
    last = ib_sim.price("AAPL")
    limit = round(last - 1.0, 2)
    trade = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 10, limit))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.step()
    ib.sleep(0.05)
    assert not trade.fills
    ib_sim.set_price("AAPL", limit - 0.5)
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    # gapped through the limit: the fill is at the better price, and limits pay no slippage
    assert trade.fills[0].execution.price == limit - 0.5


def test_stop_and_stop_limit_orders(ib_sim, ib, aapl, ibc, wait):
    last = ib_sim.price("AAPL")
    stop = ib.placeOrder(aapl, ibc.StopOrder("BUY", 5, round(last + 1, 2)))
    stop_limit = ib.placeOrder(
        aapl, ibc.StopLimitOrder("BUY", 5, round(last + 3, 2), round(last + 2, 2))
    )
    wait(ib, lambda: stop.orderStatus.status == "PreSubmitted")
    ib_sim.set_price("AAPL", round(last + 2.5, 2))
    wait(ib, lambda: stop.isDone() and stop_limit.isDone())
    assert stop.fills[0].execution.price == pytest.approx(round(last + 2.5, 2) * 1.0005)
    assert stop_limit.fills[0].execution.price == round(last + 2.5, 2)


def test_modify_and_cancel(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(202)
    last = ib_sim.price("AAPL")
    order = ibc.LimitOrder("BUY", 10, round(last - 5, 2))
    order.orderRef = "keep-me"
    trade = ib.placeOrder(aapl, order)
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    perm_id = trade.order.permId
    order.lmtPrice = round(last - 4, 2)
    order.totalQuantity = 20
    ib.placeOrder(aapl, order)
    wait(
        ib,
        lambda: (
            [e for e in trade.log if e.message == "Modified"] or trade.order.totalQuantity == 20
        ),
    )
    assert ib.openTrades()[0].order.lmtPrice == round(last - 4, 2)
    assert trade.order.permId == perm_id
    ib.cancelOrder(order)
    wait(ib, lambda: trade.orderStatus.status == "Cancelled")
    assert ib.openTrades() == []


def test_modifying_a_filled_order_is_error_104(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(104)
    order = ibc.MarketOrder("BUY", 1)
    trade = ib.placeOrder(aapl, order)
    wait(ib, lambda: trade.isDone())
    codes = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    order.totalQuantity = 2
    ib.client.placeOrder(order.orderId, aapl, order)  # the client itself refuses to
    wait(ib, lambda: codes == [104])


def test_duplicate_order_id_is_error_103(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(103)
    first = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, 1.0))
    wait(ib, lambda: first.orderStatus.status == "Submitted")
    codes = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code))
    ib.client.placeOrder(first.order.orderId - 1, aapl, ibc.LimitOrder("BUY", 1, 1.0))
    wait(ib, lambda: codes == [(first.order.orderId - 1, 103)])


def test_partial_fills_when_larger_than_the_liquidity_per_bar(connect, ibc, wait):
    with GatewaySimulator(mode="manual", liquidity=300) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1000))
        wait(ib, lambda: trade.orderStatus.filled == 300)
        assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 700
        sim.step()
        wait(ib, lambda: trade.orderStatus.filled == 600)
        sim.step(2)
        wait(ib, lambda: trade.isDone())
        assert [f.execution.shares for f in trade.fills] == [300, 300, 300, 100]
        assert [f.execution.cumQty for f in trade.fills] == [300, 600, 900, 1000]
        assert trade.orderStatus.avgFillPrice == pytest.approx(
            sum(f.execution.shares * f.execution.price for f in trade.fills) / 1000
        )
        ib.disconnect()


def test_cash_account_rejects_a_buy_it_cannot_pay_with_201(connect, ibc, wait, client_errors):
    client_errors.allow(201, "Canceled order")
    with GatewaySimulator(mode="manual", account_type="cash", cash=1_000) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1000))
        wait(ib, lambda: trade.orderStatus.status == "Cancelled")
        assert any(
            e.errorCode == 201 and "reason:insufficient buying power: BUY 1000 AAPL" in e.message
            for e in trade.log
        )
        short = ib.placeOrder(aapl, ibc.MarketOrder("SELL", 1))
        wait(ib, lambda: short.orderStatus.status == "Cancelled")
        assert any(
            e.errorCode == 201
            and "reason:short selling is not allowed: selling 1 AAPL" in e.message
            for e in short.log
        )
        assert sim.positions() == {}
        ib.disconnect()


def test_cash_account_counts_working_sells_and_buys(connect, ibc, wait, client_errors):
    client_errors.allow(201, "Canceled order")
    with GatewaySimulator(mode="manual", account_type="cash", cash=10_000) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        buy = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
        wait(ib, lambda: buy.isDone())
        last = sim.price("AAPL")
        sells = [
            ib.placeOrder(aapl, _order(ibc, "LimitOrder", "SELL", 1, round(last + 1, 2), tif="GTC"))
            for _ in range(2)
        ]
        wait(ib, lambda: sells[0].orderStatus.status == "Submitted" and sells[1].isDone())
        assert sells[1].orderStatus.status == "Cancelled"
        assert any(
            e.errorCode == 201 and "with 1 held and 1 already being sold" in e.message
            for e in sells[1].log
        )
        sim.set_price("AAPL", round(last + 2, 2))
        wait(ib, lambda: sells[0].isDone())
        assert sim.positions() == {}  # flat, never short
        # cash committed to a working buy is not spent twice
        cash = sim.account_values()["AvailableFunds"]
        price = round(sim.price("AAPL") - 1, 2)
        qty = int(cash * 0.6 // price)
        first = ib.placeOrder(aapl, ibc.LimitOrder("BUY", qty, price))
        second = ib.placeOrder(aapl, ibc.LimitOrder("BUY", qty, price))
        wait(ib, lambda: first.orderStatus.status == "Submitted" and second.isDone())
        assert second.orderStatus.status == "Cancelled"
        assert any(
            e.errorCode == 201 and f"reason:insufficient buying power: BUY {qty} AAPL" in e.message
            for e in second.log
        )
        ib.disconnect()


def test_day_orders_expire_and_gtc_orders_stay(ib_sim, ib, aapl, ibc, wait):
    last = ib_sim.price("AAPL")
    day = ib.placeOrder(aapl, _order(ibc, "LimitOrder", "BUY", 1, round(last / 2, 2)))
    gtc = ib.placeOrder(aapl, _order(ibc, "LimitOrder", "BUY", 1, round(last / 2, 2), tif="GTC"))
    wait(ib, lambda: gtc.orderStatus.status == "Submitted")
    ib_sim.step(390)  # into the next session
    wait(ib, lambda: day.orderStatus.status == "Cancelled")
    assert gtc.orderStatus.status == "Submitted"


def test_global_cancel(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(202)
    trades = [ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, 1.0 + i)) for i in range(3)]
    wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
    ib.reqGlobalCancel()
    wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades))


def test_rejected_and_dropped_orders(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(201, "Canceled order")
    ib_sim.reject_next_orders(1, "simulated outage")
    rejected = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: rejected.orderStatus.status == "Cancelled")
    assert "simulated outage" in rejected.log[-1].message
    ib_sim.drop_next_orders(1)
    dropped = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
    ib.sleep(0.1)
    assert dropped.orderStatus.status == "PendingSubmit"
    accepted = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: accepted.isDone())
    assert ib_sim.positions() == {"AAPL": 1}


def test_executions_with_filters(ib_sim, ib, ibc, wait):
    aapl, msft = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART"))
    t1 = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 3))
    wait(ib, lambda: t1.isDone())
    ib_sim.step(10)
    t2 = ib.placeOrder(msft, ibc.MarketOrder("SELL", 2))
    wait(ib, lambda: t2.isDone())
    assert len(ib.reqExecutions()) == 2
    assert [f.contract.symbol for f in ib.reqExecutions(ibc.ExecutionFilter(symbol="MSFT"))] == [
        "MSFT"
    ]
    since = t2.fills[0].execution.time.strftime("%Y%m%d %H:%M:%S UTC")
    assert [f.execution.side for f in ib.reqExecutions(ibc.ExecutionFilter(time=since))] == ["SLD"]
    assert ib.reqExecutions(ibc.ExecutionFilter(clientId=99)) == []


def test_round_trip_realizes_pnl(ib_sim, ib, aapl, ibc, wait):
    buy = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: buy.isDone())
    ib_sim.set_price("AAPL", ib_sim.price("AAPL") + 10)
    sell = ib.placeOrder(aapl, ibc.MarketOrder("SELL", 10))
    wait(ib, lambda: sell.isDone() and sell.fills[0].commissionReport.execId)
    report = sell.fills[0].commissionReport
    opening = buy.fills[0].commissionReport.commission
    expected = (  # IB's realized P&L is measured from the average cost, commissions included
        10 * (sell.fills[0].execution.price - buy.fills[0].execution.price)
        - opening
        - report.commission
    )
    assert opening > 0
    assert report.realizedPNL == pytest.approx(expected, abs=0.01)
    wait(ib, lambda: not ib.positions())


def test_bracket_exits_wait_for_the_entry_then_cancel_each_other(ib_sim, ib, aapl, wait):
    last = ib_sim.price("AAPL")
    entry, take, stop = round(last - 1, 2), round(last + 2, 2), round(last - 3, 2)
    trades = [ib.placeOrder(aapl, o) for o in ib.bracketOrder("BUY", 10, entry, take, stop)]
    parent, take_profit, stop_loss = trades
    wait(ib, lambda: stop_loss.orderStatus.status == "PreSubmitted")
    ib_sim.set_price("AAPL", round(last + 2.5, 2))  # through the take-profit, entry not filled
    ib.sleep(0.05)
    assert not take_profit.fills and ib_sim.positions() == {}
    ib_sim.set_price("AAPL", round(last - 1.5, 2))  # the entry fills, the exits start working
    wait(ib, lambda: parent.isDone() and take_profit.orderStatus.status == "Submitted")
    ib_sim.set_price("AAPL", round(last + 2.5, 2))
    wait(ib, lambda: take_profit.isDone() and stop_loss.isDone())
    assert take_profit.orderStatus.status == "Filled"
    assert stop_loss.orderStatus.status == "Cancelled"
    assert ib_sim.positions() == {}


@pytest.mark.parametrize("by", ["amount", "percent"])
def test_trailing_stop_follows_the_price_then_fills(ib_sim, ib, aapl, ibc, wait, by):
    buy = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: buy.isDone())
    last = ib_sim.price("AAPL")
    trail = ibc.Order(action="SELL", totalQuantity=10, orderType="TRAIL", tif="GTC")
    if by == "amount":
        trail.auxPrice = round(last * 0.02, 2)
    else:
        trail.trailingPercent = 2.0
    trade = ib.placeOrder(aapl, trail)
    wait(ib, lambda: trade.orderStatus.status in ("PreSubmitted", "Submitted"))
    high = round(last * 1.10, 2)
    ib_sim.set_price("AAPL", high)  # the stop follows the price up ...
    ib.sleep(0.05)
    assert not trade.isDone()
    ib_sim.set_price("AAPL", round(last * 1.05, 2))  # ... and the fall through it fills
    wait(ib, lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled"
    price = trade.fills[0].execution.price
    assert last * 1.04 < price < high - last * 0.02 + 0.01  # below the trailed stop, at the gap


def test_a_bracket_whose_trailing_stop_and_take_profit_trade_in_one_slice_fills_the_stop(
    connect, ibc, wait
):
    index = pd.date_range("2021-01-04", periods=31, freq="B", tz="UTC")
    flat = {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1e6}
    df = pd.DataFrame(flat, index=index)
    # the last bar gaps up through the take-profit and falls through the trailing stop at once
    df.iloc[-1] = [102.0, 103.0, 50.0, 103.0, 1e6]
    with GatewaySimulator(mode="manual", bars={"AAPL": df}, start=index[-2]) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        parent, take, stop = ib.bracketOrder("BUY", 10, 100.5, 101.0, 99.0)
        stop.orderType, stop.auxPrice, stop.tif = "TRAIL", 1.0, "GTC"
        trades = [ib.placeOrder(aapl, o) for o in (parent, take, stop)]
        wait(ib, lambda: trades[0].isDone() and trades[2].orderStatus.status != "PreSubmitted")
        assert not trades[1].isDone() and not trades[2].isDone()
        sim.step()
        wait(ib, lambda: trades[1].isDone() and trades[2].isDone())
        assert trades[2].orderStatus.status == "Filled"
        assert trades[1].orderStatus.status == "Cancelled"
        assert trades[2].fills[0].execution.price == pytest.approx(99.0 * (1 - 0.0005))
        ib.disconnect()


def test_cash_account_takes_both_exits_of_a_bracket_whose_entry_filled(connect, ibc, wait):
    with GatewaySimulator(mode="manual", account_type="cash", cash=10_000) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        last = sim.price("AAPL")
        orders = ib.bracketOrder(
            "BUY", 1, round(last + 1, 2), round(last + 5, 2), round(last - 5, 2)
        )
        parent, take, stop = (ib.placeOrder(aapl, o) for o in orders)
        wait(ib, lambda: parent.isDone() and stop.orderStatus.status == "PreSubmitted")
        assert parent.orderStatus.status == "Filled"
        assert take.orderStatus.status == "Submitted"
        sim.set_price("AAPL", round(last - 6, 2))
        wait(ib, lambda: stop.isDone() and take.isDone())
        assert stop.orderStatus.status == "Filled" and sim.positions() == {}
        ib.disconnect()
