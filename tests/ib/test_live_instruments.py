"""Live sessions on a futures month and an FX pair against the simulator over a real socket: the
engine's own positions and P&L at the contract's multiplier and in the account's currency,
matching the simulator's account."""

from __future__ import annotations

import pytest

import quantnb as qn
from quantnb.domain.instrument import continuous, future, fx
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine
from quantnb.trading.instruments import sim_markets, split_symbols
from tests.helpers import play

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

ES = future("ES", "2024-03")
EUR = fx("EURUSD")


class Scripted(qn.Strategy):
    """Runs ``script[i](ctx)`` on its i-th ``on_data`` call."""

    def __init__(self, script=None) -> None:
        self.script = script or {}

    def initialize(self, ctx):
        self.i = -1
        self.fills = []

    def on_data(self, ctx, data):
        self.i += 1
        action = self.script.get(self.i)
        if action is not None:
            action(ctx)

    def on_fill(self, ctx, fill):
        self.fills.append(fill)


@pytest.fixture
def sim():
    with GatewaySimulator(futures=["ES"], fx=["EURUSD"], mode="manual", seed=3) as s:
        yield s


@pytest.fixture
def make_engine(sim, tmp_path, engines):
    def make(strategy, **kw) -> LiveStrategyEngine:
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=12, timeout=5)
        eng = LiveStrategyEngine(
            config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0, **kw
        )
        eng.add_strategy(strategy)
        engines.append(eng)
        return eng

    return make


def _executions(sim, symbol: str) -> list[tuple[str, float, float, float]]:
    return [
        (e["side"], e["shares"], e["price"], e["commission"])
        for e in sim.executions()
        if e["symbol"] == symbol
    ]


def test_symbols_may_be_instruments():
    names, found = split_symbols(["aapl", ES, EUR, ES])
    assert names == ("AAPL", "ES 2024-03", "EURUSD")
    assert found == {"ES 2024-03": ES, "EURUSD": EUR}
    assert sim_markets(names, found) == {
        "symbols": ("AAPL",),
        "futures": ("ES",),
        "fx": ("EURUSD",),
    }
    # a continuous future is a symbol too: the session trades its current month
    assert split_symbols([continuous("ES")]) == (("ES",), {"ES": continuous("ES")})


def test_futures_session_pnl_at_the_multiplier_matches_the_account(sim, make_engine):
    strat = Scripted({1: lambda ctx: ctx.buy(ES.name, 2), 4: lambda ctx: ctx.close(ES.name)})
    eng = make_engine(strat)
    cash0 = sim.account_values()["NetLiquidation"]
    eng.start([ES], lookback_days=0.2, interval="1m")
    eventually(lambda: eng.state == "running", 20)
    assert eng.symbols == ("ES 2024-03",)
    assert eng.broker.portfolio.instruments["ES 2024-03"].multiplier == 50
    sim.step(1)
    play(sim, eng, 3)
    # two contracts held: the session's position is marked at $50 a point
    (row,) = eng.positions.itertuples(index=False)
    assert (row.symbol, row.qty) == ("ES 2024-03", 2)
    assert row.market_value == pytest.approx(2 * 50 * row.last_price)
    assert row.unrealized_pnl == pytest.approx(2 * 50 * (row.last_price - row.avg_price))
    assert sim.positions() == {"ESH4": 2}
    play(sim, eng, 3)
    assert eng.positions.empty and sim.positions() == {}
    (buy, sell) = _executions(sim, "ESH4")
    assert (buy[0], buy[1], sell[0], sell[1]) == ("BOT", 2, "SLD", 2)
    points = sell[2] - buy[2]
    commissions = buy[3] + sell[3]
    eventually(lambda: eng.pnl["commissions"] == pytest.approx(commissions), 10)
    pnl = eng.pnl
    assert pnl["realized"] == pytest.approx(2 * 50 * points)
    assert pnl["net"] == pytest.approx(2 * 50 * points - commissions)
    # the account moved by the same dollars
    eventually(lambda: sim.account_values()["NetLiquidation"] == pytest.approx(
        cash0 + pnl["net"], abs=0.01))  # fmt: skip


def test_fx_session_books_euros_and_dollars_at_the_rate(sim, make_engine):
    strat = Scripted({1: lambda ctx: ctx.buy(EUR.name, 20_000), 4: lambda ctx: ctx.close(EUR.name)})
    eng = make_engine(strat)
    cash0 = sim.account_values()["NetLiquidation"]
    eng.start([EUR], lookback_days=0.2, interval="1m")
    eventually(lambda: eng.state == "running", 20)
    sim.step(1)
    play(sim, eng, 3)
    pf = eng.ledger.portfolio
    assert pf.position("EURUSD").qty == 20_000
    assert pf.balances["EUR"] == pytest.approx(20_000)
    # the rate is the pair's last bar close
    assert pf.rate("EUR") == pytest.approx(eng.ctx.history("EURUSD", 1, "close")[-1])
    # the account's cash after a reconcile: dollars and euros apart, not the euros twice
    account = eng.broker.portfolio
    eventually(lambda: eng.broker._cash_balances.get("EUR") == 20_000, 10)  # account updates
    eng._loop.run(eng.broker.reconcile(), timeout=10)
    assert account.position("EURUSD").qty == 20_000  # the gateway's FX position, by its name
    ((_, _, price, commission),) = _executions(sim, "EURUSD")
    assert account.balances["EUR"] == pytest.approx(20_000)
    assert account.cash == pytest.approx(cash0 - 20_000 * price - commission, abs=0.01)
    assert account.equity == pytest.approx(sim.account_values()["NetLiquidation"], abs=20)
    play(sim, eng, 3)
    assert pf.position("EURUSD").qty == 0
    (buy, sell) = _executions(sim, "EURUSD")
    commissions = buy[3] + sell[3]
    eventually(lambda: eng.pnl["commissions"] == pytest.approx(commissions), 10)
    assert eng.pnl["realized"] == pytest.approx(20_000 * (sell[2] - buy[2]), abs=1e-6)
    assert pf.balances["EUR"] == pytest.approx(0, abs=1e-6)
    assert pf.cash == pytest.approx(20_000 * (sell[2] - buy[2]) - commissions, abs=1e-6)
    eventually(lambda: sim.account_values()["NetLiquidation"] == pytest.approx(
        cash0 + eng.pnl["net"], abs=0.01))  # fmt: skip


def test_futures_order_beyond_margin_refused_before_it_is_sent(sim, make_engine):
    orders = []
    strat = Scripted({1: lambda ctx: orders.append(ctx.buy(ES.name, 10))})  # 10 × 13,200
    # no order-size limit: the margin rule is what refuses it
    eng = make_engine(strat, risk=qn.RiskLimits(max_order_notional=None))
    eng.start([ES], lookback_days=0.2, interval="1m")
    eventually(lambda: eng.state == "running", 20)
    sim.step(1)
    play(sim, eng, 2)
    (order,) = orders
    eventually(lambda: order.status is qn.OrderStatus.REJECTED, 10)
    assert "insufficient margin" in order.reason and "13,200.00" in order.reason
    assert sim.executions() == [] and sim.positions() == {}


def test_paper_session_on_a_futures_month_and_an_fx_pair(tmp_path):
    def trade(ctx):
        ctx.buy(ES.name, 1)
        ctx.buy(EUR.name, 20_000)

    strat = Scripted({1: trade})
    kw = {"gateway": "sim", "sim": {"mode": "manual"}, "lookback_days": 0, "client_id": 23}
    session = qn.paper(strat, [ES, EUR], interval="1m", journal=tmp_path / "p.sqlite", **kw)
    assert session.symbols == ("ES 2024-03", "EURUSD")
    session.start(wait=True)
    try:
        # the embedded simulator serves the futures root and the pair asked for
        assert (session.sim.config.futures, session.sim.config.fx) == (("ES",), ("EURUSD",))
        session.step(3)
        eventually(lambda: len(strat.fills) == 2, 10)
        held = dict(zip(session.positions["symbol"], session.positions["qty"], strict=True))
        assert held == {"ES 2024-03": 1, "EURUSD": 20_000}
        assert session.sim.positions() == {"ESH4": 1, "EURUSD": 20_000}
        pf = session.engine.ledger.portfolio
        assert pf.positions["ES 2024-03"].multiplier == 50
        assert pf.balances["EUR"] == pytest.approx(20_000)
    finally:
        session.stop()


def test_a_futures_journal_resumed_books_its_fills_at_the_multiplier(sim, make_engine):
    strat = Scripted({1: lambda ctx: ctx.buy(ES.name, 2)})
    eng = make_engine(strat)
    eng.start([ES], lookback_days=0.2, interval="1m")
    eventually(lambda: eng.state == "running", 20)
    sim.step(1)
    play(sim, eng, 3)
    eventually(lambda: eng.pnl["commissions"] > 0, 10)
    before = eng.ledger.portfolio
    held = (before.position(ES.name).qty, before.position(ES.name).avg_price, before.cash)
    assert held[0] == 2 and held[2] == pytest.approx(-eng.pnl["commissions"])
    eng.stop()
    again = make_engine(Scripted())
    again.start([ES], lookback_days=0.2, interval="1m", wait=True)
    after = again.ledger.portfolio
    assert again.run_id == eng.run_id  # resumed
    # a future's cash moves by its P&L only: the journal's fills replayed as a future, not a stock
    assert (after.position(ES.name).qty, after.position(ES.name).avg_price, after.cash) == held
    assert after.position(ES.name).multiplier == 50
    assert again.ctx.position(ES.name).qty == 2
