"""``sample`` for instruments beyond stocks: futures months, continuous futures, FX pairs and
indices, each frame keyed by the instrument's name with ``attrs["instrument"]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from quantnb.data import futures
from quantnb.domain.calendar import fx_sessions
from quantnb.domain.instrument import Instrument, Kind
from quantnb.domain.interval import Interval
from quantnb.errors import ConfigError


def has_instruments(symbols: Any) -> bool:
    items = [symbols] if isinstance(symbols, str | Instrument) else symbols
    try:
        return any(isinstance(s, Instrument) for s in items)
    except TypeError:
        return False


def sample_instruments(
    symbols: Any,
    interval: Any,
    start: Any,
    end: Any,
    seed: int,
    bars: int | None,
    adjust: str | None,
    roll: str,
    roll_days: int,
    stocks: Callable[..., dict[str, pd.DataFrame]],
) -> dict[str, pd.DataFrame]:
    items: Iterable[Any] = [symbols] if isinstance(symbols, str | Instrument) else symbols
    iv = Interval.parse(interval)
    out: dict[str, pd.DataFrame] = {}
    for item in items:
        if not isinstance(item, Instrument) or item.kind is Kind.STOCK:
            name = item.name if isinstance(item, Instrument) else item
            out.update(stocks(name, iv, start, end, seed, bars))
        elif item.kind is Kind.INDEX:
            df = stocks(item.name, iv, start, end, seed, bars)[item.name]
            df.attrs["instrument"] = item
            out[item.name] = df
        elif item.kind is Kind.FX:
            out[item.name] = _fx(item, iv, start, end, seed, bars)
        else:
            out.update(_future(item, iv, start, end, seed, adjust, roll, roll_days))
    return out


def _fx(inst: Instrument, iv: Interval, start: Any, end: Any, seed: int, bars: int | None):
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end) if end is not None else lo + pd.Timedelta(days=3650)
    if not iv.is_intraday:
        days = pd.bdate_range(lo.normalize(), hi.normalize())
        index = pd.DatetimeIndex(days).tz_localize("UTC").as_unit("ns")
    else:
        s = fx_sessions(lo, hi)
        step = iv.seconds * 10**9
        times = np.concatenate(
            [np.arange(a, b, step) for a, b in zip(s.open, s.close, strict=True)]
        )
        index = pd.DatetimeIndex(times.view("datetime64[ns]")).tz_localize("UTC")
    if bars is not None:
        index = index[:bars]
    frame = futures.sample_fx(inst.name, index.rename("time"), seed)
    frame.attrs["interval"] = iv.name
    return frame


def _future(
    inst: Instrument,
    iv: Interval,
    start: Any,
    end: Any,
    seed: int,
    adjust: str | None,
    roll: str,
    roll_days: int,
) -> dict[str, pd.DataFrame]:
    if iv.name != "1d":
        raise ConfigError(f"futures samples are daily bars: sample({inst.name!r}, interval='1d')")
    months = futures.sample_months(inst.symbol, start, end or "2023-12-31", seed)
    if not inst.continuous:
        if inst.name not in months:
            raise ConfigError(
                f"{inst.name} does not trade from {start} to {end}: the months then are "
                f"{list(months)}"
            )
        return {inst.name: months[inst.name]}
    if adjust is None:
        raise ConfigError(
            f"sample({inst.name!r}) is a continuous future: choose how its rolls are adjusted, "
            "adjust='difference', 'ratio' or 'none'"
        )
    series = futures.continuous_series(months, adjust, roll, roll_days)
    used = {n for _, a, b in series.attrs["rolls"] for n in (a, b)} or {next(iter(months))}
    return {inst.name: series, **{n: df for n, df in months.items() if n in used}}
