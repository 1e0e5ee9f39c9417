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


_FILL_FIELDS = attrgetter(*FILL_COLUMNS)


def fill_columns(fills: Sequence[Fill]) -> dict[str, tuple]:
    """The fields of ``fills`` by column (``FILL_COLUMNS``), read in one pass."""
    if not fills:
        return {c: () for c in FILL_COLUMNS}
    return dict(zip(FILL_COLUMNS, zip(*map(_FILL_FIELDS, fills)), strict=True))


def fills_frame(
    fills: Iterable[Fill] | dict[str, tuple], times: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """Fills as a DataFrame, one row per execution, in the order given: ``Fill`` objects, or
    their ``fill_columns``. ``times``: the fills' times when the caller has them as an index
    already (a backtest: its clock at the fills' bars), instead of reading each one."""
    cols = fills if isinstance(fills, dict) else fill_columns(list(fills))
    if not cols["time"]:
        return pd.DataFrame([], columns=FILL_COLUMNS)
    text = pd.Series([""]).dtype  # what pandas infers for strings ("str", or object)
    return pd.DataFrame(
        {
            "time": _times(list(cols["time"])) if times is None else times.array,
            "order_id": _col(list(cols["order_id"]), text),
            "symbol": _col(list(cols["symbol"]), text),
            "side": _col(list(map(str, cols["side"])), text),
            "qty": _col(list(cols["qty"]), text),
            "price": _col(list(cols["price"]), text),
            "commission": _col(list(cols["commission"]), text),
            "slippage": _col(list(cols["slippage"]), text),
            "exec_id": _col(list(cols["exec_id"]), text),
        },
        columns=FILL_COLUMNS,
    )


_ORDER_FIELDS = attrgetter(
    "id", "created", "symbol", "side", "qty", "type", "limit", "stop", "tif", "status",
    "filled", "avg_price", "reason", "parent_id", "updated",
)  # fmt: skip


def orders_frame(orders: Iterable[Order]) -> pd.DataFrame:
    """Orders as a DataFrame, one row per order, in submission order (fields read in one
    pass over the orders)."""
    orders = list(orders)
    if not orders:
        return pd.DataFrame([], columns=ORDER_COLUMNS)
    text = pd.Series([""]).dtype  # what pandas infers for strings ("str", or object)
    (ids, created, symbols, sides, qty, types, limits, stops, tifs, statuses, filled, avg,
     reasons, parents, updated) = zip(*map(_ORDER_FIELDS, orders))  # fmt: skip
    return pd.DataFrame(
        {
            "order_id": _col(list(ids), text),
            "created": _times(list(created)),
            "symbol": _col(list(symbols), text),
            "side": _col(list(map(str, sides)), text),
            "qty": _col(list(qty), text),
            "type": _col(list(map(str, types)), text),
            "limit": _col(list(limits), text),
            "stop": _col(list(stops), text),
            "tif": _col(list(map(str, tifs)), text),
            "status": _col(list(map(str, statuses)), text),
            "filled": _col(list(filled), text),
            "avg_price": _col([a or np.nan for a in avg], text),
            "reason": _col(list(reasons), text),
            "parent_id": _col(list(parents), text),
            "updated": _times(list(updated)),
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
