"""Which dashboard buttons can be pressed in an engine state: Start only when stopped, Stop and
Flatten only when running, none while an action is in flight."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_RUNNING = frozenset({"starting", "running"})
_STARTABLE = frozenset({"created", "stopped", "disconnected", "connected"})


@dataclass(frozen=True, slots=True)
class Buttons:
    """Whether each button is enabled."""

    start: bool
    stop: bool
    flatten: bool


def run_state(status: Mapping[str, Any]) -> str:
    """'running', 'stopped', or 'busy' (connecting, stopping) from the engine status;
    'unknown' when the engine reports neither ``state`` nor ``running``."""
    state = str(status.get("state") or "")
    if state in _RUNNING:
        return "running"
    if state in _STARTABLE:
        return "stopped"
    if state:
        return "busy"
    running = status.get("running")
    if running is None:
        return "unknown"
    return "running" if bool(running) else "stopped"


def buttons(status: Mapping[str, Any], in_flight: bool = False) -> Buttons:
    """The enabled buttons for ``status``; an unknown state leaves all enabled."""
    if in_flight:
        return Buttons(False, False, False)
    state = run_state(status)
    if state == "unknown":
        return Buttons(True, True, True)
    running = state == "running"
    return Buttons(start=state == "stopped", stop=running, flatten=running)
