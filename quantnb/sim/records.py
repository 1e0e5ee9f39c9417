"""Records the account keeps about orders and executions, as IB describes them. Data only."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from quantnb.domain.model import Order
from quantnb.sim.contracts import SimContract

# IB order states
PRE_SUBMITTED = "PreSubmitted"
SUBMITTED = "Submitted"
FILLED = "Filled"
CANCELLED = "Cancelled"
INACTIVE = "Inactive"
DONE = frozenset({FILLED, CANCELLED, INACTIVE})


@dataclass(slots=True)
class OrderRecord:
    """One order as the gateway knows it; ``order`` is the domain order used for matching."""

    client_id: int
    order_id: int
    perm_id: int
    contract: SimContract
    action: str
    qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str
    account: str
    order: Order
    parent_id: int = 0
    oca_group: str = ""
    outside_rth: bool = False
    status: str = SUBMITTED
    filled: float = 0.0
    avg_price: float = 0.0
    last_fill_price: float = 0.0
    completed_time: pd.Timestamp | None = None
    completed_status: str = ""
    day: object = None
    day_end: int | None = None  # a future's or FX pair's DAY order ends then (ns UTC)
    held: bool = False  # a bracket child waiting for its parent to fill

    @property
    def remaining(self) -> float:
        return max(self.qty - self.filled, 0.0)

    @property
    def is_done(self) -> bool:
        return self.status in DONE


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One fill as IB reports it: execDetails plus its commission report."""

    exec_id: str
    client_id: int
    order_id: int
    perm_id: int
    contract: SimContract
    side: str  # BOT or SLD
    shares: float
    price: float
    time: pd.Timestamp
    account: str
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None
    liquidity: int = 2  # 1 added, 2 removed


@dataclass(frozen=True, slots=True)
class WhatIfState:
    """The order state IB answers a what-if order with: margin before, change and after the
    order, its commission (with the range it may take) and a warning, if any."""

    init_margin: tuple[float, float, float]  # before, change, after
    maint_margin: tuple[float, float, float]
    equity_with_loan: tuple[float, float, float]
    commission: float
    min_commission: float
    max_commission: float
    currency: str = "USD"
    warning: str = ""
