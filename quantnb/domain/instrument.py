"""What is traded: stocks, futures (one contract month or continuous), FX pairs and indices.

A plain string names a US stock on SMART in USD, as before; the other kinds are made with
``future``, ``continuous``, ``fx`` and ``index`` and can be used wherever a symbol is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from quantnb.errors import ConfigError


class Kind(StrEnum):
    STOCK = "stock"
    FUTURE = "future"
    FX = "fx"
    INDEX = "index"


@dataclass(frozen=True)
class Instrument:
    """One tradable (or, for an index, quoted) thing and the facts its accounting needs.

    ``name`` is the key used in data, strategies and tables ("AAPL", "ES 2024-03", "ES",
    "EURUSD", "SPX"); ``symbol`` is IB's root ("AAPL", "ES", "EUR", "SPX"). Prices are in
    ``currency``; a future's P&L is ``multiplier`` × price change × contracts.
    """

    name: str
    symbol: str
    kind: Kind = Kind.STOCK
    exchange: str = "SMART"
    currency: str = "USD"
    multiplier: float = 1.0
    tick_size: float = 0.01
    lot_size: float = 1.0
    expiry: str | None = None  # a future's contract month, "YYYY-MM"
    continuous: bool = False  # a continuous future: trades the current contract month
    calendar: str = "XNYS"  # exchange_calendars name of its trading sessions
    margin_initial: float | None = None  # per contract, in ``currency``
    margin_maintenance: float | None = None
    months: str = ""  # contract months listed, as futures month codes ("HMUZ")
    trading_class: str = ""

    @property
    def tradable(self) -> bool:
        """An index is data only: orders on it are refused."""
        return self.kind is not Kind.INDEX


MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December


@dataclass(frozen=True)
class FutureSpec:
    """The contract facts of a futures root, shared by all its months."""

    symbol: str
    exchange: str
    multiplier: float
    tick_size: float
    months: str
    margin_initial: float
    margin_maintenance: float
    calendar: str = "CMES"
    currency: str = "USD"
    trading_class: str = ""


# Margins are typical exchange minimums per contract (configurable per instrument with
# ``dataclasses.replace``); they change with volatility, so a live account's own figures win.
FUTURES: dict[str, FutureSpec] = {
    "ES": FutureSpec("ES", "CME", 50.0, 0.25, "HMUZ", 13_200.0, 12_000.0, trading_class="ES"),
    "NQ": FutureSpec("NQ", "CME", 20.0, 0.25, "HMUZ", 19_000.0, 17_300.0, trading_class="NQ"),
    "CL": FutureSpec(
        "CL", "NYMEX", 1000.0, 0.01, MONTH_CODES, 6_500.0, 5_900.0, trading_class="CL"
    ),
}

# FX pairs on IDEALPRO: price is quote currency per unit of base; quantity in base units.
FX_TICKS: dict[str, float] = {"EURUSD": 0.00005, "USDJPY": 0.005, "GBPUSD": 0.00005}

INDICES: dict[str, tuple[str, str]] = {"SPX": ("CBOE", "USD"), "NDX": ("NASDAQ", "USD")}

_MONTH = re.compile(r"^(\d{4})-?(\d{2})$")


def stock(symbol: str, exchange: str = "SMART", currency: str = "USD") -> Instrument:
    """A stock or ETF: what a plain string means."""
    return Instrument(symbol, symbol, Kind.STOCK, exchange, currency)


def _spec(root: str) -> FutureSpec:
    spec = FUTURES.get(root.upper())
    if spec is None:
        raise ConfigError(f"unknown futures root {root!r}: known are {sorted(FUTURES)}")
    return spec


def contract_month(month: str) -> str:
    """``"2024-03"`` or ``"202403"`` as ``"2024-03"``; ConfigError naming a bad one."""
    m = _MONTH.match(str(month).strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"contract month {month!r}: write it as 'YYYY-MM', e.g. '2024-03'")
    return f"{m.group(1)}-{m.group(2)}"


def future(root: str, month: str) -> Instrument:
    """One contract month of a futures root, e.g. ``future("ES", "2024-03")``."""
    spec = _spec(root)
    month = contract_month(month)
    code = MONTH_CODES[int(month[5:]) - 1]
    if code not in spec.months:
        raise ConfigError(
            f"{spec.symbol} has no {month} contract: its months are {spec.months} "
            f"({', '.join(str(MONTH_CODES.index(c) + 1) for c in spec.months)})"
        )
    return _from_spec(spec, f"{spec.symbol} {month}", expiry=month)


def continuous(root: str) -> Instrument:
    """A continuous future: it trades the current contract month and rolls to the next."""
    return _from_spec(_spec(root), _spec(root).symbol, continuous=True)


def _from_spec(spec: FutureSpec, name: str, **extra: object) -> Instrument:
    return Instrument(
        name,
        spec.symbol,
        Kind.FUTURE,
        spec.exchange,
        spec.currency,
        multiplier=spec.multiplier,
        tick_size=spec.tick_size,
        calendar=spec.calendar,
        margin_initial=spec.margin_initial,
        margin_maintenance=spec.margin_maintenance,
        months=spec.months,
        trading_class=spec.trading_class,
        **extra,  # type: ignore[arg-type]
    )


def fx(pair: str) -> Instrument:
    """An FX pair on IDEALPRO, e.g. ``fx("EURUSD")``: nearly 24 hours, Sunday to Friday."""
    key = str(pair).replace(".", "").replace("/", "").upper()
    if len(key) != 6 or not key.isalpha():
        raise ConfigError(f"FX pair {pair!r}: write it as six letters, e.g. 'EURUSD'")
    return Instrument(
        key,
        key[:3],
        Kind.FX,
        "IDEALPRO",
        key[3:],
        tick_size=FX_TICKS.get(key, 0.00005),
        calendar="FX",
    )


def index(symbol: str) -> Instrument:
    """An index, e.g. ``index("SPX")``: data only, never traded."""
    key = str(symbol).upper()
    exchange, currency = INDICES.get(key, ("CBOE", "USD"))
    return Instrument(key, key, Kind.INDEX, exchange, currency, tick_size=0.01)


def as_instrument(item: str | Instrument) -> Instrument:
    """An Instrument as is; a plain string as a US stock."""
    if isinstance(item, Instrument):
        return item
    if not isinstance(item, str) or not item.strip():
        raise ConfigError(f"symbol {item!r}: use a ticker string or qn.future/qn.fx/qn.index")
    return stock(item.strip().upper())


def with_margin(inst: Instrument, initial: float, maintenance: float) -> Instrument:
    """The same instrument with its own margin per contract."""
    if not 0 < maintenance <= initial:
        raise ConfigError(
            f"margin initial={initial!r}, maintenance={maintenance!r}: need 0 < maintenance "
            "<= initial"
        )
    return replace(inst, margin_initial=float(initial), margin_maintenance=float(maintenance))
