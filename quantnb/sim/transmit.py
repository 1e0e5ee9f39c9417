"""Orders placed with ``transmit=False``: kept by the gateway, never worked, until sent.

IB holds an untransmitted order in TWS: no status, not working, not among the open orders. It
goes out when an order of its group (the same parent) is placed with ``transmit=True``: a
bracket becomes active only when its last child is transmitted, and re-placing a held parent
with ``transmit=True`` sends it together with its held children.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quantnb.sim.placement import OrderRequest


@dataclass
class Untransmitted:
    """The held requests of every client, by (client id, order id), in the order they came."""

    held: dict[tuple[int, int], OrderRequest] = field(default_factory=dict)

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self.held

    def hold(self, client_id: int, req: OrderRequest) -> None:
        """Keep ``req`` (a new order, or a change to a held one) until its group is sent."""
        self.held[(client_id, req.order_id)] = req

    def release(self, client_id: int, req: OrderRequest) -> list[OrderRequest]:
        """What placing ``req`` with transmit=True sends: its group's held orders, parent
        first, and ``req`` itself in its place."""
        root = req.parent_id or req.order_id
        group = {req.order_id: req}
        for (cid, oid), r in list(self.held.items()):
            if cid == client_id and (oid == root or r.parent_id == root):
                group.setdefault(oid, r)
                del self.held[(cid, oid)]
        return sorted(group.values(), key=lambda r: (r.order_id != root, r.order_id))

    def drop(self, client_id: int, order_id: int) -> bool:
        """Forget a held order and its held children; False when it was not held."""
        if (client_id, order_id) not in self.held:
            return False
        for (cid, oid), r in list(self.held.items()):
            if cid == client_id and (oid == order_id or r.parent_id == order_id):
                del self.held[(cid, oid)]
        return True
