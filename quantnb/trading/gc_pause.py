"""Keeping the garbage collector's pauses off the bar-to-order path of the live engine.

A full collection walks every tracked object in the process: with pandas and the client loaded,
tens of milliseconds, at whatever moment allocations happen to trigger it (a past p99 spike).
Once the engine has started, the objects that exist then (modules, history, the client) are
moved out of the collector's sight with ``gc.freeze()``. From the first bar of a time step until
its group has been handed to the strategy and the orders have left (the bars of one step arrive
within milliseconds), automatic collection waits: the one that came due runs right after.
"""

from __future__ import annotations

import gc
import logging
import threading

from quantnb.engine.collection import collection_deferred

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_freezers = 0  # running engines that froze the heap: unfrozen when the last one stops


class FrozenHeap:
    """One engine's share of the process-wide ``gc.freeze()``: ``freeze`` once started,
    ``release`` when stopping (the heap is unfrozen when no running engine needs it)."""

    def __init__(self) -> None:
        self.frozen = False

    def freeze(self) -> None:
        global _freezers
        if self.frozen:
            return
        with _lock:
            gc.collect()  # what is garbage now is freed, not kept for good
            gc.freeze()
            _freezers += 1
            self.frozen = True
        logger.debug("heap frozen: %d objects out of the collector's sight", gc.get_freeze_count())

    def release(self) -> None:
        global _freezers
        if not self.frozen:
            return
        with _lock:
            self.frozen = False
            _freezers -= 1
            if _freezers == 0:
                gc.unfreeze()  # collectable again, e.g. the cycles of a client dropped later


class CollectionHold:
    """Automatic collection off while a time step's bars are gathered and handed out (``hold``
    at its first bar, ``release`` once its orders have left); as it was if already off."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        if not self.held and gc.isenabled():
            gc.disable()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            gc.enable()


__all__ = ["CollectionHold", "FrozenHeap", "collection_deferred"]
