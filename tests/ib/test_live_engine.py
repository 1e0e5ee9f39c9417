"""The live engine against the gateway simulator over a real socket.

The simulator runs in manual mode: a bar is delivered once the next bar's first update shows
it complete, so after ``step(k)`` the engine has seen the bars up to the one before the last.
The bar complete when the engine starts is history: it reaches the context, not ``on_data``.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

import quantnb as qn
from quantnb.errors import ConfigError, GatewayError, JournalError
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator, PacingRule
from quantnb.testing import eventually
from quantnb.trading import Journal, LiveStrategyEngine, find_engine, sessions

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

SYMBOLS = ["AAPL", "MSFT"]
MINUTE = pd.Timedelta(minutes=1)


class Sma(qn.Strategy):
    """A small SMA crossover that trades often on 1-minute bars."""

    def __init__(self, fast: int = 3, slow: int = 8, qty: int = 10) -> None:
        self.fast, self.slow, self.qty = fast, slow, qty

    def initialize(self, ctx):
        self.bars = 0
        self.finalized = False
        self.fills = []

    def on_data(self, ctx, data):
        self.bars += 1
        for sym in data:
            close = ctx.history(sym, self.slow, "close")
            if len(close) < self.slow:
                continue
            fast, slow = close[-self.fast :].mean(), close.mean()
            held = ctx.position(sym).qty
            if fast > slow and held == 0 and not ctx.open_orders(sym):
                ctx.buy(sym, self.qty)
            elif fast < slow and held > 0 and not ctx.open_orders(sym):
                ctx.close(sym)

    def on_fill(self, ctx, fill):
        self.fills.append(fill)

    def finalize(self, ctx):
        self.finalized = True


class Scripted(qn.Strategy):
    """Runs ``script[i](ctx)`` on its i-th ``on_data`` call."""

    def __init__(self, script=None) -> None:
        self.script = script or {}

    def initialize(self, ctx):
        self.i = -1
        self.seen = []

    def on_data(self, ctx, data):
        self.i += 1
        self.seen.append((ctx.now, tuple(data)))
        action = self.script.get(self.i)
        if action is not None:
            action(ctx)


def _engine(sim: GatewaySimulator, tmp_path, strategy, *, client_id: int = 11, **kw):
    journal = kw.pop("journal", tmp_path / "journal.sqlite")
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=client_id, timeout=5)
    eng = LiveStrategyEngine(config=cfg, journal=journal, update_interval=5.0, **kw)
    eng.add_strategy(strategy)
    return eng


def _settled(eng: LiveStrategyEngine) -> bool:
    """No order of the engine still waiting for the gateway (market orders fill at once)."""
    working = [o for o in eng.broker.open_orders() if o.type is qn.OrderType.MARKET]
    return not working and not eng.ctx.outbox


def _step(
    sim: GatewaySimulator, eng: LiveStrategyEngine, n: int = 1, *, settle: bool = True
) -> None:
    """Play ``n`` bars one at a time, waiting each time until the engine has handled the bar
    that just completed (and, with ``settle``, until its market orders are done)."""
    for _ in range(n):
        sim.step(1)
        seen = sim.now - MINUTE
        eventually(lambda s=seen: eng.last_bar_time is not None and eng.last_bar_time >= s, 10)
        if settle:
            eventually(lambda: _settled(eng), 10)


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=3) as s:
        yield s


def _positions(eng: LiveStrategyEngine) -> dict[str, float]:
    p = eng.positions
    return dict(zip(p["symbol"], p["qty"], strict=True))


def test_full_lifecycle(sim, tmp_path):
    strat = Sma()
    eng = _engine(sim, tmp_path, strat)
    eng.update_interval = 3600.0  # no heartbeat: one account row per bar, one at the stop
    events = []
    eng.add_listener(events.append)
    t0 = time.perf_counter()
    eng.start(SYMBOLS, lookback_days=1, interval="1m")
    assert time.perf_counter() - t0 < 5.0
    assert eng.start(SYMBOLS, lookback_days=1, interval="1m") is eng  # no second run
    eventually(lambda: eng.state == "running", 20)
    assert len(eng.ctx.history("AAPL", 10_000)) > 100  # history loaded for context
    sim.step(1)
    held = []  # the positions whenever something is held, ours and the gateway's
    for _ in range(40):
        _step(sim, eng)
        if _positions(eng):
            held.append((_positions(eng), sim.positions()))
    assert strat.bars == 41
    assert len(strat.fills) >= 1
    assert held and all(ours == theirs for ours, theirs in held)
    assert eng.status["connection"] == "connected"
    assert eng.status["last_bar_time"] == eng.ctx.now
    eventually(lambda: len(strat.fills) == len(eng.broker.fills))  # the last fill's callback ran
    fills_seen = len(strat.fills)
    eng.stop()
    assert strat.finalized and eng.state == "stopped"
    assert not eng.is_connected
    j = Journal(tmp_path / "journal.sqlite")
    assert len(j.fills()) == fills_seen == len(eng.fills)
    assert set(j.fills()["exec_id"]) == {e["exec_id"] for e in sim.executions()}
    orders = j.orders(latest=True)
    # 13: the crossings of the 3- and 8-bar means in seed 3's AAPL and MSFT bars from 10:01
    assert set(orders["status"]) == {"filled"} and len(orders) == 13
    assert len(j.equity()) == strat.bars + 1 and j.runs()["run_id"].iloc[0] == eng.run_id
    assert "DU1234567" not in j.runs()["meta"].iloc[0]
    assert {e.kind for e in events} >= {"bar", "fill", "order", "status"}
    assert _positions(eng) == sim.positions()


def test_bad_symbol_rejected_order_and_strategy_error_are_logged_and_it_goes_on(
    sim, tmp_path, client_errors
):
    client_errors.allow(200, 201)

    def boom(ctx):
        raise ZeroDivisionError("boom")

    script = {0: lambda c: c.buy("AAPL", 5), 1: boom, 3: lambda c: c.buy("AAPL", 5)}
    strat = Scripted(script)
    eng = _engine(sim, tmp_path, strat)
    eng.start(["AAPL", "NOPE"], lookback_days=0, interval="1m", wait=True, skip_unknown=True)
    errors = eng.errors
    assert errors["message"].str.contains("NOPE").any()
    assert eng.status["symbols"] == 1
    sim.reject_next_orders(1, reason="no trading permissions")
    sim.step(1)
    _step(sim, eng, 5)
    errors = eng.errors
    rejected = errors[errors["message"].str.contains("rejected")]
    assert len(rejected) >= 1 and rejected["kind"].iloc[0] == "order"
    assert "no trading permissions" in rejected["message"].iloc[0]
    strategy_errors = errors[errors["kind"] == "strategy"]
    assert "ZeroDivisionError: boom" in strategy_errors["message"].iloc[0]
    assert "Traceback" in strategy_errors["detail"].iloc[0]
    assert strat.i >= 4  # went on after both
    statuses = eng.orders.set_index("order_id")["status"]
    assert sorted(statuses) == ["filled", "rejected"]
    assert eng.positions.set_index("symbol")["qty"]["AAPL"] == 5 == sim.positions()["AAPL"]
    eng.stop()


def test_client_id_clash_is_a_clear_error(sim, tmp_path, client_errors):
    client_errors.allow(326, "already in use", "API connection failed")
    eng = _engine(sim, tmp_path, Scripted())
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    twin = _engine(sim, tmp_path, Scripted(), journal=tmp_path / "twin.sqlite")
    with pytest.raises(ConfigError, match=r"already .* client id 11"):
        twin.connect()
    other = _engine(
        sim, tmp_path, Scripted(), journal=tmp_path / "other.sqlite", registry_key=("x",)
    )
    with pytest.raises(GatewayError, match="already in use"):
        other.connect()
    assert other.errors["message"].str.contains("already in use").any()
    assert other.state == "disconnected"
    sim.step(2)
    eventually(lambda: eng.groups_processed >= 1, 10)  # the first engine goes on
    eng.stop()


def test_parity_with_the_backtest_on_the_same_bars(tmp_path):
    bars = qn.data.sample(SYMBOLS, interval="1m", bars=90, seed=4)
    strat = Sma(fast=3, slow=8, qty=10)
    bt = qn.backtest(strat, bars, progress=False)
    expected = [
        (pd.Timestamp(o.created), o.symbol, str(o.side), float(o.qty))
        for o in bt.orders.itertuples()
    ]
    assert len(expected) >= 4
    with GatewaySimulator(mode="manual", bars=bars) as sim:
        eng = _engine(sim, tmp_path, strat)
        eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
        assert eng.ctx.history("AAPL", 5).size == 1  # the bar complete at the start
        sim.step(1)
        _step(sim, eng, 85)
        last = eng.last_bar_time
        live = [
            (pd.Timestamp(r.created), r.symbol, r.side, float(r.qty))
            for r in eng.orders.itertuples()
        ]
        eng.stop()
    assert [e for e in expected if e[0] <= last] == live
    # fills: the backtest fills at the next bar's open; live at the simulator's price when the
    # order arrives (after the next bar has started), so only sides and quantities must match
    live_fills = eng.fills
    assert list(live_fills["qty"]) == [q for *_, q in live]
    assert list(live_fills.columns) == list(bt.fills.columns)  # one layout in both modes


def _open_refs(sim: GatewaySimulator) -> list[str]:
    """orderRefs of the orders working at the gateway, asked by a separate client."""
    from quantnb.ib.connection import IBConnection
    from quantnb.ib.loop import LoopThread

    with LoopThread() as loop:
        conn = IBConnection(IBConfig(host=sim.host, port=sim.port, client_id=99), loop)
        conn.connect_blocking()
        try:

            async def refs():
                trades = await conn.ib.reqAllOpenOrdersAsync()
                return [t.order.orderRef for t in trades]

            return loop.run(refs(), timeout=10)
        finally:
            conn.disconnect_blocking()


def test_kill_restart_no_duplicates_no_lost_fills_and_bars_keep_coming(
    sim, tmp_path, client_errors
):
    client_errors.allow("Peer closed", "API connection failed", "Make sure API port")

    def enter(ctx):
        ctx.buy("AAPL", 20)
        ctx.buy("MSFT", 7)
        ctx.buy("AAPL", 5, limit=round(ctx.price("AAPL") * 0.5, 2), tif="GTC")

    strat = Scripted({0: enter, 3: lambda c: c.sell("AAPL", 4), 6: lambda c: c.buy("MSFT", 1)})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 2)
    resting = [o for o in eng.broker.open_orders() if o.type is qn.OrderType.LIMIT]
    assert len(resting) == 1
    for k in range(3):
        if k == 1:
            sim.drop_connections()
        else:
            sim.stop()
            eventually(lambda: eng.status["connection"] != "connected", 10)
            sim.start()
        eventually(lambda: eng.status["connection"] == "connected", 20)
        _step(sim, eng, 2)
    assert strat.i >= 7
    assert eng.status["reconnects"] >= 3
    execs = sim.executions()
    fills = eng.fills
    assert len(fills) == len(execs) == len(set(fills["exec_id"]))
    assert set(fills["exec_id"]) == {e["exec_id"] for e in execs}
    ours = {s: p.qty for s, p in eng.broker.portfolio.open_positions().items()}
    assert ours == sim.positions() == {"AAPL": 16.0, "MSFT": 8.0}
    assert _open_refs(sim).count(resting[0].id) == 1
    events = eng.order_events
    created = events[events["event"] == "created"]["order_id"]
    assert created.is_unique and len(created) == 5
    # a crash: the process dies without stop(); a new engine resumes from the journal
    eng._loop.stop()
    sim.drop_connections()  # what the gateway sees when the process dies
    eng.state = "stopped"
    eng._release()
    again = Scripted({0: lambda c: c.buy("AAPL", 1)})
    eng2 = _engine(sim, tmp_path, again, client_id=11)
    eng2.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    assert eng2.run_id == eng.run_id
    assert {o.id for o in eng2.broker.open_orders()} == {resting[0].id}
    sim.step(1)
    _step(sim, eng2, 2)
    eng2.stop()
    assert len(sim.executions()) == len(execs) + 1
    j = Journal(tmp_path / "journal.sqlite")
    created = j.orders().query("event == 'created'")["order_id"]
    assert created.is_unique and len(created) == 6
    assert created.iloc[-1] == f"{eng.run_id}-6"
    assert len(j.fills()) == len(execs) + 1
    assert _open_refs(sim).count(resting[0].id) == 1


def test_history_of_many_symbols_loads_concurrently(tmp_path):
    symbols = [f"S{i:02d}" for i in range(8)]
    with GatewaySimulator(symbols=symbols, mode="manual") as sim:
        eng = _engine(sim, tmp_path, Scripted())
        eng.connect()
        flight = {"now": 0, "max": 0}
        real = eng.feed.get_historical_data_async

        async def tracked(*args, **kwargs):
            flight["now"] += 1
            flight["max"] = max(flight["max"], flight["now"])
            try:
                return await real(*args, **kwargs)
            finally:
                flight["now"] -= 1

        eng.feed.get_historical_data_async = tracked
        eng.start(symbols, lookback_days=1, interval="1m", wait=True)
        assert flight["max"] >= len(symbols) // 2  # not one after the other
        assert all(len(eng.ctx.history(s, 10_000)) > 300 for s in symbols)
        assert eng.errors.empty and eng.status["symbols"] == len(symbols)
        eng.stop()


def test_order_changes_are_journaled_as_the_broker_reports_them(sim, tmp_path, client_errors):
    client_errors.allow(202)
    eng = _engine(sim, tmp_path, Scripted())
    eng.update_interval = 3600.0  # no housekeeping pass during the test
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    eng.call(lambda c: c.buy("AAPL", 5, limit=round(c.price("AAPL") * 0.5, 2), tif="GTC"))
    (resting,) = eng.broker.open_orders()
    assert eng.broker.cancel(resting)  # straight to the broker: the engine only hears of it
    eventually(lambda: "cancelled" in set(eng.orders["status"]))
    events = eng.order_events
    assert list(events[events["order_id"] == resting.id]["event"]) == [
        "created",
        "submitted",
        "cancelled",
    ]
    eng.stop()


def test_pacing_errors_are_clear_and_refused_subscriptions_are_asked_again(
    tmp_path, monkeypatch, client_errors
):
    client_errors.allow(162)
    monkeypatch.setattr("quantnb.ib.feed.RETRY_DELAY", 0.3)
    # the 4th request within 0.5 s: 162 (IB paces bars of 30 s or less; here 1-minute bars too)
    pacing = PacingRule(total_max=3, total_window=0.5, bar_seconds_max=60)
    with GatewaySimulator(symbols=SYMBOLS, mode="manual", seed=3, pacing=pacing) as sim:
        eng = _engine(sim, tmp_path, Sma(fast=2, slow=3, qty=1))
        eng.start(SYMBOLS, lookback_days=1, interval="1m", wait=True)
        errors = eng.errors
        refused = errors[errors["code"] == 162]
        assert len(refused) >= 1 and set(refused["kind"]) == {"pacing"}
        assert "pacing violation" in refused["message"].iloc[0]
        assert eng.is_running
        # the refused subscriptions are asked again once the window has passed
        eventually(lambda: set(eng.feed.subscriptions) == set(SYMBOLS), 10)
        eventually(lambda: all(s.bars is not None for s in eng.feed._subs.values()), 10)
        _step(sim, eng, 3)
        assert eng.status["bars_processed"] == 3 * len(SYMBOLS)
        eng.stop()


class StopsItself(qn.Strategy):
    """Buys 1 AAPL on each bar and stops its engine from ``on_data`` on bar ``stop_at``."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at
        self.engine: LiveStrategyEngine | None = None

    def initialize(self, ctx):
        self.calls = 0

    def on_data(self, ctx, data):
        self.calls += 1
        if self.calls == self.stop_at:
            self.engine.stop()
            return
        ctx.buy("AAPL", 1)


def test_stop_from_on_data_stops_trading_and_journals_every_fill(sim, tmp_path):
    strat = StopsItself(stop_at=3)
    eng = _engine(sim, tmp_path, strat)
    strat.engine = eng
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng)
    assert strat.calls == 2
    sim.step(1)  # the third bar: on_data stops the engine
    eventually(lambda: eng.state == "stopped", 20)
    assert 11 not in sim.connected_clients() and not eng._loop.is_running()
    assert find_engine(eng.registry_key) is None
    sim.step(3)  # nobody listens any more
    assert strat.calls == 3
    execs = sim.executions()
    assert len(execs) == 2 and sim.positions() == {"AAPL": 2.0}
    j = Journal(tmp_path / "journal.sqlite")
    assert set(j.fills()["exec_id"]) == {e["exec_id"] for e in execs}
    assert list(j.orders(latest=True)["status"]) == ["filled", "filled"]
    assert (eng.errors["kind"] != "strategy").all()


def test_a_journal_that_cannot_be_opened_leaves_the_client_id_free(sim, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    eng = _engine(sim, tmp_path, Scripted(), journal=blocker / "journal.sqlite")
    with pytest.raises(JournalError, match="cannot open the journal"):
        eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    assert eng.state == "disconnected" and find_engine(eng.registry_key) is None
    twin = _engine(sim, tmp_path, Scripted())  # the same gateway and client id
    twin.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    assert twin.state == "running"
    twin.stop()


class BrokenOnce(Scripted):
    """Its parameters cannot be read the first time (the start records them)."""

    def __init__(self) -> None:
        super().__init__({0: lambda c: c.buy("AAPL", 3)})
        self._broken = True

    @property
    def params(self):
        if self._broken:
            self._broken = False
            raise RuntimeError("parameters unreadable")
        return super().params


def test_a_failed_start_can_be_started_again(sim, tmp_path):
    strat = BrokenOnce()
    eng = _engine(sim, tmp_path, strat)
    with pytest.raises(RuntimeError, match="parameters unreadable"):
        eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    assert eng.state == "disconnected" and not eng.is_running
    assert find_engine(eng.registry_key) is None
    eventually(lambda: 11 not in sim.connected_clients(), 10)
    failed = eng.errors[eng.errors["kind"] == "engine"]["message"]
    assert list(failed) == ["start failed: RuntimeError: parameters unreadable"]
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    assert eng.state == "running"
    sim.step(1)
    _step(sim, eng)
    assert sim.positions() == {"AAPL": 3.0} == _positions(eng)
    eng.stop()
    assert eng.state == "stopped"


def test_account_times_are_market_times_also_for_heartbeats(sim, tmp_path):
    eng = _engine(sim, tmp_path, Scripted({0: lambda c: c.buy("AAPL", 2)}))
    eng.update_interval = 0.1  # heartbeats between the bars of the manual clock
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng, 2)
    rows = len(eng.account)
    eventually(lambda: len(eng.account) >= rows + 2, 10)  # heartbeats, no bar
    _step(sim, eng, 2)
    eng.stop()
    account = eng.account
    assert account["time"].is_monotonic_increasing
    assert account["time"].iloc[-1] == eng.last_bar_time  # the stop's row: the last bar's time
    assert account["time"].max() < sim.now  # the market's clock, not the wall clock
    assert eng.errors["time"].max() is pd.NaT or eng.errors["time"].max() < sim.now


class BracketAtTheEnd(qn.Strategy):
    """Makes a bracket in ``finalize``: it must still reach the gateway."""

    def finalize(self, ctx):
        p = ctx.price("AAPL")
        self.bracket = ctx.bracket(
            "AAPL", 10, take_profit=round(p * 1.5, 2), stop_loss=round(p * 0.5, 2)
        )


def test_a_bracket_made_by_finalize_is_sent_before_the_disconnect(sim, tmp_path, client_errors):
    strat = BracketAtTheEnd()
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng)
    # the bracket's send then waits for the gateway (a contract look-up, 0.2 s away)
    eng.connection.contracts._contracts.clear()
    sim.set_latency(0.2)
    eng.stop()
    sim.set_latency(0.0)
    entry, tp, sl = strat.bracket.entry, strat.bracket.take_profit, strat.bracket.stop_loss
    assert sorted(_open_refs(sim)) == sorted([tp.id, sl.id])
    eventually(lambda: sim.positions() == {"AAPL": 10.0})
    states = Journal(tmp_path / "journal.sqlite").orders(latest=True).set_index("order_id")
    assert states["status"][tp.id] == states["status"][sl.id] == "submitted"
    assert states["status"][entry.id] in ("submitted", "filled")
    assert eng.errors.empty


def test_a_bracket_from_the_strategy_exits_once(sim, tmp_path):
    made = {}

    def enter(ctx):
        p = ctx.price("AAPL")
        made["b"] = ctx.bracket("AAPL", 10, take_profit=round(p + 5, 2), stop_loss=round(p - 5, 2))

    eng = _engine(sim, tmp_path, Scripted({0: enter}))
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng)
    b = made["b"]
    eventually(lambda: b.entry.status is qn.OrderStatus.FILLED, 10)
    assert sorted(_open_refs(sim)) == sorted([b.take_profit.id, b.stop_loss.id])
    assert sim.positions() == {"AAPL": 10.0} == _positions(eng)
    sim.set_price("AAPL", b.take_profit.limit + 1)
    statuses = lambda: eng.orders.set_index("order_id")["status"].to_dict()  # noqa: E731
    want = {b.entry.id: "filled", b.take_profit.id: "filled", b.stop_loss.id: "cancelled"}
    eventually(lambda: statuses() == want, 10)
    assert sim.positions() == {} and _positions(eng) == {}
    assert _open_refs(sim) == []
    assert len(eng.fills) == len(sim.executions()) == 2
    eng.stop()


def test_orders_made_while_bars_catch_up_after_a_reconnect_are_sent(sim, tmp_path, client_errors):
    client_errors.allow("Peer closed", "API connection failed", "Make sure API port")
    strat = Scripted({i: (lambda c: c.buy("AAPL", 1)) for i in range(100)})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng)
    seen = len(strat.seen)
    eng.connection.backoff = (1.0, 5.0)  # a second for the bars below to happen meanwhile
    sim.stop()
    eventually(lambda: eng.status["connection"] != "connected", 10)
    sim.start()
    sim.step(3)  # while the engine is away
    eventually(lambda: eng.status["connection"] == "connected", 20)
    eventually(lambda: len(strat.seen) >= seen + 3, 10)  # the missed bars, caught up
    eventually(lambda: _settled(eng), 10)
    times = [t for t, _ in strat.seen]
    assert len(times) == seen + 3 and times == sorted(set(times))  # each time once, in order
    errors = eng.errors
    assert not errors["message"].str.contains("not sent").any()
    # an order decided during the catch-up goes out once the session is whole again
    eventually(lambda: set(eng.orders["status"]) == {"filled"}, 10)
    assert len(eng.orders) == len(strat.seen) == len(sim.executions())
    assert _positions(eng) == sim.positions() == {"AAPL": float(len(strat.seen))}
    eng.stop()


def test_close_all_and_cancel_all(sim, tmp_path, client_errors):
    client_errors.allow(202)

    def enter(ctx):
        ctx.buy("AAPL", 10)
        ctx.buy("MSFT", 5)
        ctx.buy("AAPL", 5, limit=round(ctx.price("AAPL") * 0.5, 2), tif="GTC")

    eng = _engine(sim, tmp_path, Scripted({0: enter}))
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.step(1)
    _step(sim, eng)
    assert sim.positions() == {"AAPL": 10.0, "MSFT": 5.0} == _positions(eng)
    assert len(_open_refs(sim)) == 1
    assert eng.cancel_all() == 1
    assert eng.close_all() == 2
    eventually(lambda: sim.positions() == {} and _positions(eng) == {}, 10)
    eventually(lambda: "cancelled" in set(eng.orders["status"]), 10)
    assert _open_refs(sim) == []
    statuses = sorted(eng.orders["status"])
    assert statuses == ["cancelled", "filled", "filled", "filled", "filled"]
    assert eng.errors.empty
    eng.stop()


def test_rerunning_a_paper_cell_gives_the_running_session_or_a_clear_refusal(tmp_path):
    strat = Scripted()
    kw = {"gateway": "sim", "sim": {"mode": "manual"}, "lookback_days": 0, "client_id": 21}
    first = qn.paper(strat, ["AAPL"], "1m", journal=tmp_path / "first.sqlite", **kw)
    first.start(wait=True)
    try:
        assert first.engine.state == "running"
        assert qn.paper(strat, ["AAPL"], "1m", journal=tmp_path / "again.sqlite", **kw) is first
        with pytest.raises(ConfigError, match=r"already running.*stop_all"):
            qn.paper(Scripted(), ["AAPL"], "1m", **kw)
        with pytest.raises(ConfigError, match="already running"):
            qn.paper(strat, ["AAPL", "MSFT"], "1m", **kw)  # the same strategy, other symbols
        other = qn.paper(Scripted(), ["AAPL"], "1m", **{**kw, "client_id": 22})
        assert other is not first and other.engine.state == "created"
        assert sessions() == [first]
        first.step(2)
        assert first.engine.groups_processed == 2
    finally:
        first.stop()
    assert sessions() == [] and first.engine.state == "stopped"
    after = qn.paper(strat, ["AAPL"], "1m", journal=tmp_path / "after.sqlite", **kw)
    assert after is not first


def test_a_restart_needs_no_arguments(sim, tmp_path):
    eng = _engine(sim, tmp_path, Sma())
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    eng.stop()
    eng.start(wait=True)  # what the dashboard's Start button does
    assert (eng.symbols, eng.interval.name, eng.is_running) == (("AAPL",), "1m", True)
    eng.stop()


def test_a_gateway_back_on_another_account_is_refused_until_paper_returns(
    sim, tmp_path, client_errors
):
    client_errors.allow("Peer closed", "API connection failed", "Make sure API port")
    strat = Scripted({1: lambda c: c.buy("AAPL", 3)})
    eng = _engine(sim, tmp_path, strat)
    eng.start(SYMBOLS, lookback_days=0, interval="1m", wait=True)
    sim.switch_account("U7654321")  # the gateway comes back logged in to a live account
    refused = lambda: eng.errors["message"].str.contains("logged in to account U\\*\\*\\*4321")  # noqa: E731
    eventually(lambda: refused().any(), 10)
    sim.step(3)
    assert eng.status["connection"] != "connected" and strat.i == -1
    assert sim.executions() == [] and sim.positions() == {}  # nothing reached the live account
    assert "U7654321" not in eng.errors["message"].str.cat()  # masked

    sim.switch_account("DU1234567")
    eventually(lambda: eng.status["connection"] == "connected", 20)
    sim.step(1)
    _step(sim, eng, 2)
    eng.stop()
    assert refused().sum() == 1
    assert sim.positions() == {"AAPL": 3.0} and strat.i >= 1
