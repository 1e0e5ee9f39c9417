"""Round trips of futures and FX in the account's currency: points × multiplier, and an FX
pair's quote-currency P&L converted at the exit price when the account's currency is its base."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from quantnb.domain.instrument import Instrument, Kind


def in_account_currency(
    trades: pd.DataFrame, instruments: Mapping[str, Instrument], base: str = "USD"
) -> pd.DataFrame:
    """``trades`` (from ``round_trips``) with ``gross_pnl``, ``pnl`` and ``return`` of futures
    and FX rows in ``base``; stock rows unchanged."""
    if trades.empty or not instruments:
        return trades
    out = trades.copy()
    for i, row in out.iterrows():
        inst = instruments.get(row["symbol"])
        if inst is None:
            continue
        factor = 1.0
        if inst.kind is Kind.FUTURE:
            factor = inst.multiplier
        elif inst.kind is Kind.FX and inst.symbol == base:
            factor = 1.0 / row["exit_price"]  # USDJPY: P&L in JPY, at the exit's rate
        if factor == 1.0:
            continue
        gross = row["gross_pnl"] * factor
        out.at[i, "gross_pnl"] = gross
        out.at[i, "pnl"] = gross - row["commission"]
        out.at[i, "return"] = (gross - row["commission"]) / (
            abs(row["qty"] * row["entry_price"]) * factor
        )
    return out
