"""IB's refusals of the order types and times in force the simulator takes.

Combinations TWS itself refuses come with its own codes (IB's API message codes): 113 "The Tif
option should be set to DAY for MOC and LOC orders." and 111 "The TIF (Tif type) and the order
type are incompatible." The others are reasons for error 201 ("Order rejected - reason:..."):
auctions past their cut-off, GTD times in the past, a goodTillDate on another time in force,
unsupported algos. The rules of time are
the domain's (``auction``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from quantnb.domain import auction
from quantnb.domain.model import Order, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from quantnb.sim.ordering import OrderDesk
    from quantnb.sim.placement import OrderRequest
    from quantnb.sim.records import OrderRecord

_PLAIN = ("MKT", "LMT")
_PRIORITIES = ("Urgent", "Normal", "Patient")
TIFS = frozenset(t.value for t in TimeInForce)
TIF_NOT_DAY = "The Tif option should be set to DAY for MOC and LOC orders."
TIF_INCOMPATIBLE = "The TIF (Tif type) and the order type are incompatible."


def tws_refusal(req: OrderRequest) -> tuple[int, str] | None:
    """(code, text) TWS answers a time in force it refuses for the order type with, or None:
    113 for a MOC/LOC order that is not DAY, 111 for OPG/IOC/FOK on other than MKT/LMT."""
    kind, tif = req.order_type, req.tif
    if kind in ("MOC", "LOC") and tif != "DAY":
        return 113, TIF_NOT_DAY
    if tif in ("OPG", "IOC", "FOK") and kind not in _PLAIN:
        return 111, TIF_INCOMPATIBLE
    return None


def refusal(desk: OrderDesk, req: OrderRequest, existing: OrderRecord | None) -> str:
    """Why IB refuses the order type, time in force or algo of ``req`` now, or ''."""
    kind, tif = req.order_type, req.tif
    if tif not in TIFS:
        return f"time in force {tif!r} is not supported ({', '.join(sorted(TIFS))})"
    refused = tws_refusal(req)
    if refused is not None:
        return refused[1]
    good_till = None
    if req.good_till.strip() and tif != "GTD":
        return "GoodTilDate field is only valid with time-in-force of GTD"
    if tif == "GTD":
        good_till = auction.parse_ib_good_till(req.good_till)
        if good_till is None:
            return (
                f"a GTD order needs goodTillDate as 'YYYYMMDD HH:MM:SS zone' "
                f"(got {req.good_till!r})"
            )
    if req.algo:
        if req.algo != "Adaptive":
            return f"algo strategy {req.algo!r} is not supported (Adaptive)"
        if kind not in _PLAIN:
            return f"the Adaptive algo takes MKT and LMT orders, not {kind}"
        priority = dict(req.algo_params).get("adaptivePriority", "Normal")
        if priority not in _PRIORITIES:
            return f"adaptivePriority {priority!r} must be one of {', '.join(_PRIORITIES)}"
    probe = Order(
        "check",
        req.contract.symbol,
        Side.BUY,
        1.0,
        type=OrderType.MARKET_ON_CLOSE if kind in ("MOC", "LOC") else OrderType.MARKET,
        tif=TimeInForce(tif),
        good_till=good_till,
    )
    return auction.refusal(probe, desk.market.now_ns())


def expired(rec: OrderRecord, now: pd.Timestamp) -> bool:
    """Whether a GTD order's time has come."""
    good_till = rec.order.good_till
    return good_till is not None and now >= good_till
