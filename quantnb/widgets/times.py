"""Times as the dashboard shows them: in the exchange's time zone (New York for US stocks), or UTC.

The engine keeps every time in UTC; only what is drawn is converted.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from quantnb.domain.calendar import EXCHANGE_TZ

UTC = "UTC"
ZONES = {"New York": EXCHANGE_TZ, "UTC": UTC}  # the toggle's choices


def as_utc(value: Any) -> pd.Timestamp | None:
    """A timestamp (naive ones are UTC) in UTC, or None for a missing or unparsable value."""
    if value is None or value is pd.NaT:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(ts):
        return None
    return ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)


def in_zone(value: Any, tz: str) -> pd.Timestamp | None:
    """``value`` converted to the time zone ``tz``."""
    ts = as_utc(value)
    return ts.tz_convert(tz) if ts is not None else None


def zone_label(tz: str) -> str:
    """How a time in ``tz`` is labelled: 'market time' for the exchange's zone, else its name."""
    return "market time" if tz == EXCHANGE_TZ else tz


def format_clock(value: Any, tz: str, with_day: bool = False) -> str:
    """'10:35' (or 'Mon 2024-03-04 09:30' with the day) in ``tz``; '—' when missing."""
    ts = in_zone(value, tz)
    if ts is None:
        return "—"
    return ts.strftime("%a %Y-%m-%d %H:%M" if with_day else "%H:%M")


def localize_records(records: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Table rows with every timestamp converted to ``tz``."""
    return [
        {k: in_zone(v, tz) if isinstance(v, pd.Timestamp) else v for k, v in rec.items()}
        for rec in records
    ]
