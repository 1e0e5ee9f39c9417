"""Round trips computed on arrays (entries and exits that pair up) equal the FIFO walk's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.results import trades

T0 = 1_600_000_000_000_000_000


def _fills(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame(
        {
            "time": pd.DatetimeIndex((T0 + np.arange(n) * 60_000_000_000).view("M8[ns]"))
            .tz_localize("UTC")
            .array,
            "symbol": [r[0] for r in rows],
            "side": [r[1] for r in rows],
            "qty": [r[2] for r in rows],
            "price": [r[3] for r in rows],
            "commission": [r[4] for r in rows],
        }
    )


def _walked(fills: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    with monkeypatch.context() as m:
        m.setattr(trades, "_paired", lambda cols: None)
        return trades.round_trips(fills)


prices = st.floats(0.5, 500.0, allow_nan=False).map(lambda p: round(p, 4))
commissions = st.floats(0.0, 5.0, allow_nan=False).map(lambda c: round(c, 4))
qtys = st.sampled_from([1.0, 3.0, 100.0, 0.5])


@st.composite
def paired_runs(draw) -> list[tuple[str, str, float, float, float]]:
    """Round trips per symbol (long or short, any quantity), interleaved across symbols, with
    sometimes a last entry left open and sometimes one partial close that breaks the pairing."""
    per_symbol: dict[str, list] = {}
    for symbol in draw(st.lists(st.sampled_from("ABC"), min_size=1, max_size=3, unique=True)):
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            entry = draw(st.sampled_from(["BUY", "SELL"]))
            exit_ = "SELL" if entry == "BUY" else "BUY"
            q = draw(qtys)
            rows.append((symbol, entry, q, draw(prices), draw(commissions)))
            rows.append((symbol, exit_, q, draw(prices), draw(commissions)))
        if draw(st.booleans()):
            rows.append((symbol, draw(st.sampled_from(["BUY", "SELL"])), draw(qtys), 10.0, 1.0))
        if rows and draw(st.integers(0, 4)) == 0:
            s, side, q, p, c = rows[0]
            other = "SELL" if side == "BUY" else "BUY"
            rows.insert(1, (s, other, q / 2, p, c))  # closes half the first lot: not a pair
        per_symbol[symbol] = rows
    order = draw(st.permutations([s for s, rows in per_symbol.items() for _ in rows]))
    cursors = dict.fromkeys(per_symbol, 0)
    out = []
    for s in order:
        out.append(per_symbol[s][cursors[s]])
        cursors[s] += 1
    return out


@settings(max_examples=200, deadline=None)
@given(paired_runs())
def test_paired_trades_equal_the_fifo_walk_exactly(rows):
    fills = _fills(rows)
    with pytest.MonkeyPatch.context() as mp:
        walked = _walked(fills, mp)
    pd.testing.assert_frame_equal(trades.round_trips(fills), walked, check_exact=True)


def test_pairs_are_recognised_and_a_partial_close_falls_back_to_the_walk():
    paired = _fills([("A", "BUY", 100.0, 10.0, 1.0), ("A", "SELL", 100.0, 12.0, 1.0)])
    assert trades._paired(trades._clean(paired)) is not None
    out = trades.round_trips(paired)
    assert out["pnl"].tolist() == [(12.0 - 10.0) * 100.0 - 2.0]
    partial = _fills([("A", "BUY", 100.0, 10.0, 1.0), ("A", "SELL", 40.0, 12.0, 1.0)])
    assert trades._paired(trades._clean(partial)) is None
    assert trades.round_trips(partial)["qty"].tolist() == [40.0]
