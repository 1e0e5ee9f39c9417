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
from quantnb.sim.market import Market

_FORMAT = 1


class SimState:
    """The market and the account of one simulated gateway."""

    def __init__(self, config: SimConfig, bars: dict[str, pd.DataFrame] | None = None) -> None:
        self.config = config
        self.market = Market(config, bars)
        self.account = Account(config, self.market)

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
