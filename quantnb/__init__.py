"""quantnb: backtest a strategy in one notebook cell, paper trade the same object in the next.

>>> import quantnb as qn
>>> res = qn.backtest(MyStrategy(), qn.data.sample(["AAPL", "MSFT"]), cash=100_000)
>>> live = qn.paper(strategy, ["AAPL", "MSFT"], interval="5m")   # the embedded simulator by default
"""

from __future__ import annotations

import logging
from typing import Any

from quantnb import data, ind
from quantnb.domain.costs import (
    CostModel,
    FixedSlippage,
    FxCommission,
    NoCommission,
    PercentCommission,
    PercentSlippage,
    PerContractCommission,
    PerShareCommission,
)
from quantnb.domain.instrument import Instrument, continuous, future, fx, index, with_margin
from quantnb.domain.interval import Interval
from quantnb.domain.model import Bar, Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.domain.risk import RiskLimits
from quantnb.engine.backtest import backtest
from quantnb.engine.context import Context
from quantnb.engine.strategy import Strategy
from quantnb.engine.sweep import sweep
from quantnb.engine.walk_forward import WalkForwardResult, walk_forward
from quantnb.errors import (
    ConfigError,
    DataError,
    GatewayError,
    IntervalError,
    LiveTradingError,
    LookAheadError,
    NoBarsWarning,
    NotConnectedError,
    OptionError,
    OrderError,
    QuantnbError,
    QuantnbWarning,
    StrategyHookWarning,
    UnadjustedSplitWarning,
    UnknownSymbolError,
)
from quantnb.results import BacktestResult

__version__ = "0.1.0"

# A library logs; the application decides where to. (Configure logging to see quantnb's.)
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BacktestResult",
    "Bar",
    "ConfigError",
    "Context",
    "CostModel",
    "DataError",
    "Fill",
    "FixedSlippage",
    "FxCommission",
    "GatewayError",
    "Instrument",
    "Interval",
    "IntervalError",
    "LiveTradingError",
    "LookAheadError",
    "NoBarsWarning",
    "NoCommission",
    "NotConnectedError",
    "OptionError",
    "Order",
    "OrderError",
    "OrderStatus",
    "OrderType",
    "PerContractCommission",
    "PerShareCommission",
    "PercentCommission",
    "PercentSlippage",
    "QuantnbError",
    "QuantnbWarning",
    "RiskLimits",
    "Side",
    "Strategy",
    "StrategyHookWarning",
    "TimeInForce",
    "UnadjustedSplitWarning",
    "UnknownSymbolError",
    "WalkForwardResult",
    "backtest",
    "continuous",
    "data",
    "future",
    "fx",
    "ind",
    "index",
    "live",
    "paper",
    "paper_result",
    "sweep",
    "walk_forward",
    "with_margin",
]


def paper(strategy: Strategy, symbols: Any, interval: str = "5m", **config: Any):
    """Paper trade ``strategy`` on IB or the embedded gateway simulator (``quantnb.trading``)."""
    from quantnb.trading.front import paper as _paper

    return _paper(strategy, symbols, interval=interval, **config)


def paper_result(journal: Any) -> BacktestResult:
    """A paper run read from its journal file as a backtest-like result (``quantnb.trading``)."""
    from quantnb.trading.result import paper_result as _paper_result

    return _paper_result(journal)


def live(strategy: Strategy, symbols: Any, interval: str = "5m", **config: Any):
    """Real-money trading: refuses unless QUANTNB_ALLOW_LIVE=1 and the account is not paper."""
    from quantnb.trading.front import live as _live

    return _live(strategy, symbols, interval=interval, **config)
