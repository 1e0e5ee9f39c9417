"""The simulator serves futures (by month and continuous), FX pairs and an index to a real
client: contract details, history, streaming, orders, margin and P&L in the account."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [
    pytest.mark.ib,
    pytest.mark.ib_sim(futures=["ES", "NQ", "CL"], fx=["EURUSD", "USDJPY"], indices=["SPX"]),
]


def _details(ib, contract):
    found = ib.reqContractDetails(contract)
    assert found, f"no contract details for {contract}"
    return found


def test_future_contract_details(ib, ibc):
    (cd,) = _details(ib, ibc.Future("ES", "202403", "CME"))
    c = cd.contract
    assert (c.symbol, c.secType, c.exchange, c.currency) == ("ES", "FUT", "CME", "USD")
    assert c.lastTradeDateOrContractMonth == "20240315"  # the third Friday of March 2024
    assert (c.localSymbol, c.tradingClass, c.multiplier) == ("ESH4", "ES", "50")
    assert cd.minTick == 0.25
    assert cd.contractMonth == "202403"
    assert cd.realExpirationDate == "20240315"
    assert cd.timeZoneId == "US/Central"
    assert cd.longName == "E-mini S&P 500"
    # Globex: 17:00 the evening before to 16:00 (the daily halt), the weekend closed
    assert cd.tradingHours.startswith("20240102:1700-20240103:1600;")
    assert "20240106:CLOSED" in cd.tradingHours
    assert "20240107:1700-20240108:1600" in cd.tradingHours
    assert cd.liquidHours.startswith("20240103:0830-20240103:1500")


def test_future_without_month_lists_every_listed_month(ib, ibc):
    es = [cd.contract.localSymbol for cd in _details(ib, ibc.Future("ES", exchange="CME"))]
    assert es == ["ESH4", "ESM4", "ESU4", "ESZ4"]
    cl = [cd.contract.localSymbol for cd in _details(ib, ibc.Future("CL", exchange="NYMEX"))]
    assert cl == ["CLG4", "CLH4", "CLJ4", "CLK4", "CLM4", "CLN4"]
    (cd,) = _details(ib, ibc.Future("CL", "202402", "NYMEX"))
    assert (cd.contract.multiplier, cd.minTick) == ("1000", 0.01)
    # CL: three business days before the 25th of the month before
    assert cd.contract.lastTradeDateOrContractMonth == "20240122"
    (nq,) = _details(ib, ibc.Future("NQ", "202406", "CME"))
    assert (nq.contract.localSymbol, nq.contract.multiplier) == ("NQM4", "20")


def test_fx_and_index_contract_details(ib, ibc):
    (cd,) = _details(ib, ibc.Forex("EURUSD"))
    c = cd.contract
    assert (c.symbol, c.secType, c.exchange, c.currency) == ("EUR", "CASH", "IDEALPRO", "USD")
    assert (c.localSymbol, c.tradingClass, c.conId) == ("EUR.USD", "EUR.USD", 12087792)
    assert cd.minTick == 0.00005
    # Sunday 17:00 to Friday 17:00 New York
    assert "20240107:1700-20240108:1700" in cd.tradingHours
    assert "20240106:CLOSED" in cd.tradingHours
    (jpy,) = _details(ib, ibc.Forex("USDJPY"))
    assert (jpy.contract.localSymbol, jpy.minTick) == ("USD.JPY", 0.005)
    (spx,) = _details(ib, ibc.Index("SPX", "CBOE", "USD"))
    assert (spx.contract.secType, spx.contract.conId, spx.minTick) == ("IND", 416904, 0.01)
    assert spx.liquidHours.startswith("20240103:0930-20240103:1600")


def test_stock_details_unchanged(ib, aapl):
    (cd,) = ib.reqContractDetails(aapl)
    assert (cd.contract.secType, cd.contract.multiplier, cd.minTick) == ("STK", "", 0.01)
    assert cd.timeZoneId == "US/Eastern"


def test_continuous_future_qualifies_to_front_month_for_history(ib, ibc):
    cont = ibc.ContFuture("ES", "CME")
    ib.qualifyContracts(cont)
    assert cont.secType == "CONTFUT"
    assert cont.localSymbol == "ESH4"
    bars = ib.reqHistoricalData(cont, "", "1 D", "1 hour", "TRADES", False)
    assert bars
    assert all(round(b.close / 0.25) * 0.25 == pytest.approx(b.close) for b in bars)


def test_future_history_on_the_tick_grid_with_the_daily_halt(ib, ibc, ib_sim):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    ib_sim.step(60 * 9)  # from 10:00 to 19:00 New York: past the 17:00-18:00 halt
    # the session that opened at 17:00 Chicago trades for the next date: two dates span the halt
    bars = ib.reqHistoricalData(es, "", "2 D", "1 min", "TRADES", False, formatDate=2)
    assert len(bars) > 100
    for b in bars:
        for price in (b.open, b.high, b.low, b.close):
            assert round(price / 0.25) * 0.25 == pytest.approx(price)
        assert 4000 < b.close < 5500
    hours = {pd.Timestamp(b.date).tz_convert("America/Chicago").hour for b in bars}
    assert 16 not in hours  # no bar in the 16:00-17:00 Chicago halt
    assert {15, 17} <= hours


def test_fx_history_midpoint_served_trades_refused(ib, ibc, client_errors):
    client_errors.allow(162)
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    mid = ib.reqHistoricalData(eur, "", "1 D", "5 mins", "MIDPOINT", False)
    assert mid
    assert all(1.0 < b.close < 1.2 for b in mid)
    # bid and ask are on the 0.00005 grid, one tick apart: the midpoint on the half-tick grid
    assert all(abs(b.close / 0.000025 - round(b.close / 0.000025)) < 1e-6 for b in mid)
    trades = ib.reqHistoricalData(eur, "", "1 D", "5 mins", "TRADES", False)
    assert len(trades) == 0
    text = " ".join(client_errors.messages())
    assert "No historical market data for EUR/CASH@FXSUBPIP Last" in text


def test_future_streaming_ticks_on_the_grid(ib, ibc, ib_sim, wait):
    (cl,) = ib.qualifyContracts(ibc.Future("CL", "202403", "NYMEX"))
    ticker = ib.reqMktData(cl)
    ib_sim.step(5)
    wait(ib, lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask and ticker.bid > 0)
    assert ticker.ask == pytest.approx(ticker.bid + 0.01)
    bars = ib.reqHistoricalData(cl, "", "3600 S", "1 min", "TRADES", False, keepUpToDate=True)
    n = len(bars)
    ib_sim.step(3)
    wait(ib, lambda: len(bars) > n)
    assert 50 < bars[-1].close < 100


def test_fx_quotes_without_trades_and_an_index_without_quotes(ib, ibc, ib_sim, wait):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    (spx,) = ib.qualifyContracts(ibc.Index("SPX", "CBOE", "USD"))
    fx_ticker, index_ticker = ib.reqMktData(eur), ib.reqMktData(spx)
    ib_sim.step(2)
    wait(ib, lambda: fx_ticker.bid > 0 and index_ticker.last > 0)
    assert fx_ticker.ask == pytest.approx(fx_ticker.bid + 0.00005)
    assert fx_ticker.last != fx_ticker.last  # NaN: IDEALPRO sends no trades
    assert not index_ticker.bid > 0  # an index is a computed value: no bid or ask


def _value(ib, tag, currency="USD"):
    for v in ib.accountValues():
        if v.tag == tag and v.currency == currency:
            return float(v.value)
    raise AssertionError(f"no {tag} in {currency}")


def test_future_order_fills_with_multiplier_pnl_and_margin(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    trade = ib.placeOrder(es, ibc.MarketOrder("BUY", 2))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    fill_price = trade.orderStatus.avgFillPrice
    assert round(fill_price / 0.25) * 0.25 == pytest.approx(fill_price)
    (pos,) = [p for p in ib.positions() if p.contract.conId == es.conId]
    assert pos.position == 2
    assert pos.avgCost == pytest.approx(fill_price * 50 + 2.25)  # per contract, commission in
    wait(ib, lambda: _value(ib, "InitMarginReq") == pytest.approx(2 * 13_200.0))
    assert _value(ib, "MaintMarginReq") == pytest.approx(2 * 12_000.0)
    ib_sim.set_price(es.localSymbol, fill_price + 10)  # ten points up
    ib_sim.step(1)
    summary = {}

    def summary_has_pnl() -> bool:
        summary.update({v.tag: float(v.value) for v in ib.accountSummary() if v.currency == "USD"})
        return summary.get("InitMarginReq") == 2 * 13_200.0

    wait(ib, summary_has_pnl)
    (item,) = [p for p in ib.portfolio() if p.contract.conId == es.conId]
    assert item.marketValue == pytest.approx(2 * 50 * item.marketPrice)  # as of the fill
    assert ib_sim.positions()[es.localSymbol] == 2
    points = ib_sim.price(es.localSymbol) - fill_price
    assert points != 0 and round(points / 0.25) * 0.25 == pytest.approx(points)
    assert summary["UnrealizedPnL"] == pytest.approx(2 * 50 * points, abs=0.01)
    # NetLiquidation: the starting cash, $50 a point on 2 contracts, less the commissions
    assert summary["NetLiquidation"] == pytest.approx(100_000 + 2 * 50 * points - 4.5, abs=0.02)
    assert summary["AvailableFunds"] == pytest.approx(summary["NetLiquidation"] - 26_400, abs=0.02)
    # selling closes the position: the P&L is realized in dollars per point
    close = ib.placeOrder(es, ibc.MarketOrder("SELL", 2))
    wait(ib, lambda: close.orderStatus.status == "Filled")
    exit_price = close.orderStatus.avgFillPrice
    wait(ib, lambda: close.fills and close.fills[-1].commissionReport.execId)
    realized = close.fills[-1].commissionReport.realizedPNL
    assert realized == pytest.approx(2 * 50 * (exit_price - fill_price) - 4 * 2.25, abs=0.01)
    wait(ib, lambda: _value(ib, "InitMarginReq") == 0)


def test_pnl_single_of_a_future(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202406", "CME"))
    trade = ib.placeOrder(es, ibc.MarketOrder("SELL", 1))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    price = trade.orderStatus.avgFillPrice
    account = ib.managedAccounts()[0]
    pnl = ib.reqPnLSingle(account, "", es.conId)
    ib_sim.set_price(es.localSymbol, price - 5)  # short: five points down is $250 up
    ib_sim.step(1)
    wait(ib, lambda: pnl.position == -1 and pnl.value == pnl.value and pnl.value != 0)
    now = ib_sim.price(es.localSymbol)
    assert pnl.value == pytest.approx(-50 * now)
    assert pnl.unrealizedPnL == pytest.approx(50 * (price - now) - 2.25, abs=0.01)


def test_what_if_future_order_shows_its_margin(ib, ibc):
    (cl,) = ib.qualifyContracts(ibc.Future("CL", "202403", "NYMEX"))
    state = ib.whatIfOrder(cl, ibc.MarketOrder("BUY", 3))
    assert float(state.initMarginChange) == pytest.approx(3 * 6_500.0)
    assert float(state.maintMarginChange) == pytest.approx(3 * 5_900.0)
    assert state.commission == pytest.approx(3 * 2.25)
    assert ib.positions() == []  # nothing traded


def test_future_order_beyond_margin_refused(ib, ibc, client_errors):
    client_errors.allow(201)
    (nq,) = ib.qualifyContracts(ibc.Future("NQ", "202403", "CME"))
    trade = ib.placeOrder(nq, ibc.MarketOrder("BUY", 6))  # 6 × 19,000 > 100,000
    ib.sleep(0.2)
    assert trade.orderStatus.status in ("Cancelled", "Inactive")
    assert "INITIAL MARGIN" in " ".join(client_errors.messages())


def test_fx_order_and_cash_per_currency(ib, ibc, ib_sim, wait):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    trade = ib.placeOrder(eur, ibc.MarketOrder("BUY", 20_000))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    price = trade.orderStatus.avgFillPrice
    wait(ib, lambda: any(v.currency == "EUR" for v in ib.accountValues()))
    assert _value(ib, "CashBalance", "EUR") == pytest.approx(20_000)
    rate = _value(ib, "ExchangeRate", "EUR")
    assert 1.0 < rate < 1.2
    commission = max(2.0, 0.00002 * 20_000 * price)
    # USD cash paid for the euros; the total in USD counts the euros at the rate
    assert _value(ib, "TotalCashValue") == pytest.approx(
        100_000 - 20_000 * price - commission + 20_000 * rate, abs=0.02
    )
    # USD.JPY: the base is dollars; selling dollars for yen leaves yen at 1 / USDJPY each
    (jpy,) = ib.qualifyContracts(ibc.Forex("USDJPY"))
    sell = ib.placeOrder(jpy, ibc.MarketOrder("SELL", 10_000))
    wait(ib, lambda: sell.orderStatus.status == "Filled")
    usdjpy = sell.orderStatus.avgFillPrice
    wait(ib, lambda: any(v.currency == "JPY" for v in ib.accountValues()))
    assert _value(ib, "CashBalance", "JPY") == pytest.approx(10_000 * usdjpy, abs=0.01)
    assert _value(ib, "ExchangeRate", "JPY") == pytest.approx(1 / ib_sim.price("USDJPY"), rel=1e-5)


def test_index_order_refused(ib, ibc, client_errors):
    client_errors.allow(201)
    (spx,) = ib.qualifyContracts(ibc.Index("SPX", "CBOE", "USD"))
    trade = ib.placeOrder(spx, ibc.MarketOrder("BUY", 1))
    ib.sleep(0.2)
    assert trade.orderStatus.status in ("Cancelled", "Inactive")
    assert "index" in " ".join(client_errors.messages())


def test_off_tick_limit_refused_with_110(ib, ibc, ib_sim, wait, client_errors):
    client_errors.allow(110)
    codes = []
    ib.errorEvent += lambda req_id, code, *rest: codes.append((req_id, code))
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    trade = ib.placeOrder(es, ibc.LimitOrder("BUY", 1, 4700.10))  # ES trades in 0.25s
    wait(ib, lambda: (trade.order.orderId, 110) in codes)
    stop = ib.placeOrder(es, ibc.StopOrder("SELL", 1, 4000.01))
    wait(ib, lambda: (stop.order.orderId, 110) in codes)
    # neither reached the book (ib_async cancels them; ib_insync keeps them PendingSubmit)
    assert trade.orderStatus.status in ("Cancelled", "PendingSubmit")
    held = {t.order.orderId for t in ib.reqAllOpenOrders()}
    assert not held & {trade.order.orderId, stop.order.orderId}
    ok = ib.placeOrder(es, ibc.LimitOrder("BUY", 1, 4000.25))  # on the grid: accepted
    wait(ib, lambda: ok.orderStatus.status in ("Submitted", "PreSubmitted"))


@pytest.mark.ib_sim(futures=["CL"], start="2024-01-23 00:50")  # 19:50 New York, Jan 22
def test_order_on_an_expired_month_refused(ib, ibc, ib_sim, wait, client_errors):
    client_errors.allow(200)
    months = ib.reqContractDetails(ibc.Future("CL", exchange="NYMEX"))
    assert months[0].contract.localSymbol == "CLG4"  # its last trading day is today
    (clg,) = ib.qualifyContracts(ibc.Future("CL", "202402", "NYMEX"))
    codes = []
    ib.errorEvent += lambda req_id, code, *rest: codes.append((req_id, code))
    ib_sim.step(15)  # to 20:05 New York on Jan 22: CLG4 stopped trading at 13:30 Chicago
    trade = ib.placeOrder(clg, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: (trade.order.orderId, 200) in codes)
    assert "CLG4" not in ib_sim.positions()
    (clh,) = ib.qualifyContracts(ibc.Future("CL", "202403", "NYMEX"))
    ok = ib.placeOrder(clh, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: ok.orderStatus.status == "Filled")
