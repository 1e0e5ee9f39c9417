"""What keeps a session from trading normally, for its status and dashboard.

Read from the connection: an account refused at a reconnect (``alert``), the gateway being
waited for (``waiting_for``: a restart, a login screen, a refused account) and market data that
is not live (``market_data``). Each is None when all is well.
"""

from __future__ import annotations

import json
from typing import Any

SAFETY_KEYS = ("alert", "waiting_for", "market_data")


def safety_status(connection: Any) -> dict[str, str | None]:
    """``alert``, ``waiting_for`` and ``market_data`` of ``connection`` (None: nothing to say)."""
    out: dict[str, str | None] = dict.fromkeys(SAFETY_KEYS)
    if connection is None:
        return out
    refusal = getattr(connection, "refusal", None)
    if refusal is not None:
        out["alert"] = refusal.message
    if connection.state in ("reconnecting", "connecting"):
        out["waiting_for"] = _waiting_for(connection, refusal)
    market_data = getattr(connection, "market_data", None)
    if market_data is not None:
        out["market_data"] = market_data.summary()
    return out


def _waiting_for(connection: Any, refusal: Any) -> str:
    where = f"the IB gateway at {connection.config.address}"
    if refusal is not None:
        return f"{where} to log back in to account {refusal.expected}"
    failure = getattr(connection, "last_failure", None) or ""
    if "refused" in failure:
        why = "it refuses connections (restarting, or waiting at its login screen)"
    elif failure:
        why = failure
    else:
        return f"{where} ({connection.state})"
    return f"{where}, attempt {connection.attempts}: {why}"


def journal_account(journal: Any) -> str | None:
    """The (masked) account of the journal's last run, None when it names none."""
    try:
        runs = journal.runs()
        meta = json.loads(runs["meta"].iloc[-1]) if len(runs) else {}
    except (KeyError, TypeError, ValueError):
        return None
    account = meta.get("account")
    return str(account) if account and account != "<none>" else None
