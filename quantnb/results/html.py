"""Compact, self-contained HTML view of a backtest result for notebooks (inline styles, no JS)."""

from __future__ import annotations

import html
import logging
import math
from typing import TYPE_CHECKING

import pandas as pd

from quantnb.results.stats import STATS_DOC

if TYPE_CHECKING:
    from quantnb.results.result import BacktestResult

log = logging.getLogger(__name__)

_MONEY_KEYS = frozenset(
    {"Initial equity", "Final equity", "Equity peak", "Expectancy", "Commissions"}
)
_TD = "padding:1px 8px;text-align:right;border:none"
_TH = "padding:1px 8px;text-align:left;font-weight:normal;color:#555;border:none;cursor:help"
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"


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
        if key in _MONEY_KEYS:
            return f"{value:,.2f}"
        if key.endswith("[%]"):
            return f"{value:,.2f}%"
        return f"{value:,.2f}"
    return str(value)


def _stats_table(stats: pd.Series) -> str:
    items = list(stats.items())
    half = (len(items) + 1) // 2
    rows = []
    for i in range(half):
        cells = []
        for key, value in items[i : i + 1] + items[i + half : i + half + 1]:
            tip = html.escape(STATS_DOC.get(key, ""), quote=True)
            cells.append(
                f'<th style="{_TH}" title="{tip}">{html.escape(str(key))}</th>'
                f'<td style="{_TD}">{html.escape(format_stat(key, value))}</td>'
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table style="{_TABLE}">{"".join(rows)}</table>'


def _trades_table(trades: pd.DataFrame, n: int = 5) -> str:
    if len(trades) == 0:
        return '<div style="color:#777">No closed trades.</div>'
    tail = trades.tail(n)
    head = ["Symbol", "Side", "Entry", "Exit", "Qty", "Entry price", "Exit price", "P&L", "Return"]
    rows = [
        "<tr>"
        + "".join(f'<th style="{_TD};color:#555">{html.escape(h)}</th>' for h in head)
        + "</tr>"
    ]
    for t in tail.to_dict("records"):
        values = [
            str(t["symbol"]),
            str(t["direction"]),
            format_time(t["entry_time"]),
            format_time(t["exit_time"]),
            f"{t['qty']:,.6g}",
            f"{t['entry_price']:,.4f}",
            f"{t['exit_price']:,.4f}",
            f"{t['pnl']:,.2f}",
            f"{t['return'] * 100:,.2f}%",
        ]
        rows.append(
            "<tr>" + "".join(f'<td style="{_TD}">{html.escape(v)}</td>' for v in values) + "</tr>"
        )
    title = f"Last {len(tail)} of {len(trades)} trades"
    return f'<div style="color:#555;margin-top:4px">{title}</div><table style="{_TABLE}">' + (
        "".join(rows) + "</table>"
    )


def result_html(result: BacktestResult) -> str:
    """Header (strategy, params, span, interval), stats in two columns, and the last 5 trades."""
    stats = result.stats
    params = ", ".join(f"{k}={v!r}" for k, v in result.params.items())
    span = f"{format_time(stats['Start'])} → {format_time(stats['End'])}"
    header = (
        f"<b>{html.escape(str(result.strategy))}</b>({html.escape(params)}) · "
        f"{html.escape(span)} · {html.escape(str(result.interval))}"
    )
    adjusted = {s: a for s, a in result.meta["adjustment"].items() if a != "none"}
    if adjusted:
        listed = ", ".join(f"{s}: {a}" for s, a in adjusted.items())
        header += f" · prices adjusted ({html.escape(listed)})"
    return (
        '<div style="font-family:sans-serif;font-size:12px;line-height:1.3">'
        f"<div>{header}</div>{_stats_table(stats)}{_trades_table(result.trades)}</div>"
    )
