"""Instruments beyond US stocks in a backtest: which data key is which instrument, and the
per-bar work they need (FX rates, margin calls, the equity curve with cash per currency).

Nothing here runs for a backtest of plain stocks, whose results stay as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantnb.domain import margin as margin_rules
from quantnb.domain.calendar import trade_dates
from quantnb.domain.instrument import Instrument, Kind, as_instrument, future
from quantnb.domain.model import market_orders
from quantnb.domain.rolls import ROLL_TAG, roll_legs
from quantnb.errors import ConfigError

if TYPE_CHECKING:
    from quantnb.engine.backtest import BacktestEngine

log = logging.getLogger(__name__)

LIQUIDATION_TAG = "margin liquidation"


def rolls_of(data: Any) -> dict[str, list[tuple[str, str, str]]]:
    """The rolls recorded with each continuous series in ``data`` (``attrs["rolls"]``)."""
    out = {}
    if isinstance(data, Mapping):
        for key, df in data.items():
            attrs = getattr(df, "attrs", None)
            if isinstance(attrs, dict) and attrs.get("rolls") is not None:
                name = key.name if isinstance(key, Instrument) else str(key)
                out[name] = list(attrs["rolls"])
    return out


def trade_days(
    instruments: Mapping[str, Instrument], index: pd.DatetimeIndex
) -> dict[str, np.ndarray]:
    """Each tick's trade date (``calendar.trade_dates``) for the futures and FX pairs among
    ``instruments``, one array per calendar shared by its symbols: their DAY orders end with it.
    """
    by_calendar: dict[str, np.ndarray] = {}
    out = {}
    for name, inst in instruments.items():
        if inst.kind in (Kind.FUTURE, Kind.FX):
            days = by_calendar.get(inst.calendar)
            if days is None:
                days = by_calendar[inst.calendar] = trade_dates(inst.calendar, index.asi8)
            out[name] = days
    return out


def split_instruments(
    data: Any, instruments: Iterable[Instrument | str] | None
) -> tuple[Any, dict[str, Instrument]]:
    """``data`` with Instrument keys replaced by their names, and the instruments by name: from
    the keys, from a frame's ``attrs["instrument"]`` and from ``instruments=``."""
    found: dict[str, Instrument] = {}
    if isinstance(data, Mapping):
        renamed = {}
        for key, df in data.items():
            if isinstance(key, Instrument):
                found[key.name] = key
                key = key.name
            elif isinstance(getattr(df, "attrs", None), dict) and isinstance(
                df.attrs.get("instrument"), Instrument
            ):
                found[str(key)] = df.attrs["instrument"]
            renamed[key] = df
        data = renamed
    elif isinstance(getattr(data, "attrs", None), dict):
        inst = data.attrs.get("instrument")
        if isinstance(inst, Instrument):
            data = {inst.name: data}
            found[inst.name] = inst
    for item in instruments or ():
        inst = as_instrument(item)
        found[inst.name] = inst
    # the months a continuous series rolls through are futures, whatever their frames say
    # and take the continuous instrument's margins (qn.with_margin on it sets theirs)
    for name, rolls in rolls_of(data).items():
        cont = found.get(name)
        root = cont.symbol if cont is not None else name
        for _, *months in rolls:
            for m in months:
                inst = found.get(m) or future(root, m.split(" ")[-1])
                if cont is not None:
                    inst = replace(
                        inst,
                        margin_initial=cont.margin_initial,
                        margin_maintenance=cont.margin_maintenance,
                    )
                found[m] = inst
    return data, found


def check_known(instruments: Mapping[str, Instrument], symbols: Iterable[str]) -> None:
    """ConfigError for an instrument with no data, or a currency no FX pair in the data rates."""
    symbols = list(symbols)
    missing = [n for n in instruments if n not in symbols]
    if missing:
        raise ConfigError(
            f"instruments {missing} have no data: the data's keys are {symbols}; key each "
            "frame by the instrument (or its name)"
        )
    pairs = {i.name for i in instruments.values() if i.kind is Kind.FX}
    for inst in instruments.values():
        ccys = {inst.currency} | ({inst.symbol} if inst.kind is Kind.FX else set())
        for ccy in ccys - {"USD"}:
            if f"{ccy}USD" not in pairs and f"USD{ccy}" not in pairs:
                raise ConfigError(
                    f"{inst.name} needs the {ccy}/USD rate: add {ccy}USD or USD{ccy} data "
                    "(e.g. qn.data.sample(qn.fx('USD" + ccy + "')))"
                )


class InstrumentBook:
    """Per bar, after the closes are marked: FX rates from their pairs, the margin check (a
    call is recorded and liquidated by ``quantnb.domain.margin``'s rule), and one row of the
    equity curve with the cash of each currency."""

    def __init__(self, engine: BacktestEngine) -> None:
        self.engine = engine
        self.pf = engine.portfolio
        self.fx = [(s, i) for s, i in self.pf.instruments.items() if i.kind is Kind.FX]
        # continuous futures: (roll time ns, old month, new month) still to come, per name
        self.pending: dict[str, list[tuple[int, str, str]]] = {}
        for name, rolls in engine.rolls.items():
            if not rolls:
                continue
            self.pending[name] = [(pd.Timestamp(t).value, a, b) for t, a, b in rolls]
            self._route(name, rolls[0][1])
        self.has_futures = any(i.kind is Kind.FUTURE for i in self.pf.instruments.values())
        self.rows: list[tuple[float, ...]] = []
        self.calls: list[margin_rules.MarginCall] = []
        self.currencies = list(self.pf.cash_by_currency())

    def _route(self, name: str, month: str) -> None:
        """Orders and the position of the continuous ``name`` are those of ``month`` now."""
        self.engine.ctx._routes[name] = month
        self.pf.positions[name] = self.pf.positions[month]

    def _roll(self, t: int) -> None:
        now = self.engine.clock[t]
        for name, pending in self.pending.items():
            while pending and pending[0][0] <= now:
                _, old, new = pending.pop(0)
                self._route(name, new)
                qty = self.pf.positions[old].qty
                if not qty:
                    continue
                # two recorded orders: close the old month, open the new one, at the next open
                broker, ctx = self.engine.broker, self.engine.ctx
                for order in market_orders(roll_legs(old, new, qty), ROLL_TAG, ctx._next_order_id):
                    broker.execute_order(order)
                broker.settle()
                log.info("%s rolls %g from %s to %s", name, qty, old, new)

    def __call__(self, t: int) -> None:
        pf, row, closes = self.pf, self.engine.ctx._row, self.engine.cols
        if self.pending:
            self._roll(t)
        for s, inst in self.fx:
            if row[s] >= 0:
                pf.set_rate(inst, float(closes[s]["close"][row[s]]))
        for s, p in pf.positions.items():
            if p.qty and row[s] >= 0 and s not in self.pending:
                p.last_price = float(closes[s]["close"][row[s]])
        if self.has_futures:
            self._margin()
        value, gross = pf._value()
        self.rows.append((pf.cash + value, pf.cash, gross, *pf.cash_by_currency().values()))

    def _margin(self) -> None:
        broker = self.engine.broker
        if any(o.tag == LIQUIDATION_TAG for o in broker.open_orders()):
            return  # already being liquidated at the next open
        call = margin_rules.margin_call(self.pf, self.engine.ctx.now)
        if call is None:
            return
        self.calls.append(call)
        log.warning("margin call at %s: equity %.2f below maintenance %.2f; liquidating %s",
                    call.time, call.equity, call.maintenance, call.liquidate)  # fmt: skip
        for order in market_orders(call.liquidate, LIQUIDATION_TAG, self.engine.ctx._next_order_id):
            broker.execute_order(order)
        broker.settle()

    def equity_frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        data = np.array(self.rows, dtype=np.float64).reshape(len(self.rows), -1)
        return pd.DataFrame(
            {"equity": data[:, 0], "cash": data[:, 1], "gross_exposure": data[:, 2]},
            index=index,
        )

    def cash_frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Cash in each currency per bar (columns: currencies, the base first)."""
        data = np.array(self.rows, dtype=np.float64).reshape(len(self.rows), -1)
        return pd.DataFrame(data[:, 3:], index=index, columns=self.currencies)

    def margin_frame(self) -> pd.DataFrame:
        cols = ["time", "equity", "maintenance", "shortfall", "liquidate"]
        return pd.DataFrame(
            [(c.time, c.equity, c.maintenance, c.shortfall, c.liquidate) for c in self.calls],
            columns=cols,
        )
