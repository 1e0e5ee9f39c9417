"""Compact, self-contained HTML view of a backtest result for notebooks (inline styles, no JS)."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

import pandas as pd

from quantnb.results.fmt import format_stat, format_time, format_timedelta
from quantnb.results.stats import STATS_DOC

if TYPE_CHECKING:
    from quantnb.results.view import ResultData

log = logging.getLogger(__name__)

__all__ = ["format_stat", "format_time", "format_timedelta", "result_html"]

_TD = "padding:1px 8px;text-align:right;border:none"
_TH = "padding:1px 8px;text-align:left;font-weight:normal;color:#555;border:none;cursor:help"
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"


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


def result_html(result: ResultData) -> str:
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
