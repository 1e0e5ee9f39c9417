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
_unit_tz, _value = attrgetter("unit", "tzinfo"), attrgetter("value")
_as_float = float.__float__  # a float's value; TypeError for anything but a float


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
    text = _text_dtype()
    return _frame(
        {
            "time": _times(_field(fills, "time")) if times is None else times.array,
            "order_id": _col(_field(fills, "order_id"), text),
            "symbol": _col(_field(fills, "symbol"), text),
            "side": _str_col(_field(fills, "side"), text),
            "qty": _floats(fills, "qty", text),
            "price": _floats(fills, "price", text),
            "commission": _floats(fills, "commission", text),
            "slippage": _floats(fills, "slippage", text),
            "exec_id": _col(_field(fills, "exec_id"), text),
        },
        FILL_COLUMNS,
    )


def orders_frame(orders: Iterable[Order]) -> pd.DataFrame:
    """Orders as a DataFrame, one row per order, in submission order."""
    orders = list(orders)
    if not orders:
        return pd.DataFrame([], columns=ORDER_COLUMNS)
    text = _text_dtype()
    return _frame(
        {
            "order_id": _col(_field(orders, "id"), text),
            "created": _times(_field(orders, "created")),
            "symbol": _col(_field(orders, "symbol"), text),
            "side": _str_col(_field(orders, "side"), text),
            "qty": _floats(orders, "qty", text),
            "type": _str_col(_field(orders, "type"), text),
            "limit": _col(_field(orders, "limit"), text),
            "stop": _col(_field(orders, "stop"), text),
            "tif": _str_col(_field(orders, "tif"), text),
            "status": _str_col(_field(orders, "status"), text),
            "filled": _floats(orders, "filled", text),
            "avg_price": _avg_prices(orders, text),
            "reason": _col(_field(orders, "reason"), text),
            "parent_id": _col(_field(orders, "parent_id"), text),
            "updated": _times(_field(orders, "updated")),
        },
        ORDER_COLUMNS,
    )


def _text_dtype() -> Any:
    """What pandas infers for strings ("str", or object), asked once per setting of the
    options it depends on (asking costs a Series)."""
    key = (_string_inference(), pd.get_option("mode.string_storage"))
    dtype = _TEXT.get(key)
    if dtype is None:
        dtype = _TEXT[key] = pd.Series([""]).dtype
    return dtype


_TEXT: dict[tuple, Any] = {}
try:
    from pandas._config import using_string_dtype as _string_inference
except ImportError:  # a pandas without it: no key, so asked every time

    def _string_inference() -> object:
        return object()


def _frame(columns: dict[str, Any], names: list[str]) -> pd.DataFrame:
    """The table of these columns (all of one length) in the order of ``names``. Built from the
    dict alone: with ``columns=`` pandas selects them again, which costs more than the rest."""
    if list(columns) != names:
        columns = {name: columns[name] for name in names}
    return pd.DataFrame(columns, copy=False)


def _col(values: list, str_dtype: Any) -> Any:
    """A column of all-str or all-float values as the array pandas would infer (``str_dtype``
    for strings), built at once rather than element by element; anything else as given."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return _strings(values, str_dtype)
    if kinds == {float}:
        return np.array(values, dtype=np.float64)
    return values


def _floats(objects: list, name: str, str_dtype: Any) -> Any:
    """The ``name`` field of every object as a float64 array when all are floats (read in one
    pass: each value is touched once), else as ``_col`` makes it."""
    try:
        return np.fromiter(
            map(_as_float, map(attrgetter(name), objects)), dtype=np.float64, count=len(objects)
        )
    except TypeError:
        return _col(_field(objects, name), str_dtype)


def _avg_prices(orders: list, str_dtype: Any) -> Any:
    """Average fill prices, NaN for an order without fills (an average of 0)."""
    try:
        prices = np.fromiter(
            map(_as_float, map(_avg_price, orders)), dtype=np.float64, count=len(orders)
        )
    except TypeError:
        return _col([a or np.nan for a in _field(orders, "avg_price")], str_dtype)
    prices[prices == 0.0] = np.nan
    return prices


_avg_price = attrgetter("avg_price")


def _str_col(values: list, str_dtype: Any) -> Any:
    """A column of each value's ``str``. Into arrow storage, enum members (StrEnum) go in as
    the text they are (arrow keeps the text); any other storage would keep the members."""
    if getattr(str_dtype, "storage", None) == "pyarrow" and all(
        k.__str__ is str.__str__ and issubclass(k, str) for k in set(map(type, values))
    ):
        return _strings(values, str_dtype)
    return _col(list(map(str, values)), str_dtype)


def _strings(values: list, str_dtype: Any) -> Any:
    """All-str values as a ``str_dtype`` array; with pyarrow storage straight from one arrow
    array (what pandas builds too, less its check of each value)."""
    if getattr(str_dtype, "storage", None) == "pyarrow":
        import pyarrow as pa

        return pd.array(pa.array(values, type=pa.large_string()), dtype=str_dtype)
    return pd.array(values, dtype=str_dtype)


def _times(values: list) -> Any:
    """A column of times. UTC nanosecond Timestamps (all a backtest makes) go in by their
    integer value: the same column as pandas infers, without inferring it one by one."""
    if set(map(type, values)) == {pd.Timestamp} and set(map(_unit_tz, values)) == {("ns", _UTC)}:
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
