"""Symbols to qualified IB contracts, looked up once and cached by symbol.

A plain string is a US stock on SMART; an ``Instrument`` (future, FX pair, index) is remembered
under its name, so later calls may name it by that string. A conId does not change when the
connection drops, so the cache survives reconnects.
"""

from __future__ import annotations

import logging
from typing import Any

from quantnb.domain.instrument import Instrument, as_instrument
from quantnb.errors import DataError, GatewayError
from quantnb.ib.client import Stock
from quantnb.ib.instruments import history_series, ib_contract

log = logging.getLogger(__name__)


def stock(symbol: str, exchange: str = "SMART", currency: str = "USD") -> Any:
    """An unqualified stock contract for ``symbol``."""
    return Stock(symbol, exchange, currency)


class ContractCache:
    """Qualifies symbols through the connection's client and remembers the answer."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._contracts: dict[str, Any] = {}
        self._details: dict[str, Any] = {}
        self._instruments: dict[str, Instrument] = {}
        self._stocks: dict[str, Instrument] = {}  # unregistered names as US stocks, made once

    def register(self, item: str | Instrument) -> str:
        """Remember an instrument under its name; returns the name (a string as it is)."""
        if isinstance(item, Instrument):
            self._instruments[item.name] = item
            self._stocks.clear()  # a name registered now is no longer a stock
            return item.name
        return _check_symbol(item)

    def instrument(self, symbol: str | Instrument) -> Instrument:
        """The instrument a name stands for: a registered one, else a US stock."""
        if isinstance(symbol, Instrument):
            return symbol
        known = self._instruments.get(symbol) or self._stocks.get(symbol)
        if known is not None:
            return known  # looked up three times for each order sent: kept, not made anew
        inst = self._instruments.get(symbol.strip())
        if inst is None:
            inst = as_instrument(symbol)
            if len(self._stocks) < 10_000:
                self._stocks[symbol] = inst
        return inst

    def what_to_show(self, symbol: str | Instrument, asked: str = "TRADES") -> str:
        """The history series to ask IB for ``symbol``: MIDPOINT for an FX pair's TRADES."""
        return history_series(self.instrument(symbol), asked)

    def get(self, symbol: str) -> Any | None:
        """The cached qualified contract of ``symbol``, if any."""
        return self._contracts.get(symbol)

    def put(self, symbol: str, contract: Any) -> None:
        """Remember a contract qualified elsewhere (e.g. one the gateway reported)."""
        if getattr(contract, "conId", 0):
            self._contracts[symbol] = contract

    def name_of(self, contract: Any) -> str:
        """Our name of an IB contract: the key it was qualified under (a registered future is
        "ES 2024-03"), else a pair's "EURUSD", a future's local symbol, a stock's symbol."""
        con_id = getattr(contract, "conId", 0)
        if con_id:
            for key, known in self._contracts.items():
                # a continuous future's contract shares its front month's id: the month is meant
                if known.conId == con_id and getattr(known, "secType", "") != "CONTFUT":
                    return key
        sec_type = getattr(contract, "secType", "")
        if sec_type == "CASH":
            return f"{contract.symbol}{contract.currency}"
        if sec_type == "FUT" and getattr(contract, "localSymbol", ""):
            return str(contract.localSymbol)
        return str(contract.symbol)

    async def qualify(self, symbol: str | Instrument) -> Any:
        """The qualified contract of ``symbol``; DataError naming it when IB does not know it."""
        key = self.register(symbol)
        cached = self._contracts.get(key)
        if cached is not None:
            return cached
        ib = self._connection.ib
        inst = self._instruments.get(key)
        try:
            result = await ib.qualifyContractsAsync(
                stock(key) if inst is None else ib_contract(inst)
            )
        except (ConnectionError, OSError) as exc:
            raise GatewayError(f"could not look up {key!r}: {exc}") from exc
        contract = result[0] if result else None
        if isinstance(contract, list):  # ib_async returnAll shape: ambiguous
            contract = None
        if contract is None or not getattr(contract, "conId", 0):
            if inst is not None:
                raise DataError(
                    f"unknown instrument {key!r}: the IB gateway has no {inst.kind} "
                    f"{inst.symbol} on {inst.exchange} (error 200); check the symbol and month"
                )
            raise DataError(
                f"unknown symbol {key!r}: the IB gateway has no US stock of that name on SMART "
                "(error 200); check the spelling"
            )
        self._contracts[key] = contract
        log.debug("qualified %s as conId %s", key, contract.conId)
        return contract

    async def details(self, symbol: str | Instrument) -> Any:
        """Contract details of ``symbol`` (cached)."""
        key = self.register(symbol)
        if key in self._details:
            return self._details[key]
        contract = await self.qualify(key)
        found = await self._connection.ib.reqContractDetailsAsync(contract)
        if not found:
            raise DataError(f"no contract details for {key!r} from the IB gateway")
        self._details[key] = found[0]
        return found[0]


def _check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise DataError(f"symbol must be a non-empty string such as 'AAPL', got {symbol!r}")
    return symbol.strip()


__all__ = ["ContractCache", "stock"]
