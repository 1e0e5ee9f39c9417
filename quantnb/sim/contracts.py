"""The simulated universe: one US stock contract per symbol, with stable contract ids, and the
futures, FX pairs and indices of ``quantnb.sim.instruments``."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from quantnb.domain.instrument import Instrument

# Well-known ids, so logs look familiar; other symbols get a stable hash-derived id.
_KNOWN_IDS = {"AAPL": 265598, "MSFT": 272093, "SPY": 756733, "AMZN": 3691937, "GOOG": 208813720}


@dataclass(frozen=True, slots=True)
class Details:
    """Contract-details fields of a future, FX pair or index (a stock's are fixed)."""

    market_name: str
    long_name: str
    valid_exchanges: str
    order_types: str
    time_zone: str
    market_rule: str
    contract_month: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    real_expiration: str = ""
    last_trade_time: str = ""
    agg_group: int = 1
    size_increment: float = 1.0
    suggested_size: float = 1.0


@dataclass(frozen=True, slots=True)
class SimContract:
    """A contract the simulator serves. ``symbol`` is its key in the market (a stock's ticker,
    a futures month's local symbol "ESH4", a pair's "EURUSD"); ``root`` is IB's symbol when it
    differs ("ES", "EUR")."""

    symbol: str
    con_id: int
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    trading_class: str = "NMS"
    root: str = ""
    local: str = ""
    expiry: str = ""  # a future's last trading day, YYYYMMDD
    multiplier: str = ""
    min_tick: float = 0.01
    instrument: Instrument | None = None
    details: Details | None = None

    @property
    def local_symbol(self) -> str:
        return self.local or self.symbol

    @property
    def ib_symbol(self) -> str:
        return self.root or self.symbol

    @property
    def point_value(self) -> float:
        """Money per point of price per unit held: a future's multiplier, else 1."""
        return float(self.multiplier) if self.multiplier else 1.0

    @property
    def is_stock(self) -> bool:
        return self.sec_type == "STK"

    def c11(self, primary: bool = False) -> list[object]:
        """The 11 contract fields most messages carry (``primary`` swaps in primaryExchange)."""
        exchange = self.primary_exchange if primary else self.exchange
        return [
            self.con_id,
            self.ib_symbol,
            self.sec_type,
            self.expiry,
            0.0,
            "",
            self.multiplier,
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
    if q.sec_type not in ("", "STK") or (q.con_id and q.con_id not in _stock_ids(universe)):
        return _resolve_other(universe, q)
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


def _stock_ids(universe: dict[str, SimContract]) -> set[int]:
    return {c.con_id for c in universe.values() if c.is_stock}


def matches(universe: dict[str, SimContract], q: ContractQuery) -> list[SimContract]:
    """Every contract ``q`` describes, as contract details answer: a future without a month
    lists all its months; a stock query finds one stock at most."""
    if q.sec_type in ("", "STK") and not (q.con_id and q.con_id not in _stock_ids(universe)):
        found = resolve(universe, q)
        return [] if found is None else [found]
    if q.sec_type == "CONTFUT":
        found = _resolve_other(universe, q)
        return [] if found is None else [found]
    return _matches_other(universe, q)


def _resolve_other(universe: dict[str, SimContract], q: ContractQuery) -> SimContract | None:
    """A future (by month or as CONTFUT, the front month), FX pair or index matching ``q``."""
    found = _matches_other(universe, q)
    if q.sec_type == "CONTFUT":
        found = sorted(found, key=lambda c: c.expiry)[:1]
        return replace(found[0], sec_type="CONTFUT") if found else None
    if len(found) != 1:
        return None  # none, or ambiguous: IB answers an ambiguous request with error 200 too
    return found[0]


def _matches_other(universe: dict[str, SimContract], q: ContractQuery) -> list[SimContract]:
    want = "FUT" if q.sec_type == "CONTFUT" else q.sec_type
    found = [
        c
        for c in universe.values()
        if not c.is_stock
        and (not q.con_id or c.con_id == q.con_id)
        and want in ("", c.sec_type)
        and (not q.symbol or q.symbol.upper() == c.ib_symbol)
        and (not q.local_symbol or q.local_symbol.upper() == c.local_symbol.upper())
        and q.currency in ("", c.currency)
        and q.exchange in ("", "SMART", c.exchange)
        and (not q.expiry or c.sec_type != "FUT" or _month_matches(q.expiry, c))
        and (not q.multiplier or c.sec_type != "FUT" or float(q.multiplier) == c.point_value)
        and (not q.trading_class or q.trading_class == c.trading_class)
    ]
    return sorted(found, key=lambda c: (c.expiry, c.symbol))


def _month_matches(expiry: str, c: SimContract) -> bool:
    """``expiry`` as IB reads it: a contract month (YYYYMM) or a last trading day (YYYYMMDD)."""
    if len(expiry) == 6:
        return c.details is not None and c.details.contract_month == expiry
    return expiry == c.expiry
