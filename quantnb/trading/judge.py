"""Judge a paper run against the backtest of the same strategy on the same bars.

Three tables: the decisions (orders) side by side and which differ; each live fill against the
backtest's model of it (realized slippage and commission vs modelled); and the P&L of both runs
over the run's bars with the drift between them. Plain frame logic, so it can be checked on
hand-made frames; ``PaperComparison`` holds the tables and shows them in a notebook.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantnb.domain.model import DONE_STATES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from quantnb.results import BacktestResult

logger = logging.getLogger(__name__)

DECISION_COLUMNS = [
    "time",
    "symbol",
    "side",
    "live_qty",
    "backtest_qty",
    "live_status",
    "backtest_status",
    "live_filled",
    "backtest_filled",
    "live_order_id",
    "backtest_order_id",
    "difference",
]
FILL_COST_COLUMNS = [
    "time",
    "order_id",
    "symbol",
    "side",
    "qty",
    "price",
    "model_price",
    "reference",
    "slippage",
    "model_slippage",
    "slippage_bps",
    "model_slippage_bps",
    "commission",
    "model_commission",
    "extra_cost",
]
DRIFT_COLUMNS = ["live_pnl", "backtest_pnl", "drift"]
_DONE = {str(s) for s in DONE_STATES}
_TOL = 1e-9


def match_decisions(live: pd.DataFrame, backtest: pd.DataFrame) -> pd.DataFrame:
    """Orders of both runs paired by (bar time, symbol, side) in the order they were made.

    ``difference``: "" when both made the order alike; "live only" / "backtest only"; "qty"
    when the quantities differ; "filled" when both orders are done but filled different
    quantities (e.g. rejected live, filled in the backtest). Orders still working at the end
    in either run are not judged by their fill.
    """
    keys = ["time", "symbol", "side", "n"]
    right = {tuple(r[k] for k in keys): r for r in _keyed(backtest, "backtest")}
    rows = []
    for row in _keyed(live, "live"):
        rows.append({**row, **right.pop(tuple(row[k] for k in keys), {})})
    rows += right.values()
    both = pd.DataFrame(rows, columns=[*keys, *DECISION_COLUMNS[3:-1]])
    both["time"] = pd.to_datetime(both["time"], utc=True)
    for col in ("live_qty", "backtest_qty", "live_filled", "backtest_filled"):
        both[col] = both[col].astype(float)
    both["difference"] = [_difference(r) for r in both.itertuples(index=False)]
    both = both.sort_values(keys, kind="mergesort").reset_index(drop=True)
    return both[DECISION_COLUMNS]


def _keyed(orders: pd.DataFrame, prefix: str) -> list[dict]:
    """One record per order keyed by bar time, symbol, side and its number on that key."""
    seen: dict[tuple, int] = {}
    out = []
    for o in orders.itertuples(index=False):
        key = (pd.Timestamp(o.created), str(o.symbol), str(o.side).upper())
        n = seen[key] = seen.get(key, -1) + 1
        out.append(
            {"time": key[0], "symbol": key[1], "side": key[2], "n": n,
             f"{prefix}_qty": float(o.qty), f"{prefix}_status": str(o.status),
             f"{prefix}_filled": float(o.filled), f"{prefix}_order_id": str(o.order_id)}
        )  # fmt: skip
    return out


def _difference(r) -> str:
    if pd.isna(r.backtest_qty):
        return "live only"
    if pd.isna(r.live_qty):
        return "backtest only"
    if abs(r.live_qty - r.backtest_qty) > _TOL * max(1.0, abs(r.live_qty)):
        return "qty"
    done = r.live_status in _DONE and r.backtest_status in _DONE
    if done and abs(r.live_filled - r.backtest_filled) > _TOL * max(1.0, abs(r.live_qty)):
        return "filled"
    return ""


def fill_costs(
    live_fills: pd.DataFrame, backtest_fills: pd.DataFrame, decisions: pd.DataFrame
) -> pd.DataFrame:
    """Each live fill against the backtest's fill of the same decision (qty-weighted).

    ``reference`` is the price the model starts from (the backtest's price before its modelled
    slippage, the next bar's open for a market order); ``slippage`` is the live price's adverse
    distance from it per share, ``model_slippage`` the backtest's; ``*_bps`` are per reference.
    ``model_commission`` is the backtest's commission for the same quantity; ``extra_cost`` is
    what the live fill cost beyond the model: (price − model price) × qty adverse + commission
    − modelled commission. NaN where the backtest did not fill the decision.
    """
    pairs = decisions.dropna(subset=["live_order_id", "backtest_order_id"])
    to_bt = dict(zip(pairs["live_order_id"], pairs["backtest_order_id"], strict=True))
    model = _per_order(backtest_fills)
    rows = []
    for f in live_fills.itertuples(index=False):
        sign = 1.0 if str(f.side).upper() == "BUY" else -1.0
        qty, price = float(f.qty), float(f.price)
        m = model.get(to_bt.get(str(f.order_id)))
        if m is None:
            model_price = reference = model_comm = math.nan
        else:
            model_price, reference = m["price"], m["price"] - sign * m["slippage"]
            model_comm = m["commission_per_share"] * qty
        slip = sign * (price - reference)
        model_slip = sign * (model_price - reference)
        rows.append(
            (
                f.time, str(f.order_id), f.symbol, str(f.side).upper(), qty, price, model_price,
                reference, slip, model_slip, _bps(slip, reference), _bps(model_slip, reference),
                float(f.commission), model_comm,
                sign * (price - model_price) * qty + float(f.commission) - model_comm,
            )
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=FILL_COST_COLUMNS)
    if not rows:
        out["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return out


def _per_order(fills: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Qty-weighted price, and slippage and commission per share, of each order's fills."""
    out = {}
    for order_id, rows in fills.groupby("order_id", sort=False):
        qty = rows["qty"].astype(float)
        total = float(qty.sum())
        if total <= 0:
            continue
        out[str(order_id)] = {
            "price": float((rows["price"].astype(float) * qty).sum() / total),
            "slippage": float(rows["slippage"].astype(float).sum() / total),  # a fill's is x qty
            "commission_per_share": float(rows["commission"].astype(float).sum() / total),
        }
    return out


def _bps(value: float, reference: float) -> float:
    return value / reference * 1e4 if reference and math.isfinite(reference) else math.nan


def pnl_drift(
    live_equity: pd.Series, backtest_equity: pd.Series, live_initial: float, backtest_initial: float
) -> pd.DataFrame:
    """P&L of both runs at each live bar time and the drift (live − backtest)."""
    live_pnl = live_equity.astype(float) - float(live_initial)
    bt = backtest_equity.astype(float).reindex(live_equity.index, method="ffill")
    bt_pnl = (bt - float(backtest_initial)).fillna(0.0)
    out = pd.DataFrame({"live_pnl": live_pnl, "backtest_pnl": bt_pnl})
    out["drift"] = out["live_pnl"] - out["backtest_pnl"]
    return out[DRIFT_COLUMNS]


def summarize(decisions: pd.DataFrame, costs: pd.DataFrame, drift: pd.DataFrame) -> pd.Series:
    """The few numbers to read first: differing decisions, slippage and commission totals
    (realized vs modelled), and the final P&L of both runs."""
    matched = costs.dropna(subset=["model_price"])
    qty = matched["qty"]
    last = drift.iloc[-1] if len(drift) else pd.Series(math.nan, index=DRIFT_COLUMNS)
    return pd.Series(
        {
            "Decisions live": int(decisions["live_qty"].notna().sum()),
            "Decisions backtest": int(decisions["backtest_qty"].notna().sum()),
            "Differing decisions": int((decisions["difference"] != "").sum()),
            "Fills compared": len(matched),
            "Slippage realized": float((matched["slippage"] * qty).sum()),
            "Slippage modelled": float((matched["model_slippage"] * qty).sum()),
            "Slippage realized [bps]": _weighted_bps(matched, "slippage"),
            "Slippage modelled [bps]": _weighted_bps(matched, "model_slippage"),
            "Commission realized": float(matched["commission"].sum()),
            "Commission modelled": float(matched["model_commission"].sum()),
            "Extra cost": float(matched["extra_cost"].sum()),
            "P&L live": float(last["live_pnl"]),
            "P&L backtest": float(last["backtest_pnl"]),
            "P&L drift": float(last["drift"]),
        },
        dtype=object,
    )


def _weighted_bps(costs: pd.DataFrame, column: str) -> float:
    notional = (costs["reference"] * costs["qty"]).sum()
    if not notional:
        return math.nan
    return float((costs[column] * costs["qty"]).sum() / notional * 1e4)


@dataclass(eq=False, repr=False)
class PaperComparison:
    """A paper run beside its backtest on the same bars: ``decisions`` (``differences`` the
    ones that differ), ``fills`` (realized vs modelled costs), ``drift`` (P&L over time) and
    ``summary``; ``plot()`` draws them in one figure."""

    decisions: pd.DataFrame
    fills: pd.DataFrame
    drift: pd.DataFrame
    summary: pd.Series
    live: BacktestResult
    backtest: BacktestResult

    @property
    def differences(self) -> pd.DataFrame:
        """The decisions that differ between the runs."""
        d = self.decisions
        return d[d["difference"] != ""].reset_index(drop=True)

    def plot(self, figsize: tuple[float, float] | None = None) -> Figure:
        """P&L of both runs with differing decisions marked, the drift, and each fill's
        realized vs modelled slippage; in a notebook it shows once as an image."""
        from quantnb.trading.judge_view import plot_comparison

        return plot_comparison(self, figsize=figsize)

    def _repr_html_(self) -> str:
        from quantnb.trading.judge_view import comparison_html

        return comparison_html(self)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<PaperComparison {self.live.strategy}: {s['Differing decisions']} differing of "
            f"{s['Decisions live']} live decisions, slippage {_num(s['Slippage realized'])} "
            f"realized vs {_num(s['Slippage modelled'])} modelled, P&L drift "
            f"{_num(s['P&L drift'])}>"
        )


def _num(value: float) -> str:
    return f"{value:,.2f}" if isinstance(value, float) and np.isfinite(value) else str(value)


def compare_results(live: BacktestResult, backtest: BacktestResult) -> PaperComparison:
    """Compare a paper run's result with the backtest of the same strategy on its bars."""
    decisions = match_decisions(live.orders, backtest.orders)
    costs = fill_costs(live.fills, backtest.fills, decisions)
    drift = pnl_drift(
        live.equity["equity"], backtest.equity["equity"], live.initial_cash, backtest.initial_cash
    )
    return PaperComparison(
        decisions, costs, drift, summarize(decisions, costs, drift), live, backtest
    )
