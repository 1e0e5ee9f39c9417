"""Which account a session may trade, checked on every (re)connect, before anything is sent.

A session trades the kind of account it asked for (paper or live) and, once connected, that one
account only: a gateway that comes back logged in to another account (a live one behind a paper
session, another paper account, a paper one behind a live session) is refused. Ids are masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from quantnb.errors import LiveTradingError
from quantnb.ib.config import is_paper_account, mask_account


def account_kind(account: str | None) -> str:
    """``"paper"`` or ``"LIVE (real-money)"``: how an account is named in messages."""
    return "paper" if is_paper_account(account) else "LIVE (real-money)"


def check_account_kind(account: str | None, paper_trading: bool) -> None:
    """Raise LiveTradingError unless ``account`` is the kind asked for (paper or live)."""
    if paper_trading and not is_paper_account(account):
        raise LiveTradingError(
            f"paper trading was asked for but the gateway's account {mask_account(account)} is "
            "not a paper account (paper ids start with DU or DF): log the gateway in to your "
            "paper account, or use qn.live(...) for real money"
        )
    if not paper_trading and is_paper_account(account):
        raise LiveTradingError(
            f"live trading was asked for but the gateway's account {mask_account(account)} is a "
            "paper account: log the gateway in to the live account, or use qn.paper(...)"
        )


def check_account_was(account: str | None, account_was: str, address: str) -> None:
    """Raise LiveTradingError unless ``account`` is the one a resumed session traded before
    (``account_was``, full or masked: compared masked, as journals keep it)."""
    if mask_account(account) == mask_account(account_was):
        return
    raise LiveTradingError(
        f"the IB gateway at {address} is logged in to account {mask_account(account)}, not "
        f"{mask_account(account_was)} that this session's journal traded: its orders and fills "
        f"are in {mask_account(account_was)}, so nothing was reconciled or sent. Log the gateway "
        f"in to {mask_account(account_was)}, or give the session a new journal to trade "
        f"{mask_account(account)}"
    )


@dataclass(frozen=True, slots=True)
class AccountRefusal:
    """A reconnect found the gateway on another account than the session's: nothing is sent
    or cancelled there. ``found`` and ``expected`` are masked ids."""

    found: str
    expected: str
    found_kind: str
    message: str
    since: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))


def check_reconnect(
    found: str | None, expected: str, paper: bool | None, address: str
) -> AccountRefusal | None:
    """None when ``found`` is the session's account ``expected``, else why it is refused.

    ``paper``: the kind the session asked for (None: the kind of ``expected``).
    """
    if found == expected:
        return None
    paper = is_paper_account(expected) if paper is None else paper
    kind = account_kind(found)
    session = "paper" if paper else "live (real-money)"
    other = "another" if is_paper_account(found) == paper else "a"
    message = (
        f"the IB gateway at {address} is logged in to account {mask_account(found)} now, "
        f"{other} {kind} account, not {mask_account(expected)} that this {session} session "
        f"trades: nothing is sent to or cancelled in {mask_account(found)}. Log the gateway "
        f"back in to {mask_account(expected)} (the session carries on by itself), or stop the "
        "session"
    )
    return AccountRefusal(mask_account(found), mask_account(expected), kind, message)
