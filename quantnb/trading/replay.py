"""Rerun a live run's strategy as a backtest over exactly the bars the run saw.

The backtest gets every journaled bar (the history the run started from and the bars it
traded on), but ``on_data`` is called only at the times, and with the symbols, the live run
handed to it: the strategy sees the same history and decides on the same bars. Orders are
filled by the backtest's model (next bar's open, with the session's cost model).
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from quantnb.domain.costs import CostModel
from quantnb.domain.instrument import Instrument
from quantnb.domain.risk import RiskLimits
from quantnb.engine.backtest import BacktestEngine
from quantnb.engine.context import BarView, Context
from quantnb.engine.strategy import Strategy
from quantnb.errors import ConfigError
from quantnb.results import BacktestResult
from quantnb.trading.bar_log import Replay, replay_bars
from quantnb.trading.continuous import replay_frames, roll_fills
from quantnb.trading.journal import Journal
from quantnb.trading.judge import PaperComparison, compare_results
from quantnb.trading.result import open_journal, paper_result

logger = logging.getLogger(__name__)


class _OnLiveBars(Strategy):
    """Hands ``on_data`` to the wrapped strategy only for the groups the live run handed it."""

    def __init__(self, inner: Strategy, replay: Replay) -> None:
        self._inner = inner
        self._groups = {t.value: symbols for t, symbols in replay.groups.items()}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def params(self) -> dict[str, Any]:
        return self._inner.params

    def initialize(self, ctx: Context) -> None:
        self._inner.initialize(ctx)
        # scheduled decisions too run only on the live run's bars: those due on the history it
        # started from were past for it
        groups = self._groups
        ctx._schedules = [(rule, _on_live_bars(fn, groups)) for rule, fn in ctx._schedules or ()]

    def on_data(self, ctx: Context, data: BarView) -> None:
        symbols = self._groups.get(ctx.now.value)
        if symbols is None:
            return
        present = tuple(s for s in symbols if s in data)
        self._inner.on_data(ctx, data if len(present) == len(data) else BarView(ctx, present))

    def on_fill(self, ctx: Context, fill: Any) -> None:
        self._inner.on_fill(ctx, fill)

    def finalize(self, ctx: Context) -> None:
        self._inner.finalize(ctx)


def _on_live_bars(fn: Callable[[Context], Any], groups: dict[int, Any]) -> Callable[..., Any]:
    def scheduled(ctx: Context) -> Any:
        return fn(ctx) if ctx.now.value in groups else None

    return scheduled


def fresh_copy(strategy: Strategy) -> Strategy:
    """A new instance of ``strategy``'s class with the same constructor arguments (read from
    the attributes of the same names), else a deep copy; ``initialize`` resets the rest."""
    cls = type(strategy)
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        args, positional, complete = {}, [], True
        for name, p in list(sig.parameters.items())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if hasattr(strategy, name):
                value = getattr(strategy, name)
                if p.kind is p.POSITIONAL_ONLY:
                    positional.append(value)
                else:
                    args[name] = value
            elif p.default is p.empty:
                complete = False
        if complete:
            try:
                return cls(*positional, **args)
            except Exception as exc:
                logger.info("%s(**%r) failed (%s); using a deep copy", cls.__name__, args, exc)
    try:
        return copy.deepcopy(strategy)
    except Exception as exc:
        raise ConfigError(
            f"cannot make a fresh {cls.__name__} to replay the run ({exc}): pass one, e.g. "
            f"compare(strategy={cls.__name__}(...))"
        ) from exc


def replay_backtest(
    strategy: Strategy,
    replay: Replay,
    *,
    cash: float,
    costs: CostModel,
    interval: str,
    risk: RiskLimits | None = None,
    allow_short: bool = False,
    instruments: Mapping[str, Instrument] | None = None,
    journal: Journal | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` over the journaled bars, deciding only on the live run's bars.

    ``instruments``: the run's futures and FX by name; a continuous future's bars are split
    into the months the run streamed and rolled where it rolled (``trading.continuous``; its
    ``journal`` gives the prices its rolls filled at)."""
    if not replay.groups:
        raise ConfigError(
            "the journal holds no bars the strategy traded on: the run handed it none yet, or "
            "it was journaled before bars were (nothing to replay)"
        )
    frames, found, rolls = dict(replay.frames), dict(instruments or {}), {}
    if any(i.continuous for i in found.values()):
        frames, found, rolls = replay_frames(
            frames, replay.live_times_of(), found, roll_fills(journal)
        )
    engine = BacktestEngine(
        frames,
        cash=cash,
        commission=costs.commission_model,
        slippage=costs.slippage_model,
        risk=risk,
        allow_short=allow_short,
        interval=interval,
        progress=False,
        instruments={n: i for n, i in found.items() if n in frames},
        rolls=rolls,
    )
    return engine.run(_OnLiveBars(strategy, replay))


def compare_paper(
    journal: Journal | str | Path,
    strategy: Strategy,
    costs: CostModel,
    *,
    risk: RiskLimits | None = None,
    allow_short: bool = False,
    instruments: Mapping[str, Instrument] | None = None,
) -> PaperComparison:
    """The paper run journaled in ``journal`` beside a fresh copy of ``strategy`` backtested
    on the same bars with the same costs (see ``judge.compare_results``)."""
    journal = open_journal(journal)
    live = paper_result(journal)
    backtest = replay_backtest(
        fresh_copy(strategy),
        replay_bars(journal.bars()),
        cash=live.initial_cash,
        costs=costs,
        interval=live.interval,
        risk=risk,
        allow_short=allow_short,
        instruments=instruments,
        journal=journal,
    )
    return compare_results(live, backtest)
