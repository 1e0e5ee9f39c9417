"""Instruments in a live session: symbols may be futures months, FX pairs or indices as well as
stock tickers. Their names key the session's series, orders and positions; the instruments are
registered with the gateway's contract cache (which contract to ask for) and with each portfolio
(multiplier, currency), and an FX pair's bars give the portfolios its exchange rate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from quantnb.domain import checks
from quantnb.domain.accounting import Portfolio
from quantnb.domain.instrument import Instrument, Kind
from quantnb.errors import ConfigError

log = logging.getLogger(__name__)


def split_symbols(value: Any) -> tuple[tuple[str, ...], dict[str, Instrument]]:
    """The names of ``value`` (ticker strings and Instruments, checked as symbols are) and the
    Instruments among them by name."""
    items = [value] if isinstance(value, str | Instrument) else value
    found: dict[str, Instrument] = {}
    if isinstance(items, Iterable) and not isinstance(items, bytes | dict):
        items = list(items)
        for item in items:
            if isinstance(item, Instrument):
                _check_live(item)
                found[item.name.strip().upper()] = item
        items = [i.name if isinstance(i, Instrument) else i for i in items]
    return checks.symbols(items), found


def _check_live(inst: Instrument) -> None:
    if inst.kind is Kind.FUTURE and not (inst.continuous or inst.expiry):
        raise ConfigError(
            f"{inst.name} is a future without a contract month: use qn.future({inst.symbol!r}, "
            "'YYYY-MM') or qn.continuous(" + repr(inst.symbol) + ")"
        )


def register(
    instruments: dict[str, Instrument],
    contracts: Any,
    account: Portfolio,
    ledger: Any,
    journal: Any,
) -> None:
    """Tell the contract cache, the account's portfolio and the session's ledger (which books
    its journaled fills again by the instruments' rules) about the session's instruments."""
    for inst in instruments.values():
        contracts.register(inst)
        account.add_instrument(inst)
    ledger.add_instruments(instruments.values(), journal)


async def qualify(instruments: dict[str, Instrument], contracts: Any) -> None:
    """Look the instruments up with the gateway (cached), so that its reports on them (positions,
    executions) are known by their names; one it does not know is left to the start's check."""
    for name in instruments:
        try:
            await contracts.qualify(name)
        except Exception as exc:
            log.info("could not look up %s yet: %s", name, exc)


def take_rate(portfolio: Portfolio, symbol: str, price: float) -> None:
    """An FX pair's close is its currencies' exchange rate for the portfolio's accounting."""
    inst = portfolio.instruments.get(symbol) if portfolio.instruments else None
    if inst is not None and inst.kind is Kind.FX and price > 0:
        portfolio.set_rate(inst, price)


def sim_markets(symbols: Iterable[str], instruments: dict[str, Instrument]) -> dict[str, Any]:
    """The embedded simulator's markets for a session: stocks as ``symbols``, the futures roots,
    FX pairs and indices as ``futures``, ``fx`` and ``indices`` (SimConfig's settings)."""
    stocks = tuple(s for s in symbols if s not in instruments)
    kinds = {Kind.FUTURE: "futures", Kind.FX: "fx", Kind.INDEX: "indices"}
    out: dict[str, Any] = {"symbols": stocks} if stocks else {}
    for inst in instruments.values():
        key = kinds.get(inst.kind)
        if key is None:
            continue
        name = inst.symbol if inst.kind is not Kind.FX else inst.name
        out.setdefault(key, ())
        if name not in out[key]:
            out[key] += (name,)
    return out


__all__ = ["qualify", "register", "sim_markets", "split_symbols", "take_rate"]
