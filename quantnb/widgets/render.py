"""Small pure HTML helpers for the widgets: money and percent text, compact tables."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantnb.results.html import format_stat, format_time, format_timedelta

__all__ = [
    "format_age",
    "format_money",
    "format_percent",
    "format_stat",
    "format_value",
    "records_table",
]

TABLE = "border-collapse:collapse;font-size:12px;margin:2px 0;font-family:sans-serif"
TH = "padding:1px 8px;text-align:left;font-weight:normal;color:#555;border-bottom:1px solid #ddd"
TD = "padding:1px 8px;text-align:right;border:none;white-space:nowrap"
TD_TEXT = "padding:1px 8px;text-align:left;border:none;white-space:normal;min-width:14em"
MUTED = "color:#777;font-size:12px;font-family:sans-serif"
# inline-size containment: a wide table scrolls in its column and never widens the page
SCROLL = "overflow-x:auto;max-width:100%;contain:inline-size"
FOLD_AT = 40  # characters of a cell shown before it folds
GREEN, RED = "#1a7f37", "#cf222e"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_money(value: Any, signed: bool = False) -> str:
    """12,345.67; with ``signed`` a leading + for gains. Missing values are '—'."""
    if _is_missing(value):
        return "—"
    value = float(value)
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def format_percent(fraction: Any, signed: bool = True) -> str:
    """A fraction as percent with 2 dp: 0.0123 → '+1.23%'."""
    if _is_missing(fraction):
        return "—"
    pct = float(fraction) * 100
    return f"{pct:+.2f}%" if signed else f"{pct:.2f}%"


def format_age(seconds: Any) -> str:
    """Seconds as a short age: '4s', '2m 05s', '1h 03m'."""
    if _is_missing(seconds):
        return "—"
    seconds = max(0, round(float(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return format_timedelta(pd.Timedelta(seconds=seconds))


_COUNT_COLUMNS = frozenset({"qty", "filled", "remaining", "code", "position", "shares"})


def format_value(value: Any, column: str = "") -> str:
    """A table cell as short text: times, spans; counts as integers, other numbers with 2 dp."""
    if _is_missing(value):
        return "—"
    if isinstance(value, pd.Timestamp):
        return format_time(value)
    if isinstance(value, pd.Timedelta):
        return format_timedelta(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        if column in _COUNT_COLUMNS:
            return f"{value:,.6g}"
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.4g}"
    return str(value)


def pnl_color(value: Any) -> str:
    """CSS color for a P&L figure: green above zero, red below, inherit otherwise."""
    if _is_missing(value) or float(value) == 0:
        return "inherit"
    return GREEN if float(value) > 0 else RED


def records_table(
    records: Sequence[Mapping[str, Any]],
    columns: Iterable[str] | None = None,
    empty: str = "none",
    title: str = "",
) -> str:
    """Plain rows as a compact HTML table (inline styles, no JS); ``empty`` when there are none."""
    head = f'<div style="{MUTED};margin-top:4px"><b>{html.escape(title)}</b></div>' if title else ""
    if not records:
        body = f'<div style="{MUTED}">{html.escape(empty)}</div>'
        return f'<div style="line-height:1.4">{head}{body}</div>'
    cols = list(columns) if columns is not None else list(records[0])
    rows = ["<tr>" + "".join(f'<th style="{TH}">{html.escape(c)}</th>' for c in cols) + "</tr>"]
    for rec in records:
        cells = "".join(_cell(format_value(rec.get(c), c)) for c in cols)
        rows.append(f"<tr>{cells}</tr>")
    # a table wider than its column scrolls sideways on its own instead of widening the page
    return (
        f'<div style="line-height:1.4">{head}<div class="qn-scroll" style="{SCROLL}">'
        f'<table style="{TABLE}">{"".join(rows)}</table></div></div>'
    )


def _cell(text: str) -> str:
    """A table cell; a long text (an error message) folds to its start, whole when opened."""
    if len(text) <= FOLD_AT:
        return f'<td style="{TD}">{html.escape(text)}</td>'
    short = html.escape(text[:FOLD_AT].rstrip() + "…")
    return (
        f'<td style="{TD_TEXT}"><details title="{html.escape(text)}"><summary>{short}'
        f"</summary>{html.escape(text)}</details></td>"
    )
