"""Live dashboard of a running engine: status, what it waits for, account and P&L, equity,
positions, last quotes, orders, fills, errors; Start / Stop / Flatten & stop as the state allows.

The dashboard only reads the engine's public state. Engine events mark it dirty; redraws happen at
most every ``interval`` seconds on a timer thread, and engine calls run on a worker thread, so
neither the engine loop nor the kernel ever waits on the dashboard.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import pandas as pd

from quantnb.domain.calendar import EXCHANGE_TZ
from quantnb.widgets import render as R
from quantnb.widgets.controls import buttons
from quantnb.widgets.dashboard_html import account_html, status_html
from quantnb.widgets.equity_chart import equity_svg
from quantnb.widgets.snapshot import frame, open_positions, read_status, snapshot
from quantnb.widgets.times import ZONES, localize_records, zone_label

log = logging.getLogger(__name__)

Scheduler = Callable[[float, Callable[[], None]], None]
_LINE = "line-height:28px"  # a label level with the buttons
_status_html = status_html  # the names this module had before it was split
__all__ = ["Dashboard", "flatten_and_stop", "read_status", "snapshot"]


def _timer(delay: float, fn: Callable[[], None]) -> None:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def flatten_and_stop(engine: Any, flat_timeout: float = 10.0, poll: float = 0.1) -> None:
    """Cancel every open order, close every position, wait until flat (bounded), then stop."""
    engine.cancel_all()
    engine.close_all()
    deadline = time.monotonic() + flat_timeout
    while len(open_positions(frame(engine, "positions"))) and time.monotonic() < deadline:
        time.sleep(poll)  # on the dashboard's worker thread, never the kernel's
    left = open_positions(frame(engine, "positions"))
    if len(left):
        log.warning(
            "still holding %s after %.0f s; stopping anyway",
            list(left.get("symbol", [])),
            flat_timeout,
        )
    engine.stop()


class Dashboard:
    """Live view of an engine with Start / Stop / Flatten & stop; display it in a notebook cell.

    ``interval`` bounds redraws (seconds); times show in ``tz`` (the exchange's, New York, by
    default; a toggle switches to UTC); ``clock``, ``schedule`` and ``now`` can be injected.
    """

    def __init__(
        self,
        engine: Any,
        interval: float = 0.25,
        max_rows: int = 10,
        heartbeat: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = _timer,
        now: Callable[[], pd.Timestamp] = _utc_now,
        tz: str = EXCHANGE_TZ,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.max_rows = max_rows
        self.redraws = 0
        self._clock, self._schedule, self._now = clock, schedule, now
        self._lock = threading.Lock()
        self._draw_lock = threading.Lock()
        self._dirty = True
        self._scheduled = False
        self._last_draw = -float("inf")
        self._closed = threading.Event()
        self._confirming = False
        self._in_flight = 0  # engine calls submitted and not finished
        self._message = ""
        self._tz = tz
        self._state: dict[str, Any] = {}
        self._equity_seen: deque[tuple[pd.Timestamp, float]] = deque(maxlen=2000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quantnb-dashboard")
        self._build()
        # One bound method object, so the engine can find it again in remove_listener().
        self._listener = self._on_event
        engine.add_listener(self._listener)
        self.refresh()
        if heartbeat:
            threading.Thread(
                target=self._beat, args=(heartbeat,), name="quantnb-dashboard-beat", daemon=True
            ).start()

    def _build(self) -> None:
        self.header = W.HTML()
        self.account_html = W.HTML()
        self.equity_html = W.HTML()
        self.positions_html = W.HTML()
        self.quotes_html = W.HTML()
        self.orders_html = W.HTML()
        self.fills_html = W.HTML()
        self.errors_html = W.HTML()
        self.start_button = W.Button(description="Start", button_style="success")
        self.stop_button = W.Button(description="Stop")
        self.flatten_button = W.Button(description="Flatten & stop", button_style="danger")
        self.confirm_button = W.Button(description="Confirm", button_style="danger")
        self.cancel_button = W.Button(description="Cancel")
        self.tz_toggle = W.ToggleButtons(
            options=[(label, zone) for label, zone in ZONES.items()],
            value=self._tz if self._tz in ZONES.values() else EXCHANGE_TZ,
            tooltips=["times in the exchange's time zone", "times in UTC"],
            style={"button_width": "84px"},
            layout=W.Layout(width="auto"),
        )
        self.confirm_box = W.HBox(
            [
                W.HTML("<b>Cancel all open orders, close all positions and stop?</b>"),
                self.confirm_button,
                self.cancel_button,
            ],
            layout=W.Layout(display="none", flex_flow="row wrap"),
        )
        self.message = W.HTML()
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.flatten_button.on_click(lambda _: self.request_flatten())
        self.confirm_button.on_click(lambda _: self.confirm_flatten())
        self.cancel_button.on_click(lambda _: self.cancel_flatten())
        self.tz_toggle.observe(lambda change: self.set_tz(change["new"]), names="value")

        def half(*children: W.Widget) -> W.VBox:
            # min_width 0 lets a wide table scroll inside its half instead of widening the row
            return W.VBox(
                list(children),
                layout=W.Layout(flex="1 1 300px", min_width="0", overflow="hidden", margin="0 4px"),
            )

        def row(*children: W.Widget) -> W.HBox:
            return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", width="100%"))

        self.widget = W.VBox(
            [
                self.header,
                row(half(self.account_html), half(self.equity_html)),
                row(
                    self.start_button,
                    self.stop_button,
                    self.flatten_button,
                    W.HTML(f'<span style="{R.MUTED};margin-left:12px;{_LINE}">Times:</span>'),
                    self.tz_toggle,
                ),
                self.confirm_box,
                self.message,
                row(half(self.positions_html, self.quotes_html), half(self.orders_html)),
                row(half(self.fills_html), half(self.errors_html)),
            ],
            layout=W.Layout(border="1px solid #ddd", padding="6px", max_width="100%"),
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- events and throttling ------------------------------------------------------------------

    def _on_event(self, event: Any = None) -> None:
        """Engine listener: mark dirty and make sure one redraw is scheduled; never raises."""
        if self._closed.is_set():
            return
        try:
            with self._lock:
                self._dirty = True
                if self._scheduled:
                    return
                self._scheduled = True
                delay = max(0.0, self._last_draw + self.interval - self._clock())
            self._schedule(delay, self._tick)
        except Exception:
            log.exception("dashboard could not schedule a redraw")

    def _tick(self) -> None:
        with self._lock:
            self._scheduled = False
            if not self._dirty or self._closed.is_set():
                return
        try:
            self.refresh()
        except Exception:
            log.exception("dashboard redraw failed")

    def _beat(self, every: float) -> None:
        # Keeps the age of the last bar current while no events arrive.
        while not self._closed.wait(every):
            self._on_event(None)

    def refresh(self) -> None:
        """Read the engine and redraw now."""
        with self._draw_lock:
            with self._lock:
                self._dirty = False
                self._last_draw = self._clock()
            now = self._now()
            state = snapshot(self.engine, now, self.max_rows)
            equity = state.pop("equity")
            if len(equity) < 2 and state["account"].get("equity") is not None:
                self._equity_seen.append((now, float(state["account"]["equity"])))
                times, values = zip(*self._equity_seen, strict=True)
                equity = pd.Series(values, index=pd.DatetimeIndex(times), dtype=float)
            state["equity_points"] = len(equity)
            state["confirming"] = self._confirming
            state["message"] = self._message
            state["tz"] = self._tz
            state["buttons"] = buttons(state["status"], self._in_flight > 0)
            self._state = state
            self._render(state, equity)
            self.redraws += 1

    def state(self) -> dict[str, Any]:
        """What the dashboard shows now, as a plain dict (status, account, P&L, tables, ...)."""
        return dict(self._state)

    def set_tz(self, tz: str) -> None:
        """Show times in ``tz`` (e.g. "America/New_York" or "UTC") from the next redraw on."""
        pd.Timestamp(0, tz=tz)  # an unknown zone fails here, not in the redraw
        self._tz = tz
        if self.tz_toggle.value != tz and tz in ZONES.values():
            self.tz_toggle.value = tz
        self._on_event(None)

    # -- rendering ------------------------------------------------------------------------------

    def _render(self, state: dict[str, Any], equity: pd.Series) -> None:
        tz = state["tz"]
        zone = zone_label(tz)

        def table(key: str, empty: str, title: str) -> str:
            return R.records_table(localize_records(state[key], tz), empty=empty, title=title)

        self.header.value = status_html(state["status"], tz)
        self.account_html.value = account_html(state["account"], state["pnl"])
        self.equity_html.value = equity_svg(equity, tz)
        self.positions_html.value = table("positions", "No open positions.", "Positions")
        self.quotes_html.value = table("quotes", "No prices yet.", f"Last prices ({zone})")
        self.orders_html.value = table("open_orders", "No open orders.", "Open orders")
        self.fills_html.value = table("fills", "No fills yet.", f"Last fills ({zone})")
        self.errors_html.value = table("errors", "No errors.", "Errors")
        self.message.value = (
            f'<span style="{R.MUTED}">{html.escape(state["message"])}</span>'
            if state["message"]
            else ""
        )
        self.confirm_box.layout.display = "flex" if state["confirming"] else "none"
        enabled = state["buttons"]
        if not self._closed.is_set():
            self.start_button.disabled = not enabled.start
            self.stop_button.disabled = not enabled.stop
            self.flatten_button.disabled = not enabled.flatten
            self.confirm_button.disabled = not enabled.flatten

    # -- actions --------------------------------------------------------------------------------

    def _submit(self, label: str, fn: Callable[[], Any]) -> Future:
        """Run an engine call on the worker thread; report its outcome in the message line.
        The buttons stay disabled until it is done."""

        def run() -> Any:
            try:
                result = fn()
            except Exception as exc:
                log.exception("%s failed", label)
                self._done(f"{label} failed: {exc}")
                raise
            self._done(f"{label}: done")
            return result

        with self._lock:
            self._in_flight += 1
        self._set_message(f"{label}…")
        return self._executor.submit(run)

    def _done(self, text: str) -> None:
        with self._lock:
            self._in_flight -= 1
        self._set_message(text)

    def _set_message(self, text: str) -> None:
        self._message = text
        self._on_event(None)

    def start(self) -> Future:
        """Start the engine without blocking; returns the pending call."""
        return self._submit("Start", self.engine.start)

    def stop(self) -> Future:
        """Stop the engine gracefully without blocking; returns the pending call."""
        return self._submit("Stop", self.engine.stop)

    def request_flatten(self) -> None:
        """First step of the kill switch: show the confirmation; nothing is sent yet."""
        self._confirming = True
        self._on_event(None)

    def cancel_flatten(self) -> None:
        """Hide the confirmation without doing anything."""
        self._confirming = False
        self._on_event(None)

    def confirm_flatten(self) -> Future | None:
        """Second step: cancel open orders, close positions, then stop. None if not requested."""
        if not self._confirming:
            return None
        self._confirming = False
        return self._submit("Flatten & stop", lambda: flatten_and_stop(self.engine))

    def close(self) -> None:
        """Detach from the engine and stop redrawing; the last view stays on screen."""
        if self._closed.is_set():
            return
        self._closed.set()
        remove = getattr(self.engine, "remove_listener", None)
        if callable(remove):
            try:
                remove(self._listener)
            except Exception:
                log.debug("remove_listener failed", exc_info=True)
        for button in (self.start_button, self.stop_button, self.flatten_button):
            button.disabled = True
        self.tz_toggle.disabled = True
        self._executor.shutdown(wait=False)
