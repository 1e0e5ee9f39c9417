"""Cancels and modifications of the live engine, carried out in the order they were decided.

While the gateway is coming back (reconnecting, reconciling, or the bars missed meanwhile being
caught up) a cancel or a modification is queued instead of refused as "not connected"; the new
orders decided with or after it wait behind it. Once the gateway is ready the queue goes out
first, in order, then the new orders: a cancel of a resting stop followed by a new order never
leaves both working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from quantnb.domain.model import Order
from quantnb.errors import NotConnectedError

logger = logging.getLogger(__name__)

ActionError = Callable[[Order, Exception], None]


class ChangingBroker(Protocol):
    """What the order manager needs of the live broker."""

    @property
    def is_reconciled(self) -> bool: ...

    def cancel(self, order: Order | str) -> bool: ...

    def modify(self, order: Order, changes: dict[str, float]) -> bool: ...


class ConnectionLike(Protocol):
    state: str

    def is_connected(self) -> bool: ...


@dataclass(slots=True)
class Action:
    """A cancel (``changes`` None) or a modification of ``order``, waiting for the gateway."""

    order: Order
    changes: dict[str, float] | None = None
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        self.kind = "cancel" if self.changes is None else "modify"


class OrderManager:
    """Sends the strategy's cancels and modifications at once when the gateway is ready, else
    queues them in the order they were made."""

    def __init__(self, broker: ChangingBroker, connection: ConnectionLike, on_error: ActionError):
        self.broker = broker
        self.connection = connection
        self.on_error = on_error
        self._queue: list[Action] = []

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
        """Actions are queued: new orders wait behind them."""
        return bool(self._queue)

    def queued(self) -> list[Action]:
        """The actions waiting for the gateway, oldest first."""
        return list(self._queue)

    def cancel_queued(self, order: Order | str) -> bool:
        oid = order if isinstance(order, str) else order.id
        return any(a.order.id == oid and a.changes is None for a in self._queue)

    # ---- actions ---------------------------------------------------------------------------
    def cancel(self, order: Order) -> bool:
        """Cancel ``order``: at once when ready, queued while the gateway comes back.

        True when the cancel was sent or queued (the order stays working until IB confirms).
        """
        if self.cancel_queued(order):
            return True
        return self._do(Action(order))

    def modify(self, order: Order, changes: dict[str, float]) -> bool:
        """Change ``order``: at once when ready, queued while the gateway comes back. The order
        shows the new values when the change is sent."""
        if self.cancel_queued(order):
            return False  # to be cancelled: nothing left to change
        return self._do(Action(order, dict(changes)))

    def _do(self, action: Action) -> bool:
        if not self._queue and (self.ready() or not self.coming_back()):
            try:
                return self._send(action)
            except NotConnectedError as exc:
                if not self.coming_back():
                    self.on_error(action.order, exc)
                    return False
            except Exception as exc:
                self.on_error(action.order, exc)
                return False
        self._queue.append(action)
        logger.info("%s of order %s queued until the IB gateway is back (%s)", action.kind,
                    action.order.id, self.connection.state)  # fmt: skip
        return True

    def _send(self, action: Action) -> bool:
        if action.changes is None:
            return bool(self.broker.cancel(action.order))
        return bool(self.broker.modify(action.order, action.changes))

    def flush(self) -> bool:
        """Send the queued actions in order; True when none is left waiting."""
        while self._queue:
            if not self.ready():
                return False
            action = self._queue[0]
            if not action.order.is_done:
                try:
                    self._send(action)
                except NotConnectedError:
                    return False  # lost again: the next reconnect sends it
                except Exception as exc:
                    self.on_error(action.order, exc)
            self._queue.pop(0)
            logger.info("queued %s of order %s sent", action.kind, action.order.id)
        return True

    def drop(self) -> list[Action]:
        """Forget the queued actions (the engine stops); returns those of working orders."""
        dropped = [a for a in self._queue if not a.order.is_done]
        self._queue.clear()
        return dropped

    def __repr__(self) -> str:
        queued = [(a.kind, a.order.id) for a in self._queue]
        return f"OrderManager(queued={queued}, ready={self.ready()})"


__all__ = ["Action", "OrderManager"]
