"""Round trips from fills: FIFO matching of closing quantities against open lots, per symbol."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantnb.errors import DataError
from quantnb.results.frames import _col, _frame, _text_dtype

log = logging.getLogger(__name__)

TRADE_COLUMNS = [
    "symbol",
    "direction",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "qty",
    "pnl",
    "gross_pnl",
    "return",
    "commission",
    "duration",
]
LOT_COLUMNS = ["symbol", "direction", "entry_time", "entry_price", "qty", "commission"]
FILL_COLUMNS = ["time", "symbol", "side", "qty", "price", "commission"]

# Quantities below this fraction of the fill or lot size are float residue, not shares.
_REL_TOL = 1e-9


@dataclass(slots=True)
class _Lot:
    time: pd.Timestamp | int  # int: nanoseconds since the epoch (UTC)
    price: float
    qty: float  # still open
    commission: float  # entry commission not yet charged to a trade
    sign: int  # +1 long, -1 short


def _direction(sign: int) -> str:
    return "long" if sign > 0 else "short"


def _clean(fills: pd.DataFrame) -> pd.DataFrame:
    """Check the fill columns and values; return the fills in (stable) time order."""
    missing = [c for c in FILL_COLUMNS if c not in fills.columns]
    if missing:
        raise DataError(f"fills lack columns {missing}; they need {FILL_COLUMNS}")
    side = fills["side"]
    upper = not side.isin(("BUY", "SELL")).all()  # else already as wanted (a backtest's fills)
    if upper:
        side = side.astype(str).str.upper()
        bad_side = sorted(set(side[~side.isin(["BUY", "SELL"])]))
        if bad_side:
            raise DataError(f"fills have unknown side values {bad_side}; use 'BUY' or 'SELL'")
    qty = fills["qty"].to_numpy(dtype=float)
    if not (np.isfinite(qty) & (qty > 0)).all():
        raise DataError(f"fills need positive quantities, got {qty[~(qty > 0)].tolist()}")
    price = fills["price"].to_numpy(dtype=float)
    if not np.isfinite(price).all():
        raise DataError("fills contain NaN or infinite prices")
    commission = fills["commission"].to_numpy(dtype=float)
    missing = np.isnan(commission)
    floats = all(fills[c].dtype == np.float64 for c in ("qty", "price", "commission"))
    if not upper and floats and not missing.any():
        out = fills  # nothing to change: read, never written
    else:
        commission = np.where(missing, 0.0, commission)
        out = fills.assign(side=side, qty=qty, price=price, commission=commission)
    if out["time"].is_monotonic_increasing:
        return out  # already in order: a stable sort would keep it as it is
    return out.sort_values("time", kind="mergesort")


def _ns_times(fills: pd.DataFrame) -> bool:
    """Whether the fill times are UTC nanoseconds, so they can be matched as plain integers."""
    dtype = fills["time"].dtype
    return isinstance(dtype, pd.DatetimeTZDtype) and dtype.unit == "ns" and str(dtype.tz) == "UTC"


def _paired(cols: pd.DataFrame) -> dict[str, Any] | None:
    """The trade columns ``_match`` makes, computed on arrays, when every fill of each symbol
    opens from flat or closes exactly what is held (entries and exits alternate with equal
    quantities: the usual run of market orders); None otherwise. Times and durations are
    integer nanoseconds in arrays.

    The arithmetic is ``_match``'s, operation for operation, so the figures are identical.
    """
    groups, symbol_of = _symbol_rows(cols["symbol"])
    sign = np.where(np.asarray(cols["side"].array == "BUY", dtype=bool), 1, -1)
    qty = cols["qty"].to_numpy(dtype=np.float64)
    pairs = []
    for idx in groups:
        entry, exit_ = idx[0 : len(idx) - 1 : 2], idx[1::2]
        if (sign[entry] == sign[exit_]).any() or (qty[entry] != qty[exit_]).any():
            return None
        pairs.append((entry, exit_))
    entry = np.concatenate([e for e, _ in pairs])
    exit_ = np.concatenate([x for _, x in pairs])
    by_exit = np.argsort(exit_, kind="stable")  # trades come in the order of their exits
    entry, exit_ = entry[by_exit], exit_[by_exit]
    times = cols["time"].array.asi8
    price = cols["price"].to_numpy(dtype=np.float64)
    comm = cols["commission"].to_numpy(dtype=np.float64)
    lot_sign, lot_price, take = sign[entry], price[entry], qty[exit_]
    gross = lot_sign * (price[exit_] - lot_price) * take
    commission = comm[entry] + comm[exit_]
    net = gross - commission
    notional = lot_price * take
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(notional != 0, net / notional, np.nan)
    directions = pd.array(["long", "short"], dtype=_text_dtype())
    return {
        "symbol": symbol_of(exit_),
        "direction": directions.take(np.where(lot_sign > 0, 0, 1)),
        "entry_time": times[entry],
        "exit_time": times[exit_],
        "entry_price": lot_price,
        "exit_price": price[exit_],
        "qty": take,
        "pnl": net,
        "gross_pnl": gross,
        "return": returns,
        "commission": commission,
        "duration": times[exit_] - times[entry],
    }


def _symbol_rows(column: pd.Series) -> tuple[list[np.ndarray], Callable[[np.ndarray], Any]]:
    """The rows of each symbol, in order of first appearance, and a function giving the
    symbols of some rows as a column of the trades table. Text symbols are told apart by
    codes (never made objects one by one); others, missing ones among them, as objects."""
    codes, names = pd.factorize(column.array)
    if names.dtype == _text_dtype() and not (codes < 0).any():

        def by_code(rows: np.ndarray) -> Any:
            return names.take(codes[rows])

        return [np.flatnonzero(codes == k) for k in range(len(names))], by_code
    objects = column.to_numpy(dtype=object)

    def as_objects(rows: np.ndarray) -> Any:
        return objects[rows].tolist()

    return [np.flatnonzero(objects == s) for s in dict.fromkeys(objects.tolist())], as_objects


def _match(
    fills: pd.DataFrame, cols: pd.DataFrame | None = None
) -> tuple[dict[str, list], dict[str, deque[_Lot]], bool]:
    """Walk the fills once, closing FIFO against open lots; return the trade columns, the open
    book and whether times are integer nanoseconds (UTC) rather than Timestamps. ``cols``:
    the fills already through ``_clean``."""
    book: dict[str, deque[_Lot]] = {}
    out: dict[str, list] = {c: [] for c in TRADE_COLUMNS}
    (symbols, directions, entry_times, exit_times, entry_prices, exit_prices, qtys, pnls,
     grosses, returns, commissions, durations) = out.values()  # fmt: skip
    cols = _clean(fills) if cols is None else cols
    as_ns = _ns_times(cols)
    times = cols["time"].array.asi8.tolist() if as_ns else cols["time"]
    for time, symbol, side, qty, price, comm in zip(
        times,
        cols["symbol"].tolist(),
        cols["side"].tolist(),
        cols["qty"].tolist(),
        cols["price"].tolist(),
        cols["commission"].tolist(),
    ):
        sign = 1 if side == "BUY" else -1
        lots = book.get(symbol)
        if lots is None:
            lots = book[symbol] = deque()
        left, comm_left = float(qty), float(comm)
        tol = _REL_TOL * left
        while left > tol and lots and lots[0].sign != sign:
            lot = lots[0]
            take = min(left, lot.qty)
            lot_done = lot.qty - take <= _REL_TOL * lot.qty
            fill_done = left - take <= tol
            # Charge whole remainders when a side is used up, so commissions add up exactly.
            entry_comm = lot.commission if lot_done else lot.commission * take / lot.qty
            exit_comm = comm_left if fill_done else comm_left * take / left
            gross = lot.sign * (price - lot.price) * take
            commission = entry_comm + exit_comm
            net = gross - commission
            notional = lot.price * take
            symbols.append(symbol)
            directions.append(_direction(lot.sign))
            entry_times.append(lot.time)
            exit_times.append(time)
            entry_prices.append(lot.price)
            exit_prices.append(float(price))
            qtys.append(take)
            pnls.append(net)
            grosses.append(gross)
            returns.append(net / notional if notional else np.nan)
            commissions.append(commission)
            durations.append(time - lot.time)
            lot.qty -= take
            lot.commission -= entry_comm
            left -= take
            comm_left -= exit_comm
            if lot_done:
                lots.popleft()
        if left > tol:
            lots.append(_Lot(time, float(price), left, comm_left, sign))
    return out, book, as_ns


def _utc_ns(values: list[int] | np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.array(values, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


def _typed(frame: pd.DataFrame, times: list[str]) -> pd.DataFrame:
    for col in times:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """Closed trades, one row per FIFO match of an exit quantity against an entry lot.

    ``pnl`` is net of the entry's pro-rata and the exit's pro-rata commission; ``return`` is
    ``pnl`` over the entry notional. Positions still open at the end are not trades.
    """
    if len(fills) == 0:
        return _empty_trades()
    cols = _clean(fills)
    columns = _paired(cols) if _ns_times(cols) else None
    if columns is not None:
        as_ns = True
    else:
        columns, _, as_ns = _match(fills, cols)
    if not len(columns["symbol"]):
        return _empty_trades()
    if as_ns:
        # each column as the array pandas would infer from it, so none is inferred here
        text = _text_dtype()
        for name in TRADE_COLUMNS:
            if isinstance(columns[name], list) and "time" not in name and name != "duration":
                columns[name] = _col(columns[name], text)
        columns["entry_time"] = _utc_ns(columns["entry_time"]).array
        columns["exit_time"] = _utc_ns(columns["exit_time"]).array
        columns["duration"] = pd.array(np.array(columns["duration"], dtype=np.int64).view("m8[ns]"))
        return _frame(columns, TRADE_COLUMNS)
    out = _typed(pd.DataFrame(columns, columns=TRADE_COLUMNS), ["entry_time", "exit_time"])
    out["duration"] = pd.to_timedelta(out["duration"])
    return out


def open_lots(fills: pd.DataFrame) -> pd.DataFrame:
    """Lots still open after the last fill (FIFO), with their unallocated entry commission."""
    if len(fills) == 0:
        return _empty_lots()
    _, book, as_ns = _match(fills)
    rows = [
        {
            "symbol": symbol,
            "direction": _direction(lot.sign),
            "entry_time": pd.Timestamp(lot.time, tz="UTC") if as_ns else lot.time,
            "entry_price": lot.price,
            "qty": lot.qty,
            "commission": lot.commission,
        }
        for symbol, lots in book.items()
        for lot in lots
    ]
    if not rows:
        return _empty_lots()
    out = pd.DataFrame(rows, columns=LOT_COLUMNS)
    return _typed(out, ["entry_time"]).sort_values("entry_time", kind="mergesort")


def _empty_trades() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=float) for c in TRADE_COLUMNS})
    out["symbol"] = out["symbol"].astype(object)
    out["direction"] = out["direction"].astype(object)
    out["entry_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    out["exit_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    out["duration"] = pd.Series(dtype="timedelta64[ns]")
    return out


def _empty_lots() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=float) for c in LOT_COLUMNS})
    out["symbol"] = out["symbol"].astype(object)
    out["direction"] = out["direction"].astype(object)
    out["entry_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return out
