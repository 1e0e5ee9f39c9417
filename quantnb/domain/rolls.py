"""When a continuous future rolls, the same in a backtest and live.

A contract month's last trading day follows the exchange rules, on the exchange calendar
(``exchange_calendars``' CMES for CME and NYMEX): ES and NQ expire on the third Friday of the
contract month, or the business day before when the CME or the NYSE (whose opening prices settle
them) is closed that day; CL trading ends three business days before the 25th calendar day of
the month before the contract month, four when the 25th is not a business day.

The "days" rule rolls ``roll_days`` business days before the old month's last trading day: the
first bar on or after that date is the new month's (on daily bars, ``roll_days`` bars before the
old month's last bar). A roll closes the old month and opens the new one: two market orders.
"""

from __future__ import annotations

import pandas as pd

from quantnb.domain.calendar import EXCHANGE, business_days
from quantnb.domain.instrument import FUTURES, MONTH_CODES, contract_month
from quantnb.errors import ConfigError

ROLL_TAG = "roll"


def expiry(root: str, month: str) -> pd.Timestamp:
    """The last trading day of ``root``'s ``month`` contract (a naive date), on the exchange
    calendar."""
    month = contract_month(month)
    first = pd.Timestamp(f"{month}-01")
    root = root.upper()
    if root not in FUTURES:
        raise ConfigError(f"unknown futures root {root!r}: known are {sorted(FUTURES)}")
    days = business_days(FUTURES[root].calendar, first.year)
    if root == "CL":
        day = first - pd.DateOffset(months=1) + pd.Timedelta(days=24)  # the 25th, month before
        back = 3 if day in days else 4
        return days[int(days.searchsorted(day)) - back]
    third_friday = pd.date_range(first, first + pd.offsets.MonthEnd(0), freq="W-FRI")[2]
    days = days.intersection(business_days(EXCHANGE, first.year))  # the index settles at its open
    return days[int(days.searchsorted(third_friday, side="right")) - 1]


def roll_date(root: str, month: str, roll_days: int) -> pd.Timestamp:
    """The date from which ``month`` is rolled to the next: ``roll_days`` business days before
    its last trading day (a naive date)."""
    return (expiry(root, month) - pd.offsets.BDay(int(roll_days))).normalize()


def _date(when: pd.Timestamp) -> pd.Timestamp:
    when = pd.Timestamp(when)
    return (when.tz_localize(None) if when.tzinfo is not None else when).normalize()


def rolls_by(root: str, month: str, when: pd.Timestamp, roll_days: int) -> bool:
    """Whether a bar at ``when`` is past ``month``'s roll (the next month's)."""
    return _date(when) >= roll_date(root, month, roll_days)


def month_at(root: str, when: pd.Timestamp, roll_days: int) -> str:
    """The contract month a continuous future of ``root`` holds at ``when`` ("YYYY-MM"): the
    first listed month not yet rolled."""
    spec = FUTURES.get(root.upper())
    if spec is None:
        raise ConfigError(f"unknown futures root {root!r}: known are {sorted(FUTURES)}")
    m = _date(when).to_period("M")
    while True:
        name = f"{m.year:04d}-{m.month:02d}"
        if MONTH_CODES[m.month - 1] in spec.months and not rolls_by(root, name, when, roll_days):
            return name
        m += 1


def next_month(root: str, month: str) -> str:
    """The listed contract month after ``month``."""
    spec = FUTURES[root.upper()]
    m = pd.Period(contract_month(month), "M") + 1
    while MONTH_CODES[m.month - 1] not in spec.months:
        m += 1
    return f"{m.year:04d}-{m.month:02d}"


def roll_legs(old: str, new: str, qty: float) -> list[tuple[str, float]]:
    """The two orders of a roll of ``qty`` (signed) contracts: close ``old``, open ``new``."""
    return [(old, -qty), (new, qty)] if qty else []


__all__ = [
    "ROLL_TAG",
    "expiry",
    "month_at",
    "next_month",
    "roll_date",
    "roll_legs",
    "rolls_by",
]
