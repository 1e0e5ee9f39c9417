"""Deferring automatic garbage collection over stretches of allocation-heavy work.

A full collection walks every tracked object in the process (pandas, the data loaded, each
order and fill so far), and allocation triggers it at arbitrary moments: while a backtest builds
its result tables from tens of thousands of fills, it ran several times and doubled that work;
while the bars play, it cost about as much as the rest of an order's path.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# generation 2's threshold counts collections of generation 1: this many never come in a run
_NEVER = 1 << 30
_lock = threading.Lock()
_deferring = 0  # runs inside full_collections_deferred (several threads may run backtests)
_saved = 0  # generation 2's threshold before the first of them


@contextmanager
def collection_deferred() -> Iterator[None]:
    """No automatic collection inside (it runs after, if due); as it was if already off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """No automatic full collection inside; the young generations are still collected, so
    the short-lived garbage a strategy makes each bar (cycles included) is freed as before.
    Only garbage that has already survived two young collections waits until the end."""
    global _deferring, _saved
    with _lock:
        if not _deferring:
            _saved = gc.get_threshold()[2]
            gc.set_threshold(*gc.get_threshold()[:2], _NEVER)
        _deferring += 1
    try:
        yield
    finally:
        with _lock:
            _deferring -= 1
            if not _deferring:
                gc.set_threshold(*gc.get_threshold()[:2], _saved)
