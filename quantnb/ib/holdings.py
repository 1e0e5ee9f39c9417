"""What an account holds on the gateway, asked once: the order refs it knows and its positions.

Used before a journal is resumed, to tell the gateway it traded on from a fresh one.
"""

from __future__ import annotations

from quantnb.ib.client import ExecutionFilter
from quantnb.ib.connection import IBConnection


async def gateway_holdings(connection: IBConnection) -> tuple[set[str], dict[str, float]]:
    """The ``orderRef`` of every open order and of today's executions of the account, and its
    stock positions by symbol (non-zero only)."""
    ib = connection.ib
    account = connection.account or ""

    def ours(name: str) -> bool:
        return not name or not account or name == account

    trades = await ib.reqAllOpenOrdersAsync()
    fills = await ib.reqExecutionsAsync(ExecutionFilter(acctCode=account))
    positions = await ib.reqPositionsAsync()
    refs = {t.order.orderRef for t in trades if t.order.orderRef and ours(t.order.account)}
    refs |= {f.execution.orderRef for f in fills if f.execution.orderRef}
    held = {
        p.contract.symbol: float(p.position)
        for p in positions
        if ours(p.account) and p.contract.secType in ("STK", "") and p.position
    }
    return refs, held
