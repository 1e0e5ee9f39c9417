"""A paper (or live) run as a ``BacktestResult``: read from its journal, during or after the run.

The equity curve is the account snapshot taken as each bar was handed to the strategy (before
the fills of the orders it made then, as a backtest's bar is), the fills and orders are the
journal's, and the prices the bars the run saw. Stats, trades, the plot and the HTML view are
the backtest's own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from quantnb.errors import JournalError
from quantnb.results import BacktestResult
from quantnb.results.frames import FILL_COLUMNS, ORDER_COLUMNS
from quantnb.trading.bar_log import Replay, replay_bars
from quantnb.trading.journal import Journal

logger = logging.getLogger(__name__)


def open_journal(journal: Journal | str | Path) -> Journal:
    """``journal`` itself, or the journal file at that path (which must exist)."""
    if isinstance(journal, Journal):
        return journal
    path = Path(journal)
    if not path.is_file():
        raise JournalError(
            f"no journal at {str(path)!r}: pass the path a session journaled to "
            "(its status['journal'])"
        )
    opened = Journal(path)
    opened.close()  # reading opens its own connections
    return opened


def run_meta(journal: Journal) -> dict[str, Any]:
    """The metadata of the journal's latest run (strategy, params, symbols, interval ...)."""
    runs = journal.runs()
    if not len(runs):
        return {}
    return json.loads(runs["meta"].iloc[-1])


def equity_curve(journal: Journal, replay: Replay | None = None) -> pd.DataFrame:
    """Equity and cash at each bar handed to the strategy (its first snapshot at that time);
    every snapshot time when the journal has no bars (written before bars were journaled)."""
    eq = journal.equity()
    if replay is not None and replay.groups and len(eq):
        eq = eq[eq["time"].isin(replay.live_times)]
    eq = eq.drop_duplicates("time", keep="first").set_index("time").sort_index()
    eq.index = pd.DatetimeIndex(eq.index, name=None)
    return eq[["equity", "cash"]].astype(float)


def paper_result(journal: Journal | str | Path) -> BacktestResult:
    """The run journaled in ``journal`` (a path or a ``Journal``) as a backtest-like result:
    ``stats``, ``trades``, ``fills``, ``equity``, ``plot()`` and the notebook view. Works during
    the run, after ``stop()`` and after a kernel restart."""
    journal = open_journal(journal)
    meta = run_meta(journal)
    replay = replay_bars(journal.bars())
    equity = equity_curve(journal, replay)
    fills = journal.fills()[FILL_COLUMNS].reset_index(drop=True)
    orders = journal.orders(latest=True)[ORDER_COLUMNS].reset_index(drop=True)
    prices = _prices(replay, equity.index)
    initial = float(equity["equity"].iloc[0]) if len(equity) else float("nan")
    return BacktestResult(
        equity=equity,
        fills=fills,
        orders=orders,
        prices=prices,
        initial_cash=initial,
        interval=str(meta.get("interval") or "1d"),
        strategy=str(meta.get("strategy", "paper run")),
        params=dict(meta.get("params") or {}),
    )


def _prices(replay: Replay, clock: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """Each symbol's bars over the run's span (history before it is not part of the run)."""
    if not len(clock):
        return {}
    out = {}
    for symbol, frame in replay.frames.items():
        part = frame.loc[clock[0] : clock[-1]]
        if len(part):
            out[symbol] = part
    return out
