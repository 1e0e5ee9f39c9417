"""What-if orders: the margin and commission an order would cost, and nothing traded.

IB answers ``order.whatIf=True`` with one openOrder whose order state carries the figures; it
never works or fills the order, keeps no record and sends no orderStatus. The figures come from
the simulator's one cost model and the account's own margin rules (``Account.values``), applied
to a copy of the portfolio as if the order had filled at the price it would trade at now.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

from quantnb.domain.matching import match
from quantnb.domain.model import Fill, Side
from quantnb.sim.records import PRE_SUBMITTED, WhatIfState

if TYPE_CHECKING:
    from quantnb.sim.account import Account, Event
    from quantnb.sim.contracts import SimContract
    from quantnb.sim.placement import OrderRequest


def what_if(account: Account, client_id: int, req: OrderRequest) -> list[Event]:
    """The answer to a what-if order: its figures, or error 201 when IB would refuse it."""
    problem = account.check(client_id, req)
    if problem:
        return [("error", client_id, req.order_id, 201, f"Order rejected - reason:{problem}")]
    order = account.domain_order(client_id, req)
    symbol = order.symbol
    last = account.market.last[symbol]
    hit = match(order, last, last, last, last)
    if hit is not None:
        price, slips = hit
        price = account.costs.fill_price(price, order.side.value) if slips else price
    else:  # it would rest: judged at its own price
        price = order.limit or order.stop or last
    before = account.values()
    if not req.contract.is_stock:  # a future or pair: the ledger's commission and margin
        price = order.limit or order.stop or last
        c = req.contract
        commission = account.ledger.commission(c, req.qty, price, account.rate(c.currency))
        low = high = commission
        signed = req.qty if order.side is Side.BUY else -req.qty
        after = _ledger_after(account, c, signed, price, commission)
    else:
        costs = account.costs
        commission = costs.commission(req.qty, price)
        worst = order.limit if order.limit is not None else price
        low, high = sorted((commission, costs.commission(req.qty, worst)))
        after = _values_after(
            account, Fill("what-if", symbol, order.side, req.qty, price, commission, order.created)
        )
    state = WhatIfState(
        init_margin=_stages(before, after, "InitMarginReq"),
        maint_margin=_stages(before, after, "MaintMarginReq"),
        equity_with_loan=_stages(before, after, "EquityWithLoanValue"),
        commission=round(commission, 4),
        min_commission=round(low, 4),
        max_commission=round(high, 4),
    )
    rec = replace(account.record(client_id, req, perm_id=0), status=PRE_SUBMITTED)
    return [("whatif", rec, state)]


def _values_after(account: Account, fill: Fill) -> dict[str, float]:
    """The account values with ``fill`` booked on a copy of the portfolio."""
    real = account.portfolio
    trial = copy.deepcopy(real)
    trial.apply_fill(fill)
    trial.mark(fill.symbol, account.market.last[fill.symbol])
    account.portfolio = trial
    try:
        return account.values()
    finally:
        account.portfolio = real


def _ledger_after(
    account: Account, contract: SimContract, signed: float, price: float, commission: float
) -> dict[str, float]:
    """The account values with a futures or FX trade booked on a copy of the ledger."""
    real = account.ledger
    trial = copy.deepcopy(real)
    trial.book(contract, signed, price, commission)
    account.ledger = trial
    try:
        return account.values()
    finally:
        account.ledger = real


def _stages(before: dict[str, float], after: dict[str, float], tag: str) -> tuple[float, ...]:
    return before[tag], after[tag] - before[tag], after[tag]
