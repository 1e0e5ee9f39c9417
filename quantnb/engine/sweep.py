"""Parameter sweeps: one backtest per parameter combination, on any ``concurrent.futures``
executor (processes on this machine by default; a Dask or Ray executor scales it out)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import pandas as pd

from quantnb.data.load import load_frames
from quantnb.engine.backtest import BacktestEngine
from quantnb.engine.strategy import Strategy
from quantnb.errors import ConfigError
from quantnb.options import check_options, keyword_names

_FRAMES: dict[str, pd.DataFrame] | None = None  # a pool worker's copy, sent to it once
_SWEEP_OPTIONS = keyword_names(BacktestEngine.__init__, exclude=("self", "data", "progress"))


def _keep_frames(frames: dict[str, pd.DataFrame]) -> None:
    global _FRAMES
    _FRAMES = frames


def _run_one(cls: type[Strategy], params: dict, data: dict | None, kwargs: dict) -> pd.Series:
    """One run on frames that are already loaded and validated (``data`` None: the worker's)."""
    frames = _FRAMES if data is None else data
    assert frames is not None, "a sweep worker started without its frames"
    engine = BacktestEngine(frames, progress=False, **kwargs)
    return engine.run(cls(**params)).stats


def _grid(grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    if not grid:
        raise ConfigError("grid is empty: pass e.g. grid={'fast': [5, 10], 'slow': [20, 30]}")
    names = list(grid)
    values = []
    for name in names:
        vals = list(grid[name]) if not isinstance(grid[name], str) else [grid[name]]
        if not vals:
            raise ConfigError(f"grid[{name!r}] has no values")
        values.append(vals)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def sweep(
    strategy: type[Strategy],
    data: Any,
    grid: Mapping[str, Iterable[Any]],
    *,
    metric: str = "Sharpe ratio",
    executor: Executor | str | None = None,
    progress: bool | None = None,
    **backtest_kwargs: Any,
) -> pd.DataFrame:
    """Backtest ``strategy(**params)`` for every combination in ``grid``.

    Returns one row per combination (parameters as the index, stats as columns), best
    ``metric`` first. ``executor``: None for a process pool on this machine, ``"serial"`` to
    run in this process, or any ``concurrent.futures.Executor`` (e.g. a Dask client's).
    """
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise ConfigError(
            f"sweep() takes the strategy class, not {strategy!r}: e.g. sweep(SmaCross, data, grid)"
        )
    check_options("sweep()", backtest_kwargs, _SWEEP_OPTIONS | {"metric", "executor", "progress"})
    combos = _grid(grid)
    for params in combos:
        try:
            strategy(**params)
        except TypeError as exc:
            raise ConfigError(f"{strategy.__name__}(**{params}) fails: {exc}") from exc
    frames = load_frames(data)
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(combos),
        desc=f"sweep {strategy.__name__}",
        unit="run",
        disable=progress is False,
        delay=0 if progress else 2.0,
        leave=False,
    )
    rows: list[pd.Series] = []
    try:
        if executor == "serial" or len(combos) == 1:
            for params in combos:
                rows.append(_run_one(strategy, params, frames, backtest_kwargs))
                bar.update()
        else:
            own = executor is None
            shipped: dict | None = frames
            if own:
                ctx = (
                    multiprocessing.get_context("fork")
                    if "fork" in multiprocessing.get_all_start_methods()
                    else None
                )
                # each worker gets the data once, not once per parameter combination
                executor = ProcessPoolExecutor(
                    max_workers=min(len(combos), os.cpu_count() or 1),
                    mp_context=ctx,
                    initializer=_keep_frames,
                    initargs=(frames,),
                )
                shipped = None
            elif isinstance(executor, str):
                raise ConfigError(f"executor={executor!r}: use None, 'serial' or an Executor")
            try:
                futures = [
                    executor.submit(_run_one, strategy, p, shipped, backtest_kwargs) for p in combos
                ]
                for fut in futures:
                    rows.append(fut.result())
                    bar.update()
            finally:
                if own:
                    executor.shutdown()
    finally:
        bar.close()
    table = pd.DataFrame(rows)
    index = pd.MultiIndex.from_frame(pd.DataFrame(combos))
    table.index = index if len(index.names) > 1 else index.get_level_values(0)
    if metric not in table.columns:
        raise ConfigError(f"metric={metric!r} is not a stat; use one of {list(table.columns)}")
    return table.sort_values(metric, ascending=False, na_position="last")
