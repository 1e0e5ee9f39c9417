"""Gateway simulator speed, seen by a real IB client over loopback.

Prints (1) tick messages per second streamed to one client subscribed to 100 symbols, counted
as the client receives them, and (2) the round trip of a market order, placeOrder → the client
sees it filled: median and p99 over a few hundred orders. Targets: ≥ 50,000 messages/s and a
median round trip below 2 ms.

    python bench/sim_throughput.py [--symbols 100] [--steps 40] [--orders 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

try:
    import ib_async as ibc
except ImportError:  # the ib_insync environment
    import ib_insync as ibc  # type: ignore[no-redef]

from quantnb.sim import GatewaySimulator

_TIMEOUT = 60.0  # seconds to wait for the messages the simulator sent


async def _ticks(sim: GatewaySimulator, ib, n_symbols: int, steps: int) -> tuple[int, float]:
    contracts = [ibc.Stock(s, "SMART", "USD") for s in sim.symbols[:n_symbols]]
    await ib.qualifyContractsAsync(*contracts)
    tickers = [ib.reqMktData(c) for c in contracts]
    # the client paces its requests (45/s): wait until every ticker has its first prices
    while not all(t.last > 0 for t in tickers) or ib.client._isThrottling:
        await asyncio.sleep(0.01)
    client = ib.client
    await asyncio.sleep(0.1)  # let what is still in flight arrive before the baselines
    received0 = client.connectionStats().numMsgRecv
    sent0 = sim.frames_sent()
    sent = threading.Event()
    stepper = threading.Thread(target=lambda: (sim.step(steps), sent.set()), daemon=True)
    started = time.perf_counter()
    stepper.start()
    await asyncio.get_running_loop().run_in_executor(None, sent.wait)
    expected = sim.frames_sent() - sent0
    deadline = time.perf_counter() + _TIMEOUT
    while client.connectionStats().numMsgRecv - received0 < expected:
        if time.perf_counter() > deadline:
            got = client.connectionStats().numMsgRecv - received0
            raise TimeoutError(
                f"the client received {got:,} of {expected:,} messages in {_TIMEOUT:.0f} s"
            )
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    for c in contracts:
        ib.cancelMktData(c)
    while ib.client._isThrottling:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    return expected, elapsed


async def _orders(ib, n_orders: int) -> list[float]:
    (contract,) = await ib.qualifyContractsAsync(ibc.Stock("S000", "SMART", "USD"))
    # the client's own pacing (45 requests/s) would dominate: measure the gateway without it
    ib.client.MaxRequests = 0
    times = []
    for i in range(n_orders):
        started = time.perf_counter()
        trade = ib.placeOrder(contract, ibc.MarketOrder("BUY" if i % 2 == 0 else "SELL", 1))
        while not trade.isDone():
            await asyncio.sleep(0)
        times.append(time.perf_counter() - started)
    return times


async def main(n_symbols: int, steps: int, n_orders: int) -> None:
    symbols = [f"S{i:03d}" for i in range(max(n_symbols, 1))]
    with GatewaySimulator(mode="manual", symbols=symbols) as sim:
        ib = ibc.IB()
        await ib.connectAsync(sim.host, sim.port, clientId=1)
        count, elapsed = await _ticks(sim, ib, n_symbols, steps)
        rate = count / elapsed
        print(f"ticks: {count:,} messages to one client in {elapsed:.2f} s = {rate:,.0f} msg/s")
        times = sorted(await _orders(ib, n_orders))
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        median = statistics.median(times)
        print(
            f"market order round trip ({len(times)} orders): median {median * 1e3:.3f} ms, "
            f"p99 {p99 * 1e3:.3f} ms"
        )
        ib.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--orders", type=int, default=300)
    a = parser.parse_args()
    asyncio.run(main(a.symbols, a.steps, a.orders))
