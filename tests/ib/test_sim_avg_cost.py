"""Positions' average cost includes commissions, as IB reports it (position, portfolio, multi)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


def _trade(ib, aapl, ibc, wait, action, qty):
    trade = ib.placeOrder(aapl, ibc.MarketOrder(action, qty))
    wait(ib, lambda: trade.isDone() and trade.fills and trade.fills[-1].commissionReport.execId)
    return trade.fills[0]


def _reported(ib, aapl, wait):
    """avgCost of AAPL in the position (61), portfolio (7) and positionMulti (71) messages."""
    multi: list[float] = []
    ib.wrapper.positionMulti = lambda req_id, account, model, contract, pos, avg: multi.append(avg)
    ib.client.reqPositionsMulti(ib.client.getReqId(), ib.managedAccounts()[0], "")
    (pos,) = ib.reqPositions()
    wait(ib, lambda: multi)
    (item,) = [p for p in ib.portfolio() if p.contract.conId == aapl.conId]
    return pos, item, multi[-1]


def test_avg_cost_is_cost_plus_commissions_per_share(ib_sim, ib, aapl, ibc, wait):
    first = _trade(ib, aapl, ibc, wait, "BUY", 100)
    ib_sim.step()
    second = _trade(ib, aapl, ibc, wait, "BUY", 50)
    paid = sum(f.execution.shares * f.execution.price for f in (first, second))
    fees = first.commissionReport.commission + second.commissionReport.commission
    expected = (paid + fees) / 150
    assert expected > paid / 150  # the commission is in it
    wait(ib, lambda: ib.portfolio() and ib.portfolio()[0].position == 150)
    pos, item, multi = _reported(ib, aapl, wait)
    assert pos.position == 150 and pos.avgCost == pytest.approx(expected, abs=1e-6)
    assert item.averageCost == pytest.approx(expected, abs=1e-6)
    assert multi == pytest.approx(expected, abs=1e-6)
    # IB's unrealized P&L is measured from that cost
    assert item.unrealizedPNL == pytest.approx(item.marketValue - 150 * expected, abs=1e-3)

    # selling part keeps the average cost of the shares still held
    _trade(ib, aapl, ibc, wait, "SELL", 60)
    wait(ib, lambda: ib.portfolio()[0].position == 90)
    pos, item, multi = _reported(ib, aapl, wait)
    assert pos.avgCost == pytest.approx(expected, abs=1e-6)
    assert item.averageCost == multi == pytest.approx(expected, abs=1e-6)


@pytest.mark.ib_sim(account_type="margin")
def test_short_avg_cost_is_proceeds_less_commission_per_share(ib_sim, ib, aapl, ibc, wait):
    fill = _trade(ib, aapl, ibc, wait, "SELL", 40)
    proceeds = 40 * fill.execution.price - fill.commissionReport.commission
    wait(ib, lambda: ib.positions() and ib.positions()[0].position == -40)
    pos, item, multi = _reported(ib, aapl, wait)
    assert pos.avgCost == pytest.approx(proceeds / 40, abs=1e-6)
    assert item.averageCost == multi == pytest.approx(proceeds / 40, abs=1e-6)
