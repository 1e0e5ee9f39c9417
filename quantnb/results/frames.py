"""Orders and fills as DataFrames: one layout for backtest results and the live engine alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from operator import attrgetter
from typing import Any

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

_UTC = UTC
_unit, _tz, _value = attrgetter("unit"), attrgetter("tzinfo"), attrgetter("value")


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Fills as a DataFrame, one row per execution, in the order given."""
    fills = list(fills)
    if not fills:
        return pd.DataFrame([], columns=FILL_COLUMNS)
    text = pd.Series([""]).dtype  # what pandas infers for strings ("str", or object)
    return pd.DataFrame(
        {
            "time": _times([f.time for f in fills]),
            "order_id": _col([f.order_id for f in fills], text),
            "symbol": _col([f.symbol for f in fills], text),
            "side": _col([str(f.side) for f in fills], text),
            "qty": _col([f.qty for f in fills], text),
            "price": _col([f.price for f in fills], text),
            "commission": _col([f.commission for f in fills], text),
            "slippage": _col([f.slippage for f in fills], text),
            "exec_id": _col([f.exec_id for f in fills], text),
        },
        columns=FILL_COLUMNS,
    )


def orders_frame(orders: Iterable[Order]) -> pd.DataFrame:
    """Orders as a DataFrame, one row per order, in submission order."""
    orders = list(orders)
    if not orders:
        return pd.DataFrame([], columns=ORDER_COLUMNS)
    text = pd.Series([""]).dtype  # what pandas infers for strings ("str", or object)
    return pd.DataFrame(
        {
            "order_id": _col([o.id for o in orders], text),
            "created": _times([o.created for o in orders]),
            "symbol": _col([o.symbol for o in orders], text),
            "side": _col([str(o.side) for o in orders], text),
            "qty": _col([o.qty for o in orders], text),
            "type": _col([str(o.type) for o in orders], text),
            "limit": _col([o.limit for o in orders], text),
            "stop": _col([o.stop for o in orders], text),
            "tif": _col([str(o.tif) for o in orders], text),
            "status": _col([str(o.status) for o in orders], text),
            "filled": _col([o.filled for o in orders], text),
            "avg_price": _col([o.avg_price or np.nan for o in orders], text),
            "reason": _col([o.reason for o in orders], text),
            "parent_id": _col([o.parent_id for o in orders], text),
            "updated": _times([o.updated for o in orders]),
        },
        columns=ORDER_COLUMNS,
    )


def _col(values: list, str_dtype: Any) -> Any:
    """A column of all-str or all-float values as the array pandas would infer (``str_dtype``
    for strings), built at once rather than element by element; anything else as given."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return pd.array(values, dtype=str_dtype)
    if kinds == {float}:
        return np.array(values, dtype=np.float64)
    return values


def _times(values: list) -> Any:
    """A column of times. UTC nanosecond Timestamps (all a backtest makes) go in by their
    integer value: the same column as pandas infers, without inferring it one by one."""
    if (
        set(map(type, values)) == {pd.Timestamp}
        and set(map(_unit, values)) == {"ns"}
        and set(map(_tz, values)) == {_UTC}
    ):
        ns = np.fromiter(map(_value, values), dtype=np.int64, count=len(values))
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array
    return values


def rejections_frame(rejections: Iterable[Rejection]) -> pd.DataFrame:
    """Recorded rejections as a DataFrame: time, order id, symbol and the reason."""
    rows = [(r.time, r.order_id, r.symbol, r.reason) for r in rejections]
    if not rows:
        return _NO_REJECTIONS.copy()
    return pd.DataFrame(rows, columns=REJECTION_COLUMNS)


_NO_REJECTIONS = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTION_COLUMNS})
