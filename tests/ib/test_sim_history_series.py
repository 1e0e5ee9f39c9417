"""Historical series other than trades (whatToShow) and the requests IB refuses before asking."""

from __future__ import annotations

import numpy as np
import pytest

from quantnb.sim.quotes import bid_ask

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]

SPREAD = 0.01  # wide enough that bid, ask and midpoint differ by several cents


def _bars(ib, contract, what, end="", duration="2 D", size="1 hour", keep=False, timeout=60):
    return ib.reqHistoricalData(contract, end, duration, size, what, True, 1, keep, [], timeout)


def _refused(ib, contract, what, end="", keep=False):
    """A request IB refuses with 321: ib_async takes 321 for a warning and would wait for bars
    that never come, so it gives up after a second; ib_insync ends the request at once."""
    return list(_bars(ib, contract, what, end=end, keep=keep, timeout=1))


def _prices(bars):
    return np.array([[b.open, b.high, b.low, b.close] for b in bars])


@pytest.mark.ib_sim(spread=SPREAD)
def test_bid_ask_and_midpoint_bars_come_from_the_quote_model(ib, aapl):
    trades = _bars(ib, aapl, "TRADES")
    bids, asks, mids = (_bars(ib, aapl, what) for what in ("BID", "ASK", "MIDPOINT"))
    assert len(trades) == len(bids) == len(asks) == len(mids) == 9
    bid, ask = bid_ask(_prices(trades), SPREAD)
    assert _prices(bids) == pytest.approx(bid)
    assert _prices(asks) == pytest.approx(ask)
    assert _prices(mids) == pytest.approx((bid + ask) / 2)
    assert (_prices(asks) - _prices(bids) >= 0.5).all()  # 1 % of a ~$80 price
    for series in (bids, asks, mids):
        # IB sends quote bars without volume, average or count
        assert {(b.volume, b.average, b.barCount) for b in series} == {(-1, -1, -1)}
        assert [b.date for b in series] == [b.date for b in trades]
    assert all(b.volume > 0 and b.barCount > 0 for b in trades)


@pytest.mark.ib_sim(spread=SPREAD)
def test_bid_ask_bars_are_average_bid_max_ask_min_bid_average_ask(ib, aapl):
    trades = _bars(ib, aapl, "TRADES")
    both = _bars(ib, aapl, "BID_ASK")
    bids, asks = _bars(ib, aapl, "BID"), _bars(ib, aapl, "ASK")
    assert len(both) == len(trades) == 9
    for b, bid, ask in zip(both, bids, asks, strict=True):
        assert b.high == ask.high and b.low == bid.low
        assert bid.low <= b.open <= bid.high  # the bid's time-average lies in its range
        assert ask.low <= b.close <= ask.high
        assert b.close > b.open
        assert (b.volume, b.barCount) == (-1, -1)


def test_adjusted_last_is_the_trades_series(ib, aapl):
    trades = _bars(ib, aapl, "TRADES", duration="5 D", size="1 day")
    adjusted = _bars(ib, aapl, "ADJUSTED_LAST", duration="5 D", size="1 day")
    assert list(adjusted) == list(trades) and len(adjusted) == 5


def _errors(ib):
    got = []
    ib.errorEvent += lambda req_id, code, text, contract: got.append((code, text))
    return got


def test_unknown_and_unmodelled_series_get_ibs_errors(ib, aapl, client_errors):
    client_errors.allow(321, 162)
    got = _errors(ib)
    assert _refused(ib, aapl, "LAST_PRICE") == []
    assert got[-1] == (
        321,
        "Error validating request.-'bM' : cause - What to show value of LAST_PRICE rejected.",
    )
    assert list(_bars(ib, aapl, "HISTORICAL_VOLATILITY")) == []
    assert got[-1] == (
        162,
        "Historical Market Data Service error message:"
        "No historical market data for AAPL/STK@SMART HistVol 3600",
    )
    assert _refused(ib, aapl, "ADJUSTED_LAST", end="20240102 21:00:00 UTC") == []
    assert got[-1] == (
        321,
        "Error validating request.-'bM' : cause - End date not supported with adjusted last",
    )


def test_keep_up_to_date_with_an_end_date_is_refused(ib, aapl, client_errors):
    client_errors.allow(321)
    got = _errors(ib)
    assert _refused(ib, aapl, "TRADES", end="20240102 21:00:00 UTC", keep=True) == []
    assert got == [
        (321, "Error validating request.-'bM' : cause - End date not supported with live updates")
    ]
    assert _refused(ib, aapl, "BID_ASK", keep=True) == []
    assert got[-1] == (
        321,
        "Error validating request.-'bM' : cause - Source price not supported with live updates",
    )


@pytest.mark.ib_sim(spread=SPREAD)
def test_kept_up_to_date_midpoint_bars_stay_quotes(ib_sim, ib, aapl, wait):
    bars = _bars(ib, aapl, "MIDPOINT", duration="1800 S", size="1 min", keep=True)
    n = len(bars)
    ib_sim.step()
    wait(ib, lambda: len(bars) == n + 2)
    bid, ask = bid_ask(ib_sim.price("AAPL"), SPREAD)
    assert bars[-1].close == pytest.approx((bid + ask) / 2)
    assert bars[-2].volume == -1 and bars[-2].barCount == -1
