"""Futures, FX pairs and an index beside the US stocks: their contracts as IB describes them.

Futures list the contract months still trading at the simulator's start (the next four
quarterly months of ES and NQ, six monthly months of CL), with IB's local symbols ("ESH4"),
last trading days, multipliers and minimum ticks from ``quantnb.domain.instrument``. FX pairs
are IDEALPRO cash pairs ("EUR.USD"); SPX is a CBOE index, quoted but never traded.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import pandas as pd

from quantnb.domain.instrument import FUTURES, MONTH_CODES, future, fx, index
from quantnb.domain.rolls import expiry
from quantnb.errors import ConfigError
from quantnb.sim.contracts import Details, SimContract

FUTURE_ROOTS = tuple(FUTURES)
FX_PAIRS = ("EURUSD", "USDJPY")
INDEX_SYMBOLS = ("SPX",)
MONTHS_LISTED = {"ES": 4, "NQ": 4, "CL": 6}

# where each generated series starts (its first price); near the markets of early 2024
LEVELS = {
    "ES": 4750.0, "NQ": 16800.0, "CL": 72.0,
    "EURUSD": 1.095, "USDJPY": 143.5, "SPX": 4740.0,
}  # fmt: skip
CARRY = {"ES": 0.0035, "NQ": 0.0040, "CL": -0.0060}  # each later month's premium over the front
_LONG_NAMES = {
    "ES": "E-mini S&P 500", "NQ": "E-mini NASDAQ 100", "CL": "Light Sweet Crude Oil",
    "EURUSD": "European Monetary Union Euro", "USDJPY": "US Dollar",
    "SPX": "S&P 500 Stock Index",
}  # fmt: skip
_KNOWN_IDS = {"EURUSD": 12087792, "USDJPY": 15016059, "SPX": 416904}
_UNDER = {"ES": (11004968, "IND"), "NQ": (11004958, "IND"), "CL": (17340715, "IND")}
_MARKET_RULES = {"ES": "67", "NQ": "67", "CL": "32", "CASH": "239", "IND": "109"}
FUTURE_ORDER_TYPES = "ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,LMT,MKT,STP,STPLMT,TRAIL"
_LAST_TRADE_TIME = {"CME": "08:30", "NYMEX": "13:30"}  # Chicago time on the last trading day


def last_trading_day(root: str, month: str) -> pd.Timestamp:
    """The last trading day of a contract month, by the exchange's rule on its calendar
    (``quantnb.domain.rolls.expiry``)."""
    return expiry(root, month)


def listed_months(root: str, today: pd.Timestamp, count: int | None = None) -> list[str]:
    """The next ``count`` contract months ("YYYY-MM") of ``root`` whose last day is not past
    on ``today`` (a date, or a moment read in Chicago)."""
    spec = FUTURES[root]
    count = MONTHS_LISTED.get(root, 4) if count is None else count
    day = pd.Timestamp(today)
    if day.tzinfo is not None:  # the exchange's date, in Chicago
        day = day.tz_convert("America/Chicago").tz_localize(None)
    day = day.normalize()
    out: list[str] = []
    y, m = day.year, day.month
    while len(out) < count:
        month = f"{y:04d}-{m:02d}"
        if MONTH_CODES[m - 1] in spec.months and last_trading_day(root, month) >= day:
            out.append(month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _con_id(key: str) -> int:
    return _KNOWN_IDS.get(key) or 400_000_000 + zlib.crc32(key.encode()) % 200_000_000


def future_contract(root: str, month: str) -> SimContract:
    """One futures contract month, e.g. ``future_contract("ES", "2024-03")`` (ESH4)."""
    inst = future(root, month)
    code = MONTH_CODES[int(month[5:]) - 1]
    local = f"{root}{code}{month[3]}"
    last = last_trading_day(root, month).strftime("%Y%m%d")
    under = _UNDER.get(root, (0, ""))
    return SimContract(
        symbol=local,
        con_id=_con_id(local),
        sec_type="FUT",
        exchange=inst.exchange,
        primary_exchange=inst.exchange,
        currency=inst.currency,
        trading_class=inst.trading_class or root,
        root=root,
        local=local,
        expiry=last,
        multiplier=f"{inst.multiplier:g}",
        min_tick=inst.tick_size,
        instrument=inst,
        details=Details(
            market_name=inst.trading_class or root,
            long_name=_LONG_NAMES.get(root, root),
            valid_exchanges=inst.exchange,
            order_types=FUTURE_ORDER_TYPES,
            contract_month=month.replace("-", ""),
            time_zone="US/Central",
            under_con_id=under[0],
            under_symbol=root,
            under_sec_type=under[1],
            market_rule=_MARKET_RULES.get(root, "67"),
            real_expiration=last,
            last_trade_time=_LAST_TRADE_TIME.get(inst.exchange, "08:30"),
            agg_group=2,
        ),
    )


def fx_contract(pair: str) -> SimContract:
    """An IDEALPRO cash pair, e.g. ``fx_contract("EURUSD")`` (EUR.USD)."""
    inst = fx(pair)
    local = f"{inst.symbol}.{inst.currency}"
    return SimContract(
        symbol=inst.name,
        con_id=_con_id(inst.name),
        sec_type="CASH",
        exchange="IDEALPRO",
        primary_exchange="IDEALPRO",
        currency=inst.currency,
        trading_class=local,
        root=inst.symbol,
        local=local,
        min_tick=inst.tick_size,
        instrument=inst,
        details=Details(
            market_name=local,
            long_name=_LONG_NAMES.get(inst.name, inst.symbol),
            valid_exchanges="IDEALPRO",
            order_types="ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,IOC,LMT,MKT,STP,STPLMT,TRAIL",
            time_zone="US/Eastern",
            market_rule=_MARKET_RULES["CASH"],
            agg_group=4,
            size_increment=1.0,
            suggested_size=1.0,
        ),
    )


def index_contract(symbol: str) -> SimContract:
    """An index, e.g. ``index_contract("SPX")``: data only."""
    inst = index(symbol)
    return SimContract(
        symbol=inst.name,
        con_id=_con_id(inst.name),
        sec_type="IND",
        exchange=inst.exchange,
        primary_exchange=inst.exchange,
        currency=inst.currency,
        trading_class=inst.name,
        root=inst.symbol,
        local=inst.name,
        min_tick=inst.tick_size,
        instrument=inst,
        details=Details(
            market_name=inst.name,
            long_name=_LONG_NAMES.get(inst.name, inst.name),
            valid_exchanges=inst.exchange,
            order_types="ACTIVETIM,AD,ALERT,ALLOC,DAY",
            time_zone="US/Eastern",
            market_rule=_MARKET_RULES["IND"],
            agg_group=0,
        ),
    )


def check_names(futures: Iterable[str], pairs: Iterable[str], indices: Iterable[str]) -> None:
    """ConfigError naming the first root, pair or index the simulator does not serve."""
    for name, known, what in (
        (futures, FUTURE_ROOTS, "futures"),
        (pairs, FX_PAIRS, "fx"),
        (indices, INDEX_SYMBOLS, "indices"),
    ):
        for item in name:
            if item not in known:
                raise ConfigError(f"{what}={item!r} is not served by the simulator; use {known}")


def calendars(futures: Iterable[str], pairs: Iterable[str]) -> tuple[str, ...]:
    """The calendars whose hours the simulator's clock must cover beyond US stocks' ("CMES",
    "FX"), for the futures roots and FX pairs served."""
    found = {FUTURES[r].calendar for r in futures} | {fx(p).calendar for p in pairs}
    return tuple(sorted(found - {"XNYS"}))


def universe(
    today: pd.Timestamp, futures: Iterable[str], pairs: Iterable[str], indices: Iterable[str]
) -> list[SimContract]:
    """The contracts of the futures roots (their listed months), FX pairs and indices asked for."""
    out = [future_contract(r, m) for r in futures for m in listed_months(r, today)]
    out += [fx_contract(p) for p in pairs]
    out += [index_contract(s) for s in indices]
    return out


def level(c: SimContract) -> float:
    """The first price of a contract's generated series (a later month adds ``carry``)."""
    inst = c.instrument
    assert inst is not None
    return LEVELS[inst.name if inst.kind == "fx" else inst.symbol]


def carry(c: SimContract, front_month: str) -> float:
    """How much a futures month is above (below) the front month, as a fraction."""
    inst = c.instrument
    if inst is None or inst.expiry is None:
        return 0.0
    months = (
        (int(inst.expiry[:4]) - int(front_month[:4])) * 12
        + int(inst.expiry[5:])
        - int(front_month[5:])
    )
    return CARRY.get(inst.symbol, 0.0) * months / 3
