"""An ``IDataFeed`` over in-memory frames: what the backtest engine reads history from.

Without data it serves deterministic sample bars for whatever symbols are asked, so a feed works
offline with no setup.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from quantnb.data.load import load_frames
from quantnb.data.resample import infer_interval, resample
from quantnb.data.sample import sample, time_bounds
from quantnb.domain.interval import Interval
from quantnb.errors import DataError

log = logging.getLogger(__name__)

TimeArg = datetime | str | None


class HistoricalDataFeed:
    """Historical bars from a dict of frames (or anything ``load`` accepts), sliced and resampled.

    With ``data=None`` each requested (symbol, interval) is generated once by ``sample`` over
    ``[start, end]`` with ``seed`` and cached.
    """

    def __init__(
        self,
        data: pd.DataFrame | dict[str, pd.DataFrame] | str | None = None,
        *,
        seed: int = 0,
        start: TimeArg = "2020-01-01",
        end: TimeArg = "2023-12-31",
    ) -> None:
        self._synthetic = data is None
        self._seed, self._start, self._end = seed, start, end
        self._stored: dict[str, pd.DataFrame] = {}
        if data is not None:
            self._stored = load_frames(data)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols held (for a synthetic feed: those generated so far)."""
        if self._synthetic:
            return tuple(dict.fromkeys(sym for sym, _ in self._cache))
        return tuple(self._stored)

    def get_historical_data(
        self, symbol: str, start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> pd.DataFrame:
        """Bars of ``symbol`` with ``start <= time <= end`` (an end at midnight: that whole day)."""
        frame = self._frame(symbol, Interval.parse(interval))
        lo, stop = time_bounds(start, end)
        index = frame.index
        first = 0 if lo is None else index.searchsorted(lo, side="left")
        last = len(index) if stop is None else index.searchsorted(stop, side="left")
        out = frame.iloc[first:last]
        out.attrs = dict(frame.attrs)
        return out

    def get_multiple_symbols(
        self, symbols: Iterable[str], start: TimeArg, end: TimeArg, interval: str = "1d"
    ) -> dict[str, pd.DataFrame]:
        """``get_historical_data`` for each symbol, keyed in the order given."""
        if isinstance(symbols, str):
            symbols = [symbols]
        return {s: self.get_historical_data(s, start, end, interval) for s in symbols}

    def get_ticker_info(self, symbol: str) -> dict[str, Any]:
        """Contract facts (US stock on SMART) and the span of bars held for ``symbol``."""
        frame = self._base(symbol, Interval.parse("1d"))
        return {
            "symbol": symbol,
            "sec_type": "STK",
            "exchange": "SMART",
            "currency": "USD",
            "interval": frame.attrs.get("interval"),
            "first_bar": frame.index[0] if len(frame) else None,
            "last_bar": frame.index[-1] if len(frame) else None,
            "bars": len(frame),
        }

    def _base(self, symbol: str, interval: Interval) -> pd.DataFrame:
        """The stored frame of ``symbol`` (synthetic: generated at ``interval``)."""
        if self._synthetic:
            key = (symbol, interval.name)
            if key not in self._cache:
                log.debug("generating sample bars for %s at %s", symbol, interval)
                self._cache[key] = sample(
                    symbol, interval, start=self._start, end=self._end, seed=self._seed
                )[symbol]
            return self._cache[key]
        if symbol not in self._stored:
            raise self._unknown(symbol)
        return self._stored[symbol]

    def _frame(self, symbol: str, interval: Interval) -> pd.DataFrame:
        base = self._base(symbol, interval)
        if self._synthetic:
            return base
        stored = infer_interval(base)
        if stored is not None and interval == stored:
            return base
        key = (symbol, interval.name)
        if key not in self._cache:
            self._cache[key] = resample(base, interval)  # raises on a finer interval
        return self._cache[key]

    def _unknown(self, symbol: str) -> DataError:
        known = list(self._stored)
        close = difflib.get_close_matches(str(symbol), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return DataError(
            f"unknown symbol {symbol!r}; this feed holds {', '.join(known[:20])}.{hint} "
            "Add its bars to the feed's data"
        )
