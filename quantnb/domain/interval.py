"""Bar intervals and IB duration strings, parsed once into values.

Every layer (sample data, resampling, the IB adapter, the gateway simulator) asks this module what
"5m" means, so the spellings for pandas and for IB live in one table.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import total_ordering

from quantnb.errors import ConfigError, IntervalError

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY

# name -> (seconds, pandas frequency, IB bar size)
_TABLE: dict[str, tuple[int, str, str]] = {
    "1m": (_MINUTE, "1min", "1 min"),
    "5m": (5 * _MINUTE, "5min", "5 mins"),
    "15m": (15 * _MINUTE, "15min", "15 mins"),
    "30m": (30 * _MINUTE, "30min", "30 mins"),
    "1h": (_HOUR, "1h", "1 hour"),
    "1d": (_DAY, "1D", "1 day"),
    "1w": (_WEEK, "W-MON", "1 week"),
}
VALID_INTERVALS: tuple[str, ...] = tuple(_TABLE)

# Other common spellings of the same seven intervals (looked up after lower-casing).
_ALIASES: dict[str, str] = {
    "1min": "1m",
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "60m": "1h",
    "60min": "1h",
    "1hour": "1h",
    "hourly": "1h",
    "1day": "1d",
    "daily": "1d",
    "1wk": "1w",
    "1week": "1w",
    "weekly": "1w",
}

_IB_BAR_SIZES: dict[str, str] = {ib: name for name, (_, _, ib) in _TABLE.items()}
_IB_BAR_SIZES.update({"1 mins": "1m", "5 min": "5m", "15 min": "15m", "30 min": "30m"})
_IB_BAR_SIZES.update({"1 hours": "1h", "1 days": "1d", "1 weeks": "1w"})

# Longest duration IB accepts in one historical request per bar size, from the
# "Valid Duration and Bar Size Settings" table of IB's historical data limitations:
#   1 D allows bars of 1 min and up; 1 W allows 3 mins and up; 1 M (30 days) allows 30 mins and up;
#   1 Y allows 1 day and up. Longer daily/weekly requests often work but are not guaranteed.
_MAX_IB_DURATION: dict[str, timedelta] = {
    "1m": timedelta(days=1),
    "5m": timedelta(weeks=1),
    "15m": timedelta(weeks=1),
    "30m": timedelta(days=30),
    "1h": timedelta(days=30),
    "1d": timedelta(days=365),
    "1w": timedelta(days=365),
}

# IB duration units; M and Y are IB's calendar units, approximated by 30 and 365 days.
_DURATION_UNITS: dict[str, int] = {"S": 1, "D": _DAY, "W": _WEEK, "M": 30 * _DAY, "Y": 365 * _DAY}
_DURATION_RE = re.compile(r"^\s*(\d+)\s+([A-Za-z])\s*$")


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


@total_ordering
@dataclass(frozen=True, slots=True)
class Interval:
    """One supported bar interval; compares by length, so ``Interval.parse("1d") > "1h"``."""

    name: str
    seconds: int

    @classmethod
    def parse(cls, value: Interval | str) -> Interval:
        """Parse ``"1m" "5m" "15m" "30m" "1h" "1d" "1w"`` (or an alias such as "5min", "1D")."""
        if isinstance(value, Interval):
            return value
        if not isinstance(value, str):
            raise IntervalError(
                f"interval must be a string such as '1d', got {value!r} "
                f"({type(value).__name__}); valid intervals: {', '.join(VALID_INTERVALS)}"
            )
        key = value.strip()
        # "1M" would mean a month to pandas users: keep minutes lower-case only.
        if key not in _TABLE and not key.endswith("M"):
            key = key.lower()
        key = _ALIASES.get(key, key)
        if key not in _TABLE:
            raise IntervalError(
                f"unknown interval {value!r}; valid intervals: {', '.join(VALID_INTERVALS)}."
                + _did_you_mean(value.strip().lower(), VALID_INTERVALS)
            )
        return cls(key, _TABLE[key][0])

    @classmethod
    def from_ib_bar_size(cls, bar_size: str) -> Interval:
        """Map an IB bar size such as ``"5 mins"`` or ``"1 hour"`` to an Interval."""
        key = " ".join(str(bar_size).split()).lower()
        if key not in _IB_BAR_SIZES:
            valid = [ib for _, _, ib in _TABLE.values()]
            raise IntervalError(
                f"unsupported IB bar size {bar_size!r}; supported: {', '.join(valid)}."
                + _did_you_mean(key, valid)
            )
        return cls.parse(_IB_BAR_SIZES[key])

    @property
    def is_intraday(self) -> bool:
        return self.seconds < _DAY

    @property
    def pandas_freq(self) -> str:
        return _TABLE[self.name][1]

    @property
    def ib_bar_size(self) -> str:
        return _TABLE[self.name][2]

    @property
    def timedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Interval.parse(other)
        if not isinstance(other, Interval):
            return NotImplemented
        return self.seconds < other.seconds

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Interval.parse(other)
            except IntervalError:
                return False
        if not isinstance(other, Interval):
            return NotImplemented
        return self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name


def parse_ib_duration(duration: str) -> timedelta:
    """Parse an IB duration string such as ``"30 D"`` (units S, D, W, M≈30 days, Y≈365 days)."""
    match = _DURATION_RE.match(str(duration))
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _DURATION_UNITS:
        raise IntervalError(
            f"bad IB duration {duration!r}; write '<integer> <unit>' with unit one of "
            f"{', '.join(_DURATION_UNITS)}, e.g. '30 D' or '1 Y'"
        )
    count = int(match.group(1))
    if count <= 0:
        raise IntervalError(f"bad IB duration {duration!r}: the count must be positive, e.g. '1 D'")
    if unit == "S" and count > _DAY:
        raise IntervalError(
            f"bad IB duration {duration!r}: IB takes at most 86400 S; use days, e.g. "
            f"'{math.ceil(count / _DAY)} D'"
        )
    if unit == "D" and count > 365:
        raise IntervalError(
            f"bad IB duration {duration!r}: IB wants spans over 365 days in years, e.g. "
            f"'{math.ceil(count / 365)} Y'"
        )
    return timedelta(seconds=count * _DURATION_UNITS[unit])


def ib_duration_for(span: timedelta, interval: Interval | str | None = None) -> str:
    """Smallest IB duration string covering ``span``: "N S" up to a day, "N D" up to 365, "N Y".

    With an ``interval`` the duration covers at least one bar, and daily or weekly bars are
    asked for in days (IB refuses seconds for them).
    """
    seconds = span.total_seconds()
    if not seconds > 0:
        raise ConfigError(
            f"IB duration span must be positive, got {span!r}; pass e.g. timedelta(1)"
        )
    whole = math.ceil(seconds)
    iv = Interval.parse(interval) if interval is not None else None
    if iv is not None:
        whole = max(whole, iv.seconds)
    if whole <= _DAY and (iv is None or iv.is_intraday):
        return f"{whole} S"
    days = math.ceil(whole / _DAY)
    if days <= 365:
        return f"{days} D"
    return f"{math.ceil(days / 365)} Y"


def max_ib_duration(interval: Interval | str) -> timedelta:
    """Longest span one IB historical request may cover at this bar size (conservative)."""
    return _MAX_IB_DURATION[Interval.parse(interval).name]
