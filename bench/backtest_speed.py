"""Backtest speed: bars/second for the SMA crossover, against a floor measured in the same run.

Prints figures only; nothing here asserts. Run: ``python bench/backtest_speed.py [--quick]``.
Peak memory of the 1M-bar run is measured in a child process (ru_maxrss) so the other runs
do not inflate it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

import quantnb as qn
from quantnb.strategies import SmaCross


class SmaCrossHistory(qn.Strategy):
    """The same rule with ``ctx.history`` and numpy means per bar (reference, no target)."""

    def __init__(self, fast: int = 10, slow: int = 30, qty: int = 100):
        self.fast, self.slow, self.qty = fast, slow, qty

    def on_data(self, ctx, data):
        for sym in data:
            close = ctx.history(sym, self.slow, "close")
            if len(close) < self.slow:
                continue
            held = ctx.position(sym).qty
            if close[-self.fast :].mean() > close.mean():
                if held == 0:
                    ctx.buy(sym, self.qty)
            elif held > 0:
                ctx.close(sym)


@dataclass(slots=True, frozen=True)
class _Bar:
    symbol: str
    open: float
    close: float


class _Floor:
    def on_data(self, bar):
        pass


def floor_rate(n: int) -> float:
    """A bare loop that builds a small Bar object and calls a strategy method per bar."""
    o = [100.0] * n
    c = [101.0] * n
    s = _Floor()
    t0 = time.perf_counter()
    on_data = s.on_data
    for i in range(n):
        on_data(_Bar("X", o[i], c[i]))
    return n / (time.perf_counter() - t0)


def timed(strategy, data) -> tuple[float, qn.BacktestResult]:
    t0 = time.perf_counter()
    res = qn.backtest(strategy, data, cash=10_000_000, progress=False)
    return time.perf_counter() - t0, res


def one_million(bars: int) -> dict:
    data = qn.data.sample(["SPY"], interval="1m", start="2010-01-04", bars=bars)
    secs, res = timed(SmaCross(), data)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"bars": bars, "seconds": secs, "trades": len(res.trades), "peak_mb": peak_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a tenth of the data, for a smoke run")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_million(args.child)))
        return
    scale = 10 if args.quick else 1
    n1, nsym, nper = 1_000_000 // scale, 100, 10_000 // scale

    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n1)], capture_output=True, text=True, check=True
    )
    single = json.loads(out.stdout.strip().splitlines()[-1])
    floor = floor_rate(n1)

    many = qn.data.sample(
        [f"S{i:03d}" for i in range(nsym)], interval="1m", start="2020-01-02", bars=nper
    )
    secs_many, res_many = timed(SmaCross(), many)
    secs_hist, _ = timed(
        SmaCrossHistory(),
        {"SPY": qn.data.sample(["SPY"], "1m", start="2010-01-04", bars=n1 // 10)["SPY"]},
    )

    rate1 = single["bars"] / single["seconds"]
    rate_many = nsym * nper / secs_many
    rate_hist = (n1 // 10) / secs_hist
    print(f"floor (bare loop: Bar object + method call): {floor:>12,.0f} bars/s")
    print(
        f"SMA crossover, indicators, {single['bars']:,} x 1 symbol: {rate1:>12,.0f} bars/s"
        f"  ({rate1 / floor:.2f} of floor; {single['trades']} trades; "
        f"peak memory {single['peak_mb']:.0f} MB)   target >= 500,000"
    )
    print(
        f"SMA crossover, indicators, {nsym} x {nper:,} bars:  {rate_many:>12,.0f} symbol-bars/s"
        f"  ({rate_many / floor:.2f} of floor; {len(res_many.trades)} trades)   target >= 300,000"
    )
    print(
        f"SMA crossover, ctx.history + numpy per bar, {n1 // 10:,} bars: {rate_hist:>12,.0f} bars/s"
        f"  ({rate_hist / floor:.2f} of floor; reference, no target)"
    )


if __name__ == "__main__":
    main()
