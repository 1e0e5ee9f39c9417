"""Round trips: FIFO matching, flips, shorts, commissions, and property tests."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.errors import DataError, QuantnbError
from quantnb.results import open_lots, round_trips

T0 = pd.Timestamp("2024-01-02", tz="UTC")


def make_fills(rows: list[tuple]) -> pd.DataFrame:
    """rows: (day, symbol, side, qty, price, commission)."""
    return pd.DataFrame(
        {
            "time": [T0 + pd.Timedelta(days=r[0]) for r in rows],
            "order_id": [f"o{i}" for i in range(len(rows))],
            "symbol": [r[1] for r in rows],
            "side": [r[2] for r in rows],
            "qty": [float(r[3]) for r in rows],
            "price": [float(r[4]) for r in rows],
            "commission": [float(r[5]) for r in rows],
            "slippage": 0.0,
            "exec_id": [f"e{i}" for i in range(len(rows))],
        }
    )


def test_long_round_trip_exact_numbers():
    fills = make_fills([(0, "A", "BUY", 10, 100, 1.0), (3, "A", "SELL", 10, 110, 1.1)])
    t = round_trips(fills)
    assert len(t) == 1
    row = t.iloc[0]
    assert row["direction"] == "long"
    assert row["gross_pnl"] == pytest.approx(100.0)
    assert row["commission"] == pytest.approx(2.1)
    assert row["pnl"] == pytest.approx(97.9)
    assert row["return"] == pytest.approx(97.9 / 1000)
    assert row["duration"] == pd.Timedelta(days=3)
    assert list(t.columns) == [
        "symbol",
        "direction",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "qty",
        "pnl",
        "gross_pnl",
        "return",
        "commission",
        "duration",
    ]


def test_short_round_trip_profits_when_price_falls():
    fills = make_fills([(0, "A", "SELL", 5, 50, 0), (1, "A", "BUY", 5, 40, 0)])
    row = round_trips(fills).iloc[0]
    assert row["direction"] == "short"
    assert row["pnl"] == pytest.approx(50.0)
    assert row["entry_price"] == 50 and row["exit_price"] == 40


def test_fifo_partial_closes_split_lots_and_commission_pro_rata():
    fills = make_fills(
        [
            (0, "A", "BUY", 10, 100, 10.0),  # 1.0 per share
            (1, "A", "BUY", 10, 120, 20.0),  # 2.0 per share
            (2, "A", "SELL", 15, 130, 3.0),  # 0.2 per share
            (3, "A", "SELL", 5, 90, 5.0),
        ]
    )
    t = round_trips(fills)
    assert t[["qty", "entry_price", "exit_price"]].values.tolist() == [
        [10, 100, 130],
        [5, 120, 130],
        [5, 120, 90],
    ]
    assert t["gross_pnl"].tolist() == pytest.approx([300, 50, -150])
    assert t["commission"].tolist() == pytest.approx([10 + 2, 10 + 1, 10 + 5])
    assert t["commission"].sum() == pytest.approx(fills["commission"].sum())
    assert open_lots(fills).empty


def test_flip_closes_then_opens():
    fills = make_fills(
        [(0, "A", "BUY", 10, 10, 1.0), (1, "A", "SELL", 30, 12, 3.0), (2, "A", "BUY", 20, 11, 2.0)]
    )
    t = round_trips(fills)
    assert t["direction"].tolist() == ["long", "short"]
    assert t["qty"].tolist() == [10, 20]
    assert t["gross_pnl"].tolist() == pytest.approx([20, 20])
    assert t["commission"].tolist() == pytest.approx([1 + 1, 2 + 2])


def test_symbols_are_matched_separately_and_open_lots_reported():
    fills = make_fills(
        [
            (0, "A", "BUY", 1, 10, 0),
            (0, "B", "SELL", 2, 20, 0.5),
            (1, "A", "SELL", 1, 11, 0),
            (2, "A", "BUY", 3, 12, 0.3),
        ]
    )
    t = round_trips(fills)
    assert t["symbol"].tolist() == ["A"]
    lots = open_lots(fills)
    assert lots[["symbol", "direction", "qty", "entry_price"]].values.tolist() == [
        ["B", "short", 2, 20],
        ["A", "long", 3, 12],
    ]
    assert lots["commission"].tolist() == pytest.approx([0.5, 0.3])


def test_empty_fills_give_typed_empty_frames():
    fills = make_fills([])
    t = round_trips(fills)
    assert t.empty and "pnl" in t.columns
    assert str(t["entry_time"].dtype) == "datetime64[ns, UTC]"
    assert open_lots(fills).empty


def test_open_position_only_is_not_a_trade():
    assert round_trips(make_fills([(0, "A", "BUY", 1, 10, 0)])).empty


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([(0, "A", "HOLD", 1, 10, 0)], "HOLD"),
        ([(0, "A", "BUY", 0, 10, 0)], "positive"),
        ([(0, "A", "BUY", 1, float("nan"), 0)], "NaN"),
    ],
)
def test_bad_fills_raise_named_errors(rows, match):
    with pytest.raises(DataError, match=match):
        round_trips(make_fills(rows))


def test_missing_columns_raise():
    with pytest.raises(QuantnbError, match="price"):
        round_trips(make_fills([(0, "A", "BUY", 1, 10, 0)]).drop(columns="price"))


# A sequence of signed quantities (never 0) and prices; a final fill closes what is left.
steps = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.integers(-50, 50).filter(bool),
        st.floats(1, 500, allow_nan=False),
        st.floats(0, 5, allow_nan=False),
    ),
    min_size=1,
    max_size=25,
)


def _flat_fills(seq) -> pd.DataFrame:
    rows, pos = [], {}
    for i, (sym, q, price, comm) in enumerate(seq):
        rows.append((i, sym, "BUY" if q > 0 else "SELL", abs(q), price, comm))
        pos[sym] = pos.get(sym, 0) + q
    for j, (sym, q) in enumerate(sorted(pos.items())):
        if q:
            rows.append((len(seq) + j, sym, "SELL" if q > 0 else "BUY", abs(q), 100.0, 1.0))
    return make_fills(rows)


@settings(max_examples=80, deadline=None)
@given(steps)
def test_round_trips_account_for_all_cash_and_commission(seq):
    fills = _flat_fills(seq)
    t = round_trips(fills)
    sign = fills["side"].map({"BUY": 1, "SELL": -1})
    cash_pnl = float((-sign * fills["qty"] * fills["price"]).sum())
    assert math.isclose(t["gross_pnl"].sum(), cash_pnl, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(
        t["commission"].sum(), fills["commission"].sum(), rel_tol=1e-9, abs_tol=1e-9
    )
    assert t["pnl"].to_numpy() == pytest.approx((t["gross_pnl"] - t["commission"]).to_numpy())
    assert open_lots(fills).empty
    assert (t["qty"] > 0).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.01, 10, allow_nan=False), min_size=1, max_size=8))
def test_fractional_quantities_close_exactly(parts):
    """Buying in fractional pieces and selling the total in one fill leaves nothing open."""
    rows = [(i, "A", "BUY", q, 10 + i, 0.1) for i, q in enumerate(parts)]
    rows.append((len(parts), "A", "SELL", sum(parts), 20, 0.2))
    fills = make_fills(rows)
    t = round_trips(fills)
    assert len(t) == len(parts)
    assert open_lots(fills).empty
    assert t["commission"].sum() == pytest.approx(0.1 * len(parts) + 0.2)
