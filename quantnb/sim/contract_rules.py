"""Orders IB refuses for what they are on: an index (data only), a continuous future (history
only), a future past its last trading day or a limit/stop price off the contract's tick grid
(error 110)."""

from __future__ import annotations

import math

from quantnb.sim.placement import OrderRequest

OFF_TICK = "The price does not conform to the minimum price variation for this contract."


def off_grid(price: float, tick: float) -> bool:
    """Whether ``price`` is not a whole number of ``tick``s."""
    steps = price / tick
    return abs(steps - round(steps)) > 1e-6 * max(1.0, abs(steps))


def order_refusal(req: OrderRequest, today: str = "") -> tuple[int, str] | None:
    """(error code, text) IB answers a placed order with before accepting it, or None;
    ``today`` (``YYYYMMDD HH:MM``, exchange time) tells a futures month past its last trade
    (its last trading day's ``last_trade_time``, Chicago)."""
    c = req.contract
    if c.sec_type == "IND":
        return 201, f"Order rejected - reason:{c.ib_symbol} is an index: it cannot be traded"
    if c.sec_type == "CONTFUT":
        return 201, (
            f"Order rejected - reason:a continuous future ({c.ib_symbol} CONTFUT) is for "
            "historical data only; order a contract month"
        )
    if c.is_stock:
        return None
    last_trade = f"{c.expiry} {c.details.last_trade_time or '23:59'}"
    if c.sec_type == "FUT" and today and last_trade <= today:
        return 200, (
            f"No security definition has been found for the request ({c.local_symbol} "
            f"expired on {c.expiry})"
        )
    prices = [req.lmt_price] if req.order_type in ("LMT", "STP LMT") else []
    if req.order_type in ("STP", "STP LMT"):
        prices.append(req.aux_price)
    for price in prices:
        if price is not None and math.isfinite(price) and off_grid(price, c.min_tick):
            return 110, OFF_TICK
    return None
