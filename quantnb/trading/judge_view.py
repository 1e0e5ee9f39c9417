"""The notebook face of a ``PaperComparison``: an HTML summary and one matplotlib figure."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantnb.results.figure import NotebookFigure
from quantnb.results.fmt import format_money, format_time
from quantnb.results.plot_axes import Timeline, money_axis
from quantnb.results.view import title

if TYPE_CHECKING:
    from quantnb.trading.judge import PaperComparison

LIVE, BACKTEST, DIFF = "tab:blue", "grey", "tab:red"
MAX_ROWS = 10
_TD = "padding:1px 8px;text-align:right;border:none"
_TH = "padding:1px 8px;text-align:left;font-weight:normal;color:#555;border:none"
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"


def _value(key: str, value: object) -> str:
    if isinstance(value, float):
        if not np.isfinite(value):
            return "—"
        return f"{value:,.2f}" if "[bps]" in key else format_money(value)
    return str(value)


def _summary_table(summary: pd.Series) -> str:
    items = list(summary.items())
    half = (len(items) + 1) // 2
    rows = []
    for i in range(half):
        cells = "".join(
            f'<th style="{_TH}">{html.escape(str(k))}</th>'
            f'<td style="{_TD}">{html.escape(_value(str(k), v))}</td>'
            for k, v in items[i : i + 1] + items[i + half : i + half + 1]
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<table style="{_TABLE}">{"".join(rows)}</table>'


def _differences_table(diff: pd.DataFrame) -> str:
    if not len(diff):
        return '<div style="color:#777">Every decision is the same in both runs.</div>'
    head = ["Time", "Symbol", "Side", "Live qty", "Backtest qty", "Live", "Backtest", "Differs"]
    rows = ["<tr>" + "".join(f'<th style="{_TH}">{h}</th>' for h in head) + "</tr>"]
    for d in diff.head(MAX_ROWS).itertuples(index=False):
        values = [
            format_time(d.time), d.symbol, d.side, _qty(d.live_qty), _qty(d.backtest_qty),
            _outcome(d.live_status, d.live_filled), _outcome(d.backtest_status, d.backtest_filled),
            d.difference,
        ]  # fmt: skip
        rows.append(
            "<tr>"
            + "".join(f'<td style="{_TD}">{html.escape(str(v))}</td>' for v in values)
            + "</tr>"
        )
    more = f" (first {MAX_ROWS})" if len(diff) > MAX_ROWS else ""
    return (
        f'<div style="color:#555;margin-top:4px">{len(diff)} differing decisions{more}</div>'
        f'<table style="{_TABLE}">{"".join(rows)}</table>'
    )


def _qty(q: float) -> str:
    return "—" if pd.isna(q) else f"{q:,.6g}"


def _outcome(status: object, filled: float) -> str:
    return "—" if pd.isna(filled) else f"{status} {filled:,.6g}"


def comparison_html(cmp: PaperComparison) -> str:
    """Header, the summary in two columns and the differing decisions."""
    eq = cmp.live.equity
    span = f"{format_time(eq.index[0])} → {format_time(eq.index[-1])}" if len(eq) else "no bars"
    header = (
        f"<b>Paper run vs backtest</b> · {html.escape(title(cmp.live))} · "
        f"{html.escape(span)} · {len(eq)} bars"
    )
    return (
        '<div style="font-family:sans-serif;font-size:12px;line-height:1.3">'
        f"<div>{header}</div>{_summary_table(cmp.summary)}"
        f"{_differences_table(cmp.differences)}</div>"
    )


def plot_comparison(
    cmp: PaperComparison, figsize: tuple[float, float] | None = None
) -> NotebookFigure:
    """P&L of both runs (differing decisions marked), the drift, and per-fill slippage."""
    fig = NotebookFigure(
        figsize=figsize or (11, 7), layout="constrained", label=f"{title(cmp.live)} vs backtest"
    )
    ax_pnl, ax_drift, ax_fill = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3.0, 1.2, 1.5]}
    )
    drift = cmp.drift
    line = Timeline.of(drift.index)
    x = np.arange(len(drift), dtype=float)
    ax_pnl.plot(x, drift["live_pnl"].to_numpy(float), color=LIVE, lw=1.3, label="Paper")
    ax_pnl.plot(x, drift["backtest_pnl"].to_numpy(float), color=BACKTEST, lw=1.1,
                ls="--", label="Backtest, same bars")  # fmt: skip
    diff = cmp.differences
    if len(diff) and len(drift):
        for i, pos in enumerate(np.unique(line.positions(diff["time"]))):
            ax_pnl.axvline(pos, color=DIFF, lw=0.8, alpha=0.7,
                           label="Decision differs" if i == 0 else "_")  # fmt: skip
    ax_pnl.set_ylabel("P&L")
    money_axis(ax_pnl, decimals=0)
    ax_pnl.legend(loc="upper left", framealpha=0.8)

    d = drift["drift"].to_numpy(float)
    ax_drift.fill_between(x, d, 0, color=DIFF, alpha=0.35, lw=0)
    ax_drift.plot(x, d, color=DIFF, lw=0.8)
    ax_drift.axhline(0, color="black", lw=0.6)
    ax_drift.set_ylabel("Drift")
    money_axis(ax_drift)

    fills = cmp.fills.dropna(subset=["model_price"])
    if len(fills):
        fx = line.positions(fills["time"])
        ax_fill.scatter(fx, fills["slippage_bps"], color=LIVE, s=18, label="Realized", zorder=3)
        ax_fill.scatter(fx, fills["model_slippage_bps"], color=BACKTEST, marker="_", s=80,
                        label="Modelled", zorder=3)  # fmt: skip
        ax_fill.legend(loc="best", framealpha=0.8)
    else:
        ax_fill.text(0.5, 0.5, "no fills to compare", ha="center", va="center",
                     transform=ax_fill.transAxes)  # fmt: skip
    ax_fill.axhline(0, color="black", lw=0.6)
    ax_fill.margins(y=0.2)
    ax_fill.set_ylabel("Slippage [bps]")

    fig.suptitle(f"{title(cmp.live)}: paper vs backtest on the same bars")
    for ax in (ax_pnl, ax_drift, ax_fill):
        ax.grid(alpha=0.3)
    line.apply(ax_fill)
    ax_fill.set_xlabel(line.xlabel)
    return fig
