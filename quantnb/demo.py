"""``make demo``: the main job end to end on the embedded defaults.

Backtests the SMA crossover on sample data for two symbols, prints the stats and writes the
plot to a PNG; then paper trades the same strategy object on the embedded gateway simulator
when the live layer is installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import quantnb as qn
from quantnb.strategies import SmaCross

SYMBOLS = ["AAPL", "MSFT"]


def run_backtest(strat: SmaCross, out: Path) -> qn.BacktestResult:
    bars = qn.data.sample(SYMBOLS, interval="1d", start="2020-01-01", end="2023-12-31")
    res = qn.backtest(strat, bars, cash=100_000)
    print(f"Backtest: {strat!r} on {', '.join(SYMBOLS)}, daily sample bars 2020-2023")
    print(res.stats.map(lambda v: round(v, 2) if isinstance(v, float) else v).to_string())
    out.mkdir(parents=True, exist_ok=True)
    png = out / "backtest.png"
    res.plot().savefig(png, dpi=100)
    print(f"\nplot written to {png}")
    return res


def run_paper(strat: SmaCross, out: Path, bars: int = 60, timeout: float = 60.0) -> int:
    """Paper trade the same strategy object on the embedded simulator for ``bars`` bars."""
    print(f"\nPaper trading the same {strat!r} on the embedded gateway simulator")
    print(f"(one-minute bars, market time at 600x wall time, {bars} bars per symbol)")
    session = qn.paper(
        strat,
        SYMBOLS,
        interval="1m",
        lookback_days=1,
        journal_dir=str(out / "journal"),
        sim={"speed": 600, "seed": 0},
    )
    session.start(wait=True)
    target = bars * len(SYMBOLS)
    deadline = time.monotonic() + timeout
    try:
        while session.status["bars_processed"] < target and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        session.stop()
    status = session.status
    print(f"bars processed: {status['bars_processed']}, account {status['account']}")
    fills = session.fills
    cols = [c for c in ("time", "symbol", "side", "qty", "price", "commission") if c in fills]
    print("\nfills:")
    print(fills[cols].to_string(index=False) if len(fills) else "(none)")
    positions = session.positions
    print("\npositions:")
    print(positions.to_string(index=False) if len(positions) else "(flat)")
    errors = session.errors
    if len(errors):
        print(f"\n{len(errors)} errors logged; see the journal")
    print(f"\njournal: {status['journal']}")
    return 0 if status["bars_processed"] >= target else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m quantnb.demo", description=__doc__)
    ap.add_argument("--out", default="out", help="folder for the plot and the journal")
    ap.add_argument("--no-paper", action="store_true", help="stop after the backtest")
    ap.add_argument("--bars", type=int, default=60, help="one-minute bars to paper trade")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    strat = SmaCross(fast=10, slow=30, qty=100)
    run_backtest(strat, out)
    if args.no_paper:
        return 0
    return run_paper(strat, out, bars=args.bars)


if __name__ == "__main__":
    sys.exit(main())
