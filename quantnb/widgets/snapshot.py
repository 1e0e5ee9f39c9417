"""What the dashboard shows, read from an engine's public state as plain values.

Every read tolerates a missing or failing property: the engine reports its own errors and the
dashboard keeps drawing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quantnb.trading.pnl import Pnl, pnl_from_fills

log = logging.getLogger(__name__)

DONE_ORDER_STATES = frozenset(
    {"filled", "cancelled", "canceled", "rejected", "expired", "inactive", "apicancelled"}
)
_STATUS_KEYS = {  # what the dashboard shows -> the engine's status key
    "connection": "connection",
    "state": "state",
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
    # keys not every engine has: shown when present
    "clock": "clock",
    "history_progress": "history_progress",
    "next_bar_due": "next_bar_due",
    "market_closed_until": "market_closed_until",
}
ORDER_COLS = (
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
POSITION_COLS = (
    "symbol",
    "qty",
    "avg_price",
    "last_price",
    "market_price",
    "unrealized_pnl",
    "realized_pnl",
)
FILL_COLS = ("time", "symbol", "side", "qty", "price", "commission")
ERROR_COLS = ("time", "kind", "code", "message")
QUOTE_COLS = ("symbol", "price", "time")


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


def _read(engine: Any, name: str) -> Any:
    try:
        return getattr(engine, name, None)
    except Exception:  # the engine reports its own errors; the dashboard keeps drawing
        log.debug("reading engine.%s failed", name, exc_info=True)
        return None


def frame(engine: Any, name: str) -> pd.DataFrame:
    """An engine DataFrame property, or an empty frame if it is missing or fails."""
    value = _read(engine, name)
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame().T
    if isinstance(value, Mapping):
        return pd.DataFrame([value])
    return pd.DataFrame()


def records(df: pd.DataFrame, cols: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
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


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, list | dict | tuple) and pd.isna(value))


def _utc(value: Any) -> pd.Timestamp | None:
    if _missing(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_status(engine: Any, now: pd.Timestamp) -> dict[str, Any]:
    """Connection state, reconnect attempts, fallback mode, last bar time and its age [s], and
    what the session waits for."""
    try:
        raw = _as_dict(_read(engine, "status"))
    except Exception:
        log.debug("reading engine.status failed", exc_info=True)
        raw = {}
    out = {key: raw.get(name) for key, name in _STATUS_KEYS.items()}
    out["connection"] = str(out["connection"] or "unknown")
    out["state"] = None if _missing(out["state"]) else str(out["state"])
    out["running"] = None if _missing(out["running"]) else bool(out["running"])
    out["attempts"] = int(out["attempts"] or 0)
    out["fallback"] = bool(out["fallback"])
    for key in ("alert", "waiting_for", "market_data", "clock"):
        out[key] = str(out[key]) if out[key] and not _missing(out[key]) else None
    out["stale"] = [str(s) for s in out["stale"] or ()]  # symbols whose bars stopped
    out["data_farm"] = str(out["data_farm"] or "ok")  # or IB's farm trouble (2103)
    for key in ("last_bar_time", "next_bar_due", "market_closed_until"):
        out[key] = _utc(out[key])
    age = _seconds(out["last_bar_age"])
    if age is None and out["last_bar_time"] is not None:
        age = (now - out["last_bar_time"]).total_seconds()
    out["last_bar_age"] = age
    out["history_missing"] = list(out["history_missing"] or [])
    out["history_wait"] = _seconds(out["history_wait"])
    if not isinstance(out["history_progress"], Mapping):
        out["history_progress"] = None
    out["order_changes_queued"] = int(out["order_changes_queued"] or 0)
    return out


def read_account(account: pd.DataFrame) -> tuple[dict[str, Any], pd.Series]:
    """The latest account values (cash, equity, day P&L) and the equity history by time."""
    if len(account) == 0:
        return {}, pd.Series(dtype=float)
    if "time" in account.columns:
        account = account.set_index("time")
    last = account.iloc[-1].to_dict()
    equity = account["equity"].astype(float) if "equity" in account else pd.Series(dtype=float)
    out: dict[str, Any] = {
        "cash": last.get("cash"),
        "equity": last.get("equity"),
        "day_pnl": last.get("day_pnl"),
    }
    if out["day_pnl"] is None and len(equity) and isinstance(equity.index, pd.DatetimeIndex):
        day = equity.index[-1].normalize()
        before = equity[equity.index < day]
        base = before.iloc[-1] if len(before) else equity[equity.index >= day].iloc[0]
        out["day_pnl"] = float(equity.iloc[-1] - base)
    return out, equity


def _prices(positions: pd.DataFrame) -> dict[str, float]:
    for col in ("last_price", "market_price"):
        if col in positions.columns and "symbol" in positions.columns:
            return dict(zip(positions["symbol"], positions[col].astype(float), strict=True))
    return {}


def read_pnl(engine: Any, positions: pd.DataFrame) -> Pnl | None:
    """The session's P&L: the engine's own (``engine.pnl``, kept across stop/start) or, for an
    engine without it, its fills replayed and marked at the positions' prices."""
    own = _read(engine, "pnl")
    if own is not None:
        d = _as_dict(own)
        try:
            return Pnl(float(d["realized"]), float(d["unrealized"]), float(d["commissions"]))
        except (KeyError, TypeError, ValueError):
            log.debug("engine.pnl has no realized/unrealized/commissions: %r", own)
    fills = frame(engine, "fills")
    if not len(fills) or not {"symbol", "side", "qty", "price"} <= set(fills.columns):
        return None
    try:
        return pnl_from_fills(fills, _prices(positions))
    except (TypeError, ValueError):
        log.debug("the fills cannot be replayed", exc_info=True)
        return None


def read_quotes(engine: Any, positions: pd.DataFrame) -> list[dict[str, Any]]:
    """The last price of each symbol with its time (``engine.quotes``), else the positions'."""
    quotes = frame(engine, "quotes")
    if len(quotes):
        return records(quotes, QUOTE_COLS)
    held = _prices(open_positions(positions))
    return [{"symbol": s, "price": p, "time": None} for s, p in held.items()]


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
    account, equity = read_account(frame(engine, "account"))
    positions = frame(engine, "positions")
    fills = frame(engine, "fills").tail(max_rows).iloc[::-1]
    errors = frame(engine, "errors").tail(max_rows).iloc[::-1]
    return {
        "status": read_status(engine, now),
        "account": account,
        "pnl": read_pnl(engine, positions),
        "positions": records(open_positions(positions), POSITION_COLS),
        "quotes": read_quotes(engine, positions),
        "open_orders": records(open_orders(frame(engine, "orders")), ORDER_COLS),
        "fills": records(fills, FILL_COLS),
        "errors": records(errors, ERROR_COLS),
        "equity": equity,
    }
