"""Walk-forward optimisation: sweep the grid on each training window, trade the winner on the
window after it, and stitch those out-of-sample runs into one result."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantnb.data.load import load_frames
from quantnb.engine.backtest import BacktestEngine
from quantnb.engine.executors import open_runner
from quantnb.engine.progress import progress_bar
from quantnb.engine.shipping import Frames, window
from quantnb.engine.strategy import Strategy
from quantnb.engine.sweep import SWEEP_OPTIONS, check_metric, make_grid, run_grid, stats_table
from quantnb.errors import ConfigError
from quantnb.options import check_options
from quantnb.results import BacktestResult

log = logging.getLogger(__name__)

Span = int | str | pd.Timedelta | dt.timedelta | pd.DateOffset


@dataclass(frozen=True, slots=True)
class Window:
    """One step of the walk: train on [train_start, test_start), trade [test_start, test_end)
    (ns since the epoch, end exclusive)."""

    train_start: int
    test_start: int
    test_end: int


@dataclass(eq=False, repr=False)
class WalkForwardResult:
    """The stitched out-of-sample run (``result``), one row per window (``windows``: its bars,
    the parameters chosen, the in- and out-of-sample metric), and each window's chosen
    parameters, test run and in-sample sweep table."""

    result: BacktestResult
    windows: pd.DataFrame
    params: list[dict[str, Any]]  # the grid's values chosen on each training window
    tests: list[BacktestResult]
    sweeps: list[pd.DataFrame]
    metric: str

    @property
    def stats(self) -> pd.Series:
        """The out-of-sample statistics of the stitched run."""
        return self.result.stats

    @property
    def equity(self) -> pd.DataFrame:
        return self.result.equity

    def plot(self, **kwargs: Any) -> Any:
        return self.result.plot(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<WalkForwardResult {self.result.strategy}: {len(self.windows)} windows, "
            f"out-of-sample {self.metric} {self.stats[self.metric]:.3g}>"
        )

    def _repr_html_(self) -> str:
        return self.windows._repr_html_()


def _span(name: str, value: Span) -> int | pd.Timedelta | pd.DateOffset:
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r}: use a number of bars or a span such as '90D'")
    if isinstance(value, int | np.integer):
        if value < 1:
            raise ConfigError(f"{name}={value!r}: a window needs at least one bar")
        return int(value)
    if isinstance(value, pd.DateOffset):
        return value
    try:
        span = pd.Timedelta(value)
    except (TypeError, ValueError):
        span = pd.NaT
    if span is pd.NaT or span <= pd.Timedelta(0):
        raise ConfigError(
            f"{name}={value!r}: use a number of bars (e.g. 500), a span such as '90D', or "
            "pd.DateOffset(months=6)"
        )
    return span


def make_windows(
    times: np.ndarray, train: Span, test: Span, anchored: bool = False
) -> list[Window]:
    """The walk over the bar times ``times`` (ns, ascending): test windows back to back from the
    end of the first training window to the last bar; training windows of ``train`` right
    before each (``anchored``: all from the first bar). Bar counts or time spans."""
    tr, te = _span("train", train), _span("test", test)
    if isinstance(tr, int) != isinstance(te, int):
        raise ConfigError(
            f"train={train!r}, test={test!r}: give both as numbers of bars or both as spans"
        )
    if isinstance(tr, int):
        out = _bar_windows(times, tr, te, anchored)  # type: ignore[arg-type]
    else:
        out = _span_windows(times, tr, te, anchored)  # type: ignore[arg-type]
    if not out:
        first, last = (pd.Timestamp(int(t), tz="UTC") for t in (times[0], times[-1]))
        raise ConfigError(
            f"train={train!r}, test={test!r} leave no test window in {len(times)} bars from "
            f"{first} to {last}: use shorter windows or more data"
        )
    return out


def _bar_windows(times: np.ndarray, train: int, test: int, anchored: bool) -> list[Window]:
    n = len(times)

    def edge(i: int) -> int:  # the start of bar i; past the last bar, just after it
        return int(times[i]) if i < n else int(times[-1]) + 1

    return [
        Window(edge(0 if anchored else i - train), edge(i), edge(i + test))
        for i in range(train, n, test)
    ]


def _span_windows(
    times: np.ndarray,
    train: pd.Timedelta | pd.DateOffset,
    test: pd.Timedelta | pd.DateOffset,
    anchored: bool,
) -> list[Window]:
    first = pd.Timestamp(int(times[0]), tz="UTC")
    out, k = [], 0
    while (start := first + train + k * test).value <= times[-1]:
        train_start = first if anchored else start - train
        out.append(Window(train_start.value, start.value, (start + test).value))
        k += 1

    def has_bars(a: int, b: int) -> bool:
        return bool(times.searchsorted(b) > times.searchsorted(a))

    # a window without bars on either side (a gap in the data) is no window
    return [
        w
        for w in out
        if has_bars(w.train_start, w.test_start) and has_bars(w.test_start, w.test_end)
    ]


def run_result(
    frames: Frames, cls: type[Strategy], params: dict, kwargs: dict, start: int, end: int
) -> BacktestResult:
    """One run of ``cls(**params)`` on the bars with start <= time < end, whole result."""
    return BacktestEngine(window(frames, start, end), progress=False, **kwargs).run(cls(**params))


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    filled = [p for p in parts if len(p)]
    return pd.concat(filled, ignore_index=True) if filled else parts[0]


def stitch(tests: list[BacktestResult], frames: Frames, start: int, end: int) -> BacktestResult:
    """One result from back-to-back test runs: each starts flat with the same cash, and its
    equity and cash are shifted by the P&L of the runs before it."""
    first = tests[0]
    offset, curves = 0.0, []
    for r in tests:
        eq = r.equity[["equity", "cash", "gross_exposure"]]
        curves.append(eq.assign(equity=eq["equity"] + offset, cash=eq["cash"] + offset))
        offset += float(r.equity["equity"].iloc[-1]) - r.initial_cash
    out = BacktestResult(
        equity=pd.concat(curves),
        fills=_concat([r.fills for r in tests]),
        orders=_concat([r.orders for r in tests]),
        prices=window(frames, start, end),
        initial_cash=first.initial_cash,
        interval=first.interval,
        strategy=f"{first.strategy} walk-forward",
        params={},
        rejections=_concat([r.rejections for r in tests]),
        elapsed=sum(r.elapsed for r in tests),
    )
    # Round trips stay inside their own window (each starts flat): the cached properties are
    # filled from the runs, not re-matched across windows.
    out.__dict__["trades"] = _concat([r.trades for r in tests])
    out.__dict__["open_positions"] = tests[-1].open_positions
    return out


def walk_forward(
    strategy: type[Strategy],
    data: Any,
    grid: Mapping[str, Iterable[Any]],
    *,
    train: Span,
    test: Span,
    metric: str = "Sharpe ratio",
    anchored: bool = False,
    executor: Executor | str | None = None,
    progress: bool | None = None,
    **backtest_kwargs: Any,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``strategy`` over ``grid``.

    For each window: sweep the grid on the ``train`` bars before it, pick the best ``metric``,
    backtest that choice on the next ``test`` bars. ``train``/``test``: numbers of bars or spans
    ("365D", ``pd.DateOffset(months=6)``); ``anchored`` grows the training window from the
    first bar instead of rolling it. Each test run starts flat with ``cash`` and its indicators
    cold, as a fresh paper run would. ``executor`` as for ``sweep`` (the bars are sent to each
    worker once for all windows); other keywords go to every backtest.
    """
    check_options(
        "walk_forward()",
        backtest_kwargs,
        SWEEP_OPTIONS | {"train", "test", "metric", "anchored", "executor", "progress"},
    )
    check_metric(metric)
    combos = make_grid(strategy, grid)
    frames = load_frames(data)
    times = np.unique(np.concatenate([df.index.asi8 for df in frames.values()]))
    walk = make_windows(times, train, test, anchored=bool(anchored))
    n = len(walk) * (len(combos) + 1)
    bar = progress_bar(n, f"walk-forward {strategy.__name__}", progress)
    try:
        with open_runner(executor, frames, data, n) as runner:
            spans = [(w.train_start, w.test_start) for w in walk]
            sweeps = [
                stats_table(rows, combos, metric)
                for rows in run_grid(runner, strategy, combos, backtest_kwargs, bar, spans)
            ]
            chosen = [_best(t, combos, metric, k) for k, t in enumerate(sweeps)]
            calls = [
                (strategy, p, backtest_kwargs, w.test_start, w.test_end)
                for p, w in zip(chosen, walk)
            ]
            tests = runner.map(run_result, calls, bar)
    finally:
        bar.close()
    result = stitch(tests, frames, walk[0].test_start, walk[-1].test_end)
    windows = _table(chosen, sweeps, tests, metric)
    return WalkForwardResult(result, windows, chosen, tests, sweeps, metric)


def _best(table: pd.DataFrame, combos: list[dict[str, Any]], metric: str, k: int) -> dict[str, Any]:
    """The combination on the table's first row (best metric; NaN sorts last)."""
    key = table.index[0]
    if pd.isna(table[metric].iloc[0]):
        log.warning("window %d: no combination has a %s on its training bars (too few trades or "
                    "bars?); trading the grid's first one", k, metric)  # fmt: skip
    names = list(combos[0])
    values = key if isinstance(key, tuple) else (key,)
    return dict(zip(names, values))


def _table(
    chosen: list[dict[str, Any]],
    sweeps: list[pd.DataFrame],
    tests: list[BacktestResult],
    metric: str,
) -> pd.DataFrame:
    rows = []
    for params, table, res in zip(chosen, sweeps, tests):
        rows.append(
            {
                "train start": table["Start"].iloc[0],
                "train end": table["End"].iloc[0],
                "test start": res.stats["Start"],
                "test end": res.stats["End"],
                **params,
                f"in-sample {metric}": table[metric].iloc[0],
                f"out-of-sample {metric}": res.stats[metric],
            }
        )
    out = pd.DataFrame(rows)
    out.index.name = "window"
    return out
