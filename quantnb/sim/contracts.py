"""The simulated universe: one US stock contract per symbol, with stable contract ids."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Well-known ids, so logs look familiar; other symbols get a stable hash-derived id.
_KNOWN_IDS = {"AAPL": 265598, "MSFT": 272093, "SPY": 756733, "AMZN": 3691937, "GOOG": 208813720}


@dataclass(frozen=True, slots=True)
class SimContract:
    """A stock the simulator trades: SMART-routed, USD, one primary exchange."""

    symbol: str
    con_id: int
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    trading_class: str = "NMS"

    @property
    def local_symbol(self) -> str:
        return self.symbol

    def c11(self, primary: bool = False) -> list[object]:
        """The 11 contract fields most messages carry (``primary`` swaps in primaryExchange)."""
        exchange = self.primary_exchange if primary else self.exchange
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            "",
            0.0,
            "",
            "",
            exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]


def con_id_for(symbol: str) -> int:
    """A stable contract id for ``symbol``."""
    known = _KNOWN_IDS.get(symbol)
    if known is not None:
        return known
    return 100_000_000 + zlib.crc32(symbol.encode()) % 800_000_000


def make_universe(symbols: Iterable[str]) -> dict[str, SimContract]:
    """Contracts for the symbols, ids unique within the universe."""
    out: dict[str, SimContract] = {}
    used: set[int] = set()
    for symbol in symbols:
        con_id = con_id_for(symbol)
        while con_id in used:
            con_id += 1
        used.add(con_id)
        out[symbol] = SimContract(symbol, con_id)
    return out


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The 12 contract fields a request carries."""

    con_id: int
    symbol: str
    sec_type: str
    expiry: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def from_fields(cls, f: Sequence[str]) -> ContractQuery:
        con_id = int(f[0]) if f[0] not in ("", "0") else 0
        return cls(con_id, *f[1:12])

    def describe(self) -> str:
        name = self.symbol or self.local_symbol or f"conId {self.con_id}"
        return f"{self.sec_type or 'STK'} {name} {self.exchange} {self.currency}".strip()


def resolve(universe: dict[str, SimContract], q: ContractQuery) -> SimContract | None:
    """The universe's contract that ``q`` describes, or None (IB answers error 200)."""
    if q.con_id:
        found = next((c for c in universe.values() if c.con_id == q.con_id), None)
    else:
        found = universe.get(q.symbol.upper() or q.local_symbol.upper())
    if found is None:
        return None
    if q.sec_type not in ("", found.sec_type):
        return None
    if q.currency not in ("", found.currency):
        return None
    if q.exchange not in ("", found.exchange, found.primary_exchange, "ISLAND", "NYSE", "ARCA"):
        return None
    if q.symbol and q.symbol.upper() != found.symbol:
        return None
    return found
