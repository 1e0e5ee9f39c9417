"""Ports: the seams that make a strategy blind to its mode (backtest or live).

Engines depend on these protocols; adapters (historical feed, simulated broker, IB feed,
IB broker) implement them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from quantnb.domain.accounting import Position
from quantnb.domain.model import Bar, Fill, Order


@runtime_checkable
class IDataFeed(Protocol):
    """Historical bars and instrument facts; frames are canonical (UTC index, lower-case OHLCV)."""

    def get_historical_data(
        self, symbol: str, start: datetime | str | None, end: datetime | str | None, interval: str
    ) -> pd.DataFrame: ...

    def get_multiple_symbols(
        self,
        symbols: Iterable[str],
        start: datetime | str | None,
        end: datetime | str | None,
        interval: str,
    ) -> dict[str, pd.DataFrame]: ...

    def get_ticker_info(self, symbol: str) -> dict[str, Any]: ...


@runtime_checkable
class ILiveDataFeed(IDataFeed, Protocol):
    """A feed that also streams: what the live engine needs on top of history."""

    def subscribe(self, symbols: Iterable[str], interval: str) -> None: ...

    def unsubscribe(self, symbols: Iterable[str]) -> None: ...

    def get_latest_price(self, symbol: str) -> float | None: ...

    def get_latest_bar(self, symbol: str) -> Bar | None: ...

    def reconnect(self) -> bool: ...

    def is_fallback_mode(self) -> bool: ...


@runtime_checkable
class IBroker(Protocol):
    """Order execution and account state, the same surface in a backtest and live."""

    def execute_order(self, order: Order) -> Order: ...

    def check_buying_power(self, order: Order, price: float) -> tuple[bool, str]: ...

    def calculate_commission(self, qty: float, price: float) -> float: ...

    def calculate_slippage(self, price: float, side: str) -> float: ...

    def get_positions(self) -> dict[str, Position]: ...

    def get_cash_balance(self) -> float: ...


@runtime_checkable
class ILiveBroker(IBroker, Protocol):
    """What a live broker adds: single position, account value and event callbacks."""

    def get_position(self, symbol: str) -> Position: ...

    def get_account_value(self) -> float: ...

    def register_fill_callback(self, callback: Callable[[Fill], None]) -> None: ...

    def register_error_callback(self, callback: Callable[[Exception | str], None]) -> None: ...
