"""How IB answers orders: the status sequence, what-if orders and untransmitted orders."""

from __future__ import annotations

import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


# --- the order status sequence --------------------------------------------------------------


def test_a_marketable_order_is_submitted_then_executed_then_filled(ib, aapl, ibc, wait, order_log):
    log = order_log(ib)
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 100))
    wait(ib, lambda: trade.isDone() and trade.fills and trade.fills[0].commissionReport.execId)
    oid = trade.order.orderId
    assert log.kinds(oid) == [
        "open", "status:Submitted", "exec", "status:Filled", "open", "commission",
    ]  # fmt: skip
    assert log[0] == ("open", oid, "Submitted") and log[1] == ("status", oid, "Submitted", 0.0)
    assert log[3] == ("status", oid, "Filled", 100.0) and log[4] == ("open", oid, "Filled")
    assert log[5] == ("commission", trade.fills[0].execution.execId)


def test_a_resting_limit_is_acknowledged_and_fills_later(ib_sim, ib, aapl, ibc, wait, order_log):
    log = order_log(ib)
    last = ib_sim.price("AAPL")
    trade = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 10, round(last - 1, 2)))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.step()
    ib.sleep(0.05)
    assert log.kinds() == ["open", "status:Submitted"]
    ib_sim.set_price("AAPL", round(last - 1.5, 2))
    wait(ib, lambda: trade.isDone() and trade.fills[0].commissionReport.execId)
    assert log.kinds() == [
        "open", "status:Submitted", "exec", "status:Filled", "open", "commission",
    ]  # fmt: skip


def test_a_stop_is_presubmitted_until_it_triggers(ib_sim, ib, aapl, ibc, wait, order_log):
    log = order_log(ib)
    last = ib_sim.price("AAPL")
    trade = ib.placeOrder(aapl, ibc.StopOrder("BUY", 5, round(last + 1, 2)))
    wait(ib, lambda: trade.orderStatus.status == "PreSubmitted")
    ib_sim.set_price("AAPL", round(last + 1.5, 2))
    wait(ib, lambda: trade.isDone() and trade.fills[0].commissionReport.execId)
    assert log.kinds() == [
        "open", "status:PreSubmitted", "status:Submitted", "exec", "status:Filled", "open",
        "commission",
    ]  # fmt: skip


def test_partial_fills_report_each_execution_before_the_status_it_causes(
    connect, ibc, wait, order_log
):
    with GatewaySimulator(mode="manual", liquidity=300) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        log = order_log(ib)
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1000))
        wait(ib, lambda: trade.orderStatus.filled == 300)
        sim.step(3)
        wait(ib, lambda: trade.isDone() and len(log.kinds()) == 15)
        execution = ["exec", "status:Submitted", "commission"]
        assert log.kinds() == [
            "open", "status:Submitted", *execution * 3, "exec", "status:Filled", "open",
            "commission",
        ]  # fmt: skip
        shares = 0.0
        for message in log:
            if message[0] == "exec":
                shares += message[2]
            elif message[0] == "status":
                assert message[3] == shares  # never more filled than executed
        ib.disconnect()


# --- what-if orders -----------------------------------------------------------------------------


def test_what_if_returns_margin_and_commission_and_trades_nothing(
    ib_sim, ib, aapl, ibc, wait, order_log
):
    log = order_log(ib)
    before = ib_sim.account_values()
    last = ib_sim.price("AAPL")
    state = ib.whatIfOrder(aapl, ibc.MarketOrder("BUY", 100))
    price = last * 1.0005  # a market order pays the cost model's slippage
    commission = max(1.0, 100 * price * 0.001)
    assert state.status == "PreSubmitted"
    assert float(state.initMarginBefore) == pytest.approx(before["InitMarginReq"], abs=0.01)
    assert float(state.initMarginChange) == pytest.approx(100 * last / 2, abs=0.02)  # leverage 2
    assert float(state.maintMarginChange) == pytest.approx(100 * last / 4, abs=0.02)
    assert float(state.initMarginAfter) == pytest.approx(
        float(state.initMarginBefore) + float(state.initMarginChange), abs=0.011
    )
    equity = before["EquityWithLoanValue"]
    assert float(state.equityWithLoanBefore) == pytest.approx(equity, abs=0.01)
    assert float(state.equityWithLoanChange) == pytest.approx(
        -commission - 100 * (price - last), abs=0.02
    )
    assert state.commission == pytest.approx(commission, abs=1e-3)
    assert state.minCommission == state.maxCommission == state.commission
    assert state.commissionCurrency == "USD" and state.warningText == ""
    ib.sleep(0.05)
    assert log.kinds() == ["open"]  # one openOrder, never an orderStatus
    assert ib_sim.positions() == {} and ib_sim.executions() == []
    assert ib_sim.account_values()["TotalCashValue"] == before["TotalCashValue"]
    assert ib.reqAllOpenOrders() == [] and ib.reqCompletedOrders(apiOnly=False) == []
    ib_sim.step()
    assert ib_sim.positions() == {}


def test_what_if_is_found_behind_optional_order_fields(ib_sim, ib, aapl, ibc, order_log):
    log = order_log(ib)
    order = ibc.MarketOrder("BUY", 10)
    order.algoStrategy = "Adaptive"  # algo parameters and delta-neutral fields move the flag
    order.algoParams = [ibc.TagValue("adaptivePriority", "Normal")]
    order.deltaNeutralOrderType = "MKT"
    state = ib.whatIfOrder(aapl, order)
    assert float(state.initMarginChange) > 0
    assert log.kinds() == ["open"] and ib_sim.positions() == {}


def test_what_if_of_a_resting_limit_in_a_cash_account(connect, ibc, wait):
    with GatewaySimulator(mode="manual", account_type="cash", cash=50_000) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        limit = round(sim.price("AAPL") - 2, 2)
        state = ib.whatIfOrder(aapl, ibc.LimitOrder("BUY", 50, limit))
        assert float(state.initMarginChange) == 0.0  # a cash account has no margin
        assert state.commission == pytest.approx(max(1.0, 50 * limit * 0.001), abs=1e-3)
        assert sim.positions() == {} and ib.openTrades() == []
        ib.disconnect()


def test_what_if_that_the_account_cannot_pay_is_refused_with_201(connect, ibc, client_errors):
    client_errors.allow(201)
    with GatewaySimulator(mode="manual", account_type="cash", cash=1_000) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        codes = []
        ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
        state = ib.whatIfOrder(aapl, ibc.MarketOrder("BUY", 1000))
        assert codes == [201]
        assert not state or not state.initMarginChange  # no figures came
        assert sim.positions() == {}
        ib.disconnect()


# --- transmit=False -----------------------------------------------------------------------------


def test_an_untransmitted_order_is_held_until_sent(ib_sim, ib, aapl, ibc, wait, order_log):
    log = order_log(ib)
    order = ibc.MarketOrder("BUY", 10)
    order.transmit = False
    trade = ib.placeOrder(aapl, order)
    ib_sim.step()
    ib.sleep(0.1)
    assert log == [] and trade.orderStatus.status == "PendingSubmit"
    assert ib_sim.positions() == {} and ib.reqAllOpenOrders() == []
    order.transmit = True
    ib.placeOrder(aapl, order)  # transmitting it later sends it
    wait(ib, lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled" and ib_sim.positions() == {"AAPL": 10}


def test_a_bracket_works_only_once_its_last_child_is_transmitted(ib_sim, ib, aapl, wait):
    last = ib_sim.price("AAPL")
    parent, take, stop = ib.bracketOrder(
        "BUY", 10, round(last + 1, 2), round(last + 5, 2), round(last - 5, 2)
    )
    assert (parent.transmit, take.transmit, stop.transmit) == (False, False, True)
    first = [ib.placeOrder(aapl, o) for o in (parent, take)]
    ib_sim.step()
    ib.sleep(0.1)
    assert [t.orderStatus.status for t in first] == ["PendingSubmit", "PendingSubmit"]
    assert ib_sim.positions() == {} and ib.reqAllOpenOrders() == []
    last_child = ib.placeOrder(aapl, stop)
    wait(ib, lambda: first[0].isDone() and last_child.orderStatus.status == "PreSubmitted")
    assert first[0].orderStatus.status == "Filled"  # the marketable entry
    assert first[1].orderStatus.status == "Submitted"
    assert ib_sim.positions() == {"AAPL": 10}
    assert len(ib.reqAllOpenOrders()) == 2


def test_transmitting_a_held_parent_sends_its_held_children_too(ib_sim, ib, aapl, wait):
    last = ib_sim.price("AAPL")
    parent, take, _ = ib.bracketOrder(
        "BUY", 10, round(last - 1, 2), round(last + 5, 2), round(last - 5, 2)
    )
    trades = [ib.placeOrder(aapl, o) for o in (parent, take)]
    ib.sleep(0.05)
    assert ib.reqAllOpenOrders() == []
    parent.transmit = True
    ib.placeOrder(aapl, parent)
    wait(ib, lambda: [t.orderStatus.status for t in trades] == ["Submitted", "PreSubmitted"])
    assert len(ib.reqAllOpenOrders()) == 2 and ib_sim.positions() == {}


def test_cancelling_an_untransmitted_order_forgets_it(ib_sim, ib, aapl, ibc, wait, client_errors):
    client_errors.allow(202)
    order = ibc.MarketOrder("BUY", 10)
    order.transmit = False
    trade = ib.placeOrder(aapl, order)
    ib.sleep(0.05)
    ib.cancelOrder(order)
    wait(ib, lambda: trade.orderStatus.status == "Cancelled")
    later = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: later.isDone())
    assert ib_sim.positions() == {"AAPL": 1}
