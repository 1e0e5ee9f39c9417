"""LiveBroker against the gateway simulator: orders, fills booked once, rejections, reconcile."""

from __future__ import annotations

import asyncio
import itertools
import logging
from types import SimpleNamespace

import pandas as pd
import pytest

from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.domain.risk import RiskLimits
from quantnb.errors import NotConnectedError, OrderError
from quantnb.ib import IBConfig, IBConnection, LiveBroker
from quantnb.ports import ILiveBroker
from quantnb.testing import eventually

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

LOST = ("Peer closed", "API connection failed", "Make sure API port", "Socket disconnect")
_ids = itertools.count(1)


def order(side: str = "BUY", qty: float = 10, symbol: str = "AAPL", **kw) -> Order:
    return Order(f"run1-{next(_ids)}", symbol, Side(side), qty, **kw)


@pytest.fixture
def make_broker(ib_sim, loop_thread):
    made: list[IBConnection] = []

    def make(connect: bool = True, client_id: int = 1, enable_reconnect: bool = True, **kw):
        cfg = IBConfig(host=ib_sim.host, port=ib_sim.port, client_id=client_id, timeout=5)
        conn = IBConnection(cfg, loop_thread, enable_reconnect=enable_reconnect,
                            backoff=(0.05, 0.2))  # fmt: skip
        made.append(conn)
        broker = LiveBroker(conn, run_id="run1", **kw)
        if connect:
            conn.connect_blocking()
        return broker

    yield make
    for conn in made:
        conn.disconnect_blocking()


def refs(broker: LiveBroker) -> dict[str, object]:
    """Open orders the gateway reports to the client, by orderRef."""
    return {t.order.orderRef: t.order for t in broker.connection.ib.openTrades()}


def test_market_order_fills_and_is_booked_once(ib_sim, make_broker, client_errors):
    client_errors.allow(*LOST)
    broker = make_broker()
    fills: list[Fill] = []
    broker.register_fill_callback(fills.append)
    assert broker.get_cash_balance() == pytest.approx(ib_sim.account_values()["TotalCashValue"])
    buy = broker.execute_order(order("BUY", 10))
    assert buy.status in (OrderStatus.SUBMITTED, OrderStatus.FILLED)
    eventually(lambda: buy.status is OrderStatus.FILLED)
    (sim_exec,) = ib_sim.executions()
    assert sim_exec["order_ref"] == buy.id
    (fill,) = fills
    assert (fill.exec_id, fill.order_id, fill.qty) == (sim_exec["exec_id"], buy.id, 10)
    assert fill.price == pytest.approx(sim_exec["price"])
    assert fill.commission == pytest.approx(sim_exec["commission"])
    assert broker.get_position("AAPL").qty == 10 == ib_sim.positions()["AAPL"]
    assert broker.get_cash_balance() == pytest.approx(ib_sim.account_values()["TotalCashValue"])
    assert buy.avg_price == pytest.approx(fill.price)

    ib_sim.drop_connections()  # reconcile sees the same execution again: booked once still
    eventually(lambda: broker.connection.is_connected() and broker.is_reconciled, timeout=10)
    assert len(fills) == 1 and len(broker.fills) == 1
    assert broker.get_position("AAPL").qty == 10
    theirs = ib_sim.account_values()  # what the gateway books, not our own definition
    assert broker.portfolio.cash == pytest.approx(theirs["TotalCashValue"])
    assert broker.portfolio.market_value == pytest.approx(theirs["GrossPositionValue"])
    assert broker.portfolio.equity == pytest.approx(theirs["NetLiquidation"])


def test_each_order_type_reaches_the_gateway_with_order_ref(ib_sim, make_broker, client_errors):
    client_errors.allow(201, 202)
    broker = make_broker()
    px = ib_sim.price("AAPL")
    sent = [
        order(type=OrderType.LIMIT, limit=round(px * 0.5, 2), tif=TimeInForce.GTC),
        order(type=OrderType.STOP, stop=round(px * 1.5, 2)),
        order(type=OrderType.STOP_LIMIT, stop=round(px * 1.5, 2), limit=round(px * 1.6, 2)),
    ]
    for o in sent:
        assert broker.execute_order(o).status is OrderStatus.SUBMITTED
    eventually(lambda: set(refs(broker)) >= {o.id for o in sent})
    on_gateway = refs(broker)
    assert [on_gateway[o.id].orderType for o in sent] == ["LMT", "STP", "STP LMT"]
    assert on_gateway[sent[0].id].tif == "GTC"
    assert on_gateway[sent[0].id].lmtPrice == pytest.approx(sent[0].limit)
    assert on_gateway[sent[1].id].auxPrice == pytest.approx(sent[1].stop)
    assert len(broker.open_orders("AAPL")) == 3

    trail = broker.execute_order(order("BUY", 5, type=OrderType.TRAILING_STOP, trail_amount=1.0))
    assert trail.status is OrderStatus.SUBMITTED
    eventually(lambda: trail.id in refs(broker))
    assert refs(broker)[trail.id].orderType == "TRAIL"
    assert refs(broker)[trail.id].auxPrice == pytest.approx(1.0)
    sent.append(trail)

    for o in sent:
        assert broker.cancel(o)
    eventually(lambda: all(o.status is OrderStatus.CANCELLED for o in sent))
    assert broker.open_orders() == [] and not broker.cancel(sent[0])


def test_auction_gtd_oca_and_algo_orders_go_out_as_ib_wants_them(
    ib_sim, make_broker, client_errors
):
    client_errors.allow(202)
    broker = make_broker()
    px = ib_sim.price("AAPL")
    good_till = pd.Timestamp("2024-01-04 12:00", tz="America/New_York").tz_convert("UTC")
    sent = {
        "moc": order(type=OrderType.MARKET_ON_CLOSE),
        "loc": order(type=OrderType.LIMIT_ON_CLOSE, limit=round(px * 0.5, 2)),
        "gtd": order(type=OrderType.LIMIT, limit=round(px * 0.5, 2), tif=TimeInForce.GTD,
                     good_till=good_till),
        "oca": order(type=OrderType.LIMIT, limit=round(px * 0.5, 2), oca_group="g", oca_type=2),
        "algo": order(type=OrderType.LIMIT, limit=round(px * 0.5, 2), algo="Adaptive",
                      algo_priority="Patient"),
    }  # fmt: skip
    for o in sent.values():
        assert broker.execute_order(o).status is OrderStatus.SUBMITTED
    eventually(lambda: set(refs(broker)) >= {o.id for o in sent.values()})
    ib = {k: refs(broker)[o.id] for k, o in sent.items()}
    assert (ib["moc"].orderType, ib["moc"].tif) == ("MOC", "DAY")
    assert ib["loc"].orderType == "LOC" and ib["loc"].lmtPrice == pytest.approx(px * 0.5, abs=0.01)
    assert (ib["gtd"].tif, ib["gtd"].goodTillDate) == ("GTD", "20240104 12:00:00 America/New_York")
    assert (ib["oca"].ocaGroup, ib["oca"].ocaType) == ("run1:g", 2)
    assert ib["algo"].algoStrategy == "Adaptive"
    assert [(t.tag, t.value) for t in ib["algo"].algoParams] == [("adaptivePriority", "Patient")]
    for o in sent.values():
        broker.cancel(o)
    eventually(lambda: all(o.is_done for o in sent.values()))


def test_moo_during_the_session_is_rejected_by_the_gateway(ib_sim, make_broker, client_errors):
    client_errors.allow(201)
    broker = make_broker()
    moo = broker.execute_order(order(tif=TimeInForce.OPG))
    eventually(lambda: moo.status is OrderStatus.REJECTED)
    assert "09:28" in moo.reason


def test_bracket_goes_out_with_parent_id_and_oca(ib_sim, make_broker):
    broker = make_broker()
    px = ib_sim.price("AAPL")
    entry = order(type=OrderType.LIMIT, limit=round(px * 0.9, 2))
    tp = order("SELL", type=OrderType.LIMIT, limit=round(px * 1.2, 2), parent_id=entry.id,
               oca_group="b1")  # fmt: skip
    sl = order("SELL", type=OrderType.STOP, stop=round(px * 0.8, 2), parent_id=entry.id,
               oca_group="b1")  # fmt: skip
    broker.connection.loop_thread.run(broker.execute_bracket_async(entry, tp, sl))
    eventually(lambda: set(refs(broker)) >= {entry.id, tp.id, sl.id})
    ib_orders = refs(broker)
    parent_id = ib_orders[entry.id].orderId
    assert ib_orders[tp.id].parentId == parent_id == ib_orders[sl.id].parentId
    assert ib_orders[tp.id].ocaGroup == ib_orders[sl.id].ocaGroup == "run1:b1"


@pytest.mark.parametrize("after_ack", [False, True], ids=["at-once", "after-ack"])
def test_gateway_rejection_is_recorded_not_raised(ib_sim, make_broker, client_errors, after_ack):
    client_errors.allow(201)
    broker = make_broker()
    errors: list[object] = []
    broker.register_error_callback(errors.append)
    ib_sim.reject_next_orders(1, "no way today", after_ack=after_ack)
    rejected = broker.execute_order(order("BUY", 3))
    eventually(lambda: rejected.status is OrderStatus.REJECTED)
    assert "no way today" in rejected.reason
    assert [r.order_id for r in broker.rejections] == [rejected.id]
    assert len(errors) == 1 and isinstance(errors[0], OrderError)
    assert rejected.id in str(errors[0])
    ok = broker.execute_order(order("BUY", 3))  # the next one goes through
    eventually(lambda: ok.status is OrderStatus.FILLED)


@pytest.mark.ib_sim(commission=0.003, commission_delay=0.5)
def test_a_late_commission_report_is_waited_for_and_booked(ib_sim, make_broker):
    broker = make_broker()  # its own estimate is 0.1%: IB's 0.3% must win
    fills: list[Fill] = []
    broker.register_fill_callback(fills.append)
    buy = broker.execute_order(order("BUY", 100))
    eventually(lambda: buy.status is OrderStatus.FILLED)
    (fill,) = fills
    (sim_exec,) = ib_sim.executions()
    assert fill.commission == pytest.approx(sim_exec["commission"])
    assert sim_exec["commission"] == pytest.approx(100 * sim_exec["price"] * 0.003, abs=1e-3)
    assert broker.get_cash_balance() == pytest.approx(ib_sim.account_values()["TotalCashValue"])


def test_a_trade_made_outside_the_session_is_booked_from_the_gateway(ib_sim, make_broker):
    broker = make_broker()
    errors: list[object] = []
    broker.register_error_callback(errors.append)
    buy = broker.execute_order(order("BUY", 10))
    eventually(lambda: buy.status is OrderStatus.FILLED)
    ib_sim.trade_outside("AAPL", -4)  # sold by hand in TWS
    eventually(lambda: broker.get_position("AAPL").qty == 6)
    outside = broker.fills[-1]
    assert len(broker.fills) == 2 and outside.order_id.startswith("ib-")
    assert outside.commission == pytest.approx(ib_sim.executions()[-1]["commission"])
    eventually(
        lambda: (
            broker.get_cash_balance()
            == pytest.approx(ib_sim.account_values()["TotalCashValue"], abs=0.01)
        )
    )
    eventually(lambda: any("outside this session" in str(e) for e in errors))


def test_risk_and_buying_power_refuse_before_sending(ib_sim, make_broker):
    broker = make_broker(risk=RiskLimits(max_order_qty=2000))
    errors: list[object] = []
    broker.register_error_callback(errors.append)
    too_big = broker.execute_order(order("BUY", 2500))
    short = broker.execute_order(order("SELL", 1))
    cash = broker.get_cash_balance()
    rich = broker.execute_order(order("BUY", int(cash / ib_sim.price("AAPL") * 1.2)))
    assert too_big.status is short.status is rich.status is OrderStatus.REJECTED
    assert "max_order_qty" in too_big.reason
    assert "short selling is not allowed" in short.reason
    assert "insufficient buying power" in rich.reason
    assert len(errors) == 3 and refs(broker) == {} and ib_sim.executions() == []
    with pytest.raises(OrderError, match="quantity"):
        broker.execute_order(order("BUY", 0))


def test_order_while_disconnected_raises(ib_sim, make_broker, client_errors):
    client_errors.allow(*LOST)
    broker = make_broker(enable_reconnect=False)
    ib_sim.stop()
    eventually(lambda: not broker.connection.is_connected())
    lost = order("BUY", 1)
    with pytest.raises(NotConnectedError, match=r"not connected.*nothing was sent"):
        broker.execute_order(lost)
    assert lost.id not in broker.orders


def test_restart_with_resting_order_and_position_reconciles(ib_sim, make_broker, client_errors):
    client_errors.allow(202, *LOST)
    broker = make_broker(enable_reconnect=False)
    fills: list[Fill] = []
    broker.register_fill_callback(fills.append)
    buy = broker.execute_order(order("BUY", 10))
    eventually(lambda: buy.status is OrderStatus.FILLED)
    px = ib_sim.price("AAPL")
    resting = broker.execute_order(order("BUY", 5, type=OrderType.LIMIT, limit=round(px - 2, 2)))
    other = broker.execute_order(order("BUY", 4, type=OrderType.LIMIT, limit=round(px - 9, 2)))
    eventually(lambda: set(refs(broker)) >= {resting.id, other.id})

    ib_sim.stop()
    eventually(lambda: not broker.connection.is_connected())
    ib_sim.start()
    ib_sim.set_price("AAPL", round(px - 3, 2))  # fills `resting` while we are away
    assert ib_sim.positions()["AAPL"] == 15
    assert broker.get_position("AAPL").qty == 10

    broker.connection.connect_blocking()
    assert broker.is_reconciled
    assert resting.status is OrderStatus.FILLED and resting.filled == 5
    assert broker.get_position("AAPL").qty == 15 == ib_sim.positions()["AAPL"]
    assert sorted(f.exec_id for f in fills) == sorted(e["exec_id"] for e in ib_sim.executions())
    assert other.status is OrderStatus.SUBMITTED and other in broker.open_orders()

    assert broker.execute_order(resting) is resting  # already sent: never twice
    assert len(ib_sim.executions()) == 2
    assert broker.cancel(other)  # re-bound by orderRef: cancel reaches the gateway
    eventually(lambda: other.status is OrderStatus.CANCELLED)

    broker.connection.loop_thread.run(broker.reconcile())
    assert len(fills) == 2 and broker.get_position("AAPL").qty == 15


def test_restore_from_a_journal_sends_and_counts_nothing_twice(ib_sim, make_broker):
    first = make_broker()
    buy = first.execute_order(order("BUY", 7))
    eventually(lambda: buy.status is OrderStatus.FILLED)
    orders, exec_ids = list(first.orders.values()), {f.exec_id for f in first.fills}
    first.connection.disconnect_blocking()

    second = make_broker(connect=False)
    fills: list[Fill] = []
    second.register_fill_callback(fills.append)
    second.restore(orders, exec_ids)
    second.connection.connect_blocking()
    assert fills == [] and second.fills == []
    assert second.get_position("AAPL").qty == 7 == ib_sim.positions()["AAPL"]
    assert second.execute_order(orders[0]) is orders[0]
    assert len(ib_sim.executions()) == 1


def test_blocking_calls_on_the_loop_thread_do_not_deadlock(ib_sim, make_broker):
    broker = make_broker(price=lambda symbol: 80.0)
    assert isinstance(broker, ILiveBroker)
    placed = order("BUY", 2)

    async def from_a_bar_callback() -> Order:
        return broker.execute_order(placed)  # what an on_bar handler on the loop thread does

    assert broker.connection.loop_thread.run(from_a_bar_callback()) is placed
    eventually(lambda: placed.status is OrderStatus.FILLED)
    assert broker.get_account_value() > 0


def statuses(seen: list[tuple[str, OrderStatus]], oid: str) -> list[OrderStatus]:
    return [s for i, s in seen if i == oid]


def test_order_callback_hears_every_state_change_once(ib_sim, make_broker, client_errors):
    client_errors.allow(201, 202)
    broker = make_broker()
    seen: list[tuple[str, OrderStatus]] = []
    broker.register_order_callback(lambda o: seen.append((o.id, o.status)))
    S = OrderStatus
    buy = broker.execute_order(order("BUY", 10))
    eventually(lambda: statuses(seen, buy.id)[-1:] == [S.FILLED])
    assert statuses(seen, buy.id) == [S.PENDING, S.SUBMITTED, S.FILLED]
    resting = broker.execute_order(
        order("BUY", 5, type=OrderType.LIMIT, limit=round(ib_sim.price("AAPL") * 0.5, 2))
    )
    assert broker.cancel(resting)
    eventually(lambda: statuses(seen, resting.id)[-1:] == [S.CANCELLED])
    assert statuses(seen, resting.id) == [S.PENDING, S.SUBMITTED, S.CANCELLED]
    ib_sim.reject_next_orders(1, "no way today")
    refused = broker.execute_order(order("BUY", 3))
    eventually(lambda: statuses(seen, refused.id)[-1:] == [S.REJECTED])
    assert statuses(seen, refused.id) == [S.PENDING, S.SUBMITTED, S.REJECTED]
    assert "no way today" in refused.reason


class CountedOrder(Order):
    """An order that counts how often its state is looked at."""

    looks = 0

    @property
    def is_done(self) -> bool:
        CountedOrder.looks += 1
        return self.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


def test_open_orders_and_buying_power_look_at_working_orders_only(ib_sim, make_broker):
    broker = make_broker(connect=False)
    done = [CountedOrder(f"old-{k}", "AAPL", Side.BUY, 1, status=OrderStatus.FILLED)
            for k in range(2000)]  # fmt: skip
    working = CountedOrder("old-w", "MSFT", Side.BUY, 1, type=OrderType.LIMIT, limit=1.0,
                           status=OrderStatus.SUBMITTED)  # fmt: skip
    broker.restore([*done, working], [])
    CountedOrder.looks = 0
    assert broker.open_orders() == [working] and broker.open_orders("MSFT") == [working]
    assert broker.open_orders("AAPL") == []
    broker.check_buying_power(order("BUY", 1), 10.0)
    assert CountedOrder.looks < 10


def test_restored_orders_the_gateway_never_saw_are_resolved(ib_sim, make_broker, caplog):
    broker = make_broker(connect=False)
    seen: list[tuple[str, OrderStatus]] = []
    errors: list[object] = []
    broker.register_order_callback(lambda o: seen.append((o.id, o.status)))
    broker.register_error_callback(errors.append)
    never = order("BUY", 3)  # journaled as created; the process died before sending it
    lost = order("BUY", 4, type=OrderType.LIMIT, limit=1.0, status=OrderStatus.SUBMITTED)
    broker.restore([never, lost], [])
    assert len(broker.open_orders()) == 2
    broker.connection.connect_blocking()
    assert broker.is_reconciled
    assert never.status is OrderStatus.CANCELLED and never.reason == "not sent before the restart"
    assert lost.status is OrderStatus.CANCELLED and "unknown to the IB gateway" in lost.reason
    assert any(r.levelname == "WARNING" and lost.id in r.getMessage() for r in caplog.records)
    assert [str(e) for e in errors if lost.id in str(e)] and not [
        e for e in errors if never.id in str(e)
    ]
    assert seen == [(never.id, OrderStatus.CANCELLED), (lost.id, OrderStatus.CANCELLED)]
    assert broker.open_orders() == [] and refs(broker) == {} and ib_sim.executions() == []
    assert broker.execute_order(never) is never  # never resent
    assert refs(broker) == {}


def test_reconcile_binds_each_open_order_once(ib_sim, make_broker, client_errors, caplog):
    client_errors.allow(*LOST)
    caplog.set_level(logging.INFO, logger="quantnb.ib")
    broker = make_broker(enable_reconnect=False)
    px = ib_sim.price("AAPL")
    resting = broker.execute_order(order("BUY", 4, type=OrderType.LIMIT, limit=round(px - 9, 2)))
    eventually(lambda: resting.id in refs(broker))
    ib_sim.stop()
    eventually(lambda: not broker.connection.is_connected())
    ib_sim.start()
    caplog.clear()
    broker.connection.connect_blocking()
    bound = [r.getMessage() for r in caplog.records if "order(s) bound" in r.getMessage()]
    assert len(bound) == 1 and "1 order(s) bound" in bound[0]


class _Event:
    def __iadd__(self, handler: object) -> _Event:
        return self


class _StubIB:
    """Just enough of the client for ``reconcile``: one execution the broker has not seen."""

    orderStatusEvent = execDetailsEvent = commissionReportEvent = _Event()
    accountValueEvent = updatePortfolioEvent = positionEvent = _Event()

    def __init__(self, fills: list[object]) -> None:
        self._fills = fills

    def accountValues(self, account: str = "") -> list[object]:
        return []

    async def reqAllOpenOrdersAsync(self) -> list[object]:
        return []

    def trades(self) -> list[object]:
        return []

    async def reqExecutionsAsync(self, flt: object = None) -> list[object]:
        return self._fills

    async def reqPositionsAsync(self) -> list[object]:
        return []


def test_a_missed_fill_keeps_the_reported_zero_commission():
    t = pd.Timestamp("2024-01-03 15:00", tz="UTC")
    execution = SimpleNamespace(execId="e1", orderRef="", permId=0, acctNumber="", side="BOT",
                                shares=5.0, price=10.0, time=t.to_pydatetime())  # fmt: skip
    ib_fill = SimpleNamespace(
        time=t, execution=execution, contract=SimpleNamespace(symbol="AAPL"),
        commissionReport=SimpleNamespace(execId="e1", commission=0.0),
    )  # fmt: skip
    conn = IBConnection(IBConfig())
    conn._ib = _StubIB([ib_fill])
    broker = LiveBroker(conn, run_id="run1")  # its cost model would estimate 1.00
    assert broker.costs.commission(5.0, 10.0) > 0
    asyncio.run(broker.reconcile())
    (fill,) = broker.fills
    assert fill.commission == 0.0 and fill.time == t


def test_working_buys_of_other_symbols_are_priced_at_their_own_price(ib_sim, make_broker, caplog):
    broker = make_broker(connect=False)
    broker.portfolio.cash = 5_000.0
    working = Order("w-1", "MSFT", Side.BUY, 100, type=OrderType.LIMIT, limit=10.0,
                    status=OrderStatus.SUBMITTED)  # fmt: skip
    broker.restore([working], [])
    # MSFT has no price yet: its limit, 100 x 10, is committed; not 100 x AAPL's 200
    ok, why = broker.check_buying_power(order("BUY", 10), 200.0)
    assert ok, why
    broker.mark("MSFT", 45.0)  # now its own price: 4,500 committed
    ok, why = broker.check_buying_power(order("BUY", 10), 200.0)
    assert not ok and "available 497.75" in why  # 5,000 - 100 x 45 with slippage
    unpriced = Order("w-2", "NVDA", Side.BUY, 100, status=OrderStatus.SUBMITTED)
    broker.restore([unpriced], [])
    with caplog.at_level(logging.WARNING, logger="quantnb.domain"):
        broker.check_buying_power(order("BUY", 1), 200.0)
    assert any("w-2" in r.getMessage() for r in caplog.records)


def test_a_cancel_already_asked_for_is_not_sent_again(ib_sim, make_broker, client_errors):
    client_errors.allow(202)  # the cancel's own notice; a refused second cancel (10148) fails
    broker = make_broker()
    resting = order(type=OrderType.LIMIT, limit=round(ib_sim.price("AAPL") * 0.5, 2))
    assert broker.execute_order(resting).status is OrderStatus.SUBMITTED
    eventually(lambda: resting.id in refs(broker))

    async def twice():  # both in one loop turn, before the gateway can answer the first
        return await broker.cancel_async(resting), await broker.cancel_async(resting)

    assert broker.connection.loop_thread.run(twice(), timeout=10) == (True, True)
    eventually(lambda: resting.status is OrderStatus.CANCELLED)
    assert broker.open_orders() == []  # and the gateway refused nothing (no 10148 logged)


def test_a_batch_refuses_what_order_by_order_checks_refuse(ib_sim, make_broker):
    broker = make_broker()
    cash = broker.get_cash_balance()
    prices = {s: ib_sim.price(s) for s in ("AAPL", "MSFT", "SPY")}
    for s, p in prices.items():
        broker.mark(s, p)

    def buy(symbol: str, share: float) -> Order:  # a limit far below the market: never fills
        qty = int(cash * share / prices[symbol])
        return order("BUY", qty, symbol, type=OrderType.LIMIT, limit=round(prices[symbol] / 2, 2))

    # each fits alone; together the third and fifth do not, the fourth is a short sale
    batch = [buy("AAPL", 0.4), buy("MSFT", 0.4), buy("SPY", 0.3), order("SELL", 1, "SPY"),
             buy("AAPL", 0.1), buy("MSFT", 0.15)]  # fmt: skip
    expected: list[tuple[bool, str]] = []

    async def send() -> None:
        with broker.batch():
            for o in batch:
                book, broker._batch = broker._batch, None  # the order-by-order rule
                expected.append(broker.check_buying_power(o, prices[o.symbol]))
                broker._batch = book
                broker.execute_order(o)

    broker.connection.loop_thread.run(send(), timeout=10)
    assert [ok for ok, _ in expected] == [True, True, False, False, True, False]
    for o, (ok, why) in zip(batch, expected, strict=True):
        assert (o.status is not OrderStatus.REJECTED) == ok, (o, why)
        assert ok or o.reason == why
    assert set(refs(broker)) == {batch[0].id, batch[1].id, batch[4].id}


def test_a_new_order_is_followed_by_the_client_without_its_text_dump(ib_sim, make_broker, caplog):
    broker = make_broker()
    ib = broker.connection.ib
    with caplog.at_level(logging.INFO):
        sent = broker.execute_order(order("BUY", 1))
    trade = next(t for t in ib.trades() if t.order.orderRef == sent.id)
    assert trade.order.orderId > 0 and trade.order.clientId == 1
    eventually(lambda: trade.orderStatus.status == "Filled" and sent.status is OrderStatus.FILLED)
    assert [f.execution.orderRef for f in trade.fills] == [sent.id]
    client_lines = [r for r in caplog.records if r.name.startswith(("ib_async", "ib_insync"))]
    assert not any("placeOrder: New order" in r.getMessage() for r in client_lines)
    assert any(r.name == "quantnb.ib.broker" and f"sent order {sent.id}" in r.getMessage()
               for r in caplog.records)  # fmt: skip
