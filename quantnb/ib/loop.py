"""A daemon thread running its own asyncio loop, so IB traffic never touches the notebook's loop.

Notebook code calls ``run``/``submit`` from its own thread; coroutines run on this loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from quantnb.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """One asyncio event loop on one daemon thread; start it once, stop it once."""

    def __init__(self, name: str = "quantnb-ib-loop") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; starts the thread on first use."""
        if self._loop is None or not self.is_running():
            self.start()
        assert self._loop is not None
        return self._loop

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._loop is not None

    def start(self) -> LoopThread:
        """Start the thread and its loop (idempotent)."""
        with self._lock:
            if self.is_running():
                return self
            self._ready.clear()
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread.start()
        self._ready.wait()
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        # ib_insync looks the loop up with get_event_loop(): make it this thread's loop.
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                gc.collect()  # clients dropped without a disconnect close their sockets now
                loop.run_until_complete(asyncio.sleep(0))
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel pending tasks, stop the loop and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            if thread is threading.current_thread():
                raise ConfigError("LoopThread.stop() cannot be called from the loop thread itself")
            if not loop.is_closed():
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = None
            self._thread = None

    def in_loop(self) -> bool:
        """True when called on this loop's thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop from any thread; returns a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block until it is done (not from the loop thread)."""
        if self.in_loop():
            coro.close()
            raise ConfigError(
                "a blocking call was made on the IB loop thread, where it would deadlock; "
                "await the *_async variant instead"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"IB operation did not finish within {timeout} s") from None

    def __enter__(self) -> LoopThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
