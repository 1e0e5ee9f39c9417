"""Settings of the gateway simulator, checked once so every layer can trust them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

import pandas as pd

from quantnb.errors import ConfigError
from quantnb.sim import instruments
from quantnb.sim.pacing import PacingRule

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "SPY")
MARKET_DATA = ("live", "delayed", "none")
_ACCOUNT_RE = re.compile(r"^[A-Z]{1,3}\d{4,10}$")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that shapes a simulated gateway: universe, clock, account, costs, faults.

    ``start`` is where the market clock starts (default: 2024-01-03 10:00 New York for generated
    data, the first bar for bars handed in). Generated data trades the NYSE calendar's sessions
    with pre-market (from 04:00 New York) and after-hours (to 20:00, 17:00 after an early close).
    ``speed`` is market seconds per wall second (``mode="realtime"``); closed hours (nights,
    weekends, holidays) take their time too, unless ``skip_closed=True`` jumps the clock over
    them to the next bar. ``mode="manual"`` moves the clock only on ``step()``, bar by bar,
    where closed hours hold no bars. ``liquidity`` caps the shares one symbol fills per bar.
    A connection that has not finished the API handshake after ``handshake_timeout`` seconds is
    closed. ``commission_delay`` is how many wall seconds each commission report comes after its
    execution (0: at once). ``market_data`` is the login's market-data permission: ``"live"``,
    ``"delayed"`` (no live subscription) or ``"none"``. ``skip_extended=True`` plays the
    pre-market and after-hours sessions at once in real time, for clients that trade regular
    hours only. ``follow_sample=True`` makes the generated market continue
    ``qn.data.sample(symbols, "1d", seed=seed)``: its regular hours trade the sample's daily bars
    over 2020-2023, and a walk with the same statistics before and after. ``futures`` (roots
    "ES", "NQ", "CL": their listed months), ``fx`` (pairs "EURUSD", "USDJPY") and ``indices``
    ("SPX") are served beside the stocks on a generated market (none by default); with futures
    or FX the clock also plays their night and Sunday-evening hours (stocks have no bars then).
    """

    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    seed: int = 0
    start: str | None = None
    history_days: int = 730
    mode: str = "realtime"
    speed: float = 1.0
    skip_closed: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    account: str = "DU1234567"
    cash: float = 100_000.0
    account_type: str = "margin"
    leverage: float = 2.0
    commission: Any = None
    slippage: Any = None
    liquidity: float | None = None
    spread: float = 0.0002
    pacing: PacingRule | None = field(default_factory=PacingRule)
    farm_notices: bool = True
    handshake_timeout: float = 10.0
    commission_delay: float = 0.0
    market_data: str = "live"
    skip_extended: bool = False
    follow_sample: bool = False
    futures: tuple[str, ...] = ()
    fx: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        symbols = (self.symbols,) if isinstance(self.symbols, str) else tuple(self.symbols)
        symbols = tuple(dict.fromkeys(s.strip().upper() for s in symbols if str(s).strip()))
        if not symbols:
            raise ConfigError("the simulator needs at least one symbol, e.g. symbols=('AAPL',)")
        object.__setattr__(self, "symbols", symbols)
        for name in ("futures", "fx", "indices"):
            value = getattr(self, name)
            items = (value,) if isinstance(value, str) else tuple(value or ())
            items = tuple(dict.fromkeys(str(x).strip().upper().replace(".", "") for x in items))
            object.__setattr__(self, name, items)
        instruments.check_names(self.futures, self.fx, self.indices)
        if self.mode not in ("realtime", "manual"):
            raise ConfigError(f"mode={self.mode!r} is not known; use 'realtime' or 'manual'")
        if not self.speed > 0:
            raise ConfigError(f"speed={self.speed!r} must be positive, e.g. speed=60")
        for name in ("skip_closed", "skip_extended", "follow_sample"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be True or False")
        if not 0 <= int(self.port) <= 65535:
            raise ConfigError(f"port={self.port!r} is not a TCP port; use 0 for a free one")
        if not _ACCOUNT_RE.match(self.account):
            raise ConfigError(f"account={self.account!r} does not look like an IB id: DU1234567")
        if self.account_type not in ("margin", "cash"):
            raise ConfigError(f"account_type={self.account_type!r}: use 'margin' or 'cash'")
        if not self.cash >= 0:
            raise ConfigError(f"cash={self.cash!r} must be zero or more")
        if not self.leverage >= 1:
            raise ConfigError(f"leverage={self.leverage!r} must be at least 1")
        if self.liquidity is not None and not self.liquidity > 0:
            raise ConfigError(f"liquidity={self.liquidity!r} must be positive or None")
        if not self.commission_delay >= 0:
            raise ConfigError(f"commission_delay={self.commission_delay!r} must be 0 or more")
        if self.market_data not in MARKET_DATA:
            raise ConfigError(
                f"market_data={self.market_data!r} is not known; use one of {MARKET_DATA}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} must be a non-negative integer")
        if not isinstance(self.handshake_timeout, int | float) or not (
            0 < self.handshake_timeout < float("inf")
        ):
            raise ConfigError(
                f"handshake_timeout={self.handshake_timeout!r} must be a positive number of "
                "seconds, e.g. 10.0"
            )
        if self.history_days < 1:
            raise ConfigError(f"history_days={self.history_days!r} must be at least 1")
        if self.start is not None:
            try:
                pd.Timestamp(self.start)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"start={self.start!r} is not a date/time") from exc

    @property
    def start_time(self) -> pd.Timestamp | None:
        """Where the market clock starts (UTC); None: the default for the kind of data."""
        if self.start is None:
            return None
        ts = pd.Timestamp(self.start)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    def with_overrides(self, **overrides: Any) -> SimConfig:
        """A copy with some settings changed; unknown names raise ConfigError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown simulator setting(s) {unknown}; known: {sorted(known)}")
        return replace(self, **overrides)
