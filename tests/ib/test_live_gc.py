"""A running live engine keeps full collections off its bar-to-order path: the heap is frozen
once it has started, the collector waits while a step's bars gather, the strategy runs and its
orders leave, and the heap is unfrozen when it stops."""

from __future__ import annotations

import gc

import pytest

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine

pytestmark = pytest.mark.ib


class Buys(qn.Strategy):
    def initialize(self, ctx):
        self.collector_on = []

    def on_data(self, ctx, data):
        self.collector_on.append(gc.isenabled())
        ctx.buy("AAPL", 1)


def test_heap_frozen_while_running_and_collection_deferred_in_on_data(tmp_path):
    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=3) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=12, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite")
        strat = Buys()
        eng.add_strategy(strat)
        assert gc.get_freeze_count() == 0
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True, timeout=30)
        try:
            assert gc.get_freeze_count() > 0
            sim.step(3)
            eventually(lambda: eng.groups_processed >= 2, 10)
            eventually(lambda: len(eng.fills) >= 2, 10)
            assert eng.call(lambda ctx: gc.isenabled())  # on again once a step's orders left
        finally:
            eng.stop()
    assert strat.collector_on and not any(strat.collector_on)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
