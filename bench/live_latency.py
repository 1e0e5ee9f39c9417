"""Live engine latency: a completed bar reaching the IB client → the strategy's order leaving it.

Runs the gateway simulator in its own process on loopback (manual clock, 50 symbols), as a
real gateway is (in-process the two would compete for one GIL), and a paper engine
against it. A bar "arrives" when the client has decoded the keep-up-to-date update that shows it
complete (the first update of the next bar); the order "leaves" when the client's ``placeOrder``
has written it to the socket. Everything in between is measured: the feed, the engine's grouping,
the strategy, the risk and buying-power checks. Three figures:

- (a) ``one``, from the completing bar: one order per time step, timed from the bar that
  completed the time step (the engine dispatches once every symbol has its bar);
- (b) ``one``, from its own bar: the same orders, timed from their own symbol's bar (adds the
  client decoding the other symbols' bars of that time step);
- (c) ``all``: one order per symbol per time step (50 sent one after another), from the
  completing bar.

Beside each wall-clock figure, the loop thread's CPU time over the same span: the work done,
apart from the time the thread waited for a core (on a shared machine the two differ).

The client's 45 requests/s throttle is switched off: the simulator plays a 1-minute bar in a few
milliseconds, so orders would otherwise queue in the client for reasons a live run never meets.

Usage: ``python bench/live_latency.py [--steps N] [--steps-all N]``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

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


class Clock:
    """Times each order from the client's decoding of the bars that led to it."""

    def __init__(self, ib: Any) -> None:
        self.ib = ib
        # symbol -> (wall, loop-thread CPU) arrival of its newest completed bar
        self.arrival: dict[str, tuple[int, int]] = {}
        self.completing = (0, 0)  # arrival of the newest bar that completed any symbol's bar
        self.dates: dict[int, Any] = {}
        self.own: list[tuple[int, int]] = []
        self.group: list[tuple[int, int]] = []

        # bars come ~1000x faster than live here, which would trip the client's 45 requests/s
        # throttle and queue orders; off, so placeOrder returning means written to the socket
        ib.client.MaxRequests = 0
        wrapper = ib.wrapper
        self._update = wrapper.historicalDataUpdate
        wrapper.historicalDataUpdate = self.on_update
        self._place = ib.client.placeOrder
        ib.client.placeOrder = self.place

    def on_update(self, req_id: int, bar: Any) -> None:
        if self.dates.get(req_id) != bar.date:  # a new bar: the previous one is complete
            # the clocks are read only here: the thread's CPU clock is a system call, and
            # reading it on every update (~13 per bar) loaded the very thread being measured
            t = (time.perf_counter_ns(), time.thread_time_ns())
            self.dates[req_id] = bar.date
            sub = self.ib.wrapper.reqId2Subscriber.get(req_id)
            if sub is not None:
                self.arrival[sub.contract.symbol] = t
                self.completing = t
        self._update(req_id, bar)

    def place(self, order_id: int, contract: Any, order: Any) -> None:
        self._place(order_id, contract, order)
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        own, group = self.arrival[contract.symbol], self.completing
        self.own.append((wall - own[0], cpu - own[1]))
        self.group.append((wall - group[0], cpu - group[1]))


def run(strategy: qn.Strategy, steps: int, workdir: Path) -> dict[str, Any]:
    symbols = [f"S{i:02d}" for i in range(N_SYMBOLS)]
    # a separate process, as a real gateway is: in-process, the two would share one GIL
    with GatewaySimulator(
        symbols=symbols, mode="manual", seed=1, cash=10_000_000.0, subprocess=True
    ) as sim:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=41, timeout=10)
        eng = LiveStrategyEngine(
            config=cfg, allow_short=True, journal=workdir / f"{strategy.name}.sqlite"
        )
        eng.add_strategy(strategy)
        eng.start(symbols, lookback_days=0, interval="1m", wait=True, timeout=60)
        clock = eng._loop.run(_install(eng))
        sim.step(1)  # a bar is known complete once the next one starts
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
        logging.getLogger(__name__).error("engine errors:\n%s", errors.to_string())
    return {
        "own": np.array(clock.own) / 1e6,
        "group": np.array(clock.group) / 1e6,
        "bars": bars,
    }


async def _install(eng: LiveStrategyEngine) -> Clock:
    return Clock(eng.connection.ib)  # on the loop thread, between two messages


def report(
    label: str, ms: np.ndarray, bars: int, median_target: float, p99_target: float | None
) -> None:
    wall, cpu = ms[:, 0], ms[:, 1]
    med, p99 = float(np.median(wall)), float(np.percentile(wall, 99))
    ok = "meets" if med < median_target and (p99_target is None or p99 < p99_target) else "misses"
    print(
        f"{label:<50} {len(ms):5d} orders / {bars:5d} bars   median {med:7.3f} ms   "
        f"p99 {p99:7.3f} ms   max {wall.max():7.3f} ms   ({ok} the targets)   "
        f"loop CPU: median {np.median(cpu):6.3f} ms, p99 {np.percentile(cpu, 99):6.3f} ms"
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
        every = run(AllOrders(), args.steps_all, Path(tmp))
    report("(a) one order, from the completing bar", one["group"], one["bars"], 1.0, 5.0)
    report("(b) one order, from its own bar", one["own"], one["bars"], 1.0, 5.0)
    report(
        "(c) an order per symbol, from the completing bar", every["group"], every["bars"], 5.0, None
    )
    total = one["bars"] + every["bars"]
    elapsed = time.perf_counter() - started
    print(
        f"{N_SYMBOLS} symbols on loopback, {total} bars in {elapsed:.1f} s; "
        "targets: (a), (b) median < 1 ms and p99 < 5 ms, (c) median < 5 ms "
        "(client request throttle off)"
    )


if __name__ == "__main__":
    main()
