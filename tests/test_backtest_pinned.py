"""A long run's trades, equity and statistics, pinned: speed work must not move them a cent.

The digests were computed before the order path, the results and the memory use were reworked
for speed; any change to fills, trade matching or statistics shows here as a different digest.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import quantnb as qn
from quantnb.strategies import SmaCross


def digest(res: qn.BacktestResult) -> str:
    """Trades (prices and money to the cent), the equity curve to the cent and every stat."""
    h = hashlib.sha256()
    t = res.trades
    for col in ("symbol", "direction"):
        h.update("|".join(t[col].astype(str)).encode())
    for col in ("entry_time", "exit_time"):
        h.update(t[col].astype("int64").to_numpy().tobytes())
    for col in ("entry_price", "exit_price", "qty", "pnl", "commission"):
        h.update(np.round(t[col].to_numpy(float), 2).tobytes())
    h.update(np.round(res.equity["equity"].to_numpy(), 2).tobytes())
    for key, value in res.stats.items():
        text = f"{value:.10g}" if isinstance(value, float) else str(value)
        h.update(f"{key}={text};".encode())
    return h.hexdigest()[:20]


@pytest.mark.parametrize(
    ("symbols", "bars", "expected"),
    [
        (["SPY"], 200_000, "5dc61a373db84ee1376b"),
        ([f"S{i:02d}" for i in range(20)], 5_000, "26f823c781dc794eee5b"),
    ],
)
def test_long_sma_run_is_unchanged_to_the_cent(symbols, bars, expected):
    start = "2010-01-04" if len(symbols) == 1 else "2020-01-02"
    data = qn.data.sample(symbols, interval="1m", start=start, bars=bars)
    res = qn.backtest(SmaCross(), data, cash=10_000_000, progress=False)
    assert len(res.trades) > 1_000  # a run that trades a lot, so the digest covers much
    assert digest(res) == expected
