"""Request handlers: one function per incoming message id, in the ``HANDLERS`` table.

Each takes the session and the message's fields, answers through the session and changes state
through the server; a handler never touches a socket itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from quantnb.sim import history, order_rules
from quantnb.sim import messages as msg
from quantnb.sim.contract_rules import order_refusal
from quantnb.sim.contracts import ContractQuery, SimContract, matches
from quantnb.sim.faults import no_permission
from quantnb.sim.market import EXCHANGE_TZ, NS
from quantnb.sim.pacing import VIOLATION, HistoryRequest
from quantnb.sim.placement import read_place_order
from quantnb.sim.wire import frame, parse_ib_time, utc_text

if TYPE_CHECKING:
    from quantnb.sim.session import Session

log = logging.getLogger(__name__)

_NO_SECURITY = "No security definition has been found for the request"
_HMDS = "Historical Market Data Service error message:"


def _req_mkt_data(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    contract = s.contract(req_id, f, 3)
    if contract is None:
        return
    i = 15
    if f[i] == "1":  # delta-neutral contract follows
        i += 3
    i += 1
    snapshot = f[i + 1] == "1" or f[i + 2] == "1"
    served, code, text = s.state.faults.serve(s.data_type)
    if code:
        s.send(msg.error(req_id, code, text))
    if not served:
        return  # the request is over: IB sends nothing more for it
    if served in (3, 4):
        s.delayed.add(req_id)
    s.send(msg.market_data_type(req_id, served))
    if contract.symbol not in s.state.faults.muted(s.state.market.symbols):
        s.send_ticks_now(req_id, contract.symbol)
    if snapshot:
        s.send(msg.tick_snapshot_end(req_id))
        return
    s.tick_symbols[req_id] = contract.symbol
    s.ticks.setdefault(contract.symbol, []).append(req_id)


def _cancel_mkt_data(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    s.delayed.discard(req_id)
    symbol = s.tick_symbols.pop(req_id, None)
    if symbol is not None:
        s.ticks[symbol].remove(req_id)
        if not s.ticks[symbol]:
            del s.ticks[symbol]


def _place_order(s: Session, f: list[str]) -> None:
    order_id = int(f[1])
    server = s.server
    if server.drop_orders > 0:
        server.drop_orders -= 1
        log.info("dropping order %s of client %s as asked", order_id, s.client_id)
        return
    contract = s.contract(order_id, f, 2)
    if contract is None:
        return
    req = read_place_order(f, contract, s.version)
    today = s.state.market.now().tz_convert("America/Chicago").strftime("%Y%m%d %H:%M")
    refusal = order_refusal(req, today) or order_rules.tws_refusal(req)
    if refusal is not None:
        s.send(msg.error(order_id, *refusal))
        return
    account = s.state.account
    client_id = s.client_id or 0
    if server.reject_orders > 0 and not req.what_if:
        server.reject_orders -= 1
        if server.reject_after_ack:
            server.dispatch(account.place_then_reject(client_id, req, server.reject_reason))
        else:
            s.send(msg.error(order_id, 201, f"Order rejected - reason:{server.reject_reason}"))
        return
    server.dispatch(account.place(client_id, req))


def _cancel_order(s: Session, f: list[str]) -> None:
    s.server.dispatch(s.state.account.cancel(s.client_id or 0, int(f[2])))


def _req_open_orders(s: Session, f: list[str], everyone: bool = False) -> None:
    for rec in s.state.account.open_orders(None if everyone else s.client_id):
        s.send_open(rec)
    s.send(msg.open_order_end())


def _req_all_open_orders(s: Session, f: list[str]) -> None:
    _req_open_orders(s, f, everyone=True)


def _req_account_updates(s: Session, f: list[str]) -> None:
    subscribe = f[2] == "1"
    s.account_sub = subscribe
    if not subscribe:
        return
    account = s.state.account
    s.send_account_values()
    s.send_portfolio()
    now = s.state.market.now().tz_convert(EXCHANGE_TZ)
    s.send(msg.account_time(now.strftime("%H:%M")))
    s.send(msg.account_download_end(account.id))


def _req_executions(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    since = None
    if len(f) > 5 and f[5].strip():
        try:
            since = parse_ib_time(f[5])
        except ValueError:
            since = None
    found = s.state.account.executions_matching(
        int(f[3] or 0),
        f[4] if len(f) > 4 else "",
        since,
        f[6] if len(f) > 6 else "",
        f[9] if len(f) > 9 else "",
    )
    for e in found:
        s.send(msg.exec_details(req_id, e))
        if e.exec_id not in s.server.late_reports:  # IB has not priced it yet
            s.send(msg.commission_report(e))
    s.send(msg.exec_details_end(req_id))


def _req_ids(s: Session, f: list[str]) -> None:
    s.send(msg.next_valid_id(s.state.account.next_order_id))


def _req_contract_details(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    market = s.state.market
    query = ContractQuery.from_fields(f[3:15])
    found = matches(market.contracts, query)
    if not found:
        s.send(msg.error(req_id, 200, f"{_NO_SECURITY} ({query.describe()})"))
        return
    for contract in found:
        hours = market.trading_hours(contract=contract), market.trading_hours(True, contract)
        s.send(msg.contract_details(req_id, contract, "", *hours))
    s.send(msg.contract_details_end(req_id))


def _req_managed_accounts(s: Session, f: list[str]) -> None:
    s.send(msg.managed_accounts([s.state.account.id]))


def _req_historical_data(s: Session, f: list[str]) -> None:
    req_id = int(f[1])
    contract = s.contract(req_id, f, 2)
    if contract is None:
        return
    end_text, bar_text, duration, rth, what, fmt = f[15], f[16], f[17], f[18], f[19], f[20]
    keep_up = f[21] == "1" if len(f) > 21 else False
    try:
        size = history.parse_bar_size(bar_text)
        what = history.check_request(end_text, size, what, keep_up)
    except history.HistoryError as exc:
        s.send(msg.error(req_id, exc.code, str(exc) if exc.code == 321 else _HMDS + str(exc)))
        return
    if not s.state.faults.bars_allowed():  # keepUpToDate included: no live subscription
        s.send(msg.error(req_id, 162, _HMDS + no_permission(contract.primary_exchange)))
        return
    request = HistoryRequest(
        contract.symbol,
        f[9] or "SMART",
        what,
        size.seconds,
        (contract.con_id, f[9], end_text, bar_text, duration, what, rth, f[14]),
    )
    if s.server.pacing_violation(request):
        s.send(msg.error(req_id, 162, _HMDS + VIOLATION))
        return
    try:
        bars, start_text, end_out, size, last_key, last_trade = _history(
            s, contract, end_text, bar_text, duration, rth == "1", what, int(fmt or 1)
        )
    except history.HistoryError as exc:
        s.send(msg.error(req_id, exc.code, _HMDS + str(exc)))
        return
    s.send(msg.historical_data(req_id, start_text, end_out, bars))
    if keep_up:
        sub = history.LiveBars(contract.symbol, size, int(fmt or 1), key=last_key, what=what,
                               spread=s.server.config.spread, rth=rth == "1",
                               tick=s.state.market.tick_of.get(contract.symbol))  # fmt: skip
        if bars:
            sub.label = bars[-1][0]
            sub.o, sub.h, sub.lo, sub.c, sub.v = last_trade
        s.live_bars[req_id] = sub


def _history(
    s: Session,
    contract: SimContract,
    end_text: str,
    bar_text: str,
    duration: str,
    rth: bool,
    what: str,
    fmt: int,
) -> tuple[list, str, str, history.BarSize, int, tuple | None]:
    market = s.state.market
    size = history.parse_bar_size(bar_text)
    base = market.interval_ns // NS
    if size.seconds < base:
        served = f"{base}-second" if not market.daily else f"{base // 86_400}-day"
        raise history.HistoryError(
            f"bar size {bar_text!r} is finer than the simulator's {served} bars"
        )
    if contract.sec_type == "CASH" and what in ("TRADES", "ADJUSTED_LAST"):
        # IB has no trades of an FX pair: its answer names the pair and its FX data farm
        raise history.HistoryError(
            f"No historical market data for {contract.ib_symbol}/CASH@FXSUBPIP "
            f"{history.SERIES[what]} {size.seconds}"
        )
    if what not in history.SERVED:
        # a series IB knows that the simulator does not model: IB's answer when it has none
        raise history.HistoryError(
            f"No historical market data for {contract.symbol}/STK@SMART "
            f"{history.SERIES[what]} {size.seconds}"
        )
    now = market.now()
    if end_text.strip():
        try:
            end = min(parse_ib_time(end_text), now)
        except ValueError as exc:
            raise history.HistoryError(str(exc)) from exc
    else:
        end = now
    fetch_from = end.value - history.day_span_guess(duration) * 86_400 * NS
    times, values = market.history(contract.symbol, fetch_from, end.value)
    days = market.day_keys(times, contract.symbol)
    sessions = np.unique(days) if duration.strip().upper().endswith("D") else None
    start = history.window_start(duration, end, sessions)
    if size.unit == "intraday":
        start -= start % (size.seconds * NS)  # whole bars only
    if sessions is not None:  # whole sessions (a future's from the evening before)
        keep = days >= start // (86_400 * NS)
    else:
        keep = times >= start
    if rth and not market.daily and len(times):
        keep &= market.regular_hours(times, contract.symbol)
    times, values, days = times[keep], values[:, keep], days[keep]
    spread = s.server.config.spread
    tick = market.tick_of.get(contract.symbol)
    label_times, label_days, out = history.aggregate(times, values, days, size, what, spread, tick)
    bars = history.rows(label_times, label_days, out, size, fmt, EXCHANGE_TZ)
    last_key, last_trade = -1, None
    if len(label_times):
        last_key = history.group_key(size, int(times[-1]), int(days[-1]))
        last_trade = history.last_trade_bar(times, values, days, size)
    start_text = utc_text(pd.Timestamp(max(start, 0), tz="UTC"))
    return bars, start_text, utc_text(end), size, last_key, last_trade


def _cancel_historical_data(s: Session, f: list[str]) -> None:
    s.live_bars.pop(int(f[2]), None)


def _req_head_timestamp(s: Session, f: list[str]) -> None:
    req_id = int(f[1])
    if s.contract(req_id, f, 2) is None:
        return
    fmt = f[17] if len(f) > 17 else "1"
    head = s.state.market.head_ns()
    if fmt == "2":
        text = str(head // NS)
    else:
        text = pd.Timestamp(head, tz="UTC").strftime("%Y%m%d-%H:%M:%S")
    s.send(msg.head_timestamp(req_id, text))


def _req_current_time(s: Session, f: list[str]) -> None:
    s.send(msg.current_time(s.state.market.now_ns() // NS))


def _req_real_time_bars(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    contract = s.contract(req_id, f, 3)
    if contract is None:
        return
    if not s.state.faults.bars_allowed():
        text = "Invalid Real-time Query:" + no_permission(contract.primary_exchange)
        s.send(msg.error(req_id, 420, text))
        return
    s.rt_bars[req_id] = contract.symbol


def _cancel_real_time_bars(s: Session, f: list[str]) -> None:
    s.rt_bars.pop(int(f[2]), None)


def _global_cancel(s: Session, f: list[str]) -> None:
    s.server.dispatch(s.state.account.cancel_all())


def _req_market_data_type(s: Session, f: list[str]) -> None:
    s.data_type = int(f[2] or 1)


def _req_positions(s: Session, f: list[str]) -> None:
    s.positions_sub = True
    account = s.state.account
    for contract, qty, avg in account.positions():
        s.send(msg.position(account.id, contract, qty, avg))
    s.send(msg.position_end())


def _cancel_positions(s: Session, f: list[str]) -> None:
    s.positions_sub = False


def _req_account_summary(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    tags_text = f[4] if len(f) > 4 else "All"
    tags = None if tags_text.strip() in ("", "All") else {t.strip() for t in tags_text.split(",")}
    s.summaries[req_id] = tags
    s.send_summary(req_id, tags)


def _cancel_account_summary(s: Session, f: list[str]) -> None:
    s.summaries.pop(int(f[2]), None)


def _req_positions_multi(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    account = s.state.account
    for contract, qty, avg in account.positions():
        s.send(msg.position_multi(req_id, account.id, contract, qty, avg))
    s.send(msg.position_multi_end(req_id))


def _req_account_updates_multi(s: Session, f: list[str]) -> None:
    req_id = int(f[2])
    s.account_multi.add(req_id)
    s.send_account_values(req_id)
    s.send(msg.account_update_multi_end(req_id))


def _cancel_account_updates_multi(s: Session, f: list[str]) -> None:
    s.account_multi.discard(int(f[2]))


def _req_matching_symbols(s: Session, f: list[str]) -> None:
    req_id, pattern = int(f[1]), f[2].upper()
    found = [c for sym, c in s.state.market.contracts.items() if sym.startswith(pattern)]
    s.send(msg.symbol_samples(req_id, found[:16]))


def _req_pnl(s: Session, f: list[str]) -> None:
    s.pnl_subs.add(int(f[1]))
    s.send_pnl()


def _cancel_pnl(s: Session, f: list[str]) -> None:
    s.pnl_subs.discard(int(f[1]))


def _req_pnl_single(s: Session, f: list[str]) -> None:
    req_id, con_id = int(f[1]), int(f[4] or 0)
    market = s.state.market
    symbol = next((sym for sym, c in market.contracts.items() if c.con_id == con_id), None)
    if symbol is None:
        s.send(msg.error(req_id, 200, _NO_SECURITY))
        return
    s.pnl_single[req_id] = symbol
    s.send_pnl()


def _cancel_pnl_single(s: Session, f: list[str]) -> None:
    s.pnl_single.pop(int(f[1]), None)


def _req_completed_orders(s: Session, f: list[str]) -> None:
    for rec in s.state.account.completed_orders():
        s.send(msg.completed_order(rec))
    s.send(msg.completed_orders_end())


def _ignore(s: Session, f: list[str]) -> None:
    pass


# Requests the simulator does not model get the answer a paper account without the data
# would get, so a client waiting for it never hangs.
_NO_DATA = "Requested market data is not subscribed for this simulated account"


def _no_depth(s: Session, f: list[str]) -> None:
    s.send(msg.error(int(f[2]), 354, _NO_DATA))


def _no_tick_by_tick(s: Session, f: list[str]) -> None:
    s.send(msg.error(int(f[1]), 354, _NO_DATA))


def _no_historical_ticks(s: Session, f: list[str]) -> None:
    what = f[18].upper() if len(f) > 18 else "TRADES"
    msg_id = {"MIDPOINT": 96, "BID_ASK": 97}.get(what, 98)
    s.send(frame([msg_id, int(f[1]), 0, 1]))


def _no_histogram(s: Session, f: list[str]) -> None:
    s.send(frame([89, int(f[1]), 0]))


def _no_fundamentals(s: Session, f: list[str]) -> None:
    s.send(msg.error(int(f[2]), 430, "Fundamentals data is not available in the simulator"))


def _no_news_providers(s: Session, f: list[str]) -> None:
    s.send(frame([85, 0]))


def _no_sec_def_params(s: Session, f: list[str]) -> None:
    s.send(frame([76, int(f[1])]))


def _market_rule(s: Session, f: list[str]) -> None:
    s.send(frame([93, int(f[1]), 1, 0.0, 0.01]))


def _no_scanner_parameters(s: Session, f: list[str]) -> None:
    s.send(frame([19, 1, "<ScanParameterResponse/>"]))


def _no_scanner_data(s: Session, f: list[str]) -> None:
    s.send(frame([20, 3, int(f[1]), 0]))


def _no_smart_components(s: Session, f: list[str]) -> None:
    s.send(frame([82, int(f[1]), 0]))


def _no_soft_dollar_tiers(s: Session, f: list[str]) -> None:
    s.send(frame([77, int(f[1]), 0]))


def _no_family_codes(s: Session, f: list[str]) -> None:
    s.send(frame([78, 0]))


def _no_depth_exchanges(s: Session, f: list[str]) -> None:
    s.send(frame([80, 0]))


def _user_info(s: Session, f: list[str]) -> None:
    s.send(frame([107, int(f[1]), ""]))


HANDLERS: dict[int, Callable[[Session, list[str]], None]] = {
    1: _req_mkt_data,
    2: _cancel_mkt_data,
    3: _place_order,
    4: _cancel_order,
    5: _req_open_orders,
    6: _req_account_updates,
    7: _req_executions,
    8: _req_ids,
    9: _req_contract_details,
    15: _ignore,  # reqAutoOpenOrders
    16: _req_all_open_orders,
    17: _req_managed_accounts,
    20: _req_historical_data,
    25: _cancel_historical_data,
    49: _req_current_time,
    50: _req_real_time_bars,
    51: _cancel_real_time_bars,
    58: _global_cancel,
    59: _req_market_data_type,
    61: _req_positions,
    62: _req_account_summary,
    63: _cancel_account_summary,
    64: _cancel_positions,
    71: _ignore,  # a repeated startApi
    74: _req_positions_multi,
    75: _ignore,  # cancelPositionsMulti
    76: _req_account_updates_multi,
    77: _cancel_account_updates_multi,
    81: _req_matching_symbols,
    87: _req_head_timestamp,
    90: _ignore,  # cancelHeadTimestamp
    92: _req_pnl,
    93: _cancel_pnl,
    94: _req_pnl_single,
    95: _cancel_pnl_single,
    99: _req_completed_orders,
    # not modelled: empty answers or "no data" errors
    10: _no_depth,
    11: _ignore,  # cancelMktDepth
    12: _ignore,  # reqNewsBulletins
    13: _ignore,  # cancelNewsBulletins
    14: _ignore,  # setServerLogLevel
    22: _no_scanner_data,
    23: _ignore,  # cancelScannerSubscription
    24: _no_scanner_parameters,
    52: _no_fundamentals,
    53: _ignore,  # cancelFundamentalData
    78: _no_sec_def_params,
    79: _no_soft_dollar_tiers,
    80: _no_family_codes,
    82: _no_depth_exchanges,
    83: _no_smart_components,
    85: _no_news_providers,
    88: _no_histogram,
    89: _ignore,  # cancelHistogramData
    91: _market_rule,
    96: _no_historical_ticks,
    97: _no_tick_by_tick,
    98: _ignore,  # cancelTickByTickData
    104: _user_info,
}
