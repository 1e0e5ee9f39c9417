"""What a live session is waiting for, as one line of text read from the engine's status.

A pure function of the status mapping, so each case is easy to test; keys a given engine does
not report are read with ``.get`` and simply not shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quantnb.domain.calendar import EXCHANGE_TZ
from quantnb.widgets.render import format_age
from quantnb.widgets.times import as_utc, format_clock, zone_label

_STOPPED = frozenset({"stopped", "created", "disconnected", "stopping"})


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value) or None


def _history(progress: Any) -> str | None:
    if not isinstance(progress, Mapping):
        return None
    done, total = progress.get("done"), progress.get("total")
    text = f"history, {done} of {total} loaded" if total else "history"
    why = _text(progress.get("waiting"))
    if why:
        text += f": {why}"
        resume_in = progress.get("resume_in")
        if resume_in is not None and not math.isnan(float(resume_in)):
            text += f", resumes in {format_age(resume_in)}"
    return text


def waiting_line(status: Mapping[str, Any], tz: str = EXCHANGE_TZ) -> str | None:
    """What the session waits for, most pressing first: the gateway (a restart, a login, a
    reconnect attempt), history (pacing), the market to open, the next bar. None: nothing."""
    state = str(status.get("state") or "")
    connection = str(status.get("connection") or "")
    attempt = int(status.get("attempts") or 0)
    retrying = connection in ("reconnecting", "connecting") and state not in _STOPPED
    gateway = _text(status.get("waiting_for"))
    if gateway:
        if retrying and attempt and "attempt" not in gateway:
            gateway += f", attempt {attempt}"
        return gateway
    if retrying:
        return f"the gateway: {connection}" + (f", attempt {attempt}" if attempt else "")
    history = _history(status.get("history_progress"))
    if history:
        return history
    if state in _STOPPED or status.get("running") is False:
        return None
    closed = as_utc(status.get("market_closed_until"))
    if closed is not None:
        return f"the market to open: closed until {format_clock(closed, tz, True)} {zone_label(tz)}"
    due = as_utc(status.get("next_bar_due"))
    if due is not None:
        return f"the next bar, due at {format_clock(due, tz)} {zone_label(tz)}"
    return None


def clock_line(status: Mapping[str, Any]) -> str | None:
    """The session's clock when it is not the real one ('simulated market, 300× real time')."""
    return _text(status.get("clock"))
