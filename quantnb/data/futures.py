"""Futures contract months and continuous series, and FX pairs, as sample or loaded data.

Expiry dates follow the exchange rules: ES and NQ expire on the third Friday of the contract
month; CL trading ends three business days before the 25th calendar day of the month before the
contract month (or, when the 25th is not a business day, three business days before the last
business day before it). Business days here are weekdays: exchange holidays are not removed.

A continuous series splices the months at their rolls, each chosen by a recorded rule
(``roll_days`` business days before the old month's last trading day, by the rule in
``quantnb.domain.rolls`` shared with live sessions, or the first bar where the next month trades
more volume), and adjusts the older prices by the gap at each roll: ``"difference"`` (add the
gap: price changes in points stay true) or ``"ratio"`` (scale: percentage changes stay true), or
``"none"`` (the raw splice, gaps and all). The choice is explicit and kept in ``attrs``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from itertools import pairwise

import numpy as np
import pandas as pd

from quantnb.domain.instrument import (
    FUTURES,
    MONTH_CODES,
    Instrument,
    Kind,
    continuous,
    future,
)
from quantnb.domain.rolls import expiry, roll_date
from quantnb.errors import ConfigError, DataError

ADJUSTMENTS = ("difference", "ratio", "none")
ROLLS = ("days", "volume")

# sample character of each root: first price, annual volatility, annual carry (the premium of
# a later month over spot, as a rate: interest less dividends for indices, storage for oil)
_CHARACTER = {"ES": (4500.0, 0.18, 0.015), "NQ": (16000.0, 0.22, 0.02), "CL": (75.0, 0.35, 0.04)}
_FX_CHARACTER = {"EURUSD": (1.10, 0.07), "USDJPY": (150.0, 0.09), "GBPUSD": (1.27, 0.08)}


def listed_months(root: str, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The contract months of ``root`` that trade as front or next month from start to end."""
    spec = FUTURES[root.upper()]
    months = []
    m = pd.Timestamp(start).tz_localize(None).to_period("M") - 1
    last = pd.Timestamp(end).tz_localize(None)
    while True:
        name = f"{m.year:04d}-{m.month:02d}"
        if (
            MONTH_CODES[m.month - 1] in spec.months
            and expiry(root, name) >= pd.Timestamp(start).tz_localize(None).normalize()
        ):
            months.append(name)
            if expiry(root, name) > last:
                break
        m += 1
    # the next month too: it trades (and takes the volume) before the front month expires
    while True:
        m += 1
        if MONTH_CODES[m.month - 1] in spec.months:
            months.append(f"{m.year:04d}-{m.month:02d}")
            return months


def sample_months(
    root: str, start: str = "2023-01-01", end: str = "2023-12-31", seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Daily bars of each contract month of ``root`` from ``start`` to ``end``, keyed by name
    ("ES 2024-03"): one spot walk, each month at spot × exp(carry × time to expiry) on its tick
    grid, so a later month trades at a premium and the months gap apart at a roll. A month
    trades from its predecessor's predecessor's expiry to its own; the volume moves from the
    front month to the next in the days before the front expires."""
    root = root.upper()
    if root not in _CHARACTER:
        raise ConfigError(
            f"no sample for futures root {root!r}: sample roots are {sorted(_CHARACTER)}"
        )
    price0, vol, carry = _CHARACTER[root]
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    months = listed_months(root, lo, hi)
    expiries = [expiry(root, m) for m in months]
    days = pd.bdate_range(lo.normalize(), max(hi.normalize(), expiries[-1]))
    rng = np.random.default_rng([zlib.crc32(root.encode()), seed, 2])
    n = len(days)
    ret = rng.standard_normal(n) * vol / math.sqrt(252)
    close = price0 * np.exp(np.cumsum(ret))
    open_ = close * np.exp(-ret * rng.uniform(0.3, 0.9, n))
    wig = np.abs(rng.standard_normal((2, n))) * vol / math.sqrt(252) * 0.5
    high = np.maximum(open_, close) * np.exp(wig[0])
    low = np.minimum(open_, close) * np.exp(-wig[1])
    base_volume = rng.lognormal(np.log(1.5e6 if root != "CL" else 3e5), 0.3, n)
    out: dict[str, pd.DataFrame] = {}
    inst0 = future(root, months[0])
    tick = inst0.tick_size
    for k, (m, exp) in enumerate(zip(months, expiries, strict=True)):
        first = expiries[k - 2] + pd.Timedelta(days=1) if k >= 2 else days[0]
        keep = (days >= max(first, lo.normalize())) & (days <= min(exp, hi.normalize()))
        if not keep.any():
            continue
        t = days[keep]
        years = (exp - t).days.to_numpy() / 365.0
        factor = np.exp(carry * years)
        # business days to the previous month's expiry: the volume moves over as it nears
        prev = expiries[k - 1] if k >= 1 else None
        to_front = np.asarray([_bdays(d, exp) for d in t], dtype=float)
        share = np.clip((to_front - 2) / 6, 0.02, 1.0)  # falls as its own expiry nears
        if prev is not None:
            to_prev = np.asarray([_bdays(d, prev) if d <= prev else -1 for d in t], dtype=float)
            rising = np.where(to_prev >= 0, np.clip((8 - to_prev) / 6, 0.02, 0.98), 1.0)
            share = np.minimum(share, rising)
        frame = pd.DataFrame(
            {
                "open": _on_grid(open_[keep] * factor, tick),
                "high": _on_grid(high[keep] * factor, tick),
                "low": _on_grid(low[keep] * factor, tick),
                "close": _on_grid(close[keep] * factor, tick),
                "volume": np.maximum(np.round(base_volume[keep] * share), 1.0),
            },
            index=pd.DatetimeIndex(t).tz_localize("UTC").rename("time").as_unit("ns"),
        )
        inst = future(root, m)
        frame.attrs = {"symbol": inst.name, "instrument": inst, "expiry": str(exp.date())}
        out[inst.name] = frame
    return out


def _bdays(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return int(np.busday_count(a.date(), b.date()))


def _on_grid(values: np.ndarray, tick: float) -> np.ndarray:
    digits = max(0, -math.floor(math.log10(tick))) + 1
    return np.round(np.round(values / tick) * tick, digits)


def continuous_series(
    months: Mapping[str, pd.DataFrame],
    adjust: str,
    roll: str = "days",
    roll_days: int = 5,
) -> pd.DataFrame:
    """One continuous series from the contract months of one root (frames keyed by their
    names, "ES 2024-03"), adjusted by ``adjust`` ("difference", "ratio" or "none") at each roll.

    ``roll="days"`` rolls ``roll_days`` business days before the old month's last trading day
    (``quantnb.domain.rolls``; on daily bars, ``roll_days`` bars before its last bar);
    ``roll="volume"`` at the first bar where the next month trades more than the old one.
    ``attrs`` records the adjustment, the rule and ``rolls``: (time, old month, new month) for
    each roll, the time being the first bar of the new month in the series.
    """
    if adjust not in ADJUSTMENTS:
        raise ConfigError(f"adjust={adjust!r}: choose 'difference', 'ratio' or 'none' explicitly")
    if roll not in ROLLS:
        raise ConfigError(f"roll={roll!r}: use 'days' (roll_days before expiry) or 'volume'")
    insts = {name: _month_instrument(name, df) for name, df in months.items()}
    roots = {i.symbol for i in insts.values()}
    if len(roots) != 1:
        raise DataError(f"contract months of one root please, got roots {sorted(roots)}")
    order = sorted(months, key=lambda n: insts[n].expiry or "")
    pieces, rolls = [], []
    start = None
    for a, b in pairwise(order):
        fa, fb = months[a], months[b]
        last_day = expiry(insts[a].symbol, insts[a].expiry or "")
        if fa.index[-1].tz_localize(None).normalize() < last_day:
            order = order[: order.index(a) + 1]
            break  # the data ends before this month expires: no later roll
        at = _roll_time(fa, fb, roll, roll_days, insts[a])
        seg = fa[(fa.index >= start) if start is not None else slice(None)]
        pieces.append((a, seg[seg.index < at]))
        rolls.append((at, a, b))
        start = at
    last = months[order[-1]]
    pieces.append((order[-1], last[last.index >= start] if start is not None else last))
    # adjust backwards: each older piece by the gap at every later roll
    adjusted = []
    shift, scale = 0.0, 1.0
    for k in range(len(pieces) - 1, -1, -1):
        _, seg = pieces[k]
        seg = seg.copy()
        if k < len(pieces) - 1:
            at, old, new = rolls[k]
            gap_new = float(months[new].loc[at, "close"])
            gap_old = (
                float(months[old].loc[at, "close"])
                if at in months[old].index
                else float(months[old]["close"].iloc[-1])
            )
            shift += gap_new - gap_old
            scale *= gap_new / gap_old
        for col in ("open", "high", "low", "close"):
            if adjust == "difference":
                seg[col] = seg[col] + shift
            elif adjust == "ratio":
                seg[col] = seg[col] * scale
        adjusted.append(seg)
    out = pd.concat(adjusted[::-1])
    root = next(iter(roots))
    out.attrs = {
        "symbol": root,
        "instrument": continuous(root),
        "adjust": adjust,
        "roll": f"{roll_days} bars before expiry" if roll == "days" else "volume",
        "rolls": [(str(t), a, b) for t, a, b in rolls],
    }
    return out


def _month_instrument(name: str, df: pd.DataFrame) -> Instrument:
    inst = df.attrs.get("instrument")
    if isinstance(inst, Instrument) and inst.kind is Kind.FUTURE and not inst.continuous:
        return inst
    try:
        root, month = name.split(" ")
        return future(root, month)
    except (ValueError, ConfigError) as exc:
        raise DataError(
            f"{name!r} is not a contract month: key months as 'ROOT YYYY-MM', e.g. 'ES 2024-03'"
        ) from exc


def _roll_time(
    old: pd.DataFrame, new: pd.DataFrame, roll: str, roll_days: int, inst: Instrument
) -> pd.Timestamp:
    both = old.index.intersection(new.index)
    if len(both) == 0:
        raise DataError(
            f"{old.attrs.get('symbol')} and {new.attrs.get('symbol')} share no bar: a roll needs "
            "both months on the same bars"
        )
    if roll == "volume":
        more = both[new.loc[both, "volume"].to_numpy() > old.loc[both, "volume"].to_numpy()]
        if len(more):
            return more[0]
    # the shared rule (quantnb.domain.rolls): the first bar on or after the roll date
    dates = (both.tz_localize(None) if both.tz is not None else both).normalize()
    due = both[dates >= roll_date(inst.symbol, inst.expiry or "", roll_days)]
    return due[0] if len(due) else both[-1]


def sample_fx(pair: str, index: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Bars of an FX pair at ``index`` (times in the FX calendar's sessions), on its tick grid."""
    from quantnb.domain.instrument import fx

    inst = fx(pair)
    price0, vol = _FX_CHARACTER.get(inst.name, (1.0, 0.08))
    rng = np.random.default_rng([zlib.crc32(inst.name.encode()), seed, 11])
    n = len(index)
    step = np.diff(index.asi8, prepend=index.asi8[0] - 86_400 * 10**9) / (86_400 * 10**9)
    sd = vol * np.sqrt(np.minimum(step, 3.0) / 260)
    ret = rng.standard_normal(n) * sd
    close = price0 * np.exp(np.cumsum(ret))
    open_ = close * np.exp(-ret * rng.uniform(0.8, 1.0, n))
    wig = np.abs(rng.standard_normal((2, n))) * sd * 0.5
    tick = inst.tick_size
    frame = pd.DataFrame(
        {
            "open": _on_grid(open_, tick),
            "high": _on_grid(np.maximum(open_, close) * np.exp(wig[0]), tick),
            "low": _on_grid(np.minimum(open_, close) * np.exp(-wig[1]), tick),
            "close": _on_grid(close, tick),
            "volume": np.round(rng.lognormal(np.log(5e4), 0.4, n)),
        },
        index=index,
    )
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    frame.attrs = {"symbol": inst.name, "instrument": inst}
    return frame
