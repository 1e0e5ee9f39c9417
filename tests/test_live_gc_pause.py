"""The live engine keeps full garbage collections off its bar-to-order path."""

from __future__ import annotations

import gc

import pytest

from quantnb.trading import gc_pause
from quantnb.trading.gc_pause import FrozenHeap, collection_deferred


@pytest.fixture(autouse=True)
def _unfrozen():
    yield
    gc.unfreeze()


def test_the_heap_stays_frozen_until_the_last_engine_releases_it():
    kept = [object() for _ in range(10)]  # noqa: F841 - alive while frozen
    first, second = FrozenHeap(), FrozenHeap()
    first.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    first.freeze()  # once per engine
    second.freeze()
    first.release()
    # the second engine still runs: still frozen (objects frozen and freed since leave the count)
    assert gc_pause._freezers == 1 and gc.get_freeze_count() > 0
    second.release()
    second.release()
    assert gc.get_freeze_count() == 0


def test_collection_waits_until_the_orders_are_sent():
    assert gc.isenabled()
    with collection_deferred():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_deferred():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    with pytest.raises(ValueError), collection_deferred():
        raise ValueError
    assert gc.isenabled()


def test_collection_waits_while_a_steps_group_gathers():
    hold = gc_pause.CollectionHold()
    hold.hold()  # the step's first bar
    assert not gc.isenabled()
    hold.hold()  # the others
    hold.release()  # its orders have left
    assert gc.isenabled()
    hold.release()
    assert gc.isenabled()
    gc.disable()
    try:
        hold.hold()
        hold.release()
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
