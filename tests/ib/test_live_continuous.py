"""A live session trading ``qn.continuous("ES")`` on the simulator over a real socket: it streams
and orders the current contract month under the name "ES", rolls across the roll date with two
recorded market orders as a backtest does, and a backtest over the very bars it saw makes the
same orders."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.rolls import ROLL_TAG
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine
from quantnb.trading.bar_log import replay_bars
from quantnb.trading.instruments import split_symbols
from quantnb.trading.replay import replay_backtest
from tests.helpers import play

pytestmark = [pytest.mark.ib, pytest.mark.timeout(120)]

ES = qn.continuous("ES")
# ES 2024-03 expires on Friday 2024-03-15: five business days before, the first bar of
# 2024-03-08 (UTC) is the first of the June month. The run starts ten minutes before it.
START = "2024-03-07 23:50"
ROLL = pd.Timestamp("2024-03-08 00:00", tz="UTC")
MARCH, JUNE = "ES 2024-03", "ES 2024-06"


class HoldES(qn.Strategy):
    """Buys two ES at its second bar, a third at its thirteenth; holds them across the roll."""

    def initialize(self, ctx):
        self.n = 0
        self.seen = []  # (time, position of "ES", its symbol) at each bar

    def on_data(self, ctx, bars):
        self.n += 1
        pos = ctx.position(ES)
        self.seen.append((ctx.now, pos.qty, pos.symbol))
        if self.n == 2:
            ctx.buy(ES, 2)
        if self.n == 13 and not ctx.open_orders("ES"):
            ctx.buy("ES", 1)


class Holding(qn.Strategy):
    """Trades nothing: holds what the session holds."""

    def on_data(self, ctx, bars):
        pass


@pytest.fixture
def sim():
    with GatewaySimulator(futures=["ES"], mode="manual", seed=5, start=START) as s:
        yield s


def _engine(sim, tmp_path, engines, strategy) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=31, timeout=5)
    # the roll falls at 00:00 UTC, in CME's night session: extended hours stream it
    eng = LiveStrategyEngine(
        config=cfg,
        journal=tmp_path / "j.sqlite",
        update_interval=5.0,
        commission=0.0,
        hours="extended",
    )
    eng.add_strategy(strategy)
    engines.append(eng)
    return eng


def _orders(frame: pd.DataFrame) -> list[tuple]:
    """(bar time, symbol, side, qty, tag) of each order, as made."""
    rows = frame.sort_values("created", kind="mergesort")
    return [
        (pd.Timestamp(r.created), r.symbol, str(r.side).upper(), float(r.qty), r.tag or "")
        for r in rows.itertuples(index=False)
    ]


def test_a_continuous_future_is_a_symbol_of_a_live_session():
    names, found = split_symbols([ES, "aapl"])
    assert names == ("ES", "AAPL") and found == {"ES": ES}


def test_continuous_es_rolls_live_as_in_a_backtest_over_the_same_bars(sim, tmp_path, engines):
    strat = HoldES()
    eng = _engine(sim, tmp_path, engines, strat)
    eng.start([ES], lookback_days=0.05, interval="1m", wait=True, timeout=30)
    eventually(lambda: eng.state == "running", 20)
    # the strategy's symbol is the continuous name; the stream and orders are the March month
    assert eng.symbols == ("ES",)
    assert eng.feed.subscriptions == {"ES": "1m"}
    assert set(eng.feed._feed.subscriptions) == {MARCH}
    assert len(eng.ctx.series["ES"]) > 10  # the March month's history, under "ES"
    play(sim, eng, 5)
    assert sim.positions() == {"ESH4": 2}
    assert eng.ledger.portfolio.position(MARCH).qty == 2
    play(sim, eng, 10)  # across the roll at 00:00
    # the roll: March closed, June opened, both by market orders tagged "roll"
    assert sim.positions() == {"ESM4": 3}
    assert set(eng.feed._feed.subscriptions) == {JUNE}  # June streamed, March cancelled
    held = {s: p.qty for s, p in eng.ledger.portfolio.open_positions().items()}
    assert held == {JUNE: 3}
    live = _orders(eng.journal.orders(latest=True))
    rolls = [o for o in live if o[4] == ROLL_TAG]
    assert rolls == [(ROLL, MARCH, "SELL", 2.0, ROLL_TAG), (ROLL, JUNE, "BUY", 2.0, ROLL_TAG)]
    assert [o[1:4] for o in live if o[4] != ROLL_TAG] == [(MARCH, "BUY", 2.0), (JUNE, "BUY", 1.0)]
    # the strategy saw "ES" as its current month's position at every bar
    at_roll = [s for s in strat.seen if s[0] == ROLL]
    assert at_roll == [(ROLL, 0.0, JUNE)]  # the June leg is still to fill when it decides
    assert strat.seen[-1][1:] == (3.0, JUNE)
    # the bars after the roll are June's, under "ES"
    assert eng.ctx.series["ES"].last.time > ROLL
    assert eng.ctx.series["ES"].last.close == pytest.approx(
        eng.feed._feed.get_latest_bar(JUNE).close
    )
    # the same strategy backtested over the journaled bars: the same orders, the roll too
    eng.stop()
    replay = replay_bars(eng.journal.bars())
    back = replay_backtest(
        HoldES(),
        replay,
        cash=100_000.0,
        costs=eng.costs,
        interval="1m",
        instruments={"ES": ES},
        journal=eng.journal,
    )
    assert _orders(back.orders) == live


def test_a_session_started_again_after_the_roll_trades_the_new_month(sim, tmp_path, engines):
    strat = HoldES()
    eng = _engine(sim, tmp_path, engines, strat)
    eng.start([ES], lookback_days=0.05, interval="1m", wait=True, timeout=30)
    eventually(lambda: eng.state == "running", 20)
    play(sim, eng, 4)
    assert sim.positions() == {"ESH4": 2}
    eng.stop()
    sim.step(12)  # the roll date passes while the session is stopped
    again = _engine(sim, tmp_path, engines, Holding())
    again.start([ES], lookback_days=0.05, interval="1m", wait=True, timeout=30)
    eventually(lambda: again.state == "running", 20)
    assert again.run_id == eng.run_id  # resumed from its journal
    assert set(again.feed._feed.subscriptions) == {JUNE}  # the current month from the start
    play(sim, again, 2)
    # the March contracts it still held are rolled once, at its first bar
    assert sim.positions() == {"ESM4": 2}
    rolls = [o for o in _orders(again.journal.orders(latest=True)) if o[4] == ROLL_TAG]
    assert [o[1:4] for o in rolls] == [(MARCH, "SELL", 2.0), (JUNE, "BUY", 2.0)]
    play(sim, again, 3)
    rolled = [o for o in _orders(again.journal.orders(latest=True)) if o[4] == ROLL_TAG]
    assert rolled == rolls  # not rolled again
    assert again.ctx.position("ES").qty == 2 and again.ctx.position("ES").symbol == JUNE


def test_paper_session_on_a_continuous_future_compares_with_its_backtest(tmp_path):
    class BuyOnce(qn.Strategy):
        def initialize(self, ctx):
            self.n = 0

        def on_data(self, ctx, bars):
            self.n += 1
            if self.n == 1:
                ctx.buy(ES, 1)

    sim = {"mode": "manual", "start": "2024-03-07 23:55"}
    session = qn.paper(BuyOnce(), [ES], interval="1m", journal=tmp_path / "p.sqlite",
                       gateway="sim", sim=sim, lookback_days=0, client_id=23,
                       hours="extended")  # fmt: skip
    assert session.symbols == ("ES",)
    session.start(wait=True)
    try:
        assert session.sim.config.futures == ("ES",)
        session.step(8)  # across the roll at 00:00, in one go
        eventually(lambda: session.sim.positions() == {"ESM4": 1}, 10)
        assert list(session.positions["symbol"]) == [JUNE]
        decisions = session.compare().decisions
        assert list(decisions["symbol"]) == [MARCH, MARCH, JUNE]
        assert (decisions["difference"] == "").all()
    finally:
        session.stop()
