"""Why a live run never called the strategy's ``on_data``, said as a ``NoBarsWarning`` when it
stops (in the notebook cell that stops it).

Read from the engine's status as the run stops: no symbol subscribed, market data refused or
not live, history refused, streams gone stale, or simply no bar completed while it ran.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from quantnb.errors import NoBarsWarning


def why_no_bars(status: Mapping[str, Any], symbols: Iterable[str], interval: str) -> str:
    """The reasons ``on_data`` was never called in the run whose ``status`` this is."""
    names = ", ".join(symbols) or "no symbols"
    reasons = []
    if status.get("state") == "starting":
        reasons.append("it was stopped while still starting (loading history, subscribing)")
    elif not status.get("symbols"):
        reasons.append(f"none of the symbols ({names}) could be subscribed: see the errors above")
    if status.get("market_data"):
        reasons.append(f"market data: {status['market_data']}")
    if status.get("history_missing"):
        reasons.append(f"history refused for {', '.join(status['history_missing'])}")
    if status.get("stale"):
        reasons.append(f"no data for a while from {', '.join(status['stale'])}")
    if status.get("market_closed_until") is not None:
        reasons.append(f"the market is closed until {status['market_closed_until']}")
    if not reasons:
        got = status.get("bars_received") or 0
        reasons.append(
            f"no {interval} bar of {names} completed while the session ran"
            if not got
            else f"{got} bar(s) arrived but none reached on_data before the stop"
        )
    return f"the strategy's on_data was never called: {'; '.join(reasons)}"


def warn_no_bars(why: str | None) -> None:
    """Warn (``NoBarsWarning``) with ``why`` unless it is None."""
    if why is not None:
        warnings.warn(why, NoBarsWarning, stacklevel=3)
