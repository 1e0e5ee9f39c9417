"""The one module that imports the IB client library: ib_async, or ib_insync when that is installed.

Every other module of ``quantnb.ib`` takes IB names from here, so the choice is made once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from quantnb.errors import ConfigError

try:
    import ib_async as ibapi
except ImportError:  # pragma: no cover - depends on the environment
    try:
        import ib_insync as ibapi  # type: ignore[no-redef]
    except ImportError as exc:
        raise ConfigError(
            "no IB client library is installed: run `pip install quantnb[ib]` (ib_async, "
            "recommended) or `pip install quantnb[ib-insync]` (ib_insync 0.9.86)"
        ) from exc

CLIENT_NAME: str = ibapi.__name__
IB = ibapi.IB
Stock = ibapi.Stock
Future = ibapi.Future
ContFuture = ibapi.ContFuture
Forex = ibapi.Forex
Index = ibapi.Index
IBOrder = ibapi.Order
ExecutionFilter = ibapi.ExecutionFilter
TagValue = ibapi.TagValue

_BLANK_ORDER = IBOrder()
# the fields whose default is made per order (lists, the soft-dollar tier): never shared
_FRESH_FIELDS = tuple(
    (f.name, f.default_factory)
    for f in dataclasses.fields(IBOrder)
    if f.default_factory is not dataclasses.MISSING
)


def new_ib_order() -> Any:
    """A client ``Order`` with every field at its default, as ``IBOrder()`` makes it, copied
    from a blank one: the client's constructor sets ~140 fields one by one (about 7 µs an
    order on the live send path; the copy takes under 2)."""
    order = object.__new__(IBOrder)
    order.__dict__.update(_BLANK_ORDER.__dict__)
    for name, factory in _FRESH_FIELDS:
        setattr(order, name, factory())
    return order


__all__ = [
    "CLIENT_NAME",
    "IB",
    "ContFuture",
    "ExecutionFilter",
    "Forex",
    "Future",
    "IBOrder",
    "Index",
    "Stock",
    "TagValue",
    "new_ib_order",
]
