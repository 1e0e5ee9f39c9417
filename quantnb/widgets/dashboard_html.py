"""The dashboard's HTML pieces: the status header with what the session waits for, and the
account and P&L table. Pure functions of the values ``snapshot`` reads."""

from __future__ import annotations

import html
from typing import Any

from quantnb.domain.calendar import EXCHANGE_TZ
from quantnb.trading.pnl import Pnl
from quantnb.widgets import render as R
from quantnb.widgets.times import in_zone, zone_label
from quantnb.widgets.waiting import clock_line, waiting_line

AMBER, RED, GREY, GREEN = "#bf8700", "#cf222e", "#57606a", "#1a7f37"
STATE_COLORS = {
    "connected": GREEN,
    "reconnecting": AMBER,
    "connecting": AMBER,
    "fallback": AMBER,
    "disconnected": RED,
    "stopped": GREY,
    "error": RED,
}
_BADGE = "color:white;border-radius:3px;padding:1px 6px;display:inline-block;margin:1px 0"


def _badge(text: str, color: str, title: str = "") -> str:
    tip = f' title="{html.escape(title)}"' if title else ""
    return f'<span style="background:{color};{_BADGE}"{tip}>{html.escape(text)}</span>'


def status_html(status: dict[str, Any], tz: str = EXCHANGE_TZ) -> str:
    """The header: connection badge, warnings, the last bar's time in ``tz``, and the lines
    saying what stops the session from trading normally or what it waits for."""
    state = status["connection"].lower()
    label = state
    if state == "reconnecting":
        label = f"reconnecting (attempt {status['attempts']})"
    badges = [_badge(label, STATE_COLORS.get(state, GREY))]
    if status["fallback"]:
        badges.append(_badge("fallback mode", AMBER))
    if status["market_data"]:
        what = "delayed data" if "delayed" in status["market_data"] else "no market data"
        badges.append(_badge(what, AMBER, status["market_data"]))
    if status.get("history_missing"):
        wait = status.get("history_wait")
        text = f"history of {', '.join(status['history_missing'])} refused (162)" + (
            f": asked again in {wait:.0f} s" if wait is not None else ""
        )
        badges.append(_badge(text, AMBER))
    if status.get("order_changes_queued"):
        n = status["order_changes_queued"]
        badges.append(_badge(f"{n} order change(s) wait for the gateway", AMBER))
    if status.get("data_farm", "ok") != "ok":
        badges.append(_badge(f"market data {status['data_farm']}", RED))
    if status.get("stale"):
        badges.append(_badge(f"stale: {', '.join(status['stale'])}", RED))
    bar = in_zone(status["last_bar_time"], tz)
    bar_text = (
        f"last bar {R.format_value(bar)} {zone_label(tz)} · "
        f"{R.format_age(status['last_bar_age'])} ago"
        if bar is not None
        else "no bars yet"
    )
    return (
        '<div style="font-family:sans-serif;font-size:13px;overflow-wrap:anywhere">'
        f"<b>quantnb live</b> {' '.join(badges)} "
        f'<span style="{R.MUTED}">{html.escape(bar_text)}</span>'
        + "".join(notice_lines(status, tz))
        + "</div>"
    )


def notice_lines(status: dict[str, Any], tz: str = EXCHANGE_TZ) -> list[str]:
    """Lines under the header: an account alert (red), what the session waits for and the
    market data that is not live (amber), and a clock that is not the real one (grey)."""
    lines = []
    for cls, label, color, text in (
        ("alert", "Not trading", RED, status.get("alert")),
        ("waiting-for", "Waiting for", AMBER, waiting_line(status, tz)),
        ("market-data", "Market data", AMBER, status.get("market_data")),
        ("clock", "Clock", GREY, clock_line(status)),
    ):
        if text:
            lines.append(
                f'<div class="qn-{cls}" style="color:{color};margin-top:2px">'
                f"<b>{label}:</b> {html.escape(text)}</div>"
            )
    return lines


def _row(label: str, value: Any, signed: bool = False, title: str = "") -> str:
    color = R.pnl_color(value) if signed else "inherit"
    tip = f' title="{html.escape(title)}"' if title else ""
    return (
        f'<tr{tip}><th style="{R.TH};border:none">{html.escape(label)}</th>'
        f'<td style="{R.TD};color:{color}">{html.escape(R.format_money(value, signed))}</td></tr>'
    )


def account_html(account: dict[str, Any], pnl: Pnl | None) -> str:
    """The account (equity, cash, day P&L) and the session's P&L: realized and unrealized
    before commissions, gross, the commissions paid, and net."""
    if not account and pnl is None:
        return f'<div style="{R.MUTED}">No account data yet.</div>'
    rows = []
    if account:
        rows += [
            _row("Equity", account.get("equity")),
            _row("Cash", account.get("cash")),
            _row("Day P&L", account.get("day_pnl"), signed=True),
        ]
    if pnl is not None:
        rows += [
            f'<tr><th colspan="2" style="{R.TH};padding-top:4px"><b>This session</b></th></tr>',
            _row("Realized P&L", pnl.realized, True, "closed trades, before commissions"),
            _row("Unrealized P&L", pnl.unrealized, True, "open positions at their last price"),
            _row("Gross P&L", pnl.gross, True, "realized + unrealized, before commissions"),
            _row("Commissions paid", pnl.commissions),
            _row("Net P&L", pnl.net, True, "gross P&L minus commissions"),
        ]
    return f'<div style="line-height:1.4"><table style="{R.TABLE}">{"".join(rows)}</table></div>'
