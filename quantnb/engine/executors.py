"""Where a batch of backtests runs: in this process, on a process pool, on any
``concurrent.futures`` executor or on a Dask cluster, the bars sent to each worker once."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quantnb.engine import shipping
from quantnb.engine.shipping import Frames, Shipped
from quantnb.errors import ConfigError


def _call(fn: Callable[..., Any], source: Shipped | Frames, args: tuple) -> Any:
    return fn(shipping.frames_of(source), *args)


def dask_client(executor: object) -> Any:
    """The ``distributed.Client`` behind ``executor`` (a client or its ``get_executor()``), or
    None when it is not Dask's."""
    if not type(executor).__module__.startswith("distributed"):
        return None
    return executor if hasattr(executor, "scatter") else getattr(executor, "_client", None)


class Runner:
    """Runs ``fn(frames, *args)`` for many ``args`` on one executor; the bars were shipped
    when the runner was opened (``open_runner``) and serve every batch it runs."""

    def __init__(self, executor: Any, source: Any, client: Any = None) -> None:
        self.executor, self.source, self.client = executor, source, client

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple], bar: Any) -> list[Any]:
        """The results in the order of ``calls``, ``bar`` advanced as each one finishes."""
        out: list[Any] = [None] * len(calls)
        if self.executor is None:
            for i, args in enumerate(calls):
                out[i] = fn(self.source, *args)
                bar.update()
            return out
        if self.client is not None:
            from distributed import as_completed

            futures = [
                self.client.submit(_call, fn, self.source, args, pure=False) for args in calls
            ]
            index = {f.key: i for i, f in enumerate(futures)}
            try:
                for fut in as_completed(futures):
                    out[index[fut.key]] = fut.result()
                    bar.update()
            finally:
                self.client.cancel([f for f in futures if not f.done()])
            return out
        pending = {
            self.executor.submit(_call, fn, self.source, args): i for i, args in enumerate(calls)
        }
        try:
            for fut in cf.as_completed(pending):
                out[pending[fut]] = fut.result()
                bar.update()
        finally:
            for fut in pending:
                fut.cancel()
        return out


@contextmanager
def open_runner(
    executor: Executor | str | None, frames: Frames, data: Any, tasks: int
) -> Iterator[Runner]:
    """A runner for ``tasks`` backtests on ``executor`` with the bars ``frames`` (loaded from
    ``data``) sent to each of its workers once:

    - ``"serial"`` (or a single task): this process;
    - None: a process pool on this machine, each worker given the bars as it starts;
    - a ``ThreadPoolExecutor``: shares this process's bars;
    - a Dask ``Client`` (or its ``get_executor()``): scattered to every worker once;
    - any other executor: workers load them once from a file (``data`` itself when it is a
      CSV/Parquet path, else a temporary pickle), so the workers must share this file system.
    """
    if executor == "serial" or tasks <= 1:
        yield Runner(None, frames)
        return
    if isinstance(executor, str) or not (executor is None or hasattr(executor, "submit")):
        raise ConfigError(
            f"executor={executor!r}: use None (a process pool), 'serial', a "
            "concurrent.futures Executor or a dask.distributed Client"
        )
    key = shipping.new_key()
    if executor is None:
        ctx = (
            multiprocessing.get_context("fork")
            if "fork" in multiprocessing.get_all_start_methods()
            else None
        )
        pool = ProcessPoolExecutor(
            max_workers=min(tasks, os.cpu_count() or 1),
            mp_context=ctx,
            initializer=shipping.hold,
            initargs=(key, frames),
        )
        try:
            yield Runner(pool, Shipped(key))
        finally:
            pool.shutdown(cancel_futures=True)
        return
    if isinstance(executor, ThreadPoolExecutor):
        yield Runner(executor, frames)
        return
    client = dask_client(executor)
    if client is not None:
        # hash=False: a fresh key, so a cluster that dropped an earlier sweep's copy gets this one
        [future] = client.scatter([frames], broadcast=True, hash=False)
        try:
            yield Runner(executor, future, client)
        finally:
            client.cancel([future])
        return
    if isinstance(data, str | Path):
        yield Runner(executor, Shipped(key, str(Path(data).resolve())))
        return
    path = shipping.write_pickle(frames)
    try:
        yield Runner(executor, Shipped(key, str(path)))
    finally:
        path.unlink(missing_ok=True)
