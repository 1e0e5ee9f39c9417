"""The bar loop defers full garbage collections, collects the young generations, and puts the
collector's settings back afterwards, even when runs overlap in threads."""

from __future__ import annotations

import gc
import threading

import quantnb as qn
from quantnb.engine.collection import full_collections_deferred


class _Cycles(qn.Strategy):
    """Makes a reference cycle every bar and records the collector's thresholds."""

    def initialize(self, ctx):
        self.thresholds = set()

    def on_data(self, ctx, data):
        a: list = []
        a.append(a)
        self.thresholds.add(gc.get_threshold())


def test_full_collections_wait_while_young_cycles_are_still_freed():
    before = gc.get_threshold()
    data = qn.data.sample(["SPY"], interval="1m", start="2020-01-02", bars=20_000)
    collected = []

    def note(phase, info):
        if phase == "stop":
            collected.append((info["generation"], info["collected"]))

    strategy = _Cycles()
    gc.callbacks.append(note)
    try:
        qn.backtest(strategy, data, progress=False)
    finally:
        gc.callbacks.remove(note)
    assert gc.get_threshold() == before
    (inside,) = strategy.thresholds
    assert inside[:2] == before[:2] and inside[2] > 10**6
    # the 20,000 cycles were freed by young collections during the run
    assert sum(n for g, n in collected if g < 2) >= 19_000


def test_overlapping_deferrals_restore_the_threshold_once_the_last_ends():
    before = gc.get_threshold()
    first_in, second_out = threading.Event(), threading.Event()

    def first():
        with full_collections_deferred():
            first_in.set()
            second_out.wait(5)

    t = threading.Thread(target=first)
    t.start()
    assert first_in.wait(5)
    with full_collections_deferred():
        pass
    assert gc.get_threshold()[2] != before[2]  # the first is still inside
    second_out.set()
    t.join(5)
    assert gc.get_threshold() == before
