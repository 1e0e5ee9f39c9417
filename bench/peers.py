"""quantnb against backtesting.py and backtrader: the SMA 10/30 crossover on the same bars.

Prints figures only; nothing here asserts. Needs the optional extra: ``pip install -e .[bench]``
(a peer that is not installed is skipped). Run: ``python bench/peers.py [--bars N]``.
Each library runs the same rule (long 100 shares while SMA(10) > SMA(30), flat otherwise,
market orders at the next open, 0.1% commission) and computes its own statistics; every
figure is the best of ``--repeat`` runs of the whole call, and the ratios compare this run's.
backtrader, by far the slowest, runs a tenth of the bars unless ``--bt-bars`` says otherwise.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import quantnb as qn
from quantnb.strategies import SmaCross


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_quantnb(df: pd.DataFrame) -> int:
    res = qn.backtest(SmaCross(), {"SPY": df}, cash=10_000_000, progress=False)
    return int(res.stats["Trades"])


def _ohlcv(df: pd.DataFrame) -> pd.DataFrame:
    """The bars as the peers take them: capitalised columns, a naive UTC index."""
    out = df[["open", "high", "low", "close", "volume"]].copy()
    out.columns = ["Open", "High", "Low", "Close", "Volume"]
    out.index = out.index.tz_localize(None)
    return out


def run_backtesting(df: pd.DataFrame) -> int:
    from backtesting import Backtest, Strategy

    def sma(x, n):
        return qn.ind.sma(np.asarray(x, dtype=float), n)

    class Cross(Strategy):
        def init(self):
            self.f = self.I(sma, self.data.Close, 10)
            self.s = self.I(sma, self.data.Close, 30)

        def next(self):
            if self.f[-1] > self.s[-1]:
                if not self.position:
                    self.buy(size=100)
            elif self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(df, Cross, cash=10_000_000, commission=0.001).run()
    return int(stats["# Trades"])


def run_backtrader(df: pd.DataFrame) -> int:
    import backtrader as bt

    class Cross(bt.Strategy):
        def __init__(self):
            self.f = bt.indicators.SMA(self.data.close, period=10)
            self.s = bt.indicators.SMA(self.data.close, period=30)
            self.trades = 0

        def notify_trade(self, trade):
            self.trades += trade.isclosed

        def next(self):
            if self.f[0] > self.s[0]:
                if not self.position:
                    self.buy(size=100)
            elif self.position:
                self.close()

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=df))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(10_000_000)
    cerebro.broker.setcommission(commission=0.001)
    return cerebro.run()[0].trades


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000, help="one-minute bars, one symbol")
    ap.add_argument("--bt-bars", type=int, help="bars for backtrader (default: a tenth)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing; the best counts")
    args = ap.parse_args()
    bars = qn.data.sample(["SPY"], interval="1m", start="2010-01-04", bars=args.bars)["SPY"]
    bt_bars = args.bt_bars or max(args.bars // 10, 1_000)

    rate = {}
    trades = {}
    trades["quantnb"] = run_quantnb(bars)
    rate["quantnb"] = args.bars / best_of(args.repeat, lambda: run_quantnb(bars))
    peers = [
        ("backtesting.py", "backtesting", run_backtesting, _ohlcv(bars)),
        ("backtrader", "backtrader", run_backtrader, _ohlcv(bars.iloc[:bt_bars])),
    ]
    for name, module, fn, data in peers:
        try:
            __import__(module)
        except ImportError:
            print(f"{name}: not installed (pip install -e .[bench]); skipped")
            continue
        trades[name] = fn(data)
        rate[name] = len(data) / best_of(1 if name == "backtrader" else args.repeat,
                                         lambda fn=fn, data=data: fn(data))  # fmt: skip

    print(f"SMA 10/30 crossover, 1 symbol, one-minute bars ({args.bars:,}; backtrader {bt_bars:,})")
    print(f"{'library':16s} {'bars/s':>12s} {'trades':>8s}  quantnb is")
    for name, r in rate.items():
        ratio = "" if name == "quantnb" else f"{rate['quantnb'] / r:.1f}x faster"
        print(f"{name:16s} {r:>12,.0f} {trades[name]:>8,}  {ratio}")


if __name__ == "__main__":
    main()
