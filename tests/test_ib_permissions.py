"""What IB's market-data errors say about a login's permissions (the texts IB sends)."""

from __future__ import annotations

import pytest

from quantnb.ib.market_data import DELAYED_NOTE, read_permission_error

NOT_SUBSCRIBED = "Requested market data is not subscribed."


@pytest.mark.parametrize(
    ("code", "message", "note", "delayed"),
    [
        (354, NOT_SUBSCRIBED + " Delayed market data is available.", DELAYED_NOTE, True),
        (
            10089,
            "Requested market data requires additional subscription for API. See link in "
            "'Market Data Connections' dialog for more details.Delayed market data is available.",
            DELAYED_NOTE,
            True,
        ),
        (10167, NOT_SUBSCRIBED + " Displaying delayed market data.", DELAYED_NOTE, False),
        (354, NOT_SUBSCRIBED, "no market data, live or delayed (IB error 354", False),
        (10168, NOT_SUBSCRIBED + " Delayed market data is not enabled.", "no market data", False),
        (
            162,
            "Historical Market Data Service error message:No market data permissions for NYSE STK",
            "no market data permissions for history; bars are built from delayed ticks",
            False,
        ),
        (
            162,
            "Historical Market Data Service error message:API historical data query cancelled: 1",
            None,
            False,
        ),
        (2104, "Market data farm connection is OK:usfarm", None, False),
    ],
)
def test_permission_errors_are_read(code, message, note, delayed):
    got, switch = read_permission_error(code, message)
    assert switch is delayed
    if note is None:
        assert got is None
    else:
        assert got.startswith(note)
