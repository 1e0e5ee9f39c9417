"""The one module that imports the IB client library: ib_async, or ib_insync when that is installed.

Every other module of ``quantnb.ib`` takes IB names from here, so the choice is made once.
"""

from __future__ import annotations

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
]
