"""Deferring automatic garbage collection over stretches of allocation-heavy work.

A full collection walks every tracked object in the process (pandas and the data loaded: a few
hundred thousand), and allocation triggers it at arbitrary moments: while a backtest builds its
result tables from tens of thousands of fills, it ran several times and doubled that work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
