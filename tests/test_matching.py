"""Order matching against one bar: gaps, touches, stop-limit and trailing logic, OCO pessimism."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.domain.costs import CostModel
from quantnb.domain.matching import (
    limit_price,
    match,
    pessimistic_pick,
    stop_price,
    within_bar,
)
from quantnb.domain.model import Order, OrderType, Side


def order(side="BUY", type=OrderType.MARKET, **kw) -> Order:
    return Order("1", "X", Side(side), 10, type=type, **kw)


def test_market_fills_at_open():
    assert match(order(), 100, 105, 95, 100) == (100, True)


def test_limit_buy_touch_gap_and_miss():
    assert limit_price(True, 98, 100, 105, 95) == 98  # touched inside the bar
    assert limit_price(True, 101, 100, 105, 95) == 100  # opened below the limit: the open
    assert limit_price(True, 94, 100, 105, 95) is None
    assert match(order(type=OrderType.LIMIT, limit=98), 100, 105, 95, 100) == (98, False)


def test_limit_sell_touch_gap_and_miss():
    assert limit_price(False, 104, 100, 105, 95) == 104
    assert limit_price(False, 99, 100, 105, 95) == 100
    assert limit_price(False, 106, 100, 105, 95) is None


def test_stop_gaps_fill_at_open_and_pay_slippage():
    assert stop_price(False, 97, 96, 99, 90) == 96  # gapped down through a sell stop
    assert stop_price(False, 97, 100, 101, 96) == 97
    assert stop_price(True, 103, 104, 106, 103) == 104
    assert match(order("SELL", OrderType.STOP, stop=97), 100, 101, 96, 98) == (97, True)


def test_stop_limit_triggers_then_works_as_limit():
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=103)
    assert match(o, 100, 101, 99, 100) is None and not o.triggered
    assert match(o, 100, 104, 99, 103) == (102, False) and o.triggered


def test_stop_limit_gapping_past_the_limit_waits_when_nothing_later_reaches_it():
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=103)
    assert match(o, 105, 106, 104, 105) is None  # triggered at 105, never back to 103
    assert o.triggered
    assert match(o, 104, 105, 102.5, 104) == (103, False)  # the limit, touched inside the bar


def test_stop_limit_triggered_at_the_open_fills_when_the_bar_trades_through_the_limit():
    # the example: the open 103 triggers the 101 stop; the low 101 comes after the open
    o = order("BUY", OrderType.STOP_LIMIT, stop=101, limit=101.5)
    assert match(o, 103, 104, 101, 102) == (101.5, False)
    s = order("SELL", OrderType.STOP_LIMIT, stop=99, limit=98.5)
    assert match(s, 97, 99.5, 96, 97) == (98.5, False)  # the high 99.5 follows the open


def test_stop_limit_triggered_inside_the_bar_fills_only_when_the_close_proves_it():
    # buy stop 102 above its limit 101: the high reaches the stop; the low may have come first
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=101)
    assert match(o, 100, 103, 99, 101.5) is None and o.triggered
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=101)
    assert match(o, 100, 103, 99, 100.5) == (101, False)  # the close is after the trigger
    s = order("SELL", OrderType.STOP_LIMIT, stop=98, limit=99)
    assert match(s, 100, 101, 97, 99.5) == (99, False)
    s = order("SELL", OrderType.STOP_LIMIT, stop=98, limit=99)
    assert match(s, 100, 101, 97, 98.5) is None and s.triggered


def test_trailing_stop_ratchets_and_triggers():
    o = order("SELL", OrderType.TRAILING_STOP, trail_amount=5.0, trail_ref=100.0)
    assert match(o, 101, 110, 100, 108) is None
    assert o.trail_ref == 110
    assert match(o, 109, 109, 104, 104) == (105, True)


def test_trailing_percent_buy():
    o = order("BUY", OrderType.TRAILING_STOP, trail_percent=10.0, trail_ref=100.0)
    assert match(o, 95, 96, 80, 85) is None and o.trail_ref == 80
    assert match(o, 85, 90, 84, 89) == (88.0, True)


def test_pessimistic_pick_prefers_the_stop():
    tp = order("SELL", OrderType.LIMIT, limit=110)
    sl = order("SELL", OrderType.STOP, stop=90)
    assert pessimistic_pick([(tp, 110, False), (sl, 90, True)])[0] is sl


bars = st.tuples(st.floats(50, 150), st.floats(0, 20), st.floats(0, 20), st.floats(0, 1)).map(
    lambda t: (t[0], t[0] + t[1], t[0] - t[2], t[3])
)


@settings(max_examples=400, deadline=None)
@given(bars, st.floats(30, 170), st.sampled_from(["BUY", "SELL"]))
def test_limit_fill_is_never_worse_than_the_limit_and_inside_the_bar(bar, px, side):
    o, h, lo, _ = bar
    buy = side == "BUY"
    p = limit_price(buy, px, o, h, lo)
    if p is not None:
        assert lo <= p <= h
        assert (p <= px) if buy else (p >= px)
    else:
        assert (lo > px) if buy else (h < px)


@settings(max_examples=400, deadline=None)
@given(bars, st.floats(30, 170), st.sampled_from(["BUY", "SELL"]))
def test_stop_trigger_is_inside_the_bar_and_never_better_than_the_stop(bar, px, side):
    o, h, lo, _ = bar
    buy = side == "BUY"
    p = stop_price(buy, px, o, h, lo)
    if p is not None:
        assert lo <= p <= h
        assert (p >= px) if buy else (p <= px)


@settings(max_examples=400, deadline=None)
@given(bars, st.floats(30, 170), st.floats(-10, 10), st.sampled_from(["BUY", "SELL"]))
def test_stop_limit_fill_is_inside_the_bar_and_never_worse_than_the_limit(bar, stop, gap, side):
    o, h, lo, f = bar
    c = lo + f * (h - lo)
    buy = side == "BUY"
    ord_ = order(side, OrderType.STOP_LIMIT, stop=stop, limit=stop + (gap if buy else -gap))
    hit = match(ord_, o, h, lo, c)
    if hit is not None:
        p, slips = hit
        assert not slips and lo <= p <= h
        assert (p <= ord_.limit) if buy else (p >= ord_.limit)
    assert ord_.triggered == (stop_price(buy, stop, o, h, lo) is not None)


@settings(max_examples=400, deadline=None)
@given(bars, st.floats(0, 0.05), st.sampled_from(["BUY", "SELL"]))
def test_slipped_fill_stays_inside_the_bar_and_is_never_better_than_the_trade(bar, rate, side):
    o, h, lo, _ = bar
    costs = CostModel.from_args(0.0, rate)
    for raw in (o, h, lo):
        p = within_bar(costs.fill_price(raw, side), h, lo)
        assert lo <= p <= h
        assert (p >= raw) if side == "BUY" else (p <= raw)


def test_slippage_is_capped_at_the_bar_range():
    costs = CostModel.from_args(0.0, 0.0005)
    assert within_bar(costs.fill_price(101.0, "BUY"), 101.0, 99.0) == 101.0  # not 101.0505
    assert within_bar(costs.fill_price(99.0, "SELL"), 101.0, 99.0) == 99.0
    assert within_bar(costs.fill_price(100.0, "BUY"), 101.0, 99.0) == 100.05
