"""The sentence a live run that never called ``on_data`` stops with, read from its status."""

from __future__ import annotations

from quantnb.trading.idle import why_no_bars

RUNNING = {"state": "running", "symbols": 2, "market_data": None, "history_missing": [],
           "stale": [], "bars_received": 0}  # fmt: skip
SAID = "the strategy's on_data was never called: "


def test_no_bar_completed():
    assert why_no_bars(RUNNING, ["AAPL", "MSFT"], "1m") == (
        SAID + "no 1m bar of AAPL, MSFT completed while the session ran"
    )


def test_stopped_while_starting_is_not_called_a_failed_subscription():
    status = dict(RUNNING, state="starting", symbols=0)
    assert why_no_bars(status, ["AAPL"], "1m") == (
        SAID + "it was stopped while still starting (loading history, subscribing)"
    )


def test_every_reason_the_status_gives_is_named():
    status = dict(RUNNING, symbols=0, market_data="AAPL: no market data", stale=["MSFT"],
                  history_missing=["AAPL"], market_closed_until="2024-01-04 14:30")  # fmt: skip
    assert why_no_bars(status, ["AAPL", "MSFT"], "5m") == SAID + "; ".join(
        [
            "none of the symbols (AAPL, MSFT) could be subscribed: see the errors above",
            "market data: AAPL: no market data",
            "history refused for AAPL",
            "no data for a while from MSFT",
            "the market is closed until 2024-01-04 14:30",
        ]
    )


def test_bars_that_arrived_but_were_not_handed_on():
    status = dict(RUNNING, bars_received=3)
    assert why_no_bars(status, ["AAPL"], "1m").endswith(
        "3 bar(s) arrived but none reached on_data before the stop"
    )
