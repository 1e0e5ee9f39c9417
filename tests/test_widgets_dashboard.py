"""The live dashboard against a hand-written stub engine: what it shows, throttling, kill switch."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pandas as pd
import pytest

from quantnb.testing import eventually
from quantnb.widgets import Dashboard

T0 = pd.Timestamp("2024-03-01 15:30", tz="UTC")


class StubEngine:
    """A paper session's public surface (``LiveSession``) with fixed, editable state; records
    the calls it receives."""

    def __init__(self) -> None:
        self.listeners: list[Callable] = []
        self.calls: list = []
        self.status = {
            "connection": "connected",
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
    assert account["unrealized_pnl"] == 327.5
    assert account["day_pnl"] == pytest.approx(327.5)  # against the close of the day before
    assert state["equity_points"] == 3

    assert "connected" in dash.header.value
    assert "2024-03-01 15:30" in dash.header.value and "42s ago" in dash.header.value
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
