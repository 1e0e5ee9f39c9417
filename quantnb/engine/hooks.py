"""Newcomer mistakes in a strategy's hooks, said before a run instead of a silent run.

A strategy written for another library (backtesting.py's ``init``/``next``, backtrader's
``next``, zipline's ``handle_data``, QuantConnect's ``Initialize``/``OnData``) runs without error
in quantnb and never trades: quantnb calls only ``initialize``, ``on_data``, ``on_fill`` and
``finalize``. ``check_hooks`` warns (``StrategyHookWarning``) naming the hooks to use instead.
"""

from __future__ import annotations

import inspect
import warnings

from quantnb.engine.strategy import Strategy
from quantnb.errors import StrategyHookWarning

# another library's hook name -> (the quantnb hook that does its job, where the name comes from)
FOREIGN_HOOKS: dict[str, tuple[str, str]] = {
    "init": ("initialize", "backtesting.py"),
    "Initialize": ("initialize", "QuantConnect"),
    "prenext": ("on_data", "backtrader"),
    "next": ("on_data", "backtesting.py and backtrader"),
    "handle_data": ("on_data", "zipline"),
    "OnData": ("on_data", "QuantConnect"),
    "onData": ("on_data", "other libraries"),
    "on_bar": ("on_data", "other libraries"),
    "notify_order": ("on_fill", "backtrader"),
    "notify_trade": ("on_fill", "backtrader"),
    "OnOrderEvent": ("on_fill", "QuantConnect"),
}

# quantnb's hooks and the arguments each is called with, after self
HOOKS: dict[str, tuple[str, ...]] = {
    "initialize": ("ctx",),
    "on_data": ("ctx", "data"),
    "on_fill": ("ctx", "fill"),
    "finalize": ("ctx",),
}

SIGNATURES = {
    "initialize": "initialize(self, ctx)",
    "on_data": "on_data(self, ctx, data)",
    "on_fill": "on_fill(self, ctx, fill)",
    "finalize": "finalize(self, ctx)",
}


def hook_problems(strategy: Strategy) -> list[str]:
    """What is wrong with ``strategy``'s hooks, one sentence each (empty when nothing is)."""
    cls = type(strategy)
    problems = []
    for name, (ours, where) in FOREIGN_HOOKS.items():
        if not callable(getattr(cls, name, None)) or _overrides(cls, ours):
            continue
        problems.append(
            f"{cls.__name__}.{name}() is {where}'s hook, which quantnb never calls: "
            f"define {SIGNATURES[ours]} instead"
        )
    for name, args in HOOKS.items():
        if not _overrides(cls, name):
            continue
        try:
            inspect.signature(getattr(strategy, name)).bind(*args)
        except TypeError:
            problems.append(
                f"{cls.__name__}.{name}{_signature(strategy, name)} cannot be called as "
                f"{SIGNATURES[name]}: quantnb passes it {', '.join(args)}"
            )
        except ValueError:  # no signature to read (a builtin): let the call decide
            continue
    return problems


def check_hooks(strategy: Strategy) -> None:
    """Warn (``StrategyHookWarning``) about each hook problem of ``strategy`` (see
    ``hook_problems``); called where a backtest or a live run starts."""
    problems = hook_problems(strategy)
    if problems:
        warnings.warn(
            f"{'; '.join(problems)}. quantnb calls initialize(self, ctx) once at the start, "
            "on_data(self, ctx, data) on every bar, on_fill(self, ctx, fill) and "
            "finalize(self, ctx)",
            StrategyHookWarning,
            stacklevel=2,
        )


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name, None) is not getattr(Strategy, name, None)


def _signature(strategy: Strategy, name: str) -> str:
    try:
        return str(inspect.signature(getattr(type(strategy), name)))
    except (TypeError, ValueError):
        return "(...)"
