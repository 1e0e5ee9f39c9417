"""Parameter sweeps: one backtest per parameter combination, on any executor (processes on this
machine by default; a Dask cluster or any ``concurrent.futures`` executor scales it out)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from typing import Any

import pandas as pd

from quantnb.data.load import load_frames
from quantnb.engine.backtest import BacktestEngine
from quantnb.engine.executors import Runner, open_runner
from quantnb.engine.progress import progress_bar
from quantnb.engine.shipping import Frames, window
from quantnb.engine.strategy import Strategy
from quantnb.errors import ConfigError
from quantnb.options import check_options, keyword_names
from quantnb.results.stats import STATS_KEYS

SWEEP_OPTIONS = keyword_names(BacktestEngine.__init__, exclude=("self", "data", "progress"))


def run_stats(
    frames: Frames,
    cls: type[Strategy],
    params: dict,
    kwargs: dict,
    start: int | None = None,
    end: int | None = None,
) -> pd.Series:
    """The stats of one run of ``cls(**params)`` on the bars with start <= time < end."""
    engine = BacktestEngine(window(frames, start, end), progress=False, **kwargs)
    return engine.run(cls(**params)).stats


def make_grid(strategy: type[Strategy], grid: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each checked to make a ``strategy``."""
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise ConfigError(
            f"pass the strategy class, not {strategy!r}: e.g. sweep(SmaCross, data, grid)"
        )
    if not grid:
        raise ConfigError("grid is empty: pass e.g. grid={'fast': [5, 10], 'slow': [20, 30]}")
    names = list(grid)
    values = []
    for name in names:
        vals = list(grid[name]) if not isinstance(grid[name], str) else [grid[name]]
        if not vals:
            raise ConfigError(f"grid[{name!r}] has no values")
        values.append(vals)
    combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    for params in combos:
        try:
            strategy(**params)
        except TypeError as exc:
            raise ConfigError(f"{strategy.__name__}(**{params}) fails: {exc}") from exc
    return combos


def check_metric(metric: str) -> None:
    """Before any run: ``metric`` must name one of the stats."""
    if metric not in STATS_KEYS:
        raise ConfigError(f"metric={metric!r} is not a stat; use one of {STATS_KEYS}")


def stats_table(rows: list[pd.Series], combos: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    """One row of stats per combination, the parameters as the index, best ``metric`` first."""
    table = pd.DataFrame(rows)
    index = pd.MultiIndex.from_frame(pd.DataFrame(combos))
    table.index = index if len(index.names) > 1 else index.get_level_values(0)
    return table.sort_values(metric, ascending=False, na_position="last", kind="stable")


def run_grid(
    runner: Runner,
    strategy: type[Strategy],
    combos: list[dict[str, Any]],
    kwargs: dict,
    bar: Any,
    spans: list[tuple[int | None, int | None]],
) -> list[list[pd.Series]]:
    """The stats of every combination on every span, as one batch: ``[span][combination]``."""
    calls = [(strategy, p, kwargs, s, e) for s, e in spans for p in combos]
    flat = runner.map(run_stats, calls, bar)
    n = len(combos)
    return [flat[k * n : (k + 1) * n] for k in range(len(spans))]


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
    ``metric`` first; the same table whatever runs it. ``executor``: None for a process pool on
    this machine, ``"serial"`` for this process, a Dask ``Client`` or any
    ``concurrent.futures.Executor``; each worker receives the bars once (``open_runner``).
    """
    check_options("sweep()", backtest_kwargs, SWEEP_OPTIONS | {"metric", "executor", "progress"})
    check_metric(metric)
    combos = make_grid(strategy, grid)
    frames = load_frames(data)
    bar = progress_bar(len(combos), f"sweep {strategy.__name__}", progress)
    try:
        with open_runner(executor, frames, data, len(combos)) as runner:
            [rows] = run_grid(runner, strategy, combos, backtest_kwargs, bar, [(None, None)])
    finally:
        bar.close()
    return stats_table(rows, combos, metric)
