"""Order faults the simulator injects: late commission reports, rejections after the
acknowledgement, and trades made outside the API session."""

from __future__ import annotations

import time

import pytest

from quantnb.errors import ConfigError, GatewayError
from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


# --- late commission reports --------------------------------------------------------------------


@pytest.mark.ib_sim(commission_delay=0.4)
def test_commission_reports_come_late_when_set(ib_sim, ib, aapl, ibc, wait, order_log):
    log = order_log(ib)
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: trade.isDone())
    filled = time.monotonic()
    assert log.kinds() == ["open", "status:Submitted", "exec", "status:Filled", "open"]
    wait(ib, lambda: trade.fills[0].commissionReport.execId)
    assert time.monotonic() - filled > 0.25
    assert log.kinds()[-1] == "commission"
    assert trade.fills[0].commissionReport.commission == ib_sim.executions()[0]["commission"]


def test_a_late_report_goes_to_the_owner_when_due_or_waits_for_req_executions(connect, ibc, wait):
    with GatewaySimulator(mode="manual") as sim:
        sim.delay_commission_reports(0.5)
        ib = connect(sim, client_id=1)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
        wait(ib, lambda: trade.isDone())
        ib.disconnect()
        # the owner is back before the report is due: it gets it pushed
        again = connect(sim, client_id=1)
        (fill,) = again.fills()  # from the start-up reqExecutions: not priced yet
        assert not fill.commissionReport.execId
        wait(again, lambda: fill.commissionReport.execId == fill.execution.execId)
        again.disconnect()
        # nobody holds client 3 when its report falls due: reqExecutions has it afterwards
        owner = connect(sim, client_id=3)
        trade = owner.placeOrder(aapl, ibc.MarketOrder("BUY", 5))
        wait(owner, lambda: trade.isDone())
        owner.disconnect()
        other = connect(sim, client_id=4)
        pending = other.reqExecutions(ibc.ExecutionFilter(clientId=3))
        assert len(pending) == 1 and not pending[0].commissionReport.execId
        other.sleep(0.6)
        assert len(other.reqExecutions(ibc.ExecutionFilter(clientId=3))) == 1
        # the client files the report on the fill it first saw
        (stored,) = [f for f in other.fills() if f.execution.clientId == 3]
        assert stored.commissionReport.execId == stored.execution.execId
        assert stored.commissionReport.commission == sim.executions()[-1]["commission"]
        other.disconnect()


def test_commission_delay_must_not_be_negative():
    with pytest.raises(ConfigError, match="commission_delay"):
        GatewaySimulator(commission_delay=-1)
    with GatewaySimulator(mode="manual") as sim, pytest.raises(ConfigError, match="delay"):
        sim.delay_commission_reports(-0.5)


# --- rejected after the acknowledgement -----------------------------------------------------


def test_an_order_rejected_after_it_was_acknowledged(
    ib_sim, ib, aapl, ibc, wait, order_log, client_errors
):
    client_errors.allow(201, "Canceled order")
    log = order_log(ib)
    codes = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code, text))
    ib_sim.reject_next_orders(1, "margin check failed", after_ack=True)
    trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: trade.orderStatus.status == "Inactive")
    oid = trade.order.orderId
    assert log.kinds() == ["open", "status:Submitted", "status:Inactive"]
    assert codes == [(oid, 201, "Order rejected - reason:margin check failed")]
    assert not trade.fills and ib_sim.positions() == {} and ib_sim.executions() == []
    assert ib.reqAllOpenOrders() == []
    # only the next order was rejected
    ok = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 10))
    wait(ib, lambda: ok.isDone())
    assert ok.orderStatus.status == "Filled" and ib_sim.positions() == {"AAPL": 10}


# --- trades made outside the session -------------------------------------------------------


def test_a_trade_outside_the_session_changes_positions_account_and_executions(
    ib_sim, ib, ibc, wait
):
    cash = ib_sim.account_values()["TotalCashValue"]
    last = ib_sim.price("AAPL")
    ib_sim.trade_outside("AAPL", 25)
    wait(ib, lambda: [p.position for p in ib.positions()] == [25])
    wait(ib, lambda: [p.position for p in ib.portfolio()] == [25])

    def value(tag):
        return float(next(v.value for v in ib.accountValues() if v.tag == tag and v.currency))

    (execution,) = ib_sim.executions()
    price = last * 1.0005  # at the market, with the cost model's slippage
    assert execution["price"] == pytest.approx(price, abs=1e-4)
    assert execution["order_id"] == 0 and execution["client_id"] == 0
    wait(ib, lambda: value("TotalCashValue") < cash)
    assert value("TotalCashValue") == pytest.approx(
        cash - 25 * execution["price"] - execution["commission"], abs=0.01
    )
    assert ib.fills() == []  # client 1 made no trade: no execDetails for it
    (fill,) = ib.reqExecutions()
    assert (fill.execution.orderId, fill.execution.shares, fill.execution.side) == (0, 25, "BOT")
    assert fill.commissionReport.commission == execution["commission"]
    ib_sim.trade_outside("AAPL", -10, price=round(last + 1, 2), client_id=7)
    wait(ib, lambda: [p.position for p in ib.positions()] == [15])
    assert ib_sim.executions()[-1]["price"] == round(last + 1, 2)
    assert [f.execution.side for f in ib.reqExecutions(ibc.ExecutionFilter(clientId=7))] == ["SLD"]


def test_the_master_client_sees_the_executions_of_manual_trades(ib_sim, connect, wait):
    master = connect(ib_sim, client_id=0)
    ib_sim.trade_outside("MSFT", 3)
    wait(master, lambda: master.fills() and master.fills()[0].commissionReport.execId)
    (fill,) = master.fills()
    assert fill.contract.symbol == "MSFT" and fill.execution.shares == 3


def test_trade_outside_checks_its_arguments(ib_sim):
    with pytest.raises(GatewayError, match="unknown symbol"):
        ib_sim.trade_outside("NOPE", 1)
    with pytest.raises(ConfigError, match="non-zero"):
        ib_sim.trade_outside("AAPL", 0)
    assert ib_sim.positions() == {}


def test_the_order_faults_work_in_a_simulator_process(connect, ibc, wait, client_errors):
    client_errors.allow(201, "Canceled order")
    with GatewaySimulator(mode="manual", subprocess=True, symbols=["AAPL"]) as sim:
        sim.trade_outside("AAPL", 5, price=100.0)
        assert sim.positions() == {"AAPL": 5}
        sim.delay_commission_reports(0.2)
        sim.reject_next_orders(1, "late check", after_ack=True)
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        rejected = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
        wait(ib, lambda: rejected.orderStatus.status == "Inactive")
        filled = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 1))
        wait(ib, lambda: filled.isDone() and filled.fills[0].commissionReport.execId)
        assert sim.positions() == {"AAPL": 6}
        ib.disconnect()
