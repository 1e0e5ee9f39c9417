"""Order rules that depend on the instrument, shared by the backtest and live: an index is data
only, and limit and stop prices must lie on the contract's tick grid (IB error 110).
"""

from __future__ import annotations

from quantnb.domain.instrument import Instrument
from quantnb.domain.model import Order
from quantnb.errors import OrderError

# IB's own text for error 110, which it sends when it refuses such an order
TICK_ERROR = 110
TICK_MESSAGE = "The price does not conform to the minimum price variation for this contract."


def require_tradable(inst: Instrument) -> None:
    """OrderError for an order on an index: it is data only."""
    if not inst.tradable:
        raise OrderError(
            f"{inst.name!r} is an index: it is data only and cannot be traded; trade a future "
            f"or an ETF on it instead (e.g. qn.continuous('ES') for the S&P 500)"
        )


def on_grid(price: float, tick: float) -> bool:
    """Whether ``price`` is a whole number of ``tick`` (to float precision)."""
    steps = price / tick
    return abs(steps - round(steps)) <= 1e-6


def tick_refusal(inst: Instrument, order: Order) -> str:
    """IB's refusal (error 110) when the order's limit or stop price is off the tick grid of
    ``inst``, naming the price and the nearest good ones; "" when the prices are fine."""
    for name in ("limit", "stop"):
        price = getattr(order, name)
        if price is None or on_grid(price, inst.tick_size):
            continue
        below = (price // inst.tick_size) * inst.tick_size
        digits = max(0, -int(f"{inst.tick_size:e}".split("e")[1])) + 1
        return (
            f"error {TICK_ERROR}: {TICK_MESSAGE} ({name}={price!r} for {inst.name}, whose tick is "
            f"{inst.tick_size:g}: use {round(below, digits):g} or "
            f"{round(below + inst.tick_size, digits):g})"
        )
    return ""
