"""Contract details and qualification for the simulated universe."""

from __future__ import annotations

import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def test_qualify_fills_in_stable_contract_ids(ib, ibc):
    aapl, msft = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"), ibc.Stock("MSFT", "SMART"))
    assert aapl.conId == 265598 and msft.conId == 272093
    assert aapl.primaryExchange == "NASDAQ"
    assert aapl.secType == "STK" and aapl.currency == "USD"


def test_contract_details_fields(ib, ibc):
    (details,) = ib.reqContractDetails(ibc.Stock("SPY", "SMART", "USD"))
    assert details.contract.symbol == "SPY"
    assert details.minTick == 0.01
    assert details.timeZoneId == "US/Eastern"
    assert "LMT" in details.orderTypes
    assert details.stockType == "COMMON"


def test_lookup_by_con_id(ib, ibc):
    (details,) = ib.reqContractDetails(ibc.Contract(conId=265598))
    assert details.contract.symbol == "AAPL"


def test_unknown_symbol_gets_error_200(ib, ibc, client_errors):
    client_errors.allow(200, "Unknown contract")
    codes = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    assert ib.reqContractDetails(ibc.Stock("NOPE", "SMART", "USD")) == []
    assert codes == [200]


def test_ids_are_the_same_in_every_simulator(connect, ibc):
    first = GatewaySimulator(mode="manual", symbols=["ZZZ", "QQQ"])
    second = GatewaySimulator(mode="manual", symbols=["QQQ", "ZZZ"])
    with first, second:
        ib1, ib2 = connect(first, client_id=1), connect(second, client_id=2)
        ids = [
            [
                c.conId
                for c in ib.qualifyContracts(ibc.Stock("ZZZ", "SMART"), ibc.Stock("QQQ", "SMART"))
            ]
            for ib in (ib1, ib2)
        ]
        ib1.disconnect()
        ib2.disconnect()
    assert ids[0] == ids[1]
    assert all(ids[0])


def test_matching_symbols(ib):
    found = ib.reqMatchingSymbols("MS")
    assert [d.contract.symbol for d in found] == ["MSFT"]
