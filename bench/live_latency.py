"""Live engine latency: a completed bar reaching the client → the strategy's order leaving it.

Runs the gateway simulator in-process on loopback (manual clock, 50 symbols) and a paper engine
against it. The clock starts when the feed hands a bar to the engine (its ``on_bar``) and stops
just before the client's ``placeOrder``. Two strategies:

- ``one``: one order per bar time (a different symbol each time), the common case;
- ``all``: an order on every bar of every symbol (50 orders per bar time, sent one after another).

For each: the latency from the bar that completed the bar time (the engine dispatches when all
symbols have their bar) and from the order's own symbol's bar (which adds the client decoding the
other symbols' bars of the same time). Usage: ``python bench/live_latency.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import quantnb as qn
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.trading import LiveStrategyEngine

N_SYMBOLS = 50


class OneOrder(qn.Strategy):
    """Buys or sells one share of one symbol per bar time, rotating through the symbols."""

    def initialize(self, ctx):
        self.k = 0

    def on_data(self, ctx, data):
        syms = ctx.symbols
        sym = syms[self.k % len(syms)]
        self.k += 1
        if sym in data:
            ctx.order(sym, -1 if ctx.position(sym).qty > 0 else 1)


class AllOrders(qn.Strategy):
    """Buys or sells one share of every symbol that has a bar."""

    def on_data(self, ctx, data):
        for sym in data:
            ctx.order(sym, -1 if ctx.position(sym).qty > 0 else 1)


def run(strategy: qn.Strategy, steps: int, workdir: Path) -> dict[str, np.ndarray]:
    symbols = [f"S{i:02d}" for i in range(N_SYMBOLS)]
    own: list[int] = []
    group: list[int] = []
    with GatewaySimulator(symbols=symbols, mode="manual", seed=1, cash=10_000_000.0) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=41, timeout=10)
        eng = LiveStrategyEngine(
            config=cfg, allow_short=True, journal=workdir / f"{strategy.name}.sqlite"
        )
        eng.add_strategy(strategy)
        eng.start(symbols, lookback_days=0, interval="1m", wait=True, timeout=60)
        ib = eng.connection.ib
        place = ib.placeOrder

        def timed_place(contract, order):
            t = time.perf_counter_ns()
            own.append(t - eng.arrival_ns[contract.symbol])
            group.append(t - eng.group_arrival_ns)
            return place(contract, order)

        ib.placeOrder = timed_place
        sim.step(1)  # a bar is complete once the next one starts
        for _ in range(steps):
            target = eng.groups_processed + 1
            sim.step(1)
            deadline = time.monotonic() + 10
            while eng.groups_processed < target:
                if time.monotonic() > deadline:
                    raise RuntimeError("the engine stopped receiving bars")
                time.sleep(0.0005)
        bars = eng.bars_processed
        eng.stop()
        errors = eng.errors
    if len(errors):
        print(errors.to_string(), file=sys.stderr)
    return {"own": np.array(own) / 1e6, "group": np.array(group) / 1e6, "bars": bars}


def report(name: str, res: dict) -> None:
    for key, label in (("group", "from the completing bar"), ("own", "from its own bar")):
        ms = res[key]
        print(
            f"{name:>4}: {len(ms):5d} orders / {res['bars']:5d} bars, {label:<24} "
            f"median {np.median(ms):7.3f} ms   p99 {np.percentile(ms, 99):7.3f} ms   "
            f"max {ms.max():7.3f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250, help="bar times for 'one'")
    parser.add_argument("--steps-all", type=int, default=21, help="bar times for 'all'")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        one = run(OneOrder(), args.steps, Path(tmp))
        report("one", one)
        every = run(AllOrders(), args.steps_all, Path(tmp))
        report("all", every)
    total = one["bars"] + every["bars"]
    elapsed = time.perf_counter() - started
    print(
        f"{N_SYMBOLS} symbols on loopback, {total} bars in {elapsed:.1f} s; "
        "targets: median < 1 ms, p99 < 5 ms"
    )


if __name__ == "__main__":
    main()
