"""The live journal: an append-only SQLite record of orders, fills, errors and equity.

Written as things happen (WAL, autocommit), readable at any time from another thread or process,
so a restarted kernel can see what happened and a new engine can resume without sending twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from quantnb.data.sample import to_utc
from quantnb.domain import oca
from quantnb.domain.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from quantnb.errors import ConfigError, JournalError
from quantnb.trading.journal_writer import LaterWriter

logger = logging.getLogger(__name__)

DEFAULT_DIRECTORY = Path("quantnb_journal")

_ORDER_COLS = (
    "order_id",
    "symbol",
    "side",
    "qty",
    "type",
    "limit_price",
    "stop_price",
    "trail_amount",
    "trail_percent",
    "tif",
    "parent_id",
    "oca_group",
    "tag",
    "status",
    "filled",
    "avg_price",
    "reason",
    "created",
    "updated",
    # IB's order fields a resumed session must keep (added later: older journals lack them)
    "good_till",
    "oca_type",
    "algo",
    "algo_priority",
    "outside_rth",
)
_ADDED_ORDER_COLS = ("good_till", "oca_type", "algo", "algo_priority", "outside_rth")
_FILL_COLS = (
    "exec_id",
    "order_id",
    "symbol",
    "side",
    "qty",
    "price",
    "commission",
    "slippage",
    "time",
    "source",
)
# the public column order of the error and equity tables (the engine shows them in this order)
ERROR_COLUMNS = ("time", "kind", "code", "message", "symbol", "order_id", "detail")
EQUITY_COLUMNS = ("time", "equity", "cash", "realized_pnl", "unrealized_pnl", "commissions")
# a fill's commission replaced by IB's report; a session's holding cut by a change outside it
COMMISSION_COLUMNS = ("exec_id", "commission", "estimate")
HOLDING_COLUMNS = ("time", "symbol", "qty_before", "qty_after", "reason")
# the bars a run saw: "history" before it traded, "live" those handed to on_data (one row each)
BAR_COLUMNS = ("time", "symbol", "open", "high", "low", "close", "volume", "kind")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    event TEXT NOT NULL, {", ".join(_ORDER_COLS)});
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    exec_id TEXT NOT NULL UNIQUE, {", ".join(_FILL_COLS[1:])});
CREATE TABLE IF NOT EXISTS errors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    {", ".join(ERROR_COLUMNS)});
CREATE TABLE IF NOT EXISTS equity (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    {", ".join(EQUITY_COLUMNS)});
CREATE TABLE IF NOT EXISTS commissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    {", ".join(COMMISSION_COLUMNS)});
CREATE TABLE IF NOT EXISTS holdings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    {", ".join(HOLDING_COLUMNS)});
CREATE TABLE IF NOT EXISTS bars (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, recorded TEXT NOT NULL,
    {", ".join(BAR_COLUMNS)}, UNIQUE (symbol, time, kind));
CREATE INDEX IF NOT EXISTS orders_by_id ON orders(order_id, seq);
""" + "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;"""
    for t in ("runs", "orders", "fills", "errors", "equity", "commissions", "holdings", "bars")
)


_INSERT_ORDER = (
    f"INSERT INTO orders (run_id, recorded, event, {', '.join(_ORDER_COLS)}) "
    f"VALUES ({', '.join('?' * (len(_ORDER_COLS) + 3))})"
)


class JournalState(NamedTuple):
    """What a restarted engine needs: orders at their latest state, counted fills, ids."""

    orders: list[Order]
    exec_ids: set[str]
    run_id: str | None
    order_seq: int


@dataclass(slots=True)
class _Counts:
    orders: int = 0
    fills: int = 0
    errors: int = 0
    equity: int = 0
    ignored_fills: int = 0
    corrections: int = 0


def default_path(run_id: str, directory: str | Path | None = None) -> Path:
    """``./quantnb_journal/<run_id>.sqlite`` (or under ``directory``)."""
    return Path(directory if directory is not None else DEFAULT_DIRECTORY) / f"{run_id}.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat()


_last_iso: tuple[Any, str] = (None, "")  # the last UTC Timestamp formatted, and its text


def _ts(value: Any) -> str | None:
    global _last_iso
    if isinstance(value, pd.Timestamp) and value.tzinfo is UTC:
        # the common case, met several times per order sent (an order sent has created ==
        # updated, one Timestamp): formatting takes ~2 µs, so the last one is kept
        last, text = _last_iso
        if last is not value:
            text = value.isoformat()
            _last_iso = (value, text)
        return text
    if value is None or pd.isna(value):
        return None
    try:
        return to_utc(value).isoformat()
    except ConfigError:
        return str(value)  # kept as given rather than lost


def _time_or_none(value: Any) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


class Journal:
    """One SQLite file; one writer connection guarded by a lock, readers open their own."""

    def __init__(self, path: str | Path, *, run_id: str | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.counts = _Counts()
        self._lock = threading.Lock()
        self._later: list[tuple[str, list[tuple]]] = []  # queued rows, in the order recorded
        self._writer = LaterWriter(self._drain, self.path)
        self._deferring = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            _add_missing_columns(self._db)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open the journal {str(self.path)!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, run_id={self.run_id!r})"

    # ---- writing ----------------------------------------------------------------------------
    def _write(self, sql: str, values: tuple) -> bool:
        with self._lock:
            if self._db is None:
                raise JournalError(f"the journal {str(self.path)!r} is closed")
            try:
                self._db.execute(sql, values)
            except sqlite3.IntegrityError:
                return False
            except sqlite3.Error as exc:
                raise JournalError(
                    f"cannot write to the journal {str(self.path)!r}: {exc}"
                ) from exc
        return True

    def _write_many(self, sql: str, rows: list[tuple], later: bool = False) -> None:
        """``sql`` for every row, in one transaction: all rows or none. ``later``: queued for the
        worker thread instead, after the rows queued before them (not after rows written at once
        meanwhile: only an order's states after its creation, never its creation, are queued)."""
        with self._lock:
            if self._db is None:
                raise JournalError(f"the journal {str(self.path)!r} is closed")
            if later:
                if not self._deferring:
                    self._deferring = True
                    self._db.execute("PRAGMA wal_autocheckpoint=0")  # the worker checkpoints
                self._later.append((sql, rows))
            else:
                self._commit([(sql, rows)])
        if later:
            self._writer.wake()

    def _commit(self, batch: list[tuple[str, list[tuple]]]) -> None:
        assert self._db is not None
        try:
            with self._db:
                self._db.execute("BEGIN")
                for sql, rows in _runs(batch):
                    self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write to the journal {str(self.path)!r}: {exc}") from exc

    def _commit_later(self) -> None:
        batch, self._later = self._later, []
        self._commit(batch)

    def _drain(self) -> bool:
        """Write the queued rows now (the worker thread, and readers before they read)."""
        with self._lock:
            if not self._later or self._db is None:
                return False
            self._commit_later()
        return True

    def _run(self) -> str:
        return self.run_id or ""

    def record_run(self, run_id: str, **meta: Any) -> None:
        """Record the start of a run with its (secret-free) metadata; sets ``run_id``."""
        self.run_id = run_id
        text = json.dumps(meta, default=str, sort_keys=True)
        self._write(
            "INSERT INTO runs (run_id, recorded, meta) VALUES (?, ?, ?)", (run_id, _now(), text)
        )

    def record_order(self, order: Order, event: str = "", later: bool = False) -> None:
        """Append the order's current state as a new row."""
        self.record_orders([order], event, later)

    def record_orders(self, orders: list[Order], event: str = "", later: bool = False) -> None:
        """Append the current state of several orders in one transaction (``later``: written
        by the worker thread, for states after an order's creation)."""
        if not orders:
            return
        run, now = self._run(), _now()
        rows = [(run, now, event or str(o.status), *_order_values(o)) for o in orders]
        self._write_many(_INSERT_ORDER, rows, later)
        self.counts.orders += len(rows)

    def record_fill(self, fill: Fill) -> bool:
        """Append a fill; False (and nothing written) when its exec_id is already journaled."""
        if not fill.exec_id:
            raise JournalError(f"fill of order {fill.order_id!r} has no exec_id; cannot journal it")
        values = (
            fill.exec_id,
            fill.order_id,
            fill.symbol,
            str(fill.side),
            float(fill.qty),
            float(fill.price),
            float(fill.commission),
            float(fill.slippage),
            _ts(fill.time),
            fill.source,
        )
        cols = ", ".join(_FILL_COLS)
        marks = ", ".join("?" * (len(_FILL_COLS) + 2))
        new = self._write(
            f"INSERT INTO fills (run_id, recorded, {cols}) VALUES ({marks})",
            (self._run(), _now(), *values),
        )
        if new:
            self.counts.fills += 1
        else:
            self.counts.ignored_fills += 1
        return new

    def record_commission(self, exec_id: str, commission: float, estimate: float) -> None:
        """Append IB's commission for a fill journaled with an estimate; ``fills()`` shows it."""
        cols = ", ".join(COMMISSION_COLUMNS)
        self._write(
            f"INSERT INTO commissions (run_id, recorded, {cols}) VALUES (?, ?, ?, ?, ?)",
            (self._run(), _now(), str(exec_id), float(commission), float(estimate)),
        )
        self.counts.corrections += 1

    def record_holding(
        self, symbol: str, qty_before: float, qty_after: float, reason: str, time: Any = None
    ) -> None:
        """Append a change of the session's own holding that none of its fills made."""
        cols = ", ".join(HOLDING_COLUMNS)
        self._write(
            f"INSERT INTO holdings (run_id, recorded, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._run(), _now(), _ts(time) or _now(), symbol, float(qty_before),
             float(qty_after), reason),
        )  # fmt: skip

    def record_bars(self, rows: list[tuple], later: bool = False) -> None:
        """Append bars as ``BAR_COLUMNS`` tuples in one transaction; a bar already journaled
        with the same kind is skipped (``later``: by the worker thread)."""
        if not rows:
            return
        run, now = self._run(), _now()
        values = [(run, now, _ts(r[0]), *r[1:]) for r in rows]
        cols = ", ".join(BAR_COLUMNS)
        marks = ", ".join("?" * (len(BAR_COLUMNS) + 2))
        self._write_many(
            f"INSERT OR IGNORE INTO bars (run_id, recorded, {cols}) VALUES ({marks})", values, later
        )

    def record_error(
        self,
        kind: str,
        message: str,
        *,
        code: int | None = None,
        order_id: str | None = None,
        symbol: str | None = None,
        detail: str = "",
        time: Any = None,
    ) -> None:
        """Append an error (``detail`` holds a traceback where there is one)."""
        cols = ", ".join(ERROR_COLUMNS)
        self._write(
            f"INSERT INTO errors (run_id, recorded, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._run(),
                _now(),
                _ts(time) or _now(),
                kind,
                code,
                message,
                symbol,
                order_id,
                detail,
            ),
        )
        self.counts.errors += 1

    def record_equity(
        self,
        time: Any,
        equity: float,
        cash: float,
        realized_pnl: float = 0.0,
        unrealized_pnl: float = 0.0,
        commissions: float = 0.0,
        later: bool = False,
    ) -> None:
        """Append an account snapshot (``later``: by the worker thread)."""
        cols = ", ".join(EQUITY_COLUMNS)
        row = (
            self._run(),
            _now(),
            _ts(time) or _now(),
            float(equity),
            float(cash),
            float(realized_pnl),
            float(unrealized_pnl),
            float(commissions),
        )
        sql = f"INSERT INTO equity (run_id, recorded, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        self._write_many(sql, [row], later)
        self.counts.equity += 1

    def flush(self) -> None:
        """Write the queued rows and move the write-ahead log into the main file."""
        with self._lock:
            if self._db is not None:
                try:
                    if self._later:
                        self._commit_later()
                except JournalError as exc:
                    logger.error("%s", exc)
                try:
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    logger.warning("journal checkpoint failed: %s", exc)

    def close(self) -> None:
        """Write what is queued, flush and close the writer; reading still works afterwards."""
        self._writer.stop()
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def closed(self) -> bool:
        return self._db is None

    # ---- reading ----------------------------------------------------------------------------
    def _read(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        self._drain()  # what this journal recorded is read back, queued or not
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {str(self.path)!r}: {exc}") from exc
        try:
            return pd.read_sql_query(sql, con, params=params)
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise JournalError(f"cannot read the journal {str(self.path)!r}: {exc}") from exc
        finally:
            con.close()

    @staticmethod
    def _times(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
        for c in ("recorded", *cols):
            if c in df:
                df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
        return df

    def orders(self, *, latest: bool = False) -> pd.DataFrame:
        """Every order state change, oldest first (``latest=True``: one row per order)."""
        if latest:
            sql = (
                "SELECT * FROM orders WHERE seq IN (SELECT MAX(seq) FROM orders GROUP BY order_id) "
                "ORDER BY seq"
            )
        else:
            sql = "SELECT * FROM orders ORDER BY seq"
        df = self._read(sql).rename(columns={"limit_price": "limit", "stop_price": "stop"})
        return self._times(df, "created", "updated", "good_till")

    def fills(self) -> pd.DataFrame:
        """Every fill once, oldest first, with IB's commission where it replaced an estimate."""
        df = self._times(self._read("SELECT * FROM fills ORDER BY seq"), "time")
        fixes = self.commissions()
        if len(fixes) and len(df):
            latest = fixes.groupby("exec_id")["commission"].last()
            real = df["exec_id"].map(latest)
            df["commission"] = real.where(real.notna(), df["commission"]).astype(float)
        return df

    def commissions(self) -> pd.DataFrame:
        """Commission reports that replaced a fill's estimate, oldest first."""
        return self._times(self._read("SELECT * FROM commissions ORDER BY seq"))

    def holdings(self) -> pd.DataFrame:
        """Changes of the session's own holdings made outside it, oldest first."""
        return self._times(self._read("SELECT * FROM holdings ORDER BY seq"), "time")

    def errors(self) -> pd.DataFrame:
        """Every error, oldest first."""
        return self._times(self._read("SELECT * FROM errors ORDER BY seq"), "time")

    def equity(self) -> pd.DataFrame:
        """Account snapshots, oldest first."""
        return self._times(self._read("SELECT * FROM equity ORDER BY seq"), "time")

    def bars(self) -> pd.DataFrame:
        """The bars the runs saw (``BAR_COLUMNS``), oldest journaled first; empty for a journal
        written before bars were journaled."""
        return self._times(self._read("SELECT * FROM bars ORDER BY seq"), "time")

    def runs(self) -> pd.DataFrame:
        """Run starts with their metadata."""
        return self._times(self._read("SELECT * FROM runs ORDER BY seq"))

    def last_state(self) -> JournalState:
        """Orders at their latest state, journaled exec ids, the last run id and order number."""
        rows = self.orders(latest=True)
        orders = [_order_from_row(r) for r in rows.itertuples(index=False)]
        exec_ids = set(self._read("SELECT exec_id FROM fills")["exec_id"])
        runs = self._read("SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1")
        run_id = str(runs["run_id"].iloc[0]) if len(runs) else None
        seq = 0
        for o in orders:
            head, _, tail = o.id.rpartition("-")
            if run_id is not None and head == run_id and tail.isdigit():
                seq = max(seq, int(tail))
        return JournalState(orders, exec_ids, run_id, seq)


def fill_from_row(r: Any) -> Fill:
    """A ``Fill`` from a row of ``Journal.fills()`` (``itertuples``)."""
    return Fill(r.order_id, r.symbol, Side(r.side), float(r.qty), float(r.price),
                float(r.commission), r.time, exec_id=r.exec_id, slippage=float(r.slippage),
                source=_str(r.source))  # fmt: skip


def _runs(batch: list[tuple[str, list[tuple]]]) -> list[tuple[str, list[tuple]]]:
    """``batch`` with the rows of consecutive items of one statement joined (one executemany)."""
    out: list[tuple[str, list[tuple]]] = []
    for sql, rows in batch:
        if out and out[-1][0] == sql:
            out[-1][1].extend(rows)
        else:
            out.append((sql, list(rows)))
    return out


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Give a journal written before IB's GTD, OCA, algo and outsideRth fields were journaled
    their columns (empty in its old rows), so it can be resumed and written on."""
    have = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
    for col in _ADDED_ORDER_COLS:
        if col not in have:
            db.execute(f"ALTER TABLE orders ADD COLUMN {col}")


def _order_values(order: Order) -> tuple:
    return (
        order.id,
        order.symbol,
        str(order.side),
        float(order.qty),
        str(order.type),
        order.limit,
        order.stop,
        order.trail_amount,
        order.trail_percent,
        str(order.tif),
        order.parent_id,
        order.oca_group,
        order.tag,
        str(order.status),
        float(order.filled),
        float(order.avg_price or 0.0),
        order.reason,
        _ts(order.created),
        _ts(order.updated),
        _ts(order.good_till),
        int(order.oca_type),
        order.algo,
        order.algo_priority,
        int(bool(order.outside_rth)),
    )


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _order_from_row(r: Any) -> Order:
    return Order(
        id=r.order_id,
        symbol=r.symbol,
        side=Side(r.side),
        qty=float(r.qty),
        type=OrderType(r.type),
        limit=_num(r.limit),
        stop=_num(r.stop),
        trail_amount=_num(r.trail_amount),
        trail_percent=_num(r.trail_percent),
        tif=TimeInForce(r.tif),
        created=_time_or_none(r.created),
        parent_id=_str(r.parent_id) or None,
        oca_group=_str(r.oca_group) or None,
        tag=_str(r.tag),
        status=OrderStatus(r.status),
        filled=float(r.filled),
        avg_price=float(r.avg_price or 0.0),
        reason=_str(r.reason),
        updated=_time_or_none(r.updated),
        good_till=_time_or_none(getattr(r, "good_till", None)),
        oca_type=int(_num(getattr(r, "oca_type", None)) or oca.CANCEL),
        algo=_str(getattr(r, "algo", "")),
        algo_priority=_str(getattr(r, "algo_priority", "")),
        outside_rth=bool(_num(getattr(r, "outside_rth", None)) or False),
    )
