"""Everything the simulated IB side remembers: the market and the account, kept apart from sockets.

It outlives client disconnects and server restarts, and saves to a file for subprocess mode.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import pandas as pd

from quantnb.errors import ConfigError
from quantnb.sim.account import Account
from quantnb.sim.config import SimConfig
from quantnb.sim.faults import Faults
from quantnb.sim.market import Market

_FORMAT = 2


class SimState:
    """The market, the accounts and IB's side faults of one simulated gateway.

    ``account`` is the account the gateway is logged in to; ``accounts`` holds every account it
    has been logged in to, each with its own cash, positions, orders and executions.
    """

    def __init__(self, config: SimConfig, bars: dict[str, pd.DataFrame] | None = None) -> None:
        self.config = config
        self.market = Market(config, bars)
        self.account = Account(config, self.market)
        self.accounts: dict[str, Account] = {self.account.id: self.account}
        self.faults = Faults(market_data=config.market_data)

    def switch_account(self, account_id: str, cash: float | None = None) -> Account:
        """Log in to ``account_id``: a new account starts with ``cash`` (default: the configured
        cash); one seen before comes back as it was left."""
        found = self.accounts.get(account_id)
        if found is None:
            settings: dict = {"account": account_id}
            if cash is not None:
                settings["cash"] = float(cash)
            found = Account(self.config.with_overrides(**settings), self.market)
            self.accounts[account_id] = found
        elif cash is not None:
            raise ConfigError(
                f"account {account_id} already exists with its own cash; leave cash=None"
            )
        self.account = found
        return found

    def other_accounts(self) -> list[Account]:
        """The accounts the gateway is not logged in to (their orders still work at IB)."""
        return [a for a in self.accounts.values() if a is not self.account]

    def save(self, path: str | Path) -> None:
        """Write the state to ``path`` atomically (a temporary file moved into place)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((_FORMAT, self), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def load(path: str | Path) -> SimState:
        """Read a state written by ``save``."""
        try:
            with open(path, "rb") as fh:
                version, state = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, ValueError, EOFError) as exc:
            raise ConfigError(f"cannot read simulator state from {str(path)!r}: {exc}") from exc
        if version != _FORMAT or not isinstance(state, SimState):
            raise ConfigError(f"{str(path)!r} is not a simulator state file of this version")
        return state
