"""Orders and fills as DataFrames: one layout for backtest results and the live engine alike."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from quantnb.domain.model import Fill, Order, Rejection

FILL_COLUMNS = [
    "time",
    "order_id",
    "symbol",
    "side",
    "qty",
    "price",
    "commission",
    "slippage",
    "exec_id",
]

ORDER_COLUMNS = [
    "order_id",
    "created",
    "symbol",
    "side",
    "qty",
    "type",
    "limit",
    "stop",
    "tif",
    "status",
    "filled",
    "avg_price",
    "reason",
    "parent_id",
    "updated",
]


REJECTION_COLUMNS = ["time", "order_id", "symbol", "reason"]


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Fills as a DataFrame, one row per execution, in the order given."""
    return pd.DataFrame(
        [
            (
                f.time, f.order_id, f.symbol, str(f.side), f.qty, f.price, f.commission,
                f.slippage, f.exec_id,
            )
            for f in fills
        ],
        columns=FILL_COLUMNS,
    )  # fmt: skip


def orders_frame(orders: Iterable[Order]) -> pd.DataFrame:
    """Orders as a DataFrame, one row per order, in submission order."""
    return pd.DataFrame(
        [
            (
                o.id, o.created, o.symbol, str(o.side), o.qty, str(o.type), o.limit, o.stop,
                str(o.tif), str(o.status), o.filled, o.avg_price or np.nan, o.reason,
                o.parent_id, o.updated,
            )
            for o in orders
        ],
        columns=ORDER_COLUMNS,
    )  # fmt: skip


def rejections_frame(rejections: Iterable[Rejection]) -> pd.DataFrame:
    """Recorded rejections as a DataFrame: time, order id, symbol and the reason."""
    rows = [(r.time, r.order_id, r.symbol, r.reason) for r in rejections]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTION_COLUMNS})
    return pd.DataFrame(rows, columns=REJECTION_COLUMNS)
