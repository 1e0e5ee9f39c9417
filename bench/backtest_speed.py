"""Backtest speed: bars/second for the SMA crossover, against a floor measured in the same run.

Prints figures only; nothing here asserts. Run: ``python bench/backtest_speed.py [--quick]``.
The timings run in ``--repeat`` rounds, and each round measures the floor again just before
its backtests: a shared machine's speed drifts within a minute, so a ratio is taken between
figures measured moments apart, and the best round counts. Times in seconds (the order path,
the fixed cost, the work outside the loop) are printed as measured and, beside them, scaled to a
floor of 2M bars/s (what the targets were set on), so runs at different machine speeds compare.
Memory is measured in child processes so the runs do not inflate each other: the peak the
backtest call and its stats add over the loaded bars (tracemalloc), per bar, and the peak
resident memory of a whole 5M-bar run (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass

import quantnb as qn
from quantnb import ind
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


class SmaCrossDry(qn.Strategy):
    """SmaCross's reads (indicators, position) and decisions, without placing orders: the
    difference to SmaCross is what its orders cost."""

    def initialize(self, ctx):
        self.f = ctx.indicator(ind.sma, "close", 10)
        self.s = ctx.indicator(ind.sma, "close", 30)
        self.held = False

    def on_data(self, ctx, data):
        for sym in data:
            if ctx.position(sym):  # the same read and truth test as SmaCross's
                pass
            if self.f[sym] > self.s[sym]:
                if not self.held:
                    self.held = True
            elif self.held:
                self.held = False


class Idle(qn.Strategy):
    """Does nothing with its bars: the engine's own cost per bar."""

    def on_data(self, ctx, data):
        pass


@dataclass(slots=True, frozen=True)
class _Bar:
    symbol: str
    open: float
    close: float


class _Floor:
    def on_data(self, bar):
        pass


def floor_rate(n: int, repeat: int) -> float:
    """A bare loop that builds a small Bar object and calls a strategy method per bar."""
    o = [100.0] * n
    c = [101.0] * n
    s = _Floor()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        on_data = s.on_data
        for i in range(n):
            on_data(_Bar("X", o[i], c[i]))
        best = min(best, time.perf_counter() - t0)
    return n / best


@dataclass
class Timing:
    total: float  # the whole call, results, trades and stats included
    loop: float  # the engine's run before its results are built (BacktestResult.elapsed)
    result: qn.BacktestResult


REFERENCE_FLOOR = 2_000_000  # bars/s: the floor the absolute targets were set against


@dataclass
class Round:
    """One round of every timing, with the floor measured just before it."""

    floor: float  # bars/s
    one: Timing
    dry: Timing
    idle: Timing
    multi: Timing
    hist: Timing
    fixed: float

    def scaled(self, seconds: float) -> float:
        """``seconds`` as they would be on a machine whose floor is ``REFERENCE_FLOOR``."""
        return seconds * self.floor / REFERENCE_FLOOR


def timed(strategy_type, data, repeat: int) -> Timing:
    best: Timing | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = qn.backtest(strategy_type(), data, cash=10_000_000, progress=False)
        res.trades, res.stats  # noqa: B018 - derived on first use: part of the call's cost
        total = time.perf_counter() - t0
        if best is None or total < best.total:
            best = Timing(total, res.elapsed, res)
    assert best is not None
    return best


def memory_child(bars: int, trace: bool) -> dict:
    """Peak resident memory of a whole run (``trace`` off: tracemalloc's own records would
    inflate it), or the peak the backtest and its stats add over the loaded bars (on)."""
    data = qn.data.sample(["SPY"], interval="1m", start="2010-01-04", bars=bars)
    if trace:
        tracemalloc.start()
    res = qn.backtest(SmaCross(), data, cash=10_000_000, progress=False)
    res.trades, res.stats  # noqa: B018
    added = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"bars": bars, "bytes_per_bar": added / bars, "peak_mb": peak_mb}


def in_child(bars: int, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(bars)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a tenth of the data, for a smoke run")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of timings; the best counts")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(memory_child(args.child, args.trace)))
        return
    scale = 10 if args.quick else 1
    repeat = 1 if args.quick else args.repeat
    n1, nsym, nper, n5 = 1_000_000 // scale, 100, 10_000 // scale, 5_000_000 // scale

    single = qn.data.sample(["SPY"], interval="1m", start="2010-01-04", bars=n1)
    many = qn.data.sample(
        [f"S{i:03d}" for i in range(nsym)], interval="1m", start="2020-01-02", bars=nper
    )
    daily = qn.data.sample(["SPY"], interval="1d", start="2020-01-02", bars=100)
    head = {"SPY": single["SPY"].iloc[: n1 // 10]}
    rounds = [
        Round(
            floor=floor_rate(n1, 1),
            one=timed(SmaCross, single, 1),
            dry=timed(SmaCrossDry, single, 1),
            idle=timed(Idle, single, 1),
            multi=timed(SmaCross, many, 1),
            hist=timed(SmaCrossHistory, head, 1),
            fixed=timed(SmaCross, daily, 20).total,  # best of 20 calls: the fixed cost
        )
        for _ in range(repeat)
    ]
    mem1, mem5 = in_child(n1, trace=True), in_child(n5, trace=False)

    orders = len(rounds[0].one.result.orders)

    def best_ratio(rate) -> tuple[float, float]:
        """(bars/s, its ratio to the floor) of the round with the best ratio."""
        r = max(rounds, key=lambda r: rate(r) / r.floor)
        return rate(r), rate(r) / r.floor

    def best_time(seconds) -> tuple[float, float]:
        """(seconds, scaled to the reference floor), each the best of the rounds."""
        return min(seconds(r) for r in rounds), min(r.scaled(seconds(r)) for r in rounds)

    floor = max(r.floor for r in rounds)
    rate1, ratio1 = best_ratio(lambda r: n1 / r.one.total)
    rate_many, ratio_many = best_ratio(lambda r: nsym * nper / r.multi.total)
    rate_dry, ratio_dry = best_ratio(lambda r: n1 / r.dry.total)
    rate_idle, ratio_idle = best_ratio(lambda r: n1 / r.idle.total)
    rate_hist, ratio_hist = best_ratio(lambda r: n1 / 10 / r.hist.total)
    per_order, per_order_ref = best_time(lambda r: (r.one.loop - r.dry.loop) / orders)
    fixed, fixed_ref = best_time(lambda r: r.fixed)
    outside, outside_ref = best_time(lambda r: (r.one.total - r.one.loop) * 1_000_000 / n1)
    at_ref = f"at {REFERENCE_FLOOR / 1e6:g}M/s floor:"
    rows = [
        ("floor: bare loop, Bar object + method call (best round)", f"{floor:,.0f} bars/s", "", ""),
        (
            f"SMA crossover, 1 symbol x {n1:,} bars, whole call",
            f"{rate1:,.0f} bars/s",
            f"{ratio1:.2f} of floor",
            ">= 0.5",
        ),
        (
            f"SMA crossover, {nsym} symbols x {nper:,} bars, whole call",
            f"{rate_many:,.0f} bars/s",
            f"{ratio_many:.2f} of floor",
            ">= 0.5",
        ),
        (
            f"order path per market order ({orders:,} orders)",
            f"{per_order * 1e6:.1f} µs",
            f"{at_ref} {per_order_ref * 1e6:.1f} µs",
            "<= 10 µs",
        ),
        (
            "fixed cost of a call (100 daily bars)",
            f"{fixed * 1000:.1f} ms",
            f"{at_ref} {fixed_ref * 1000:.1f} ms",
            "<= 5 ms",
        ),
        (
            "outside the bar loop per 1M bars (setup, results, trades, stats)",
            f"{outside:.3f} s",
            f"{at_ref} {outside_ref:.3f} s",
            "<= 0.15 s",
        ),
        (
            f"memory the call adds, 1 symbol x {n1:,} bars",
            f"{mem1['bytes_per_bar']:.0f} bytes/bar",
            "",
            "<= 80",
        ),
        (f"peak memory, 1 symbol x {n5:,} bars", f"{mem5['peak_mb']:,.0f} MB", "", "< 900 MB"),
        (
            "the same decisions without orders (SmaCrossDry), whole call",
            f"{rate_dry:,.0f} bars/s",
            f"{ratio_dry:.2f} of floor",
            "reference",
        ),
        (
            "a strategy that does nothing (Idle), whole call",
            f"{rate_idle:,.0f} bars/s",
            f"{ratio_idle:.2f} of floor",
            "reference",
        ),
        (
            f"SMA with ctx.history + numpy per bar, {n1 // 10:,} bars",
            f"{rate_hist:,.0f} bars/s",
            f"{ratio_hist:.2f} of floor",
            "reference",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "figure", "ratio", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(
        f"(SmaCross trades: {len(rounds[0].one.result.trades):,} on 1 symbol, "
        f"{len(rounds[0].multi.result.trades):,} on {nsym}; best of {repeat} rounds; floors "
        f"{', '.join(f'{r.floor / 1e6:.2f}M' for r in rounds)} bars/s)"
    )


if __name__ == "__main__":
    main()
