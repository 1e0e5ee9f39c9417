"""Journal rows that need not be on disk before anything else happens (the bars a run saw, an
order's states after its creation, equity snapshots), committed by a worker thread.

The live loop thread queues them and goes on: it neither waits for SQLite nor pays a commit for
each of them, and a batch of them is one transaction. The same worker runs the write-ahead log's
checkpoints (with its own connection), so the loop thread never waits for one either. What must be
on disk first (an order before it is sent, a fill) is still written at once by the caller, and may
reach the file before rows queued earlier: the order of rows holds per order (its creation is
written at once, its later states all queued in turn), not across orders and tables.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY = 100  # batches between two checkpoints of the write-ahead log
GATHER = 0.05  # seconds rows gather after the first is queued: one transaction, not many


class LaterWriter:
    """A daemon thread calling ``drain`` ``GATHER`` seconds after rows were queued (``wake``), so
    a burst of them (a time step's bars, states and fills) is one transaction written while the
    loop thread is idle again, and checkpointing the journal at ``path`` every
    ``CHECKPOINT_EVERY`` batches; ``stop`` drains at once."""

    def __init__(self, drain: Callable[[], bool], path: Path) -> None:
        self._drain = drain
        self._path = path
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._batches = 0

    def wake(self) -> None:
        """Rows were queued: write them soon (starts the thread on first use)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(
                        target=self._run, name="quantnb-journal", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued and end the thread."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._stop.wait(GATHER)
            self._wake.clear()
            stopping = self._stopping
            try:
                if self._drain():
                    self._batches += 1
                    if self._batches % CHECKPOINT_EVERY == 0:
                        self._checkpoint()
            except Exception:
                logger.exception("journal %s: queued rows not written", self._path)
            if stopping:
                return

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the main file, from a connection of this thread's own
        (a passive checkpoint: writers are never blocked, readers never waited for)."""
        try:
            db = sqlite3.connect(self._path, isolation_level=None)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()
        except sqlite3.Error as exc:
            logger.warning("journal %s: checkpoint failed: %s", self._path, exc)
