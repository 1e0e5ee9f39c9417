"""IB's own client reads the contract details of a future, an FX pair and an index."""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.ibapi,
    pytest.mark.timeout(60),
    pytest.mark.ib_sim(futures=["ES"], fx=["EURUSD"], indices=["SPX"]),
]


def _contract(sec_type: str, symbol: str, exchange: str, currency: str = "USD", month: str = ""):
    from ibapi.contract import Contract

    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, sec_type, exchange, currency
    c.lastTradeDateOrContractMonth = month
    return c


def _details(client, req_id: int, contract) -> list:
    client.client.reqContractDetails(req_id, contract)
    client.wait_for("contractDetailsEnd", lambda r: r == req_id)
    return [d for r, d in client.all("contractDetails") if r == req_id]


def test_future_contract_details(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    (d,) = _details(client, 31, _contract("FUT", "ES", "CME", month="202403"))
    c = d.contract
    assert (c.symbol, c.secType, c.exchange, c.localSymbol) == ("ES", "FUT", "CME", "ESH4")
    assert c.lastTradeDateOrContractMonth == "20240315" and d.lastTradeTime == "08:30"
    assert (c.multiplier, d.minTick, c.tradingClass) == ("50", 0.25, "ES")
    assert (d.contractMonth, d.timeZoneId, d.realExpirationDate) == ("202403", "US/Central",
                                                                      "20240315")  # fmt: skip
    assert d.tradingHours.startswith("20240102:1700-20240103:1600")
    months = _details(client, 32, _contract("FUT", "ES", "CME"))
    assert [m.contract.localSymbol for m in months] == ["ESH4", "ESM4", "ESU4", "ESZ4"]


def test_fx_and_index_contract_details(ib_sim, ibapi_connect):
    client = ibapi_connect(ib_sim)
    (eur,) = _details(client, 33, _contract("CASH", "EUR", "IDEALPRO"))
    assert (eur.contract.localSymbol, eur.minTick, eur.contract.conId) == (
        "EUR.USD", 0.00005, 12087792,
    )  # fmt: skip
    (spx,) = _details(client, 34, _contract("IND", "SPX", "CBOE"))
    assert (spx.contract.secType, spx.contract.conId) == ("IND", 416904)
