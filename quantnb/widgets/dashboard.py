"""Live dashboard of a running engine: status, account, positions, orders, fills, errors, equity.

The dashboard only reads the engine's public state. Engine events mark it dirty; redraws happen at
most every ``interval`` seconds on a timer thread, and engine calls run on a worker thread, so
neither the engine loop nor the kernel ever waits on the dashboard.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import pandas as pd

from quantnb.widgets import render as R

log = logging.getLogger(__name__)

Scheduler = Callable[[float, Callable[[], None]], None]

DONE_ORDER_STATES = frozenset(
    {"filled", "cancelled", "canceled", "rejected", "expired", "inactive", "apicancelled"}
)
_STATUS_KEYS = {  # what the dashboard shows -> the engine's status key
    "connection": "connection",
    "attempts": "attempts",
    "fallback": "fallback_mode",
    "last_bar_time": "last_bar_time",
    "last_bar_age": "last_bar_age",
    "running": "running",
    "alert": "alert",  # the gateway is on another account: nothing is traded
    "waiting_for": "waiting_for",
    "market_data": "market_data",  # None while every symbol's data is live
    "history_missing": "history_missing",
    "history_wait": "history_wait",
    "order_changes_queued": "order_changes_queued",
    "stale": "stale",
    "data_farm": "data_farm",
}
_STATE_COLORS = {
    "connected": "#1a7f37",
    "reconnecting": "#bf8700",
    "connecting": "#bf8700",
    "fallback": "#bf8700",
    "disconnected": "#cf222e",
    "stopped": "#57606a",
    "error": "#cf222e",
}
_ORDER_COLS = (
    "order_id",
    "id",
    "symbol",
    "side",
    "qty",
    "type",
    "limit_price",
    "limit",
    "stop_price",
    "stop",
    "filled",
    "status",
)
_FILL_COLS = ("time", "symbol", "side", "qty", "price", "commission")
_ERROR_COLS = ("time", "kind", "code", "message")


def _timer(delay: float, fn: Callable[[], None]) -> None:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _as_dict(obj: Any) -> dict[str, Any]:
    """A status record of any usual shape (dict, dataclass, Series, one-row frame) as a dict."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, pd.Series):
        return obj.to_dict()
    if isinstance(obj, pd.DataFrame):
        return obj.iloc[-1].to_dict() if len(obj) else {}
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _frame(engine: Any, name: str) -> pd.DataFrame:
    """An engine DataFrame property, or an empty frame if it is missing or fails."""
    try:
        value = getattr(engine, name, None)
    except Exception:  # the engine reports its own errors; the dashboard keeps drawing
        log.debug("reading engine.%s failed", name, exc_info=True)
        return pd.DataFrame()
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame().T
    if isinstance(value, Mapping):
        return pd.DataFrame([value])
    return pd.DataFrame()


def _records(df: pd.DataFrame, cols: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    if cols is not None:
        keep = [c for c in cols if c in df.columns]
        df = df[keep] if keep else df
    return df.to_dict("records")


def _seconds(value: Any) -> float | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_status(engine: Any, now: pd.Timestamp) -> dict[str, Any]:
    """Connection state, reconnect attempts, fallback mode, last bar time and its age [s]."""
    try:
        raw = _as_dict(getattr(engine, "status", None))
    except Exception:
        log.debug("reading engine.status failed", exc_info=True)
        raw = {}
    out = {key: raw.get(name) for key, name in _STATUS_KEYS.items()}
    out["connection"] = str(out["connection"] or "unknown")
    out["attempts"] = int(out["attempts"] or 0)
    out["fallback"] = bool(out["fallback"])
    for key in ("alert", "waiting_for", "market_data"):
        out[key] = str(out[key]) if out[key] and not pd.isna(out[key]) else None
    out["stale"] = [str(s) for s in out["stale"] or ()]  # symbols whose bars stopped
    out["data_farm"] = str(out["data_farm"] or "ok")  # or IB's farm trouble (2103)
    bar_time = out["last_bar_time"]
    if bar_time is not None and not pd.isna(bar_time):
        bar_time = pd.Timestamp(bar_time)
        bar_time = bar_time.tz_localize("UTC") if bar_time.tzinfo is None else bar_time
        out["last_bar_time"] = bar_time
    else:
        out["last_bar_time"] = None
    age = _seconds(out["last_bar_age"])
    if age is None and out["last_bar_time"] is not None:
        age = (now - out["last_bar_time"]).total_seconds()
    out["last_bar_age"] = age
    out["history_missing"] = list(out["history_missing"] or [])
    out["history_wait"] = _seconds(out["history_wait"])
    out["order_changes_queued"] = int(out["order_changes_queued"] or 0)
    return out


def read_account(account: pd.DataFrame) -> tuple[dict[str, Any], pd.Series]:
    """The latest account values (cash, equity, day/realized/unrealized P&L) and equity history."""
    if len(account) == 0:
        return {}, pd.Series(dtype=float)
    if "time" in account.columns:
        account = account.set_index("time")
    last = account.iloc[-1].to_dict()
    equity = account["equity"].astype(float) if "equity" in account else pd.Series(dtype=float)
    out: dict[str, Any] = {
        "cash": last.get("cash"),
        "equity": last.get("equity"),
        "realized_pnl": last.get("realized_pnl"),
        "unrealized_pnl": last.get("unrealized_pnl"),
        "day_pnl": last.get("day_pnl"),
    }
    if out["day_pnl"] is None and len(equity) and isinstance(equity.index, pd.DatetimeIndex):
        day = equity.index[-1].normalize()
        before = equity[equity.index < day]
        base = before.iloc[-1] if len(before) else equity[equity.index >= day].iloc[0]
        out["day_pnl"] = float(equity.iloc[-1] - base)
    return out, equity


def open_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders whose status is not final (filled, cancelled, rejected, expired)."""
    if len(orders) == 0 or "status" not in orders.columns:
        return orders
    status = orders["status"].astype(str).str.lower().str.rsplit(".", n=1).str[-1]
    return orders[~status.isin(DONE_ORDER_STATES)]


def open_positions(positions: pd.DataFrame) -> pd.DataFrame:
    """Positions with a non-zero quantity."""
    if len(positions) == 0 or "qty" not in positions.columns:
        return positions
    return positions[positions["qty"].astype(float) != 0]


def snapshot(engine: Any, now: pd.Timestamp, max_rows: int = 10) -> dict[str, Any]:
    """Everything the dashboard shows, as plain values read from the engine's public state."""
    account, equity = read_account(_frame(engine, "account"))
    fills = _frame(engine, "fills").tail(max_rows).iloc[::-1]
    errors = _frame(engine, "errors").tail(max_rows).iloc[::-1]
    return {
        "status": read_status(engine, now),
        "account": account,
        "positions": _records(open_positions(_frame(engine, "positions"))),
        "open_orders": _records(open_orders(_frame(engine, "orders")), _ORDER_COLS),
        "fills": _records(fills, _FILL_COLS),
        "errors": _records(errors, _ERROR_COLS),
        "equity": equity,
    }


def flatten_and_stop(engine: Any, flat_timeout: float = 10.0, poll: float = 0.1) -> None:
    """Cancel every open order, close every position, wait until flat (bounded), then stop."""
    engine.cancel_all()
    engine.close_all()
    deadline = time.monotonic() + flat_timeout
    while len(open_positions(_frame(engine, "positions"))) and time.monotonic() < deadline:
        time.sleep(poll)  # on the dashboard's worker thread, never the kernel's
    left = open_positions(_frame(engine, "positions"))
    if len(left):
        log.warning(
            "still holding %s after %.0f s; stopping anyway",
            list(left.get("symbol", [])),
            flat_timeout,
        )
    engine.stop()


class Dashboard:
    """Live view of an engine with Start / Stop / Flatten & stop; display it in a notebook cell.

    ``interval`` bounds redraws (seconds); ``clock``, ``schedule`` and ``now`` can be injected.
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
        self._message = ""
        self._state: dict[str, Any] = {}
        self._equity_seen: deque[float] = deque(maxlen=2000)
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
        self.orders_html = W.HTML()
        self.fills_html = W.HTML()
        self.errors_html = W.HTML()
        self.start_button = W.Button(description="Start", button_style="success")
        self.stop_button = W.Button(description="Stop")
        self.flatten_button = W.Button(description="Flatten & stop", button_style="danger")
        self.confirm_button = W.Button(description="Confirm", button_style="danger")
        self.cancel_button = W.Button(description="Cancel")
        self.confirm_box = W.HBox(
            [
                W.HTML("<b>Cancel all open orders, close all positions and stop?</b>"),
                self.confirm_button,
                self.cancel_button,
            ],
            layout=W.Layout(display="none"),
        )
        self.message = W.HTML()
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.flatten_button.on_click(lambda _: self.request_flatten())
        self.confirm_button.on_click(lambda _: self.confirm_flatten())
        self.cancel_button.on_click(lambda _: self.cancel_flatten())
        half = W.Layout(width="50%", overflow="auto")
        self.widget = W.VBox(
            [
                self.header,
                W.HBox(
                    [W.VBox([self.account_html], layout=half), W.VBox([self.equity_html])],
                ),
                W.HBox([self.start_button, self.stop_button, self.flatten_button]),
                self.confirm_box,
                self.message,
                W.HBox(
                    [
                        W.VBox([self.positions_html], layout=half),
                        W.VBox([self.orders_html], layout=half),
                    ]
                ),
                W.HBox(
                    [
                        W.VBox([self.fills_html], layout=half),
                        W.VBox([self.errors_html], layout=half),
                    ]
                ),
            ],
            layout=W.Layout(border="1px solid #ddd", padding="6px"),
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
            state = snapshot(self.engine, self._now(), self.max_rows)
            equity = state.pop("equity")
            if len(equity) < 2 and state["account"].get("equity") is not None:
                self._equity_seen.append(float(state["account"]["equity"]))
                equity = pd.Series(list(self._equity_seen), dtype=float)
            state["equity_points"] = len(equity)
            state["confirming"] = self._confirming
            state["message"] = self._message
            self._state = state
            self._render(state, equity)
            self.redraws += 1

    def state(self) -> dict[str, Any]:
        """What the dashboard shows now, as a plain dict (status, account, tables, message)."""
        return dict(self._state)

    # -- rendering ------------------------------------------------------------------------------

    def _render(self, state: dict[str, Any], equity: pd.Series) -> None:
        self.header.value = _status_html(state["status"])
        self.account_html.value = _account_html(state["account"])
        self.equity_html.value = R.sparkline_svg(equity.to_numpy())
        self.positions_html.value = R.records_table(
            state["positions"], empty="No open positions.", title="Positions"
        )
        self.orders_html.value = R.records_table(
            state["open_orders"], empty="No open orders.", title="Open orders"
        )
        self.fills_html.value = R.records_table(
            state["fills"], empty="No fills yet.", title="Last fills"
        )
        self.errors_html.value = R.records_table(
            state["errors"], empty="No errors.", title="Errors"
        )
        self.message.value = (
            f'<span style="{R.MUTED}">{html.escape(state["message"])}</span>'
            if state["message"]
            else ""
        )
        self.confirm_box.layout.display = "flex" if state["confirming"] else "none"

    # -- actions --------------------------------------------------------------------------------

    def _submit(self, label: str, fn: Callable[[], Any]) -> Future:
        """Run an engine call on the worker thread; report its outcome in the message line."""

        def run() -> Any:
            try:
                result = fn()
            except Exception as exc:
                log.exception("%s failed", label)
                self._set_message(f"{label} failed: {exc}")
                raise
            self._set_message(f"{label}: done")
            return result

        self._set_message(f"{label}…")
        return self._executor.submit(run)

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
        self._executor.shutdown(wait=False)


def _status_html(status: dict[str, Any]) -> str:
    state = status["connection"].lower()
    color = _STATE_COLORS.get(state, "#57606a")
    label = state
    if state == "reconnecting":
        label = f"reconnecting (attempt {status['attempts']})"
    badges = [
        f'<span style="background:{color};color:white;border-radius:3px;padding:1px 6px">'
        f"{html.escape(label)}</span>"
    ]
    if status["fallback"]:
        badges.append(
            '<span style="background:#bf8700;color:white;border-radius:3px;padding:1px 6px">'
            "fallback mode</span>"
        )
    if status["market_data"]:
        what = "delayed data" if "delayed" in status["market_data"] else "no market data"
        badges.append(
            '<span style="background:#bf8700;color:white;border-radius:3px;padding:1px 6px" '
            f'title="{html.escape(status["market_data"])}">{what}</span>'
        )
    if status.get("history_missing"):
        wait = status.get("history_wait")
        text = f"history of {', '.join(status['history_missing'])} refused (162)" + (
            f": asked again in {wait:.0f} s" if wait is not None else ""
        )
        badges.append(
            '<span style="background:#bf8700;color:white;border-radius:3px;padding:1px 6px">'
            f"{html.escape(text)}</span>"
        )
    if status.get("order_changes_queued"):
        badges.append(
            '<span style="background:#bf8700;color:white;border-radius:3px;padding:1px 6px">'
            f"{status['order_changes_queued']} order change(s) wait for the gateway</span>"
        )
    warnings = []
    if status.get("data_farm", "ok") != "ok":
        warnings.append(f"market data {status['data_farm']}")
    if status.get("stale"):
        warnings.append(f"stale: {', '.join(status['stale'])}")
    for text in warnings:
        badges.append(
            '<span style="background:#cf222e;color:white;border-radius:3px;padding:1px 6px">'
            f"{html.escape(text)}</span>"
        )
    bar = status["last_bar_time"]
    bar_text = (
        f"last bar {R.format_value(bar)} UTC · {R.format_age(status['last_bar_age'])} ago"
        if bar is not None
        else "no bars yet"
    )
    return (
        '<div style="font-family:sans-serif;font-size:13px">'
        f"<b>quantnb live</b> {' '.join(badges)} "
        f'<span style="{R.MUTED}">{html.escape(bar_text)}</span>'
        + "".join(_notice_lines(status))
        + "</div>"
    )


def _notice_lines(status: dict[str, Any]) -> list[str]:
    """Lines under the header: an account alert (red), what the session waits for, and the
    market data that is not live (amber)."""
    lines = []
    for key, label, color in (
        ("alert", "Not trading", "#cf222e"),
        ("waiting_for", "Waiting for", "#bf8700"),
        ("market_data", "Market data", "#bf8700"),
    ):
        if status[key]:
            lines.append(
                f'<div class="qn-{key.replace("_", "-")}" style="color:{color};margin-top:2px">'
                f"<b>{label}:</b> {html.escape(status[key])}</div>"
            )
    return lines


def _account_html(account: dict[str, Any]) -> str:
    if not account:
        return f'<div style="{R.MUTED}">No account data yet.</div>'
    rows = [
        ("Equity", R.format_money(account.get("equity")), "inherit"),
        ("Cash", R.format_money(account.get("cash")), "inherit"),
    ]
    for label, key in (
        ("Day P&L", "day_pnl"),
        ("Realized P&L", "realized_pnl"),
        ("Unrealized P&L", "unrealized_pnl"),
    ):
        value = account.get(key)
        rows.append((label, R.format_money(value, signed=True), R.pnl_color(value)))
    cells = "".join(
        f'<tr><th style="{R.TH};border:none">{html.escape(k)}</th>'
        f'<td style="{R.TD};color:{c}">{html.escape(v)}</td></tr>'
        for k, v, c in rows
    )
    return f'<div style="line-height:1.4"><table style="{R.TABLE}">{cells}</table></div>'
