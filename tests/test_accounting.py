"""Accounting invariants over random fill sequences (hypothesis) and hand-checked examples."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.domain.accounting import Portfolio, Position
from quantnb.domain.model import Fill, Side

T0 = pd.Timestamp("2024-01-02", tz="UTC")


def fill(symbol: str, side: str, qty: float, price: float, commission: float = 0.0) -> Fill:
    return Fill("1", symbol, Side(side), qty, price, commission, T0)


fills_st = st.lists(
    st.tuples(
        st.sampled_from(["AAA", "BBB", "CCC"]),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(1, 500).map(float),
        st.floats(1.0, 1000.0, allow_nan=False, allow_infinity=False),
        st.floats(0.0, 20.0, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)
marks_st = st.dictionaries(
    st.sampled_from(["AAA", "BBB", "CCC"]), st.floats(1.0, 1000.0, allow_nan=False)
)


@settings(max_examples=300, deadline=None)
@given(fills_st, marks_st)
def test_cash_plus_market_value_is_equity_at_every_step(seq, marks):
    """Against a model kept here from the fills alone: cash moves by notional and fees,
    holdings by signed quantity; equity is cash plus holdings at the latest prices."""
    pf = Portfolio(1_000_000.0)
    cash, held, last = 1_000_000.0, {}, {}
    for sym, side, qty, price, comm in seq:
        pf.apply_fill(fill(sym, side, qty, price, comm))
        signed = qty if side == "BUY" else -qty
        cash -= signed * price + comm
        held[sym] = held.get(sym, 0.0) + signed
        last[sym] = price
        for s, p in marks.items():
            pf.mark(s, p)
            last[s] = p
        equity = cash + sum(q * last[s] for s, q in held.items())
        assert math.isclose(pf.cash, cash, rel_tol=1e-12, abs_tol=1e-6)
        assert all(math.isclose(pf.position(s).qty, q, abs_tol=1e-9) for s, q in held.items())
        assert math.isclose(pf.equity, equity, rel_tol=1e-12, abs_tol=1e-6)


@settings(max_examples=300, deadline=None)
@given(fills_st, marks_st)
def test_pnl_identity(seq, marks):
    """realized - commissions + unrealized == equity - initial cash, after any sequence."""
    pf = Portfolio(50_000.0)
    for sym, side, qty, price, comm in seq:
        pf.apply_fill(fill(sym, side, qty, price, comm))
    for s, p in marks.items():
        pf.mark(s, p)
    lhs = pf.realized_pnl - pf.commissions + pf.unrealized_pnl
    assert math.isclose(lhs, pf.equity - pf.initial_cash, rel_tol=1e-9, abs_tol=1e-4)
    assert math.isclose(
        pf.realized_pnl, sum(p.realized_pnl for p in pf.positions.values()), abs_tol=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(fills_st)
def test_round_trip_to_flat_realizes_the_cash_change(seq):
    """Closing everything at the last prices: realized - commissions == change in cash."""
    pf = Portfolio(10_000.0)
    last = {}
    for sym, side, qty, price, comm in seq:
        pf.apply_fill(fill(sym, side, qty, price, comm))
        last[sym] = price
    for sym, pos in list(pf.positions.items()):
        if pos.qty:
            side = "SELL" if pos.qty > 0 else "BUY"
            pf.apply_fill(fill(sym, side, abs(pos.qty), last[sym]))
    assert all(p.qty == 0 for p in pf.positions.values())
    assert math.isclose(
        pf.realized_pnl - pf.commissions, pf.cash - pf.initial_cash, rel_tol=1e-9, abs_tol=1e-4
    )


def test_average_price_realized_and_flip():
    p = Position("X")
    assert p.apply(100, 10.0) == 0.0
    assert p.apply(100, 20.0) == 0.0
    assert p.avg_price == pytest.approx(15.0)
    assert p.apply(-50, 25.0) == pytest.approx(500.0)  # 50 x (25 - 15)
    assert p.qty == 150 and p.avg_price == pytest.approx(15.0)
    assert p.apply(-200, 10.0) == pytest.approx(-750.0)  # closes 150 at a loss of 5 each
    assert p.qty == -50 and p.avg_price == pytest.approx(10.0)  # flipped short at the fill price
    assert p.apply(50, 8.0) == pytest.approx(100.0)  # short covered 2 lower
    assert p.qty == 0 and p.avg_price == 0.0 and not p


def test_commission_moves_cash_not_realized():
    pf = Portfolio(1000.0)
    pf.apply_fill(fill("X", "BUY", 10, 50.0, commission=1.0))
    assert pf.cash == pytest.approx(1000 - 500 - 1)
    assert pf.commissions == 1.0 and pf.realized_pnl == 0.0
    pf.mark("X", 55.0)
    assert pf.equity == pytest.approx(999 + 50)


def test_avg_cost_carries_the_commissions_of_the_shares_held():
    """IB's avgCost: (cost + commissions) / qty long, (proceeds - commissions) / qty short."""
    p = Position("X")
    p.apply(100, 10.0, commission=2.0)
    p.apply(100, 20.0, commission=4.0)
    assert p.avg_cost == pytest.approx((3000.0 + 6.0) / 200)
    p.apply(-50, 25.0, commission=1.0)  # a sale takes its share of the commissions away
    assert p.avg_cost == pytest.approx(15.0 + 6.0 * 150 / 200 / 150)
    p.apply(-200, 10.0, commission=4.0)  # flips: a quarter of the fill opens the short
    assert p.qty == -50 and p.avg_cost == pytest.approx(10.0 - 1.0 / 50)
    p.apply(50, 8.0, commission=1.0)
    assert p.qty == 0 and p.avg_cost == 0.0


def test_set_position_keeps_a_booked_position_that_agrees_with_the_gateway():
    pf = Portfolio(10_000.0)
    pf.apply_fill(fill("X", "BUY", 10, 50.0, commission=1.0))
    pos = pf.position("X")
    pf.set_position("X", 10, 50.1)  # IB's avgCost: (500 + 1) / 10
    assert (pos.avg_price, pos.open_commission) == (50.0, 1.0)
    pf.set_position("X", 12, 51.0)  # disagrees: the gateway's report wins
    assert (pos.qty, pos.avg_price, pos.avg_cost) == (12, 51.0, 51.0)


@settings(max_examples=200, deadline=None)
@given(fills_st, st.data())
def test_a_corrected_commission_is_as_if_booked_with_it(seq, data):
    """Booking an estimate then IB's report ends where booking the report at once does."""
    real = data.draw(st.lists(st.floats(0.0, 20.0, allow_nan=False), min_size=len(seq),
                              max_size=len(seq)))  # fmt: skip
    direct, corrected = Portfolio(10_000.0), Portfolio(10_000.0)
    for (symbol, side, qty, price, estimate), commission in zip(seq, real, strict=True):
        direct.apply_fill(fill(symbol, side, qty, price, commission))
        booked = fill(symbol, side, qty, price, estimate)
        corrected.apply_fill(booked)
        fixed = corrected.correct_commission(booked, commission)
        assert fixed.commission == commission and fixed.exec_id == booked.exec_id
    assert corrected.cash == pytest.approx(direct.cash)
    assert corrected.commissions == pytest.approx(direct.commissions)
    assert corrected.realized_pnl == pytest.approx(direct.realized_pnl)
    assert corrected.equity == pytest.approx(direct.equity)
    for symbol, pos in direct.positions.items():
        assert corrected.position(symbol).avg_cost == pytest.approx(pos.avg_cost, abs=1e-6)


def test_a_correction_after_later_fills_moves_only_cash_and_commissions():
    pf = Portfolio(1000.0)
    first = fill("X", "BUY", 10, 50.0, commission=5.0)  # an estimate
    pf.apply_fill(first)
    pf.apply_fill(fill("X", "SELL", 5, 60.0, commission=1.0))
    realized, avg = pf.realized_pnl, pf.position("X").avg_price
    pf.correct_commission(first, 1.0)  # IB's report, late
    assert pf.cash == pytest.approx(1000 - 500 - 1 + 300 - 1)
    assert pf.commissions == pytest.approx(2.0)
    assert pf.realized_pnl == realized and pf.position("X").avg_price == avg
    assert pf.position("X").avg_cost == pytest.approx(50.0 + 0.5 / 5)  # half the shares held
