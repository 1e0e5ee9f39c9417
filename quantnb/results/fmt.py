"""Text formats for result values (times, spans, money, statistics), shared by views and plots."""

from __future__ import annotations

import math

import pandas as pd

MONEY_KEYS = frozenset(
    {"Initial equity", "Final equity", "Equity peak", "Expectancy", "Commissions"}
)


def format_timedelta(td: pd.Timedelta) -> str:
    """'12 days 3h 05m', '4h 30m', '45s'; readable spans instead of pandas' '0 days 04:30:00'."""
    if td is None or pd.isna(td):
        return "—"
    seconds = round(td.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours or minutes:
        parts.append(f"{hours}h {minutes:02d}m" if hours else f"{minutes}m")
    if secs and not days:
        parts.append(f"{secs}s")
    return sign + (" ".join(parts) or "0s")


def format_time(ts: pd.Timestamp) -> str:
    """Date alone at midnight, else date and minutes."""
    if ts is None or pd.isna(ts):
        return "—"
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")


def format_money(value: float, decimals: int = 2) -> str:
    """Money with thousands separators: 1,234,567.89; large amounts without cents if asked."""
    return f"{value:,.{decimals}f}"


def format_pnl(value: float) -> str:
    """A signed, compact P&L label: +1,234 or -56.7 (three significant digits below 100)."""
    return f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+,.3g}"


def format_stat(key: str, value: object) -> str:
    """One stats value as text: percents and ratios 2 dp, money with thousands separators."""
    if isinstance(value, pd.Timedelta):
        return format_timedelta(value)
    if isinstance(value, pd.Timestamp):
        return format_time(value)
    if value is None or value is pd.NaT:
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if key == "Trades":
            return f"{int(value):,}"
        if key in MONEY_KEYS:
            return format_money(value)
        if key.endswith("[%]"):
            return f"{value:,.2f}%"
        return f"{value:,.2f}"
    return str(value)
