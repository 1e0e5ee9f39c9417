"""Historical bars as IB serves them: bar sizes, durations, aggregation, date labels. Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantnb.sim.quotes import QUOTE_SERIES, bid_ask, quote_prices

NS = 1_000_000_000
_DAY = 86_400

# IB bar size unit -> seconds (0 marks calendar units handled by grouping)
_UNITS = {
    "sec": 1,
    "secs": 1,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "day": _DAY,
    "days": _DAY,
    "week": 7 * _DAY,
    "weeks": 7 * _DAY,
    "month": 0,
    "months": 0,
}
_BAR_RE = re.compile(r"^\s*(\d+)\s+([a-zA-Z]+)\s*$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")


# whatToShow -> the series name IB's data service uses in its messages (IB's own table)
SERIES = {
    "TRADES": "Last", "MIDPOINT": "MidPoint", "BID": "Bid", "ASK": "Ask", "BID_ASK": "BidAsk",
    "ADJUSTED_LAST": "Last", "HISTORICAL_VOLATILITY": "HistVol",
    "OPTION_IMPLIED_VOLATILITY": "OptionImpliedVol",
    "INDICATIVE_AUCTION_PRICE_SIZE": "AuctionIndicLast", "NAV_LAST": "NavLast",
    "YIELD_ASK": "AskYield", "YIELD_BID": "BidYield", "YIELD_BID_ASK": "BidYield",
    "YIELD_MARK": "MarkYield", "YIELD_LAST": "LastYield", "FEE_RATE": "FeeRate",
    "SCHEDULE": "Schedule", "AGGTRADES": "AggLast",
}  # fmt: skip
SERVED = ("TRADES", "ADJUSTED_LAST", "MIDPOINT", "BID", "ASK", "BID_ASK")
_LIVE = ("TRADES", "MIDPOINT", "BID", "ASK")  # the series IB keeps up to date
_REFUSED = "Error validating request.-'bM' : cause - "


class HistoryError(ValueError):
    """A historical request the simulator refuses: IB's error ``code`` (162 or 321) and why."""

    def __init__(self, text: str, code: int = 162) -> None:
        super().__init__(text)
        self.code = code


def check_request(end_text: str, size: BarSize, what: str, keep_up: bool) -> str:
    """IB's own checks of a historical request, in IB's order; the whatToShow, upper-cased.

    Raises HistoryError 321 with IB's words: an end date or bars longer than a day with
    ADJUSTED_LAST, an unknown whatToShow, an end date or a series with no live bars when kept up
    to date.
    """
    what = (what or "").upper()
    has_end = bool((end_text or "").strip())
    if what == "ADJUSTED_LAST" and has_end:
        raise HistoryError(_REFUSED + "End date not supported with adjusted last", 321)
    if what == "ADJUSTED_LAST" and size.unit in ("week", "month"):
        raise HistoryError(_REFUSED + "Multi day bar size not supported with adjusted last", 321)
    if what not in SERIES:
        raise HistoryError(f"{_REFUSED}What to show value of {what} rejected.", 321)
    if keep_up and has_end:
        raise HistoryError(_REFUSED + "End date not supported with live updates", 321)
    if keep_up and what not in _LIVE:
        raise HistoryError(_REFUSED + "Source price not supported with live updates", 321)
    return what


@dataclass(frozen=True, slots=True)
class BarSize:
    """A parsed IB bar size: ``seconds`` for intraday, or a calendar ``unit`` (day/week/month)."""

    text: str
    seconds: int
    unit: str  # "intraday", "day", "week", "month"
    count: int = 1

    @property
    def daily(self) -> bool:
        return self.unit != "intraday"


def parse_bar_size(text: str) -> BarSize:
    """``"5 mins"`` → BarSize; IB's spellings with singular or plural units."""
    match = _BAR_RE.match(text or "")
    if not match or match.group(2).lower() not in _UNITS:
        raise HistoryError(f"Invalid bar size {text!r}")
    n, unit = int(match.group(1)), match.group(2).lower()
    seconds = n * _UNITS[unit]
    if n <= 0:
        raise HistoryError(f"Invalid bar size {text!r}")
    if unit.startswith("month"):
        return BarSize(text, 30 * _DAY * n, "month", n)
    if unit.startswith("week"):
        return BarSize(text, seconds, "week", n)
    if unit.startswith("day"):
        return BarSize(text, seconds, "day", n)
    return BarSize(text, seconds, "intraday", n)


def window_start(duration: str, end: pd.Timestamp, session_days: np.ndarray | None = None) -> int:
    """Start (ns) of the span ``duration`` ends at ``end``.

    ``"N D"`` counts trading days when ``session_days`` (sorted day keys up to ``end``) is given,
    as IB does; S, W, M and Y are calendar spans.
    """
    match = _DURATION_RE.match((duration or "").upper())
    if not match:
        raise HistoryError(
            f"Invalid duration {duration!r}: write '<integer> <unit>' with S, D, W, M or Y"
        )
    n, unit = int(match.group(1)), match.group(2)
    if n <= 0:
        raise HistoryError(f"Invalid duration {duration!r}: the count must be positive")
    if unit == "S":
        return end.value - n * NS
    if unit == "D":
        if session_days is not None and len(session_days):
            first_day = session_days[max(len(session_days) - n, 0)]
            return int(first_day) * _DAY * NS
        return end.value - n * _DAY * NS
    if unit == "W":
        return end.value - n * 7 * _DAY * NS
    if unit == "M":
        return (end - pd.DateOffset(months=n)).value
    return (end - pd.DateOffset(years=n)).value


def day_span_guess(duration: str) -> int:
    """Calendar days that surely cover ``duration`` (to fetch enough base bars first)."""
    match = _DURATION_RE.match((duration or "").upper())
    if not match:
        return 1
    n, unit = int(match.group(1)), match.group(2)
    return {"S": n // _DAY + 2, "D": n * 2 + 7, "W": 7 * n + 1, "M": 31 * n + 1}.get(
        unit, 366 * n + 1
    )


def group_keys(size: BarSize, times: np.ndarray, day_keys: np.ndarray) -> np.ndarray:
    """The group each base bar (start ``times``, trading days ``day_keys``) falls in."""
    if size.unit == "intraday":
        return times // (size.seconds * NS)
    if size.unit == "day":
        return day_keys // size.count
    if size.unit == "week":
        # weeks start on Monday: day 0 of the epoch was a Thursday
        return (day_keys + 3) // (7 * size.count)
    months = pd.DatetimeIndex(day_keys * _DAY * NS)
    return (months.year * 12 + months.month - 1).to_numpy() // size.count


def group_key(size: BarSize, t: int, day: int) -> int:
    """``group_keys`` of one base bar."""
    return int(group_keys(size, np.array([t], dtype=np.int64), np.array([day], dtype=np.int64))[0])


def aggregate(
    times: np.ndarray,
    values: np.ndarray,
    day_keys: np.ndarray,
    size: BarSize,
    what: str = "TRADES",
    spread: float = 0.0,
    tick: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group base (trade) bars into ``size`` bars of the series ``what``.

    Returns ``(label_times, label_days, out)``: each group's first base bar time and day key, and
    rows open, high, low, close, volume, wap, count. Quote series come from the quote model
    (``spread``) with volume, wap and count -1, as IB sends them; BID_ASK bars are IB's: open the
    time-average bid, high the highest ask, low the lowest bid, close the time-average ask (the
    average over base bars of the quote at each base bar's mean price).
    """
    if len(times) == 0:
        return times, day_keys, np.empty((7, 0))
    out_times, out_days, out = _aggregate_trades(times, values, day_keys, size)
    if what not in QUOTE_SERIES:
        return out_times, out_days, out
    if what == "BID_ASK":
        starts = np.flatnonzero(np.r_[True, np.diff(group_keys(size, times, day_keys)) != 0])
        n = np.diff(np.r_[starts, len(times)])
        bid, ask = bid_ask(values[:4].mean(axis=0), spread, tick)
        digits = 4 if tick is None else max(4, int(np.ceil(-np.log10(tick))) + 2)
        out[0] = np.round(np.add.reduceat(bid, starts) / n, digits)
        out[3] = np.round(np.add.reduceat(ask, starts) / n, digits)
        out[1] = bid_ask(out[1], spread, tick)[1]
        out[2] = bid_ask(out[2], spread, tick)[0]
    else:
        out[:4] = quote_prices(out[:4], what, spread, tick)
    out[4:] = -1
    return out_times, out_days, out


def _aggregate_trades(
    times: np.ndarray, values: np.ndarray, day_keys: np.ndarray, size: BarSize
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = group_keys(size, times, day_keys)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    o = values[0][starts]
    h = np.maximum.reduceat(values[1], starts)
    lo = np.minimum.reduceat(values[2], starts)
    ends = np.r_[starts[1:], len(times)] - 1
    c = values[3][ends]
    v = np.add.reduceat(np.nan_to_num(values[4]), starts)
    typical = (values[1] + values[2] + values[3]) / 3 * np.nan_to_num(values[4])
    wv = np.add.reduceat(typical, starts)
    wap = np.where(v > 0, wv / np.where(v > 0, v, 1), (h + lo + c) / 3)
    count = np.maximum(np.round(v / 100), 1)
    out = np.vstack([o, h, lo, c, v, np.round(wap, 4), count])
    return times[starts], day_keys[starts], out


def last_trade_bar(
    times: np.ndarray, values: np.ndarray, day_keys: np.ndarray, size: BarSize
) -> tuple[float, float, float, float, float]:
    """Open, high, low, close and volume of the trades of the last ``size`` bar so far."""
    keys = group_keys(size, times, day_keys)
    mine = values[:, keys == keys[-1]]
    volume = float(np.nansum(mine[4]))
    return float(mine[0][0]), float(mine[1].max()), float(mine[2].min()), float(mine[3][-1]), volume


def labels(
    label_times: np.ndarray, label_days: np.ndarray, daily: bool, format_date: int, tz: str
) -> list[str]:
    """Bars' dates as IB writes them: ``yyyymmdd`` daily, ``yyyymmdd hh:mm:ss <tz>`` or epoch
    seconds (``format_date`` 2)."""
    if daily:
        return list(pd.DatetimeIndex(label_days * _DAY * NS).strftime("%Y%m%d"))
    if format_date == 2:
        return [str(int(t) // NS) for t in label_times]
    local = pd.DatetimeIndex(label_times).tz_localize("UTC").tz_convert(tz)
    return list(local.strftime("%Y%m%d %H:%M:%S " + tz))


def label(t: int, day_key: int, daily: bool, format_date: int, tz: str) -> str:
    """``labels`` of one bar."""
    times, days = np.array([t], dtype=np.int64), np.array([day_key], dtype=np.int64)
    return labels(times, days, daily, format_date, tz)[0]


def rows(
    label_times: np.ndarray,
    label_days: np.ndarray,
    out: np.ndarray,
    size: BarSize,
    format_date: int,
    tz: str,
) -> list[tuple[str, float, float, float, float, float, float, int]]:
    """The bars of a historical-data message: (date, open, high, low, close, volume, wap, n)."""
    names = labels(label_times, label_days, size.daily, format_date, tz)
    values = out.tolist()
    return [
        (
            name,
            values[0][j],
            values[1][j],
            values[2][j],
            values[3][j],
            values[4][j],
            values[5][j],
            int(values[6][j]),
        )
        for j, name in enumerate(names)
    ]


@dataclass(slots=True)
class LiveBars:
    """A keep-up-to-date historical subscription: the bar being built."""

    symbol: str
    size: BarSize
    format_date: int
    key: int = -1
    what: str = "TRADES"
    spread: float = 0.0
    rth: bool = False  # useRTH: regular-hours bars only
    tick: float | None = None  # a future's or pair's minimum tick: quotes on its grid
    label: str = ""
    o: float = math.nan
    h: float = math.nan
    lo: float = math.nan
    c: float = math.nan
    v: float = 0.0
    base: int = -1  # the base bar of the last slice: its index and end (ns)
    base_end: int = 0
    opening: bool = False  # the bar was started by open_live_bars; its first slice replaces it

    def update(self) -> tuple[float, float, float, float, float, float, int]:
        """The bar as sent: open, high, low, close, wap, volume and count, of its series."""
        o, h, lo, c = self.o, self.h, self.lo, self.c
        if self.what in QUOTE_SERIES:
            o, h, lo, c = (float(x) for x in quote_prices([o, h, lo, c], self.what, self.spread,
                                                                self.tick))  # fmt: skip
            return o, h, lo, c, -1.0, -1.0, -1
        wap = round((h + lo + c) / 3, 4)
        return o, h, lo, c, wap, self.v, max(int(self.v // 100), 1)
