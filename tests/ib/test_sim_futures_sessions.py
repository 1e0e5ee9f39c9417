"""Futures and FX trade their own sessions on the simulator, as at IB: CME Globex from 17:00
Chicago the evening before with the daily 16:00-17:00 halt, IDEALPRO from Sunday 17:00 New York;
expiries and holidays from the exchange calendar; the account reports values per currency."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [
    pytest.mark.ib,
    # Wednesday 10 January 2024, 10:00 New York
    pytest.mark.ib_sim(futures=["ES", "CL"], fx=["EURUSD", "USDJPY"], start="2024-01-10 15:00"),
]
NY = "America/New_York"


def _times(bars) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(b.date) for b in bars]).tz_convert(NY)


def test_es_history_has_the_night_session_and_no_halt_or_weekend(ib, ibc):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    bars = ib.reqHistoricalData(es, "", "1 W", "5 mins", "TRADES", False, formatDate=2)
    t = _times(bars)
    tuesday_night = pd.Timestamp("2024-01-09 20:00", tz=NY)
    assert tuesday_night in t  # Globex trades through the New York night
    assert pd.Timestamp("2024-01-08 03:00", tz=NY) in t
    assert not ((t.hour == 17) & (t.day_of_week < 5)).any()  # the 17:00-18:00 New York halt
    assert not (t.day_of_week == 5).any()  # Saturday
    sunday = t[t.day_of_week == 6]
    assert len(sunday) and sunday.min() == pd.Timestamp("2024-01-07 18:00", tz=NY)
    assert not (t[t.day_of_week == 4].hour >= 17).any()  # Friday ends at the halt
    # useRTH: the day session IB lists in liquidHours, 08:30-15:00 Chicago
    rth = _times(ib.reqHistoricalData(es, "", "1 W", "5 mins", "TRADES", True, formatDate=2))
    chicago = rth.tz_convert("America/Chicago")
    minutes = chicago.hour * 60 + chicago.minute
    assert len(rth) and (minutes >= 8 * 60 + 30).all() and (minutes < 15 * 60).all()
    assert pd.Timestamp("2024-01-09 14:55", tz="America/Chicago") in chicago


def test_es_daily_bars_are_dated_by_the_session_that_opened_the_evening_before(ib, ibc):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    daily = ib.reqHistoricalData(es, "", "5 D", "1 day", "TRADES", False)
    days = [pd.Timestamp(b.date).strftime("%Y-%m-%d") for b in daily]
    # the Sunday-evening hours belong to Monday's bar: no Sunday or Saturday bar
    assert days == ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10"]
    minute = ib.reqHistoricalData(es, "", "1 D", "1 min", "TRADES", False, formatDate=2)
    first = _times(minute)[0]
    assert first == pd.Timestamp("2024-01-09 18:00", tz=NY)  # today's session opened then


def test_fx_history_from_sunday_1700_through_the_futures_halt(ib, ibc):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    bars = ib.reqHistoricalData(eur, "", "1 W", "5 mins", "MIDPOINT", False, formatDate=2)
    t = _times(bars)
    assert pd.Timestamp("2024-01-07 17:05", tz=NY) in t  # Sunday 17:05 New York
    assert t[t.day_of_week == 6].min() == pd.Timestamp("2024-01-07 17:00", tz=NY)
    assert pd.Timestamp("2024-01-08 17:30", tz=NY) in t  # no daily halt on IDEALPRO
    assert not (t.day_of_week == 5).any()
    assert not (t[t.day_of_week == 4].hour >= 17).any()  # the week ends Friday 17:00
    # FX's liquid hours are its whole session: useRTH keeps the night
    rth = _times(ib.reqHistoricalData(eur, "", "2 D", "5 mins", "MIDPOINT", True, formatDate=2))
    assert pd.Timestamp("2024-01-09 22:00", tz=NY) in rth


@pytest.mark.ib_sim(
    futures=["ES"], fx=["EURUSD"], symbols=["AAPL"], start="2024-01-10 00:30"
)  # Tuesday 19:30 New York
def test_night_orders_and_streaming_bars(ib, ibc, ib_sim, wait, aapl):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    bars = ib.reqHistoricalData(es, "", "1800 S", "1 min", "TRADES", False, keepUpToDate=True)
    ib_sim.step(60)  # to 20:30: after-hours for stocks are over, Globex trades on
    wait(ib, lambda: _times(bars)[-1] >= pd.Timestamp("2024-01-09 20:29", tz=NY))
    assert ib_sim.now.tz_convert(NY).floor("h") == pd.Timestamp("2024-01-09 20:00", tz=NY)
    future = ib.placeOrder(es, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: future.orderStatus.status == "Filled")
    stock = ib.placeOrder(aapl, ibc.LimitOrder("BUY", 1, 10_000, outsideRth=True))
    ib_sim.step(5)
    wait(ib, lambda: stock.orderStatus.status == "Submitted")
    assert stock.orderStatus.filled == 0  # no stock market at 20:35 New York
    ib.cancelOrder(stock.order)


@pytest.mark.ib_sim(futures=["ES"], start="2024-01-10 21:50")  # Wednesday 16:50 New York
def test_no_futures_fill_in_the_daily_halt(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    ib_sim.step(15)  # 17:05 New York: the halt
    trade = ib.placeOrder(es, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.step(30)  # to 17:35, still halted
    assert not ib_sim.positions()
    assert ib_sim.now.tz_convert(NY).hour == 17
    ib_sim.step(30)  # 18:05: Globex reopened
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    assert ib_sim.positions() == {es.localSymbol: 1}


@pytest.mark.ib_sim(futures=["ES"], start="2024-01-10 21:50")  # Wednesday 16:50 New York
def test_no_streamed_bar_in_the_daily_halt(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    bars = ib.reqHistoricalData(es, "", "1800 S", "1 min", "TRADES", False, keepUpToDate=True)
    ib_sim.step(20)  # to 17:10, halted since 17:00
    ib.sleep(0.2)
    assert ib_sim.now.tz_convert(NY).hour == 17  # in the halt
    assert _times(bars)[-1] == pd.Timestamp("2024-01-10 16:59", tz=NY)  # nothing after it yet
    ib_sim.step(55)  # to 18:05: Globex reopened at 18:00
    wait(ib, lambda: _times(bars)[-1] >= pd.Timestamp("2024-01-10 18:04", tz=NY))
    times = _times(bars)
    halted = (times >= pd.Timestamp("2024-01-10 17:00", tz=NY)) & (
        times < pd.Timestamp("2024-01-10 18:00", tz=NY)
    )
    assert not halted.any()


@pytest.mark.ib_sim(fx=["EURUSD"], start="2024-01-13 00:50")  # Friday 19:50 New York
def test_the_clock_passes_the_weekend_to_sunday_1700(ib, ibc, ib_sim, wait):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    trade = ib.placeOrder(eur, ibc.MarketOrder("BUY", 20_000))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib_sim.step(9)  # to 20:00 Friday: stocks' after-hours end, IDEALPRO closed since 17:00
    assert ib_sim.now.tz_convert(NY) == pd.Timestamp("2024-01-12 20:00", tz=NY)
    assert not ib_sim.positions()
    ib_sim.step(1)  # the next bar is Sunday 17:00 New York's
    assert ib_sim.now.tz_convert(NY) == pd.Timestamp("2024-01-14 17:01", tz=NY)
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    assert ib_sim.positions() == {"EURUSD": 20_000}


def test_contract_details_hours_in_ib_format(ib, ibc):
    (es,) = ib.reqContractDetails(ibc.Future("ES", "202403", "CME"))
    # Martin Luther King day, Monday 15 January 2024: Globex closes early at 12:00 Chicago
    assert "20240114:1700-20240115:1200" in es.tradingHours
    assert "20240115:0830-20240115:1200" in es.liquidHours
    assert "20240113:CLOSED" in es.tradingHours
    (eur,) = ib.reqContractDetails(ibc.Forex("EURUSD"))
    assert eur.timeZoneId == "US/Eastern"
    assert eur.tradingHours.startswith("20240109:1700-20240110:1700;")
    assert "20240113:CLOSED" in eur.tradingHours
    assert "20240114:1700-20240115:1700" in eur.tradingHours


@pytest.mark.ib_sim(futures=["ES"], start="2026-05-04 15:00")
def test_es_expiry_moved_by_the_juneteenth_holiday(ib, ibc):
    # 19 June 2026 is the third Friday of June and a NYSE holiday (Juneteenth), while CME is
    # open: the contract settles on the NYSE's open, so it stops trading on Thursday the 18th
    (cd,) = ib.reqContractDetails(ibc.Future("ES", "202606", "CME"))
    assert cd.contract.lastTradeDateOrContractMonth == "20260618"
    (sept,) = ib.reqContractDetails(ibc.Future("ES", "202609", "CME"))
    assert sept.contract.lastTradeDateOrContractMonth == "20260918"  # an ordinary third Friday


@pytest.mark.ib_sim(futures=["CL"], start="2023-12-01 15:00")
def test_cl_expiry_counts_exchange_business_days(ib, ibc):
    # CLF4: the 25th of December 2023 is a holiday, so trading ends four business days before
    # it (Tuesday 19 December), not three weekdays before (Wednesday 20 December)
    (cd,) = ib.reqContractDetails(ibc.Future("CL", "202401", "NYMEX"))
    assert cd.contract.lastTradeDateOrContractMonth == "20231219"


def _values(ib) -> dict[tuple[str, str], float]:
    out = {}
    for v in ib.accountValues():
        try:
            out[(v.tag, v.currency)] = float(v.value)
        except ValueError:
            continue
    return out


def test_account_values_per_currency_after_fx_trades(ib, ibc, ib_sim, wait):
    (eur,) = ib.qualifyContracts(ibc.Forex("EURUSD"))
    (jpy,) = ib.qualifyContracts(ibc.Forex("USDJPY"))
    buy = ib.placeOrder(eur, ibc.MarketOrder("BUY", 20_000))
    sell = ib.placeOrder(jpy, ibc.MarketOrder("SELL", 10_000))
    wait(ib, lambda: buy.orderStatus.status == sell.orderStatus.status == "Filled")
    wait(ib, lambda: ("CashBalance", "JPY") in _values(ib))
    eur_price, jpy_price = buy.orderStatus.avgFillPrice, sell.orderStatus.avgFillPrice
    commissions = max(2.0, 0.00002 * 20_000 * eur_price) + max(2.0, 0.00002 * 10_000)
    v = _values(ib)
    # each currency in its own: dollars paid for euros, dollars sold for yen
    usd = 100_000 - 20_000 * eur_price - 10_000 - commissions
    assert v[("CashBalance", "USD")] == pytest.approx(usd, abs=0.02)
    assert v[("TotalCashBalance", "USD")] == pytest.approx(usd, abs=0.02)
    assert v[("CashBalance", "EUR")] == pytest.approx(20_000)
    assert v[("CashBalance", "JPY")] == pytest.approx(10_000 * jpy_price, abs=0.01)
    rate_eur, rate_jpy = v[("ExchangeRate", "EUR")], v[("ExchangeRate", "JPY")]
    assert v[("ExchangeRate", "USD")] == v[("ExchangeRate", "BASE")] == 1.0
    assert rate_eur == pytest.approx(ib_sim.price("EURUSD"), rel=1e-6)
    assert rate_jpy == pytest.approx(1 / ib_sim.price("USDJPY"), rel=1e-5)
    # BASE: everything in dollars at the rates, what TotalCashValue reports
    total = usd + 20_000 * rate_eur + 10_000 * jpy_price * rate_jpy
    assert v[("CashBalance", "BASE")] == pytest.approx(total, abs=0.05)
    assert v[("TotalCashValue", "USD")] == pytest.approx(total, abs=0.05)
    assert v[("NetLiquidationByCurrency", "EUR")] == pytest.approx(20_000)
    assert v[("NetLiquidationByCurrency", "BASE")] == pytest.approx(v[("NetLiquidation", "USD")])
    # positions are in their own currency: USD.JPY's market value in yen
    (item,) = [p for p in ib.portfolio() if p.contract.conId == jpy.conId]
    assert item.contract.currency == "JPY"
    assert item.marketValue == pytest.approx(-10_000 * item.marketPrice, rel=1e-6)
    # the ledger summary per currency agrees
    ledger = {
        (a.tag, a.currency): float(a.value)
        for a in ib.accountSummary()
        if a.tag in ("CashBalance", "ExchangeRate")
    }
    assert ledger[("CashBalance", "USD")] == pytest.approx(usd, abs=0.02)
    assert ledger[("CashBalance", "EUR")] == pytest.approx(20_000)
    assert ledger[("CashBalance", "BASE")] == pytest.approx(total, abs=0.05)


@pytest.mark.ib_sim(futures=["ES"], start="2024-01-10 20:40")  # Wednesday 14:40 Chicago
def test_futures_settle_daily_into_cash(ib, ibc, ib_sim, wait):
    (es,) = ib.qualifyContracts(ibc.Future("ES", "202403", "CME"))
    trade = ib.placeOrder(es, ibc.MarketOrder("BUY", 1))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    price = trade.orderStatus.avgFillPrice
    before = ib_sim.account_values()
    assert before["TotalCashValue"] == pytest.approx(100_000 - 2.25)  # no cash moves on a trade
    ib_sim.step(30)  # to 15:10 Chicago: past the 15:00 daily settlement
    bars = ib.reqHistoricalData(es, "", "1800 S", "1 min", "TRADES", False, formatDate=2)
    (settle,) = [b.close for b in bars if _times([b])[0].tz_convert("America/Chicago").hour == 14
                 and _times([b])[0].minute == 59]  # fmt: skip
    last = ib_sim.price(es.localSymbol)
    assert settle != price and last != settle
    # the day's P&L is paid into cash at the settlement price; what moved since is FuturesPNL
    cash = 100_000 - 2.25 + 50 * (settle - price)
    wait(ib, lambda: _values(ib).get(("TotalCashValue", "USD")) == pytest.approx(cash, abs=0.01))
    assert _values(ib)[("CashBalance", "USD")] == pytest.approx(cash, abs=0.01)
    now = ib_sim.account_values()  # the client hears the values as of the settlement
    assert now["FuturesPNL"] == pytest.approx(50 * (last - settle), abs=0.01)
    assert now["NetLiquidation"] == pytest.approx(100_000 - 2.25 + 50 * (last - price), abs=0.01)
    # closing pays the rest; the realized P&L is still against the price paid
    close = ib.placeOrder(es, ibc.MarketOrder("SELL", 1))
    wait(ib, lambda: close.fills and close.fills[-1].commissionReport.execId)
    exit_price = close.orderStatus.avgFillPrice
    realized = close.fills[-1].commissionReport.realizedPNL
    assert realized == pytest.approx(50 * (exit_price - price) - 4.5, abs=0.01)
    after = ib_sim.account_values()
    assert after["TotalCashValue"] == pytest.approx(100_000 - 4.5 + 50 * (exit_price - price))
    assert after["FuturesPNL"] == 0
