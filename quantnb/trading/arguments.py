"""The options of ``qn.paper`` / ``qn.live``, checked by name and value before anything starts,
so a typo or a wrong type is a ConfigError naming it, not a TypeError or a failure at start()."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quantnb.domain import checks
from quantnb.domain.interval import Interval
from quantnb.domain.risk import RiskLimits
from quantnb.errors import ConfigError
from quantnb.options import check_options, keyword_names
from quantnb.trading.engine import LiveStrategyEngine
from quantnb.trading.journal import Journal

IB_KEYS = ("host", "port", "client_id", "account", "timeout")


def session_options() -> frozenset[str]:
    """The keyword options ``paper()`` and ``live()`` take (besides interval and gateway)."""
    engine = keyword_names(
        LiveStrategyEngine.__init__, exclude=("self", "paper_trading", "config", "registry_key")
    )
    return engine | {"lookback_days", "sim", *IB_KEYS}


def check_session_args(where: str, interval: Any, config: Mapping[str, Any]) -> None:
    """Raise the quantnb error of the first bad option in ``config`` (or a bad ``interval``)."""
    Interval.parse(interval)  # "" or "5 min" fail here, not as a silent default later
    check_options(where, config, session_options())
    get = config.get
    if get("lookback_days") is not None:  # None: the strategy's warm-up
        checks.setting("lookback_days", get("lookback_days"), "30")
    if get("capacity") is not None:
        checks.setting("capacity", get("capacity"), "2048", above=True, integer=True)
    for name, example in (("group_timeout", "0.5"), ("timeout", "10")):
        if get(name) is not None:
            checks.setting(name, get(name), example, above=True)
    for name in ("allow_short", "enable_reconnect"):
        if name in config:
            checks.flag(name, get(name))
    _of_type(config, "journal", (str, Path, Journal), "a path or a Journal")
    _of_type(config, "journal_dir", (str, Path), "a directory path")
    _of_type(config, "run_id", (str,), "a string")
    _of_type(config, "account", (str,), "an account id string such as 'DU1234567'")
    _of_type(config, "risk", (RiskLimits,), "qn.RiskLimits(...)")
    _of_type(config, "sim", (Mapping,), "a dict of simulator settings, e.g. {'mode': 'manual'}")


def _of_type(config: Mapping[str, Any], name: str, types: tuple[type, ...], what: str) -> None:
    value = config.get(name)
    if value is not None and not isinstance(value, types):
        raise ConfigError(f"{name}={value!r} ({type(value).__name__}): give {what}")
