"""Futures margin: initial margin per contract to open, maintenance margin to carry.

The rule, the same in a backtest and live: an order that adds contracts needs
``added × initial margin + commission`` of available funds (equity less the initial margin of
what is held); a position is carried while equity covers the maintenance margin of everything
held. When it does not, a margin call is recorded and positions are liquidated by this rule:
market orders at the next bar's open, the position with the largest maintenance margin first,
as many contracts as cover the shortfall, then the next largest, until it is covered.

An FX order that adds exposure needs ``FX_MARGIN`` of its trade value (IB asks about 3% for
the major pairs); FX positions take no part in margin calls here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from quantnb.domain.accounting import Portfolio
from quantnb.domain.instrument import Instrument, Kind
from quantnb.domain.model import Order

FX_MARGIN = 0.03  # of the trade value, for FX orders that add exposure


@dataclass(frozen=True, slots=True)
class MarginCall:
    """Equity below the maintenance margin of the futures held, and what was liquidated."""

    time: pd.Timestamp | None
    equity: float
    maintenance: float
    shortfall: float
    liquidate: tuple[tuple[str, float], ...]  # (instrument name, signed contracts to trade)


def _futures(pf: Portfolio) -> Iterable[tuple[Instrument, float]]:
    for name, inst in pf.instruments.items():
        if inst.kind is Kind.FUTURE and not inst.continuous:
            qty = pf.positions[name].qty if name in pf.positions else 0.0
            if qty:
                yield inst, qty


def per_contract(pf: Portfolio, inst: Instrument, which: str = "initial") -> float:
    """One contract's margin in the base currency (0 for an instrument without margin)."""
    value = inst.margin_initial if which == "initial" else inst.margin_maintenance
    return float(value or 0.0) * pf.rate(inst.currency)


def margin_in_use(pf: Portfolio, which: str = "initial") -> float:
    """The initial (or ``"maintenance"``) margin of every futures position held."""
    return sum(abs(qty) * per_contract(pf, inst, which) for inst, qty in _futures(pf))


def available_funds(pf: Portfolio) -> float:
    """Equity less the initial margin in use: what may open more contracts (IB's AvailableFunds)."""
    return pf.equity - margin_in_use(pf, "initial")


def excess_liquidity(pf: Portfolio) -> float:
    """Equity less the maintenance margin in use; below zero is a margin call."""
    return pf.equity - margin_in_use(pf, "maintenance")


def check_order(
    order: Order,
    inst: Instrument,
    pf: Portfolio,
    working: Iterable[Order],
    commission: float,
    price: float = 0.0,
    free: float | None = None,
) -> tuple[bool, str]:
    """Whether the account has the initial margin for the contracts ``order`` adds (counting
    the working orders on the same contract), and why not. ``free`` is the available funds
    when the account reports them (a live gateway); else they are the portfolio's."""
    held = pf.position(order.symbol).qty
    pending = sum(
        o.remaining * o.side.sign
        for o in working
        if o.symbol == order.symbol and o.parent_id is None and o is not order
    )
    before = held + pending
    added = abs(before + order.signed_qty) - abs(before)
    if added <= 0:
        return True, ""
    if inst.kind is Kind.FX:
        each = FX_MARGIN * price * pf.rate(inst.currency)
    else:
        each = per_contract(pf, inst)
    need = added * each + commission
    if free is None:
        free = available_funds(pf)
    if need > free + 1e-9:
        return False, (
            f"insufficient margin: {order.side} {order.qty:g} {order.symbol} needs initial "
            f"margin {added:g} × {each:,.2f} + commission {commission:,.2f} = "
            f"{need:,.2f}, available funds {free:,.2f}"
        )
    return True, ""


def margin_call(pf: Portfolio, time: pd.Timestamp | None = None) -> MarginCall | None:
    """A margin call when equity is below the maintenance margin, with the contracts to trade
    to cover it (largest maintenance margin first); None when the positions can be carried."""
    maintenance = margin_in_use(pf, "maintenance")
    equity = pf.equity
    shortfall = maintenance - equity
    if shortfall <= 1e-9:
        return None
    plan: list[tuple[str, float]] = []
    left = shortfall
    held = sorted(_futures(pf), key=lambda x: -abs(x[1]) * per_contract(pf, x[0], "maintenance"))
    for inst, qty in held:
        if left <= 0:
            break
        each = per_contract(pf, inst, "maintenance")
        n = min(abs(qty), math.ceil(left / each)) if each > 0 else abs(qty)
        plan.append((inst.name, -math.copysign(n, qty)))
        left -= n * each
    return MarginCall(time, equity, maintenance, shortfall, tuple(plan))
