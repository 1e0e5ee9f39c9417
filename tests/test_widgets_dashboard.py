"""The live dashboard against a hand-written stub engine: what it shows, throttling, kill switch,
buttons by state, P&L from fills, the waiting line and the time zone."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable

import pandas as pd
import pytest

from quantnb.testing import eventually
from quantnb.widgets import Dashboard
from quantnb.widgets.waiting import waiting_line

T0 = pd.Timestamp("2024-03-01 15:30", tz="UTC")


class StubEngine:
    """A paper session's public surface (``LiveSession``) with fixed, editable state; records
    the calls it receives."""

    def __init__(self) -> None:
        self.listeners: list[Callable] = []
        self.calls: list = []
        self.status = {
            "connection": "connected",
            "state": "running",
            "running": True,
            "attempts": 0,
            "fallback_mode": False,
            "last_bar_time": T0,
            "last_bar_age": 42.0,
        }
        self.positions = pd.DataFrame(
            {
                "symbol": ["AAPL", "MSFT", "NVDA"],
                "qty": [100.0, -25.0, 0.0],
                "avg_price": [181.25, 402.10, 0.0],
                "market_price": [183.5, 398.0, 0.0],
                "unrealized_pnl": [225.0, 102.5, 0.0],
            }
        )
        self.orders = pd.DataFrame(
            {
                "order_id": ["o1", "o2"],
                "symbol": ["AAPL", "MSFT"],
                "side": ["BUY", "SELL"],
                "qty": [100.0, 10.0],
                "type": ["MKT", "LMT"],
                "limit_price": [None, 410.0],
                "status": ["filled", "submitted"],
            }
        )
        self.fills = pd.DataFrame(
            {
                "time": [T0 - pd.Timedelta("1h"), T0],
                "symbol": ["MSFT", "AAPL"],
                "side": ["SELL", "BUY"],
                "qty": [25.0, 100.0],
                "price": [402.1, 181.25],
                "commission": [10.05, 18.13],
            }
        )
        self.errors = pd.DataFrame(
            {
                "time": [T0],
                "kind": ["order"],
                "code": [201],
                "message": ["Order rejected - insufficient buying power"],
            }
        )
        times = pd.DatetimeIndex([T0 - pd.Timedelta("1D"), T0 - pd.Timedelta("1h"), T0])
        self.account = pd.DataFrame(
            {
                "time": times,
                "equity": [100_000.0, 100_150.0, 100_327.5],
                "cash": [100_000.0, 81_965.0, 81_965.0],
                "realized_pnl": [0.0, 0.0, 0.0],
                "unrealized_pnl": [0.0, 150.0, 327.5],
            }
        )

    def add_listener(self, fn: Callable) -> None:
        self.listeners.append(fn)

    def remove_listener(self, fn: Callable) -> None:
        self.listeners = [f for f in self.listeners if f is not fn]

    def emit(self, kind: str = "bar", n: int = 1) -> None:
        for _ in range(n):
            for fn in list(self.listeners):
                fn({"kind": kind})

    def start(self, wait: bool = False, timeout: float = 60.0) -> StubEngine:
        self.calls.append("start")
        return self

    def stop(self) -> None:
        self.calls.append("stop")

    def cancel_all(self) -> int:
        working = self.orders["status"] == "submitted"
        self.calls.append(("cancel_all", int(working.sum())))
        self.orders.loc[working, "status"] = "cancelled"
        return int(working.sum())

    def close_all(self) -> int:
        held = self.positions["qty"] != 0
        self.calls.append(("close_all", list(self.positions.loc[held, "symbol"])))
        self.positions.loc[held, "qty"] = 0.0
        return int(held.sum())


class ManualTimers:
    """A scheduler that only records; ``run()`` fires what is due, as a timer thread would."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, fn: Callable[[], None]) -> None:
        self.pending.append((delay, fn))

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for _, fn in pending:
            fn()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def engine() -> StubEngine:
    return StubEngine()


def make(engine: StubEngine, **kw) -> Dashboard:
    kw.setdefault("heartbeat", None)
    kw.setdefault("schedule", ManualTimers())
    kw.setdefault("now", lambda: T0 + pd.Timedelta(seconds=42))
    return Dashboard(engine, **kw)


def test_state_and_html_show_the_engine_values(engine):
    dash = make(engine)
    state = dash.state()
    assert state["status"]["connection"] == "connected"
    assert state["status"]["last_bar_time"] == T0
    assert state["status"]["last_bar_age"] == 42.0
    assert [p["symbol"] for p in state["positions"]] == ["AAPL", "MSFT"]  # flat NVDA is hidden
    assert [o["order_id"] for o in state["open_orders"]] == ["o2"]  # filled o1 is not open
    assert [f["symbol"] for f in state["fills"]] == ["AAPL", "MSFT"]  # newest first
    assert state["errors"][0]["code"] == 201
    account = state["account"]
    assert account["equity"] == 100_327.5
    assert account["cash"] == 81_965.0
    assert account["day_pnl"] == pytest.approx(327.5)  # against the close of the day before
    assert state["equity_points"] == 3

    assert "connected" in dash.header.value
    # times in the exchange's zone: 15:30 UTC is 10:30 in New York
    assert "last bar 2024-03-01 10:30 market time" in dash.header.value
    assert "42s ago" in dash.header.value
    assert "AAPL" in dash.positions_html.value and "181.25" in dash.positions_html.value
    assert "NVDA" not in dash.positions_html.value
    assert "o2" in dash.orders_html.value and "o1" not in dash.orders_html.value
    assert "100,327.50" in dash.account_html.value and "+327.50" in dash.account_html.value
    assert "insufficient buying power" in dash.errors_html.value
    assert "<polyline" in dash.equity_html.value
    dash.close()


def test_reconnecting_and_fallback_are_shown(engine):
    dash = make(engine)
    engine.status = {
        "connection": "reconnecting",
        "attempts": 3,
        "fallback_mode": True,
        "last_bar_time": None,
    }
    dash.refresh()
    status = dash.state()["status"]
    assert (status["connection"], status["attempts"], status["fallback"]) == (
        "reconnecting",
        3,
        True,
    )
    assert "reconnecting (attempt 3)" in dash.header.value
    assert "fallback mode" in dash.header.value
    assert "no bars yet" in dash.header.value
    dash.close()


def test_an_account_alert_the_wait_and_delayed_data_are_shown(engine):
    dash = make(engine)
    assert "Not trading" not in dash.header.value and "delayed data" not in dash.header.value
    alert = (
        "the IB gateway at 127.0.0.1:4002 is logged in to account U***4321 now, a LIVE "
        "(real-money) account, not DU***4567 that this paper session trades"
    )
    engine.status = {
        "connection": "reconnecting",
        "attempts": 7,
        "alert": alert,
        "waiting_for": "the IB gateway at 127.0.0.1:4002 to log back in to account DU***4567",
        "market_data": "AAPL: delayed market data (15 min): live data is not subscribed",
    }
    dash.refresh()
    status = dash.state()["status"]
    assert status["alert"] == alert
    assert status["waiting_for"].endswith("log back in to account DU***4567")
    assert status["market_data"].startswith("AAPL: delayed market data (15 min)")
    header = dash.header.value
    assert "Not trading:" in header and "U***4321 now, a LIVE (real-money) account" in header
    assert "Waiting for:" in header and "Market data:" in header and "delayed data" in header

    engine.status = {"connection": "connected", "alert": None, "waiting_for": float("nan")}
    dash.refresh()
    status = dash.state()["status"]
    assert (status["alert"], status["waiting_for"], status["market_data"]) == (None, None, None)
    assert "Not trading" not in dash.header.value and "Waiting for" not in dash.header.value


def test_refused_history_and_queued_order_changes_are_shown(engine):
    dash = make(engine)
    assert "refused" not in dash.header.value and "order change" not in dash.header.value
    engine.status = {
        **engine.status,
        "history_missing": ["AAPL", "MSFT"],
        "history_wait": 12.4,
        "order_changes_queued": 2,
    }
    dash.refresh()
    assert "history of AAPL, MSFT refused (162): asked again in 12 s" in dash.header.value
    assert "2 order change(s) wait for the gateway" in dash.header.value
    dash.close()


def test_bar_age_is_computed_when_the_engine_gives_only_the_time(engine):
    engine.status = {"state": "connected", "last_bar_time": T0}
    dash = make(engine, now=lambda: T0 + pd.Timedelta(minutes=2, seconds=5))
    assert dash.state()["status"]["last_bar_age"] == 125.0
    assert "2m 05s ago" in dash.header.value
    dash.close()


def test_many_events_coalesce_into_one_redraw_per_interval(engine):
    clock, timers = Clock(), ManualTimers()
    dash = make(engine, clock=clock, schedule=timers, interval=0.25)
    assert dash.redraws == 1
    engine.emit(n=500)
    assert dash.redraws == 1  # events only mark the view dirty
    assert len(timers.pending) == 1 and timers.pending[0][0] == pytest.approx(0.25)

    clock.t += 0.25
    engine.positions.loc[0, "qty"] = 150.0
    timers.run()
    assert dash.redraws == 2
    assert dash.state()["positions"][0]["qty"] == 150.0

    clock.t += 0.1
    engine.emit(n=50)
    assert len(timers.pending) == 1 and timers.pending[0][0] == pytest.approx(0.15)
    clock.t += 0.15
    timers.run()
    assert dash.redraws == 3

    clock.t += 10
    engine.emit()
    assert timers.pending[0][0] == 0.0  # long after the last redraw: at once
    dash.refresh()  # an explicit redraw clears the dirty flag, so the timer has nothing to do
    timers.run()
    assert dash.redraws == 4
    dash.close()


def test_redraws_on_timer_threads_without_blocking_the_engine(engine):
    dash = Dashboard(engine, interval=0.05, heartbeat=None)
    engine.status = dict(engine.status, connection="reconnecting", attempts=1)
    engine.emit(n=1000)
    eventually(lambda: dash.state()["status"]["connection"] == "reconnecting", timeout=5)
    assert dash.redraws <= 3
    dash.close()


def test_kill_switch_needs_confirmation_then_cancels_closes_and_stops(engine):
    dash = make(engine)
    assert dash.confirm_flatten() is None  # not requested: nothing happens
    dash.flatten_button.click()
    assert engine.calls == []
    dash.refresh()
    assert dash.state()["confirming"] is True
    assert dash.confirm_box.layout.display == "flex"

    dash.cancel_button.click()
    dash.refresh()
    assert dash.state()["confirming"] is False
    assert dash.confirm_box.layout.display == "none"
    assert engine.calls == []

    dash.flatten_button.click()
    dash.confirm_button.click()
    eventually(lambda: "stop" in engine.calls)
    assert engine.calls == [("cancel_all", 1), ("close_all", ["AAPL", "MSFT"]), "stop"]
    eventually(lambda: "done" in dash._message)
    dash.refresh()
    assert dash.state()["positions"] == []
    assert "Flatten &amp; stop: done" in dash.message.value
    dash.close()


def test_buttons_never_wait_for_the_engine(engine):
    release = threading.Event()
    engine.start = lambda wait=False, timeout=60.0: release.wait(5)
    dash = make(engine)
    dash.start_button.click()  # returns although start() is still blocked
    assert "Start…" in dash._message
    release.set()
    eventually(lambda: dash._message == "Start: done")
    dash.stop_button.click()
    eventually(lambda: engine.calls == ["stop"])
    dash.close()


def test_a_failing_action_is_reported_not_raised(engine):
    def boom() -> None:
        raise RuntimeError("gateway gone")

    engine.stop = boom
    dash = make(engine)
    future = dash.stop()
    with pytest.raises(RuntimeError):
        future.result(timeout=5)
    assert dash._message == "Stop failed: gateway gone"
    dash.close()


def test_a_failing_engine_property_does_not_break_the_view(engine):
    class Broken(StubEngine):
        @property
        def positions(self):
            raise RuntimeError("not connected")

        @positions.setter
        def positions(self, value):
            pass

    dash = make(Broken())
    assert dash.state()["positions"] == []
    assert dash.state()["account"]["equity"] == 100_327.5
    dash.close()


def test_close_detaches_and_several_dashboards_share_an_engine(engine):
    timers_a, timers_b = ManualTimers(), ManualTimers()
    a = make(engine, schedule=timers_a)
    b = make(engine, schedule=timers_b)
    assert len(engine.listeners) == 2
    a.close()
    assert len(engine.listeners) == 1
    assert a.start_button.disabled and a.flatten_button.disabled
    engine.emit(n=10)
    assert timers_a.pending == [] and len(timers_b.pending) == 1
    a._on_event({"kind": "bar"})  # a late event after close is ignored
    assert timers_a.pending == []
    b.close()
    assert engine.listeners == []


def test_heartbeat_keeps_the_view_current(engine):
    dash = Dashboard(engine, interval=0.01, heartbeat=0.02)
    engine.status = dict(engine.status, last_bar_age=99.0)
    eventually(lambda: dash.state()["status"]["last_bar_age"] == 99.0, timeout=5)
    dash.close()


# -- buttons follow the engine state -------------------------------------------------------------


def _enabled(dash: Dashboard) -> tuple[bool, bool, bool]:
    return tuple(not b.disabled for b in (dash.start_button, dash.stop_button, dash.flatten_button))


@pytest.mark.parametrize(
    ("state", "running", "expected"),
    [
        ("running", True, (False, True, True)),
        ("starting", True, (False, True, True)),
        ("stopped", False, (True, False, False)),
        ("created", False, (True, False, False)),
        ("disconnected", False, (True, False, False)),
        ("connecting", False, (False, False, False)),
        ("stopping", False, (False, False, False)),
        (None, True, (False, True, True)),  # an engine that reports only ``running``
        (None, False, (True, False, False)),
    ],
)
def test_buttons_are_enabled_by_the_engine_state(engine, state, running, expected):
    engine.status = dict(engine.status, state=state, running=running)
    dash = make(engine)
    assert _enabled(dash) == expected
    buttons = dash.state()["buttons"]
    assert (buttons.start, buttons.stop, buttons.flatten) == expected
    dash.close()


def test_buttons_are_disabled_while_an_action_is_in_flight(engine):
    release = threading.Event()
    started = threading.Event()

    def slow_stop() -> None:
        started.set()
        release.wait(5)
        engine.status = dict(engine.status, state="stopped", running=False)

    engine.stop = slow_stop
    dash = make(engine)
    assert _enabled(dash) == (False, True, True)
    future = dash.stop()
    assert started.wait(5)
    dash.refresh()
    assert _enabled(dash) == (False, False, False)  # nothing can be pressed twice
    release.set()
    future.result(5)
    dash.refresh()
    assert _enabled(dash) == (True, False, False)  # stopped: only Start
    dash.close()


# -- P&L -------------------------------------------------------------------------------------------


def test_pnl_is_computed_from_the_fills_with_commissions(engine):
    engine.fills = pd.DataFrame(
        {
            "time": [T0 - pd.Timedelta("2h"), T0 - pd.Timedelta("1h"), T0],
            "symbol": ["AAPL", "AAPL", "MSFT"],
            "side": ["BUY", "SELL", "SELL"],
            "qty": [100.0, 60.0, 25.0],
            "price": [180.0, 185.0, 402.1],
            "commission": [1.0, 1.5, 2.25],
        }
    )
    engine.positions.loc[0, "qty"] = 40.0  # AAPL at 183.50, MSFT -25 at 398.00
    dash = make(engine)
    pnl = dash.state()["pnl"]
    assert pnl.realized == pytest.approx(60 * (185.0 - 180.0))  # 300, before commissions
    assert pnl.unrealized == pytest.approx(40 * (183.5 - 180.0) + 25 * (402.1 - 398.0))  # 242.5
    assert pnl.gross == pytest.approx(542.5)
    assert pnl.commissions == pytest.approx(4.75)
    assert pnl.net == pytest.approx(537.75)
    shown = dash.account_html.value
    for label, value in [
        ("Realized P&amp;L", "+300.00"),
        ("Unrealized P&amp;L", "+242.50"),
        ("Gross P&amp;L", "+542.50"),
        ("Commissions paid", "4.75"),
        ("Net P&amp;L", "+537.75"),
    ]:
        assert re.search(f"{re.escape(label)}</th><td[^>]*>{re.escape(value)}</td>", shown), label
    dash.close()


def test_the_engines_own_pnl_is_shown_when_it_has_one(engine):
    engine.pnl = pd.Series(
        {"realized": 120.0, "unrealized": -20.0, "gross": 100.0, "commissions": 3.0, "net": 97.0}
    )
    dash = make(engine)
    pnl = dash.state()["pnl"]
    assert (pnl.realized, pnl.unrealized, pnl.commissions, pnl.net) == (120.0, -20.0, 3.0, 97.0)
    assert "+97.00" in dash.account_html.value and "-20.00" in dash.account_html.value
    dash.close()


def test_no_fills_no_pnl_rows(engine):
    engine.fills = engine.fills.iloc[:0]
    dash = make(engine)
    assert dash.state()["pnl"] is None
    assert "Net P&amp;L" not in dash.account_html.value and "Equity" in dash.account_html.value
    dash.close()


# -- what the session waits for ------------------------------------------------------------------

NEXT_BAR = pd.Timestamp("2024-03-01 15:35", tz="UTC")  # 10:35 in New York
OPEN = pd.Timestamp("2024-03-04 14:30", tz="UTC")  # Monday 09:30 in New York


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"state": "running", "connection": "connected"}, None),  # no new keys: nothing to say
        ({"state": "running", "next_bar_due": NEXT_BAR}, "the next bar, due at 10:35 market time"),
        (
            {"state": "running", "next_bar_due": None, "market_closed_until": OPEN},
            "the market to open: closed until Mon 2024-03-04 09:30 market time",
        ),
        (
            {
                "state": "starting",
                "next_bar_due": NEXT_BAR,
                "history_progress": {
                    "done": 3,
                    "total": 10,
                    "waiting": "IB pacing: 60 requests per 10 minutes",
                    "resume_in": 125.0,
                },
            },
            "history, 3 of 10 loaded: IB pacing: 60 requests per 10 minutes, resumes in 2m 05s",
        ),
        (
            {"state": "starting", "history_progress": {"done": 1, "total": 2, "waiting": None}},
            "history, 1 of 2 loaded",
        ),
        (
            {
                "state": "running",
                "connection": "reconnecting",
                "attempts": 4,
                "next_bar_due": NEXT_BAR,
            },
            "the gateway: reconnecting, attempt 4",
        ),
        (
            {
                "state": "running",
                "connection": "reconnecting",
                "attempts": 2,
                "waiting_for": "the IB gateway at 127.0.0.1:4002, attempt 2: it refuses "
                "connections (restarting, or waiting at its login screen)",
            },
            "the IB gateway at 127.0.0.1:4002, attempt 2: it refuses connections "
            "(restarting, or waiting at its login screen)",
        ),
        (
            {
                "state": "running",
                "connection": "reconnecting",
                "attempts": 3,
                "waiting_for": "the IB gateway at 127.0.0.1:4002 (reconnecting)",
            },
            "the IB gateway at 127.0.0.1:4002 (reconnecting), attempt 3",
        ),
        ({"state": "stopped", "connection": "stopped", "next_bar_due": NEXT_BAR}, None),
        ({"running": False, "market_closed_until": OPEN}, None),
    ],
)
def test_the_waiting_line_for_each_case(status, expected):
    assert waiting_line(status) == expected


def test_the_waiting_line_in_utc():
    status = {"state": "running", "next_bar_due": NEXT_BAR}
    assert waiting_line(status, "UTC") == "the next bar, due at 15:35 UTC"
    status = {"state": "running", "market_closed_until": OPEN}
    assert waiting_line(status, "UTC").endswith("closed until Mon 2024-03-04 14:30 UTC")


def test_the_dashboard_shows_the_waiting_line_and_the_clock(engine):
    dash = make(engine)
    assert "Waiting for" not in dash.header.value and "Clock" not in dash.header.value
    engine.status = dict(
        engine.status,
        next_bar_due=NEXT_BAR,
        clock="simulated market, 300× real time",
        history_progress=None,
        market_closed_until=None,
    )
    dash.refresh()
    header = dash.header.value
    assert "<b>Waiting for:</b> the next bar, due at 10:35 market time" in header
    assert "<b>Clock:</b> simulated market, 300× real time" in header
    assert dash.state()["status"]["clock"] == "simulated market, 300× real time"
    dash.close()


# -- time zone, quotes, equity axes, folding ---------------------------------------------------


def test_times_show_in_new_york_and_utc_is_one_toggle_away(engine):
    dash = make(engine)
    assert dash.tz_toggle.value == "America/New_York"
    assert "last bar 2024-03-01 10:30 market time" in dash.header.value
    assert "2024-03-01 10:30" in dash.fills_html.value  # the AAPL fill at T0
    assert "Last fills (market time)" in dash.fills_html.value
    dash.tz_toggle.value = "UTC"  # what a click on "UTC" does
    dash.refresh()
    assert dash.state()["tz"] == "UTC"
    assert "last bar 2024-03-01 15:30 UTC" in dash.header.value
    assert "2024-03-01 15:30" in dash.fills_html.value and "10:30" not in dash.fills_html.value
    assert "UTC" in dash.equity_html.value
    dash.set_tz("America/New_York")
    dash.refresh()
    assert dash.tz_toggle.value == "America/New_York" and "10:30" in dash.header.value
    dash.close()


def test_last_quotes_per_symbol_with_their_time(engine):
    engine.quotes = pd.DataFrame(
        {"symbol": ["AAPL", "MSFT"], "price": [183.5, 398.0], "time": [T0, T0]}
    )
    dash = make(engine)
    assert dash.state()["quotes"] == [
        {"symbol": "AAPL", "price": 183.5, "time": T0},
        {"symbol": "MSFT", "price": 398.0, "time": T0},
    ]
    text = re.sub(r"<[^>]+>", " ", dash.quotes_html.value)
    assert re.search(r"AAPL\s+183\.50\s+2024-03-01 10:30", text)
    assert re.search(r"MSFT\s+398\.00\s+2024-03-01 10:30", text)
    dash.close()


def test_without_quotes_the_positions_prices_are_shown(engine):
    dash = make(engine)
    quotes = {q["symbol"]: q["price"] for q in dash.state()["quotes"]}
    assert quotes == {"AAPL": 183.5, "MSFT": 398.0}  # flat NVDA has no price here
    dash.close()


def test_the_equity_curve_has_a_time_axis_and_a_money_scale(engine):
    times = pd.date_range("2024-03-01 14:30", periods=5, freq="30min", tz="UTC")
    engine.account = pd.DataFrame(
        {"time": times, "equity": [100_000.0, 101_500.0, 99_800.0, 102_000.0, 103_250.0],
         "cash": 50_000.0}
    )  # fmt: skip
    dash = make(engine)
    svg = dash.equity_html.value
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert "09:30" in labels and "11:30" in labels  # 14:30 to 16:30 UTC, in New York
    assert "100,000" in labels and "103,000" in labels  # round money ticks
    assert "market time" in labels
    dash.close()


def test_long_error_messages_fold_and_tables_scroll(engine):
    long = "Order rejected - reason: " + "the account has no trading permission " * 4
    engine.errors = pd.DataFrame(
        {"time": [T0], "kind": ["order"], "code": [201], "message": [long]}
    )
    dash = make(engine)
    shown = dash.errors_html.value
    assert "<details" in shown and "<summary>Order rejected - reason: the account has…" in shown
    assert shown.count(html.escape(long)) == 2  # in the title and when opened
    assert "overflow-x:auto" in shown
    dash.close()
