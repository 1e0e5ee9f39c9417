"""Cancels of the live engine, carried out in the order the strategy decided them.

While the gateway is coming back (reconnecting, reconciling, or the bars missed meanwhile being
caught up) a cancel is queued instead of refused as "not connected"; the new orders decided with
or after it wait behind it. Once the gateway is ready the queue goes out first, in order, then the
new orders: a cancel of a resting stop followed by a new order never leaves both working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from quantnb.domain.model import Order
from quantnb.errors import NotConnectedError

logger = logging.getLogger(__name__)

CancelError = Callable[[Order, Exception], None]


class CancellingBroker(Protocol):
    """What the order manager needs of the live broker."""

    @property
    def is_reconciled(self) -> bool: ...

    def cancel(self, order: Order | str) -> bool: ...


class ConnectionLike(Protocol):
    state: str

    def is_connected(self) -> bool: ...


class OrderManager:
    """Sends the strategy's cancels now when the gateway is ready, else queues them in order."""

    def __init__(
        self, broker: CancellingBroker, connection: ConnectionLike, on_error: CancelError
    ) -> None:
        self.broker = broker
        self.connection = connection
        self.on_error = on_error
        self._cancels: dict[str, Order] = {}  # our id -> order, in the order they were asked

    # ---- state -----------------------------------------------------------------------------
    def ready(self) -> bool:
        """Connected and reconciled: an order action sent now reaches the gateway as it is."""
        return self.connection.is_connected() and bool(self.broker.is_reconciled)

    def coming_back(self) -> bool:
        """The connection is being re-established: an action made now can wait for it."""
        return self.connection.state in ("connecting", "reconnecting") or (
            self.connection.is_connected() and not self.broker.is_reconciled
        )

    @property
    def holding(self) -> bool:
        """Cancels are queued: new orders wait behind them."""
        return bool(self._cancels)

    def queued(self) -> list[Order]:
        """The orders whose cancel is queued, oldest first."""
        return list(self._cancels.values())

    def is_cancel_queued(self, order: Order | str) -> bool:
        return (order if isinstance(order, str) else order.id) in self._cancels

    # ---- actions ---------------------------------------------------------------------------
    def cancel(self, order: Order) -> bool:
        """Cancel ``order``: at once when ready, queued while the gateway comes back.

        True when the cancel was sent or queued (the order stays working until IB confirms).
        """
        if order.id in self._cancels:
            return True
        if not self._cancels and (self.ready() or not self.coming_back()):
            try:
                return bool(self.broker.cancel(order))
            except NotConnectedError as exc:
                if not self.coming_back():
                    self.on_error(order, exc)
                    return False
            except Exception as exc:
                self.on_error(order, exc)
                return False
        self._cancels[order.id] = order
        logger.info("cancel of order %s queued until the IB gateway is back (%s)", order.id,
                    self.connection.state)  # fmt: skip
        return True

    def flush(self) -> bool:
        """Send the queued cancels in order; True when none is left waiting."""
        while self._cancels:
            if not self.ready():
                return False
            oid = next(iter(self._cancels))
            order = self._cancels[oid]
            if not order.is_done:
                try:
                    self.broker.cancel(order)
                except NotConnectedError:
                    return False  # lost again: the next reconnect sends it
                except Exception as exc:
                    self.on_error(order, exc)
            del self._cancels[oid]
            logger.info("queued cancel of order %s sent", oid)
        return True

    def drop(self, reason: str) -> list[Order]:
        """Forget the queued cancels (the engine stops); returns their orders for the record."""
        dropped = [o for o in self._cancels.values() if not o.is_done]
        self._cancels.clear()
        for order in dropped:
            logger.warning("cancel of order %s not sent: %s", order.id, reason)
        return dropped

    def __repr__(self) -> str:
        return f"OrderManager(queued={list(self._cancels)}, ready={self.ready()})"


__all__ = ["OrderManager"]
