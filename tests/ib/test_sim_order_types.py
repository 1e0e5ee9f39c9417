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


def backtest_fills(place, decide_at: str) -> pd.DataFrame:
    """The fills of a backtest on the same bars, placing ``place(ctx)`` on the bar that ends at
    ``decide_at`` (New York)."""
    when = at(decide_at) - pd.Timedelta(minutes=5)

    class Once(qn.Strategy):
        def on_data(self, ctx, bars):
            if ctx.now == when:
                place(ctx)

    return qn.backtest(Once(), {"AAPL": BARS}, commission=0.0, slippage=0.0).fills


def test_moc_fill_matches_the_backtest():
    fills = backtest_fills(lambda ctx: ctx.buy("AAPL", 10, at="close"), "2024-01-03 10:00")
    assert fills["price"].tolist() == [pytest.approx(LAST_CLOSE)]


def test_loc_beyond_the_close_is_cancelled_at_the_close(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        limit = round(LAST_CLOSE - 1.0, 2)
        trade = ib.placeOrder(aapl, order(ibc, "LimitOrder", "BUY", 10, limit, orderType="LOC"))
        wait(ib, lambda: trade.orderStatus.status == "Submitted")
        step_until(sim, "2024-01-03 16:00")
        wait(ib, lambda: trade.isDone())
        assert trade.orderStatus.status == "Cancelled" and not trade.fills
        ib.disconnect()
    fills = backtest_fills(lambda ctx: ctx.buy("AAPL", 10, at="close", limit=limit), "10:00")
    assert fills.empty


def test_moc_after_the_cutoff_is_refused_with_error_201(connect, ibc, wait, client_errors):
    client_errors.allow(201)
    with sim_at("2024-01-03 15:52") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, order(ibc, "Order", "BUY", 10, orderType="MOC"))
        wait(ib, lambda: trade.isDone())
        assert trade.orderStatus.status == "Cancelled"
        assert "15:50" in " ".join(e.message for e in trade.log)
        ib.disconnect()


def test_moo_placed_after_the_close_fills_at_the_next_open_and_a_loo_beyond_it_is_cancelled(
    connect, ibc, wait, client_errors
):
    client_errors.allow(399)  # "will not be placed at the exchange until" the next open
    with sim_at("2024-01-03 16:00", commission=0.0) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        moo = ib.placeOrder(aapl, order(ibc, "MarketOrder", "BUY", 10, tif="OPG"))
        loo = ib.placeOrder(
            aapl, order(ibc, "LimitOrder", "BUY", 10, round(NEXT_OPEN - 1, 2), tif="OPG")
        )
        wait(ib, lambda: moo.orderStatus.permId and loo.orderStatus.permId)
        step_until(sim, "2024-01-04 09:35")
        wait(ib, lambda: moo.isDone() and loo.isDone())
        assert moo.fills[0].execution.price == pytest.approx(NEXT_OPEN)
        assert loo.orderStatus.status == "Cancelled" and not loo.fills
        ib.disconnect()
    fills = backtest_fills(lambda ctx: ctx.buy("AAPL", 10, at="open"), "2024-01-03 16:00")
    assert fills["price"].tolist() == [pytest.approx(NEXT_OPEN)]


def test_gtd_order_expires_at_its_minute(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        far = order(ibc, "LimitOrder", "BUY", 10, 50.0, tif="GTD")
        far.goodTillDate = "20240103 10:30:00 America/New_York"
        trade = ib.placeOrder(aapl, far)
        wait(ib, lambda: trade.orderStatus.status == "Submitted")
        step_until(sim, "2024-01-03 10:25")
        ib.sleep(0.05)
        assert not trade.isDone()
        step_until(sim, "2024-01-03 10:30")
        wait(ib, lambda: trade.isDone())
        assert trade.orderStatus.status == "Cancelled"
        ib.disconnect()


def test_gtd_in_the_past_is_refused(connect, ibc, wait, client_errors):
    client_errors.allow(201)
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        late = order(ibc, "LimitOrder", "BUY", 10, 50.0, tif="GTD")
        late.goodTillDate = "20240103 09:45:00 America/New_York"
        trade = ib.placeOrder(aapl, late)
        wait(ib, lambda: trade.isDone())
        assert "good_till" in " ".join(e.message for e in trade.log)
        ib.disconnect()


def test_ioc_fills_what_the_liquidity_allows_and_fok_nothing(connect, ibc, wait):
    with sim_at("2024-01-03 10:00", liquidity=30) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        fok = ib.placeOrder(aapl, order(ibc, "MarketOrder", "BUY", 100, tif="FOK"))
        wait(ib, lambda: fok.isDone())
        assert fok.orderStatus.status == "Cancelled" and not fok.fills
        ioc = ib.placeOrder(aapl, order(ibc, "MarketOrder", "BUY", 100, tif="IOC"))
        wait(ib, lambda: ioc.isDone())
        assert ioc.orderStatus.status == "Cancelled"
        assert sum(f.execution.shares for f in ioc.fills) == 30
        ib.disconnect()


def test_oca_group_one_fill_cancels_the_others(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        last = sim.price("AAPL")
        near = order(ibc, "LimitOrder", "BUY", 10, round(last - 0.3, 2))
        far = order(ibc, "LimitOrder", "BUY", 10, round(last - 5, 2))
        for o in (near, far):
            o.ocaGroup, o.ocaType = "entry", 1
        trades = [ib.placeOrder(aapl, o) for o in (near, far)]
        wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        sim.set_price("AAPL", round(last - 0.5, 2))
        wait(ib, lambda: all(t.isDone() for t in trades))
        assert [t.orderStatus.status for t in trades] == ["Filled", "Cancelled"]
        ib.disconnect()


def test_oca_reduce_takes_the_fill_off_the_others(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        last = sim.price("AAPL")
        near = order(ibc, "LimitOrder", "BUY", 10, round(last - 0.3, 2))
        far = order(ibc, "LimitOrder", "BUY", 25, round(last - 5, 2))
        for o in (near, far):
            o.ocaGroup, o.ocaType = "scale-in", 2
        trades = [ib.placeOrder(aapl, o) for o in (near, far)]
        wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        sim.set_price("AAPL", round(last - 0.5, 2))
        wait(ib, lambda: trades[0].isDone() and trades[1].order.totalQuantity == 15)
        assert trades[1].orderStatus.status == "Submitted"
        ib.disconnect()


def test_adaptive_market_order_fills_as_a_plain_market_order(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        adaptive = order(ibc, "MarketOrder", "BUY", 10, algoStrategy="Adaptive")
        adaptive.algoParams = [ibc.TagValue("adaptivePriority", "Patient")]
        trade = ib.placeOrder(aapl, adaptive)
        wait(ib, lambda: trade.isDone())
        assert trade.fills[0].execution.price == pytest.approx(sim.price("AAPL") * 1.0005)
        ib.disconnect()


def test_refused_combinations_get_ibs_codes(connect, ibc, wait, client_errors):
    client_errors.allow(111, 113, 201)
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        bad = [
            (order(ibc, "Order", "BUY", 10, orderType="MOC", tif="GTC"), 113),
            (order(ibc, "LimitOrder", "BUY", 10, 50.0, orderType="LOC", tif="OPG"), 113),
            (order(ibc, "StopOrder", "BUY", 10, 500.0, tif="OPG"), 111),
            (order(ibc, "StopOrder", "BUY", 10, 500.0, tif="IOC"), 111),
            (order(ibc, "StopOrder", "BUY", 10, 500.0, tif="FOK"), 111),
            (order(ibc, "StopOrder", "BUY", 10, 500.0, algoStrategy="Adaptive"), 201),
            (order(ibc, "LimitOrder", "BUY", 10, 50.0, goodTillDate="20240104 12:00:00"), 201),
        ]
        trades = [ib.placeOrder(aapl, o) for o, _ in bad]
        wait(ib, lambda: all(t.isDone() for t in trades))
        assert all(t.orderStatus.status == "Cancelled" and not t.fills for t in trades)
        codes = [[e.errorCode for e in t.log if e.errorCode] for t in trades]
        assert codes == [[code] for _, code in bad]
        assert "The Tif option should be set to DAY for MOC" in trades[0].log[-1].message
        assert "The TIF (Tif type) and the order type are" in trades[2].log[-1].message
        assert "GoodTilDate field is only valid with time-in-force of GTD" in (
            trades[-1].log[-1].message
        )
        assert ib.reqAllOpenOrders() == []
        ib.disconnect()


def test_daily_bars_moc_and_moo_fill_as_in_the_backtest(connect, ibc, wait, client_errors):
    client_errors.allow(399)
    index = pd.date_range("2024-01-02", periods=3, freq="B", tz="UTC")
    rows = [[100, 101, 99, 100], [95, 99, 94, 97], [104, 106, 103, 105]]
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index)
    df["volume"] = 1e6

    class Both(qn.Strategy):
        def on_data(self, ctx, bars):
            if ctx.now == index[0]:
                ctx.buy("AAPL", 10, at="close")
                ctx.buy("AAPL", 5, at="open")

    bt = qn.backtest(Both(), {"AAPL": df}, commission=0.0, slippage=0.0, progress=False)
    assert sorted(bt.fills["price"]) == [95.0, 97.0]
    with GatewaySimulator(mode="manual", bars={"AAPL": df}, start=index[0], commission=0.0) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        moc = ib.placeOrder(aapl, order(ibc, "Order", "BUY", 10, orderType="MOC"))
        moo = ib.placeOrder(aapl, order(ibc, "MarketOrder", "BUY", 5, tif="OPG"))
        wait(ib, lambda: moc.orderStatus.permId and moo.orderStatus.permId)
        sim.step()
        wait(ib, lambda: moc.isDone() and moo.isDone())
        prices = sorted(t.fills[0].execution.price for t in (moc, moo))
        ib.disconnect()
    assert prices == sorted(bt.fills["price"])


def test_open_orders_report_gtd_oca_type_and_algo_to_another_client(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        gtd = order(ibc, "LimitOrder", "BUY", 10, 50.0, tif="GTD", ocaGroup="g", ocaType=2)
        gtd.goodTillDate = "20240104 12:00:00 America/New_York"
        algo = order(ibc, "LimitOrder", "BUY", 10, 50.0, algoStrategy="Adaptive")
        algo.algoParams = [ibc.TagValue("adaptivePriority", "Urgent")]
        for o in (gtd, algo):
            ib.placeOrder(aapl, o)
        other = connect(sim, client_id=2)
        seen = wait(other, lambda: len(other.reqAllOpenOrders()) == 2 and other.openTrades())
        by_tif = {t.order.tif: t.order for t in seen}
        assert by_tif["GTD"].goodTillDate == "20240104 12:00:00 America/New_York"
        assert by_tif["GTD"].ocaType == 2 and by_tif["GTD"].ocaGroup == "g"
        assert by_tif["DAY"].algoStrategy == "Adaptive"
        assert [(p.tag, p.value) for p in by_tif["DAY"].algoParams] == [
            ("adaptivePriority", "Urgent")
        ]
        other.disconnect()
        ib.disconnect()


def test_completed_orders_report_gtd_oca_type_and_algo(connect, ibc, wait, client_errors):
    client_errors.allow(202)  # the cancelled one
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        gtd = order(ibc, "LimitOrder", "BUY", 10, 50.0, tif="GTD", ocaGroup="g", ocaType=2)
        gtd.goodTillDate = "20240103 10:30:00 America/New_York"
        algo = order(ibc, "LimitOrder", "BUY", 10, 50.0, algoStrategy="Adaptive")
        algo.algoParams = [ibc.TagValue("adaptivePriority", "Patient")]
        trades = [ib.placeOrder(aapl, o) for o in (gtd, algo)]
        wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        ib.cancelOrder(trades[1].order)
        step_until(sim, "2024-01-03 10:30")  # the GTD order expires
        wait(ib, lambda: all(t.isDone() for t in trades))
        done = ib.reqCompletedOrders(apiOnly=True)
        by_tif = {t.order.tif: t.order for t in done}
        assert by_tif["GTD"].goodTillDate == "20240103 10:30:00 America/New_York"
        assert (by_tif["GTD"].ocaGroup, by_tif["GTD"].ocaType) == ("g", 2)
        assert by_tif["DAY"].algoStrategy == "Adaptive"
        assert [(p.tag, p.value) for p in by_tif["DAY"].algoParams] == [
            ("adaptivePriority", "Patient")
        ]
        assert by_tif["DAY"].ocaType == 3  # IB's value for an order in no group
        ib.disconnect()


def test_ioc_placed_after_the_close_trades_at_the_next_open_as_in_the_backtest(
    connect, ibc, wait, client_errors
):
    # IB cancels "any portion ... not filled as soon as it becomes available in the market"
    client_errors.allow(399)  # "will not be placed at the exchange until" the next open
    with sim_at("2024-01-03 16:00", commission=0.0, slippage=0.0) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        ioc = ib.placeOrder(aapl, order(ibc, "MarketOrder", "BUY", 10, tif="IOC"))
        fok = ib.placeOrder(
            aapl, order(ibc, "LimitOrder", "BUY", 5, round(NEXT_OPEN - 1, 2), tif="FOK")
        )
        wait(ib, lambda: ioc.orderStatus.permId and fok.orderStatus.permId)
        ib.sleep(0.05)
        assert not ioc.isDone() and not fok.isDone()  # held for the open, not cancelled
        step_until(sim, "2024-01-04 09:35")
        wait(ib, lambda: ioc.isDone() and fok.isDone())
        assert [f.execution.price for f in ioc.fills] == [pytest.approx(NEXT_OPEN)]
        assert fok.orderStatus.status == "Cancelled" and not fok.fills
        ib.disconnect()
    fills = backtest_fills(lambda ctx: ctx.buy("AAPL", 10, tif="IOC"), "2024-01-03 16:00")
    assert fills["price"].tolist() == [pytest.approx(NEXT_OPEN)]


def test_outside_rth_on_ioc_and_fok_orders_is_ignored_with_warning_2109(connect, ibc, wait):
    with sim_at("2024-01-03 10:00") as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        last = sim.price("AAPL")
        placed = [
            order(ibc, "LimitOrder", "BUY", 1, round(last * 0.5, 2), tif="IOC", outsideRth=True),
            order(ibc, "LimitOrder", "BUY", 1, round(last * 0.5, 2), tif="FOK", outsideRth=True),
            order(ibc, "LimitOrder", "BUY", 1, round(last * 0.5, 2), tif="GTD", outsideRth=True,
                  goodTillDate="20240104 12:00:00 America/New_York"),
        ]  # fmt: skip
        said: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, *_: said.append((req_id, code))
        trades = [ib.placeOrder(aapl, o) for o in placed]
        wait(ib, lambda: trades[1].isDone() and trades[2].orderStatus.status == "Submitted")
        ib.reqCurrentTime()  # a round trip: every warning sent has arrived
        codes = [[c for r, c in said if r == t.order.orderId] for t in trades]
        assert codes == [[2109], [2109], []]  # a GTD limit order may trade outside RTH
        ib.disconnect()
