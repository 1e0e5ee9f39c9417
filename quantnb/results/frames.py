"""Orders and fills as DataFrames: one layout for backtest results and the live engine alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def _field(objects: Sequence[Any], name: str) -> list:
    """One field of each object: a column read at a time, so no row of all the fields is ever
    made (for a million orders those rows would take tens of megabytes at once)."""
    return list(map(attrgetter(name), objects))


def fills_frame(fills: Iterable[Fill], times: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Fills as a DataFrame, one row per execution, in the order given. ``times``: the fills'
    times when the caller has them as an index already (a backtest: its clock at the fills'
    bars), instead of reading each one."""
    fills = list(fills)
    if not fills:
        return pd.DataFrame([], columns=FILL_COLUMNS)
    text = pd.Series([""]).dtype  # what pandas infers for strings ("str", or object)
    return pd.DataFrame(
        {
            "time": _times(_field(fills, "time")) if times is None else times.array,
            "order_id": _col(_field(fills, "order_id"), text),
            "symbol": _col(_field(fills, "symbol"), text),
            "side": _col(list(map(str, _field(fills, "side"))), text),
            "qty": _col(_field(fills, "qty"), text),
            "price": _col(_field(fills, "price"), text),
            "commission": _col(_field(fills, "commission"), text),
            "slippage": _col(_field(fills, "slippage"), text),
            "exec_id": _col(_field(fills, "exec_id"), text),
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
            "order_id": _col(_field(orders, "id"), text),
            "created": _times(_field(orders, "created")),
            "symbol": _col(_field(orders, "symbol"), text),
            "side": _col(list(map(str, _field(orders, "side"))), text),
            "qty": _col(_field(orders, "qty"), text),
            "type": _col(list(map(str, _field(orders, "type"))), text),
            "limit": _col(_field(orders, "limit"), text),
            "stop": _col(_field(orders, "stop"), text),
            "tif": _col(list(map(str, _field(orders, "tif"))), text),
            "status": _col(list(map(str, _field(orders, "status"))), text),
            "filled": _col(_field(orders, "filled"), text),
            "avg_price": _col([a or np.nan for a in _field(orders, "avg_price")], text),
            "reason": _col(_field(orders, "reason"), text),
            "parent_id": _col(_field(orders, "parent_id"), text),
            "updated": _times(_field(orders, "updated")),
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
