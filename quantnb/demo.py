"""``make demo``: the main job end to end on the embedded defaults.

Backtests the SMA crossover on sample data for two symbols, prints the stats and writes the
plot to a PNG; then paper trades the same strategy object on the embedded gateway simulator
when the live layer is installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import quantnb as qn
from quantnb.strategies import SmaCross

SYMBOLS = ["AAPL", "MSFT"]


def run_backtest(out: Path) -> qn.BacktestResult:
    strat = SmaCross(fast=10, slow=30, qty=100)
    bars = qn.data.sample(SYMBOLS, interval="1d", start="2020-01-01", end="2023-12-31")
    res = qn.backtest(strat, bars, cash=100_000)
    print(f"Backtest: {strat!r} on {', '.join(SYMBOLS)}, daily sample bars 2020-2023")
    print(res.stats.map(lambda v: round(v, 2) if isinstance(v, float) else v).to_string())
    out.mkdir(parents=True, exist_ok=True)
    png = out / "backtest.png"
    res.plot().savefig(png, dpi=100)
    print(f"\nplot written to {png}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m quantnb.demo", description=__doc__)
    ap.add_argument("--out", default="out", help="folder for the plot and the journal")
    ap.add_argument("--no-paper", action="store_true", help="stop after the backtest")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    run_backtest(out)
    if args.no_paper:
        return 0
    try:
        from quantnb.trading.demo import run_paper
    except ImportError:
        return 0
    return run_paper(out, SYMBOLS)


if __name__ == "__main__":
    sys.exit(main())
