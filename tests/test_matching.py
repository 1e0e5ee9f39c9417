"""Order matching against one bar: gaps, touches, stop-limit and trailing logic, OCO pessimism."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quantnb.domain.matching import limit_price, match, pessimistic_pick, stop_price
from quantnb.domain.model import Order, OrderType, Side


def order(side="BUY", type=OrderType.MARKET, **kw) -> Order:
    return Order("1", "X", Side(side), 10, type=type, **kw)


def test_market_fills_at_open():
    assert match(order(), 100, 105, 95) == (100, True)


def test_limit_buy_touch_gap_and_miss():
    assert limit_price(True, 98, 100, 105, 95) == 98  # touched inside the bar
    assert limit_price(True, 101, 100, 105, 95) == 100  # opened below the limit: the open
    assert limit_price(True, 94, 100, 105, 95) is None
    assert match(order(type=OrderType.LIMIT, limit=98), 100, 105, 95) == (98, False)


def test_limit_sell_touch_gap_and_miss():
    assert limit_price(False, 104, 100, 105, 95) == 104
    assert limit_price(False, 99, 100, 105, 95) == 100
    assert limit_price(False, 106, 100, 105, 95) is None


def test_stop_gaps_fill_at_open_and_pay_slippage():
    assert stop_price(False, 97, 96, 99, 90) == 96  # gapped down through a sell stop
    assert stop_price(False, 97, 100, 101, 96) == 97
    assert stop_price(True, 103, 104, 106, 103) == 104
    assert match(order("SELL", OrderType.STOP, stop=97), 100, 101, 96) == (97, True)


def test_stop_limit_triggers_then_works_as_limit():
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=103)
    assert match(o, 100, 101, 99) is None and not o.triggered
    assert match(o, 100, 104, 99) == (102, False) and o.triggered


def test_stop_limit_gapping_past_the_limit_waits():
    o = order("BUY", OrderType.STOP_LIMIT, stop=102, limit=103)
    assert match(o, 105, 106, 101) is None  # triggered at 105, beyond the limit: no fill yet
    assert o.triggered
    assert match(o, 104, 105, 102.5) == (103, False)  # the limit, touched inside the bar


def test_trailing_stop_ratchets_and_triggers():
    o = order("SELL", OrderType.TRAILING_STOP, trail_amount=5.0, trail_ref=100.0)
    assert match(o, 101, 110, 100) is None
    assert o.trail_ref == 110
    assert match(o, 109, 109, 104) == (105, True)


def test_trailing_percent_buy():
    o = order("BUY", OrderType.TRAILING_STOP, trail_percent=10.0, trail_ref=100.0)
    assert match(o, 95, 96, 80) is None and o.trail_ref == 80
    assert match(o, 85, 90, 84) == (88.0, True)


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
