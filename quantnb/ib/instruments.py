"""Instruments as IB wants them: the contract to qualify, the history series, order quantities
and prices on the tick grid.

A plain string stays a US stock on SMART (``quantnb.ib.contracts.stock``); an ``Instrument``
maps to a ``Future`` (by month), a ``ContFuture`` (continuous: history only), a ``Forex`` pair
on IDEALPRO or an ``Index``.
"""

from __future__ import annotations

import math
from typing import Any

from quantnb.domain.instrument import Instrument, Kind
from quantnb.domain.order_rules import on_grid
from quantnb.errors import OrderError
from quantnb.ib.client import ContFuture, Forex, Future, Index, Stock


def ib_contract(inst: Instrument) -> Any:
    """The unqualified IB contract of ``inst``."""
    if inst.kind is Kind.FUTURE:
        if inst.continuous or not inst.expiry:
            return ContFuture(inst.symbol, inst.exchange, currency=inst.currency)
        return Future(
            inst.symbol,
            inst.expiry.replace("-", ""),
            inst.exchange,
            multiplier=f"{inst.multiplier:g}",
            currency=inst.currency,
            tradingClass=inst.trading_class,
        )
    if inst.kind is Kind.FX:
        return Forex(inst.symbol + inst.currency, exchange="IDEALPRO")
    if inst.kind is Kind.INDEX:
        return Index(inst.symbol, inst.exchange, inst.currency)
    return Stock(inst.symbol, inst.exchange, inst.currency)


def history_series(inst: Instrument, asked: str = "TRADES") -> str:
    """The ``whatToShow`` to ask for: an FX pair has no trades at IB, so MIDPOINT."""
    if inst.kind is Kind.FX and asked.upper() in ("TRADES", "ADJUSTED_LAST"):
        return "MIDPOINT"
    return asked


def order_quantity(inst: Instrument, qty: float) -> float:
    """The ``totalQuantity`` IB takes: whole contracts for a future, base-currency units for an
    FX pair, shares for a stock; OrderError for a fraction of a contract."""
    if inst.kind is Kind.FUTURE and abs(qty - round(qty)) > 1e-9:
        raise OrderError(
            f"{inst.name}: {qty!r} is not a whole number of contracts; futures trade in whole "
            "contracts"
        )
    return float(round(qty)) if inst.kind is Kind.FUTURE else float(qty)


def order_price(inst: Instrument, price: float, what: str = "limit") -> float:
    """``price`` as IB takes it on the instrument's tick grid; OrderError (IB's error 110 before
    it is sent) when it is off the grid."""
    if inst.kind is Kind.STOCK:
        return float(price)
    tick = inst.tick_size
    steps = price / tick
    if not on_grid(price, tick):  # the backtest's rule, so both modes refuse the same prices
        below = math.floor(steps) * tick
        raise OrderError(
            f"{inst.name}: {what} price {price!r} is not on the {tick:g} tick grid (IB refuses "
            f"it with error 110); use {below:.10g} or {below + tick:.10g}"
        )
    digits = max(0, math.ceil(-math.log10(tick)) + 1)
    return round(round(steps) * tick, digits)


def check_tradable(inst: Instrument) -> None:
    """OrderError for what IB does not trade: an index, or a continuous future (order its
    current contract month)."""
    if inst.kind is Kind.INDEX:
        raise OrderError(f"{inst.name} is an index: data only, it cannot be traded")
    if inst.kind is Kind.FUTURE and (inst.continuous or not inst.expiry):
        raise OrderError(
            f"{inst.name} is a continuous future: order its current month, e.g. "
            f"qn.future({inst.symbol!r}, 'YYYY-MM')"
        )
