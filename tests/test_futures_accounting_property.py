"""Property: a future's equity is cash plus its unrealized P&L, and equals the starting cash
plus multiplier × (what the contracts are worth now less what was paid for them), commissions
off, for any sequence of fills; cash never moves by notional."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quantnb as qn
from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Fill, Side

ES = qn.future("ES", "2024-03")
T = pd.Timestamp("2024-01-02", tz="UTC")

fills = st.lists(
    st.tuples(
        st.integers(-5, 5).filter(bool),
        st.integers(16_000, 20_000).map(lambda q: q * 0.25),  # prices on the 0.25 grid
        st.sampled_from([0.0, 2.25]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(fills, st.integers(16_000, 20_000).map(lambda q: q * 0.25))
def test_futures_equity_is_multiplier_times_points(trades, last):
    pf = Portfolio(100_000.0)
    pf.add_instrument(ES)
    for k, (qty, price, commission) in enumerate(trades):
        side = Side.BUY if qty > 0 else Side.SELL
        pf.apply_fill(Fill(str(k), ES.name, side, abs(qty), price, commission, T))
    pf.mark(ES.name, last)
    held = sum(q for q, _, _ in trades)
    paid = sum(q * p for q, p, _ in trades)
    fees = sum(c for _, _, c in trades)
    expected = 100_000.0 + 50.0 * (held * last - paid) - fees
    pos = pf.position(ES.name)
    assert pos.qty == held
    assert pf.equity == pytest.approx(expected, abs=1e-6)
    assert pf.equity == pytest.approx(pf.cash + pos.unrealized_pnl, abs=1e-6)
    assert pf.cash == pytest.approx(100_000.0 + pf.realized_pnl - fees, abs=1e-6)
