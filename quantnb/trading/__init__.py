"""Live and paper trading: the engine that runs a strategy on IB or the simulator; its journal.

>>> session = qn.paper(MyStrategy(), ["AAPL", "MSFT"], interval="5m")
>>> session.start()          # returns at once; the engine runs on its own thread and loop
>>> session.fills, session.errors, session.status
>>> session.stop()           # finalize, unsubscribe, disconnect; the journal keeps everything
"""

from __future__ import annotations

from quantnb.trading.engine import (
    LiveEvent,
    LiveStrategyEngine,
    find_engine,
    running_engines,
    stop_all,
)
from quantnb.trading.front import LiveSession, live, paper, sessions
from quantnb.trading.journal import Journal, JournalState
from quantnb.trading.judge import PaperComparison
from quantnb.trading.result import paper_result

__all__ = [
    "Journal",
    "JournalState",
    "LiveEvent",
    "LiveSession",
    "LiveStrategyEngine",
    "PaperComparison",
    "find_engine",
    "live",
    "paper",
    "paper_result",
    "running_engines",
    "sessions",
    "stop_all",
]
