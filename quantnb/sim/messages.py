"""Encoders for every message the simulator sends, at server version 176: fields in, bytes out.

Field order and counts follow what the IB clients' decoders unpack; a wrong count is dropped
silently by the client, so ``tests/test_sim_wire.py`` pins the counts. A client that negotiated
an older version gets these rewritten by ``versions.adapt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from quantnb.domain.auction import ib_good_till
from quantnb.sim.contracts import SimContract
from quantnb.sim.records import ExecutionRecord, OrderRecord, WhatIfState
from quantnb.sim.wire import UNSET_DOUBLE, Field, frame, utc_text


def _price(value: float | None) -> Field:
    return "" if value is None else value


# --- connection -------------------------------------------------------------------------------


def managed_accounts(accounts: Iterable[str]) -> bytes:
    return frame([15, 1, ",".join(accounts)])


def next_valid_id(order_id: int) -> bytes:
    return frame([9, 1, order_id])


def current_time(epoch: int) -> bytes:
    return frame([49, 1, epoch])


def error(req_id: int, code: int, message: str, advanced: str = "") -> bytes:
    """Error or notice ``code`` about request/order ``req_id`` (-1 when about none)."""
    return frame([4, 2, req_id, code, message, advanced])


# --- contracts ----------------------------------------------------------------------------------


def contract_details(
    req_id: int,
    c: SimContract,
    long_name: str = "",
    trading_hours: str = "20240101:0400-20240101:2000",
    liquid_hours: str = "20240101:0930-20240101:1600",
) -> bytes:
    """Contract details (10) without the version field, as sent at server version ≥ 164;
    ``trading_hours`` (extended session) and ``liquid_hours`` (regular) in IB's format."""
    d = c.details
    if d is not None:  # a future, FX pair or index
        last = f"{c.expiry} {d.last_trade_time} {d.time_zone}" if c.expiry else ""
        return frame(
            [
                10, req_id, c.ib_symbol, c.sec_type, last, 0.0, "", c.exchange, c.currency,
                c.local_symbol, d.market_name, c.trading_class, c.con_id, c.min_tick,
                c.multiplier, d.order_types, d.valid_exchanges, 1, d.under_con_id,
                long_name or d.long_name, "", d.contract_month, "", "", "", d.time_zone,
                trading_hours, liquid_hours, "", "", 0, d.agg_group, d.under_symbol,
                d.under_sec_type, d.market_rule, d.real_expiration, "", 1, d.size_increment,
                d.suggested_size,
            ]
        )  # fmt: skip
    return frame(
        [
            10, req_id, c.symbol, c.sec_type, "", 0.0, "", c.exchange, c.currency,
            c.local_symbol, c.trading_class, c.trading_class, c.con_id, 0.01,
            "", "ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,LMT,MKT,STP,STPLMT",
            f"{c.exchange},{c.primary_exchange}", 1, 0, long_name or c.symbol,
            c.primary_exchange, "", "", "", "", "US/Eastern", trading_hours, liquid_hours,
            "", "", 0, 1, "", "", "26", "", "COMMON", 1, 1, 100,
        ]
    )  # fmt: skip


def contract_details_end(req_id: int) -> bytes:
    return frame([52, 1, req_id])


def symbol_samples(req_id: int, contracts: Sequence[SimContract]) -> bytes:
    """Matching symbols (79) with the description and issuer id of server version 176."""
    fields: list[Field] = [79, req_id, len(contracts)]
    for c in contracts:
        fields += [c.con_id, c.ib_symbol, c.sec_type, c.primary_exchange, c.currency, 0, "", ""]
    return frame(fields)


# --- market data --------------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: float, size: float, attrib: int = 0) -> bytes:
    return frame([1, 6, req_id, tick_type, price, size, attrib])


def tick_size(req_id: int, tick_type: int, size: float) -> bytes:
    return frame([2, 6, req_id, tick_type, size])


def tick_snapshot_end(req_id: int) -> bytes:
    return frame([57, 1, req_id])


def market_data_type(req_id: int, data_type: int) -> bytes:
    return frame([58, 1, req_id, data_type])


def realtime_bar(
    req_id: int,
    epoch: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    wap: float,
    count: int,
) -> bytes:
    return frame([50, 3, req_id, epoch, o, h, lo, c, v, wap, count])


def historical_data(
    req_id: int,
    start: str,
    end: str,
    bars: Sequence[tuple[str, float, float, float, float, float, float, int]],
) -> bytes:
    """All bars of a historical request in one message: (date, o, h, l, c, volume, wap, count)."""
    fields: list[Field] = [17, req_id, start, end, len(bars)]
    for bar in bars:
        fields.extend(bar)
    return frame(fields)


def historical_data_update(
    req_id: int,
    count: int,
    date: str,
    o: float,
    h: float,
    lo: float,
    c: float,
    wap: float,
    volume: float,
) -> bytes:
    """A keep-up-to-date bar (90): note the o, c, h, l order on the wire."""
    return frame([90, req_id, count, date, o, c, h, lo, wap, volume])


def head_timestamp(req_id: int, stamp: str) -> bytes:
    return frame([88, req_id, stamp])


# --- orders -------------------------------------------------------------------------------------


def _order_state(status: str, what_if: WhatIfState | None) -> list[Field]:
    """whatIf, then the order state: status, margins (before, change, after), commissions,
    warning. Margins are text on the wire; an ordinary order leaves them all unset."""
    if what_if is None:
        return [0, status, "", "", "", "", "", "", "", "", "", "", "", "", "", ""]
    w = what_if
    # initMarginBefore, maintMarginBefore, equityWithLoanBefore, then the changes, then after
    stages = zip(w.init_margin, w.maint_margin, w.equity_with_loan, strict=True)
    margins = [f"{value:.2f}" for stage in stages for value in stage]
    return [
        1, status, *margins, w.commission, w.min_commission, w.max_commission, w.currency,
        w.warning,
    ]  # fmt: skip


def open_order(o: OrderRecord, what_if: WhatIfState | None = None) -> bytes:
    """openOrder (5): 128 fields at server version 176, no legs, params or conditions;
    ``what_if`` answers a what-if order with its margin and commission figures."""
    c = o.contract
    fields: list[Field] = [5, o.order_id, *c.c11()]
    fields += [
        o.action, o.qty, o.order_type, _price(o.lmt_price), _price(o.aux_price), o.tif,
        o.oca_group, o.account, "", 0, o.order_ref, o.client_id, o.perm_id, o.outside_rth, 0,
        0.0, "", "", "", "", "", "",
    ]  # fmt: skip
    d = o.order
    good_till = "" if d.good_till is None else ib_good_till(d.good_till)
    oca_type = d.oca_type if o.oca_group else 3
    # modelCode .. deltaNeutralAuxPrice
    fields += [
        "", good_till, "", "", "", 0, "", "", 0, "", "", "", "", "", "", 0, 0, 0, "", oca_type,
        0, 0, "", o.parent_id, 0, "", 0, "", "",
    ]  # fmt: skip
    # continuousUpdate .. comboLegsDescrip, then legs/orderLegs/params counts
    fields += [0, 0, "", "", "", "", "", 0, 0, 0]
    # scale fields, hedgeType, optOutSmartRouting .. deltaNeutral present, algoStrategy
    fields += ["", "", "", "", 0, "", 0, 0, 0, d.algo]
    if d.algo:
        fields += [1, "adaptivePriority", d.algo_priority or "Normal"]
    # solicited, whatIf, order state (status, margins, commissions, warning), randomize
    fields += [0, *_order_state(o.status, what_if), 0, 0]
    fields += [0]  # conditions
    fields += ["", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]
    fields += ["", 0, 0]  # duration, postToAts, autoCancelParent
    fields += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return frame(fields)


def completed_order(o: OrderRecord) -> bytes:
    """completedOrder (101): 97 fields at server version 176."""
    c = o.contract
    fields: list[Field] = [101, *c.c11()]
    fields += [
        o.action, o.qty, o.order_type, _price(o.lmt_price), _price(o.aux_price), o.tif,
        o.oca_group, o.account, "", 0, o.order_ref, o.perm_id, o.outside_rth, 0, 0.0, "",
        "", "", "", "",
    ]  # fmt: skip
    d = o.order
    good_till = "" if d.good_till is None else ib_good_till(d.good_till)
    oca_type = d.oca_type if o.oca_group else 3
    # modelCode, goodTillDate .. ocaType .. deltaNeutralAuxPrice
    fields += [
        "", good_till, "", "", "", 0, "", "", "", "", "", "", "", "", 0, 0, "", oca_type, 0, "",
        0, "", "",
    ]  # fmt: skip
    fields += [0, 0, "", "", ""]  # continuousUpdate .. comboLegsDescrip
    fields += [0, 0, 0]  # legs, order legs, params
    fields += ["", "", "", ""]  # scale x3, hedgeType
    fields += ["", "", 0, 0, d.algo]  # clearing x2, notHeld, dnc present, algoStrategy
    if d.algo:
        fields += [1, "adaptivePriority", d.algo_priority or "Normal"]
    fields += [0, o.status, 0, 0]  # solicited, status, randomize x2
    fields += [0]  # conditions
    done = "" if o.completed_time is None else utc_text(o.completed_time)
    fields += [
        "", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0, done, o.completed_status,
    ]  # fmt: skip
    fields += ["", "", "", "", ""]
    return frame(fields)


def order_status(o: OrderRecord, mkt_cap_price: float = 0.0) -> bytes:
    """orderStatus (3): no version field; 12 fields."""
    return frame(
        [
            3, o.order_id, o.status, o.filled, o.remaining, o.avg_price, o.perm_id, o.parent_id,
            o.last_fill_price, o.client_id, "", mkt_cap_price,
        ]
    )  # fmt: skip


def exec_details(req_id: int, e: ExecutionRecord) -> bytes:
    """execDetails (11): 31 fields; ``req_id`` is -1 for a live fill."""
    return frame(
        [
            11, req_id, e.order_id, *e.contract.c11(), e.exec_id, utc_text(e.time), e.account,
            e.contract.primary_exchange, e.side, e.shares, e.price, e.perm_id, e.client_id, 0,
            e.cum_qty, e.avg_price, e.order_ref, "", "", "", e.liquidity,
        ]
    )  # fmt: skip


def exec_details_end(req_id: int) -> bytes:
    return frame([55, 1, req_id])


def commission_report(e: ExecutionRecord) -> bytes:
    realized = UNSET_DOUBLE if e.realized_pnl is None else e.realized_pnl
    return frame([59, 1, e.exec_id, e.commission, "USD", realized, UNSET_DOUBLE, ""])


def open_order_end() -> bytes:
    return frame([53, 1])


def completed_orders_end() -> bytes:
    return frame([102])


# --- account ------------------------------------------------------------------------------------


def position(account: str, c: SimContract, qty: float, avg_cost: float) -> bytes:
    return frame([61, 3, account, *c.c11(), qty, avg_cost])


def position_end() -> bytes:
    return frame([62, 1])


def portfolio(
    account: str,
    c: SimContract,
    qty: float,
    price: float,
    value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
) -> bytes:
    """updatePortfolio (7): primaryExchange in place of exchange; 20 fields."""
    return frame([7, 8, *c.c11(primary=True), qty, price, value, avg_cost, unrealized, realized,
                  account])  # fmt: skip


def account_value(account: str, tag: str, value: str, currency: str) -> bytes:
    return frame([6, 2, tag, value, currency, account])


def account_time(hhmm: str) -> bytes:
    return frame([8, 1, hhmm])


def account_download_end(account: str) -> bytes:
    return frame([54, 1, account])


def account_update_multi(
    req_id: int, account: str, tag: str, value: str, currency: str, model: str = ""
) -> bytes:
    return frame([73, 1, req_id, account, model, tag, value, currency])


def account_update_multi_end(req_id: int) -> bytes:
    return frame([74, 1, req_id])


def position_multi(req_id: int, account: str, c: SimContract, qty: float, avg_cost: float) -> bytes:
    return frame([71, 1, req_id, account, *c.c11(), qty, avg_cost, ""])


def position_multi_end(req_id: int) -> bytes:
    return frame([72, 1, req_id])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return frame([63, 1, req_id, account, tag, value, currency])


def account_summary_end(req_id: int) -> bytes:
    return frame([64, 1, req_id])


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> bytes:
    return frame([94, req_id, daily, unrealized, realized])


def pnl_single(
    req_id: int, qty: float, daily: float, unrealized: float, realized: float, value: float
) -> bytes:
    return frame([95, req_id, qty, daily, unrealized, realized, value])
