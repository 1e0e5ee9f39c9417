"""The IB order fields of GTD orders and IB algos, set as IB wants them.

MOC/LOC travel as orderType "MOC"/"LOC" and MOO/LOO as MKT/LMT with tif "OPG" (both from
``quantnb.ib.tables``); here: goodTillDate ("YYYYMMDD HH:MM:SS America/New_York") for GTD and
algoStrategy "Adaptive" with its adaptivePriority for the Adaptive algo.
"""

from __future__ import annotations

from typing import Any

from quantnb.domain.auction import ib_good_till
from quantnb.domain.model import Order
from quantnb.ib.client import TagValue


def set_ib_extras(ib_order: Any, order: Order) -> None:
    """Copy ``order``'s GTD time and algo onto the IB order."""
    if order.good_till is not None:
        ib_order.goodTillDate = ib_good_till(order.good_till)
    if order.algo:
        ib_order.algoStrategy = order.algo
        ib_order.algoParams = [TagValue("adaptivePriority", order.algo_priority or "Normal")]
