"""Side-by-side view of several backtest results: a stats table and normalised equity curves."""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Mapping, Sequence

import ipywidgets as W
import pandas as pd
from matplotlib.figure import Figure

from quantnb.errors import ConfigError
from quantnb.results import STATS_DOC, STATS_KEYS, BacktestResult
from quantnb.results.plot import naive_utc
from quantnb.widgets import render as R

log = logging.getLogger(__name__)

Results = Mapping[str, BacktestResult] | Sequence[BacktestResult]


def _named(results: Results) -> dict[str, BacktestResult]:
    """Results keyed by run name; a list is named by strategy, with #2, #3 on repeats."""
    if isinstance(results, Mapping):
        named = {str(k): v for k, v in results.items()}
    else:
        named = {}
        for res in results:
            name, n = str(res.strategy), 1
            while name in named:
                n += 1
                name = f"{res.strategy} #{n}"
            named[name] = res
    if not named:
        raise ConfigError("compare() needs at least one BacktestResult; got none")
    for name, res in named.items():
        if not isinstance(res, BacktestResult):
            raise ConfigError(f"run {name!r} is a {type(res).__name__}, not a BacktestResult")
    return named


def compare_table(results: Results) -> pd.DataFrame:
    """Stats of each run as one column (index ``STATS_KEYS``), in the order given."""
    named = _named(results)
    return pd.DataFrame({name: res.stats for name, res in named.items()}, index=STATS_KEYS)


def equity_figure(results: Results, figsize: tuple[float, float] = (9, 3.5)) -> Figure:
    """Equity curves of every run divided by their initial cash, on one axis."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for name, res in _named(results).items():
        eq = res.equity["equity"]
        if len(eq):
            ax.plot(naive_utc(eq.index), (eq / res.initial_cash).to_numpy(), lw=1.2, label=name)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_ylabel("Equity / initial cash")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", framealpha=0.8)
    return fig


def table_html(table: pd.DataFrame) -> str:
    """The comparison table as compact HTML, stats formatted like a single result's view."""
    head = "".join(f'<th style="{R.TH};text-align:right">{html.escape(str(c))}</th>' for c in table)
    rows = [f'<tr><th style="{R.TH}"></th>{head}</tr>']
    for key, values in table.iterrows():
        tip = html.escape(STATS_DOC.get(str(key), ""), quote=True)
        cells = "".join(
            f'<td style="{R.TD}">{html.escape(R.format_stat(str(key), v))}</td>' for v in values
        )
        rows.append(
            f'<tr><th style="{R.TH};border:none" title="{tip}">{html.escape(str(key))}</th>'
            f"{cells}</tr>"
        )
    return f'<table style="{R.TABLE}">{"".join(rows)}</table>'


def _png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def compare(results: Results) -> W.Widget:
    """A widget with the stats table (one column per run) above the normalised equity curves."""
    table = compare_table(results)
    image = W.Image(value=_png(equity_figure(results)), format="png")
    return W.VBox([W.HTML(table_html(table)), image])
