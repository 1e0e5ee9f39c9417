"""The account values IB reports, computed from the one accounting, and how each is written.

``compute`` gives every value as a number; ``summary_rows`` and ``update_rows`` turn them into the
(tag, text, currency) rows of an account summary (63) and of account updates (6).
"""

from __future__ import annotations

import numpy as np

from quantnb.domain.accounting import Portfolio

# IB's standard account summary tags (AccountSummaryTags.All), in IB's order
SUMMARY_TAGS = (
    "AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash",
    "BuyingPower", "EquityWithLoanValue", "PreviousDayEquityWithLoanValue", "GrossPositionValue",
    "RegTEquity", "RegTMargin", "SMA", "InitMarginReq", "MaintMarginReq", "AvailableFunds",
    "ExcessLiquidity", "Cushion", "FullInitMarginReq", "FullMaintMarginReq", "FullAvailableFunds",
    "FullExcessLiquidity", "LookAheadNextChange", "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq", "LookAheadAvailableFunds", "LookAheadExcessLiquidity",
    "HighestSeverity", "DayTradesRemaining", "Leverage",
)  # fmt: skip
# asked for by name only (ib_async and ib_insync ask for them): day trades left in 1..4 days
DAY_TRADES_AHEAD = tuple(f"DayTradesRemainingT+{k}" for k in range(1, 5))
# per-currency values a "$LEDGER" tag asks for
LEDGER_TAGS = (
    "CashBalance", "TotalCashBalance", "AccruedCash", "StockMarketValue",
    "NetLiquidationByCurrency", "UnrealizedPnL", "RealizedPnL", "ExchangeRate",
)  # fmt: skip
_RATIOS = {"Cushion", "Leverage"}
_COUNTS = {"LookAheadNextChange", "HighestSeverity", "DayTradesRemaining", *DAY_TRADES_AHEAD}
PDT_EQUITY = 25_000.0  # FINRA's pattern day trader minimum
_DAY_TRADES_ALLOWED = 3  # within five business days below that equity


def compute(
    p: Portfolio,
    *,
    margin: bool,
    leverage: float,
    previous_day_equity: float,
    pnl: tuple[float, float],
    day_trades: list[int],
) -> dict[str, float]:
    """Every value IB reports for a stock account. ``day_trades[k]`` counts the day trades that
    still count against the limit ``k`` business days from today."""
    equity, gross, cash = p.equity, p.gross_exposure, p.cash
    if margin:
        # Reg T on stocks: the initial requirement is 1 / leverage of the gross position value
        init = gross / leverage
        maint = gross / (2 * leverage)
        available = equity - init
        buying_power = max(available * leverage, 0.0)
        # IB's SMA also keeps yesterday's unused credit; the simulator keeps only today's excess
        sma = available
    else:
        init = maint = sma = 0.0
        available = cash
        buying_power = max(cash, 0.0)
    excess = equity - maint
    unrealized, realized = pnl
    values = {
        "NetLiquidation": equity,
        "TotalCashValue": cash,
        "SettledCash": cash,  # trades settle at once: T+1 settlement is not modelled
        "AccruedCash": 0.0,  # no interest is charged or paid
        "BuyingPower": buying_power,
        "EquityWithLoanValue": equity,
        "PreviousDayEquityWithLoanValue": previous_day_equity,
        "GrossPositionValue": gross,
        "RegTEquity": equity,
        "RegTMargin": init,
        "SMA": sma,
        "InitMarginReq": init,
        "MaintMarginReq": maint,
        "AvailableFunds": available,
        "ExcessLiquidity": excess,
        "Cushion": excess / equity if equity > 0 else 0.0,
        # margin does not change with the time of day here: nothing to look ahead to (IB: 0)
        "FullInitMarginReq": init,
        "FullMaintMarginReq": maint,
        "FullAvailableFunds": available,
        "FullExcessLiquidity": excess,
        "LookAheadNextChange": 0,
        "LookAheadInitMarginReq": init,
        "LookAheadMaintMarginReq": maint,
        "LookAheadAvailableFunds": available,
        "LookAheadExcessLiquidity": excess,
        # IB's margin-warning level: 0 while the maintenance margin is met; IB's finer levels
        # are not modelled, a deficit is reported as 1 (a warning)
        "HighestSeverity": 0 if excess >= 0 else 1,
        "Leverage": gross / equity if equity > 0 else 0.0,
        "CashBalance": cash,
        "StockMarketValue": p.market_value,
        "UnrealizedPnL": unrealized,
        "RealizedPnL": realized,
    }
    # the pattern-day-trader limit binds margin accounts under $25,000; else IB reports -1
    limited = margin and equity < PDT_EQUITY
    for k, count in enumerate(day_trades):
        tag = "DayTradesRemaining" if k == 0 else f"DayTradesRemainingT+{k}"
        values[tag] = max(_DAY_TRADES_ALLOWED - count, 0) if limited else -1
    return values


def count_day_trades(trades: list[tuple[str, int, str]], today: int) -> list[int]:
    """Day trades counting against the limit today and 1..4 business days ahead.

    ``trades`` are (symbol, trading day as days since the epoch, BOT/SLD) executions; a day
    trade is a symbol bought and sold on one day. Business days are weekdays (holidays ignored).
    """
    days: dict[tuple[str, int], set[str]] = {}
    for symbol, day, side in trades:
        days.setdefault((symbol, day), set()).add(side)
    traded = [day for (_, day), sides in days.items() if len(sides) == 2]
    if not traded:
        return [0] * 5
    ages = np.busday_count(np.array(traded, dtype="datetime64[D]"), np.datetime64(today, "D"))
    return [int(np.sum(ages < 5 - k)) for k in range(5)]


def _text(tag: str, value: float) -> str:
    if tag in _COUNTS:
        return str(int(value))
    if tag in _RATIOS:
        return f"{value:.6f}"
    return f"{value:.2f}"


def _currency(tag: str) -> str:
    return "" if tag in _COUNTS or tag in _RATIOS else "USD"


def summary_rows(
    values: dict[str, float], tags: set[str] | None, account_type: str
) -> list[tuple[str, str, str]]:
    """Rows of an account summary for the requested ``tags`` (None: every standard tag)."""
    wanted = (
        SUMMARY_TAGS if tags is None else [t for t in SUMMARY_TAGS + DAY_TRADES_AHEAD if t in tags]
    )
    rows = [
        (tag, account_type, "")
        if tag == "AccountType"
        else (tag, _text(tag, values[tag]), _currency(tag))
        for tag in wanted
    ]
    if tags is not None and any(t.upper().startswith("$LEDGER") for t in tags):
        rows += _ledger_rows(values, "$LEDGER:ALL" in {t.upper() for t in tags})
    return rows


def by_currency(values: dict[str, float]) -> dict[str, dict[str, float]]:
    """The ledger values per currency as IB reports them: ``BASE`` (everything in USD, the base
    currency), ``USD`` (the dollars alone: stock cash, stocks, futures quoted in USD) and each
    other currency held (its own amount, and USD per unit as ``ExchangeRate``)."""
    others = sorted(k.split(":", 1)[1] for k in values if k.startswith("CashBalance:"))
    others = [c for c in others if c != "USD"]
    cash_usd = values.get("CashBalance:USD", values["CashBalance"])
    foreign = sum(values[f"CashBalance:{c}"] * values[f"ExchangeRate:{c}"] for c in others)
    base = {
        "CashBalance": values["CashBalance"],
        "TotalCashBalance": values["CashBalance"],
        "AccruedCash": values["AccruedCash"],
        "StockMarketValue": values["StockMarketValue"],
        "NetLiquidationByCurrency": values["NetLiquidation"],
        "UnrealizedPnL": values["UnrealizedPnL"],
        "RealizedPnL": values["RealizedPnL"],
        "ExchangeRate": 1.0,
    }
    usd = {
        **base,
        "CashBalance": cash_usd,
        "TotalCashBalance": cash_usd,
        "NetLiquidationByCurrency": values["NetLiquidation"] - foreign,
        "UnrealizedPnL": values.get("UnrealizedPnL:USD", values["UnrealizedPnL"]),
        "RealizedPnL": values.get("RealizedPnL:USD", values["RealizedPnL"]),
    }
    if "FuturesPNL" in values:
        base["FuturesPNL"] = values["FuturesPNL"]
        usd["FuturesPNL"] = values.get("FuturesPNL:USD", values["FuturesPNL"])
    out = {"BASE": base, "USD": usd}
    for c in others:
        amount = values[f"CashBalance:{c}"]
        out[c] = {
            "CashBalance": amount,
            "TotalCashBalance": amount,
            "AccruedCash": 0.0,
            "StockMarketValue": 0.0,
            "NetLiquidationByCurrency": amount,
            "UnrealizedPnL": values.get(f"UnrealizedPnL:{c}", 0.0),
            "RealizedPnL": values.get(f"RealizedPnL:{c}", 0.0),
            "ExchangeRate": values[f"ExchangeRate:{c}"],
        }
        if "FuturesPNL" in values:
            out[c]["FuturesPNL"] = values.get(f"FuturesPNL:{c}", 0.0)
    return out


def _rate_text(rate: float) -> str:
    return f"{rate:.2f}" if rate == 1.0 else f"{rate:.8f}"


def _ledger_rows(values: dict[str, float], all_currencies: bool) -> list[tuple[str, str, str]]:
    """The ``$LEDGER`` rows: the base currency's (in USD), or (``$LEDGER:ALL``) every
    currency's, BASE and USD first."""
    per = by_currency(values)
    if not all_currencies:
        return [(tag, f"{per['BASE'][tag]:.2f}", "USD") for tag in LEDGER_TAGS]
    return [
        (tag, _rate_text(row[tag]) if tag == "ExchangeRate" else f"{row[tag]:.2f}", cur)
        for cur, row in per.items()
        for tag in LEDGER_TAGS
    ]


def update_rows(
    values: dict[str, float], account_id: str, account_type: str
) -> list[tuple[str, str, str]]:
    """Rows of account updates: the summary's values (Leverage as IB's ``Leverage-S``), the
    day trades ahead, cash, exchange rate and P&L per currency (``by_currency``), the account
    code and currency."""
    rows = [
        ("Leverage-S" if tag == "Leverage" else tag, *row)
        for tag, *row in summary_rows(values, None, account_type)
    ]
    rows += [(tag, _text(tag, values[tag]), "") for tag in DAY_TRADES_AHEAD]
    for cur, row in by_currency(values).items():
        rows += [
            (tag, _rate_text(value) if tag == "ExchangeRate" else f"{value:.2f}", cur)
            for tag, value in row.items()
            if tag != "AccruedCash" or cur != "USD"  # the summary's AccruedCash is USD's
        ]
    rows += [("AccountCode", account_id, ""), ("Currency", "USD", "USD")]
    return rows
