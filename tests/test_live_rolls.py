"""A live session's continuous futures roll by the backtest's rule: the same month at each bar
and the same two orders at the same bar."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.rolls import expiry, month_at, next_month, roll_date
from quantnb.trading.rolls import RollWatch, roll_orders

DAYS = pd.DatetimeIndex(
    ["2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15"], tz="UTC"
)


def _month(closes):
    return pd.DataFrame(
        {"open": closes, "high": 5000.0, "low": 4000.0, "close": closes, "volume": 100.0},
        index=DAYS,
    )


def test_the_month_held_at_a_time():
    assert expiry("ES", "2024-03") == pd.Timestamp("2024-03-15")
    assert roll_date("ES", "2024-03", 5) == pd.Timestamp("2024-03-08")
    assert month_at("ES", pd.Timestamp("2024-03-07 20:00", tz="UTC"), 5) == "2024-03"
    assert month_at("ES", pd.Timestamp("2024-03-08 14:00", tz="UTC"), 5) == "2024-06"
    assert month_at("ES", pd.Timestamp("2024-01-02"), 5) == "2024-03"
    # CL lists every month; February 2024 stops trading on 2024-01-22
    assert expiry("CL", "2024-02") == pd.Timestamp("2024-01-22")
    assert month_at("CL", pd.Timestamp("2024-01-12"), 5) == "2024-02"
    assert month_at("CL", pd.Timestamp("2024-01-15"), 5) == "2024-03"
    assert next_month("ES", "2024-12") == "2025-03"


def test_live_roll_gives_the_backtests_two_orders_on_the_same_bars():
    months = {"ES 2024-03": _month([4800.0 + 10 * i for i in range(6)]),
              "ES 2024-06": _month([4860.0 + 10 * i for i in range(6)])}  # fmt: skip
    series = qn.data.continuous(months, adjust="difference", roll_days=2)
    es = qn.continuous("ES")

    class Hold(qn.Strategy):
        def on_data(self, ctx, bars):
            if ctx.position(es).qty == 0 and not ctx.open_orders("ES"):
                ctx.buy(es, 2)

    r = qn.backtest(Hold(), {"ES": series, **months}, cash=100_000, slippage=0)
    back = r.orders[r.orders["tag"] == "roll"]
    back = [(t, s, side, q) for t, s, side, q in back[["created", "symbol", "side", "qty"]].values]
    # live: the same bars, the same position, the roll watch and its orders
    watch = RollWatch([es], roll_days=2)
    assert watch.start(DAYS[0]) == {"ES": qn.future("ES", "2024-03")}
    ids = (f"run-{i}" for i in itertools.count(1))
    live = []
    for t in series.index[1:]:
        for _, old, new in watch.due(t):
            for o in roll_orders(old.name, new.name, 2.0, lambda: next(ids)):
                live.append((t, o.symbol, o.side.value, o.qty))
                assert o.type is qn.OrderType.MARKET and o.tag == "roll"
    assert (
        live
        == back
        == [
            (DAYS[3], "ES 2024-03", "SELL", 2.0),
            (DAYS[3], "ES 2024-06", "BUY", 2.0),
        ]
    )
    assert watch.current == {"ES": qn.future("ES", "2024-06")}


def test_a_short_position_rolls_short():
    legs = roll_orders("ES 2024-03", "ES 2024-06", -3.0, lambda: "x")
    assert [(o.symbol, o.side.value, o.qty) for o in legs] == [
        ("ES 2024-03", "BUY", 3.0),
        ("ES 2024-06", "SELL", 3.0),
    ]
    assert roll_orders("ES 2024-03", "ES 2024-06", 0.0, lambda: "x") == []


@pytest.mark.parametrize("roll_days", [1, 2, 3])
def test_the_backtests_recorded_roll_is_the_first_bar_past_the_roll_date(roll_days):
    months = {"ES 2024-03": _month([4800.0] * 6), "ES 2024-06": _month([4860.0] * 6)}
    series = qn.data.continuous(months, adjust="none", roll_days=roll_days)
    ((at, _, _),) = series.attrs["rolls"]
    assert pd.Timestamp(at) == DAYS[len(DAYS) - 1 - roll_days]  # roll_days bars before the last
    assert month_at("ES", pd.Timestamp(at), roll_days) == "2024-06"
    assert month_at("ES", DAYS[len(DAYS) - 2 - roll_days], roll_days) == "2024-03"
