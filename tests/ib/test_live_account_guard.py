"""A session checks the gateway's account at every reconnect: a gateway back on another account
(a live one behind a paper session, another paper account, a paper one behind a live session)
gets nothing sent or cancelled, an error naming the masked account, and the status says so."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn
from quantnb.errors import LiveTradingError
from quantnb.ib.config import IBConfig
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from quantnb.trading import LiveStrategyEngine

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]

LOST = ("Peer closed", "API connection failed", "Make sure API port")
MINUTE = pd.Timedelta(minutes=1)


class Idle(qn.Strategy):
    def on_data(self, ctx, data):
        pass


def _engine(sim: GatewaySimulator, tmp_path, *, paper_trading: bool = True) -> LiveStrategyEngine:
    cfg = IBConfig(host=sim.host, port=sim.port, client_id=31, timeout=5)
    eng = LiveStrategyEngine(
        paper_trading=paper_trading, config=cfg, journal=tmp_path / "j.sqlite", update_interval=5.0
    )
    eng.add_strategy(Idle())
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    return eng


def _messages(eng: LiveStrategyEngine) -> str:
    return "\n".join(eng.errors["message"])


def _refused(eng: LiveStrategyEngine, masked: str) -> pd.DataFrame:
    errors = eng.errors
    return errors[errors["message"].str.contains(f"logged in to account {masked}", regex=False)]


def _resting_order(sim: GatewaySimulator, eng: LiveStrategyEngine) -> qn.Order:
    below = round(sim.price("AAPL") * 0.5, 2)
    (order,) = eng.call(lambda c: [c.buy("AAPL", 2, limit=below, tif="GTC")])
    eventually(lambda: order.status is qn.OrderStatus.SUBMITTED, 10)
    return order


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=5) as s:
        yield s


def test_a_paper_session_sends_and_cancels_nothing_in_a_live_account(sim, tmp_path, client_errors):
    client_errors.allow(*LOST)
    eng = _engine(sim, tmp_path)
    try:
        resting = _resting_order(sim, eng)
        cash = eng.broker.get_cash_balance()
        values = eng.broker.account_values
        # the gateway comes back logged in to a live account, with money and shares of its own
        sim.switch_account("U7654321", cash=5_000_000)
        sim.trade_outside("AAPL", 5)
        eventually(lambda: len(_refused(eng, "U***4321")) == 1, 10)
        status = eng.status
        assert status["connection"] == "reconnecting" and not eng.is_connected
        assert "U***4321 now, a LIVE (real-money) account, not DU***4567" in status["alert"]
        assert "paper session" in status["alert"] and "nothing is sent" in status["alert"]
        assert status["waiting_for"].endswith("to log back in to account DU***4567")

        # nothing reaches the live account: no order, no cancel
        (refused,) = eng.call(lambda c: [c.buy("AAPL", 1)])
        assert refused.status is qn.OrderStatus.REJECTED and "nothing was sent" in refused.reason
        with pytest.raises(qn.QuantnbError, match="not connected"):
            eng.broker.cancel(resting)
        sim.step(2)
        assert len(sim.executions()) == 1  # the outside trade only
        eventually(lambda: eng.connection.attempts >= 4, 20)
        assert _refused(eng, "U***4321")["kind"].tolist() == ["account"]  # reported once
        assert _messages(eng).count("lost the connection") == 1
        assert eng.broker.get_cash_balance() == cash  # nothing of the live account is read
        assert eng.broker.account_values["TotalCashValue"] == values["TotalCashValue"]

        sim.switch_account("DU1234567")
        eventually(lambda: eng.status["connection"] == "connected", 20)
        status = eng.status
        assert status["alert"] is None and status["waiting_for"] is None
        assert resting.status is qn.OrderStatus.SUBMITTED  # still resting, never cancelled
        assert sim.positions() == {} and eng.positions.empty  # the live trade is not ours
        assert "U7654321" not in _messages(eng) + str(status.to_dict())  # masked everywhere
    finally:
        eng.stop()


def test_a_paper_session_refuses_another_paper_account(sim, tmp_path, client_errors):
    client_errors.allow(*LOST)
    eng = _engine(sim, tmp_path)
    try:
        sim.restart(account="DU7654321")  # same kind, another account
        eventually(lambda: len(_refused(eng, "DU***4321")) == 1, 10)
        assert "another paper account, not DU***4567" in eng.status["alert"]
        assert eng.status["connection"] != "connected"
        sim.restart(account="DU1234567")
        eventually(lambda: eng.status["connection"] == "connected", 20)
        assert eng.status["alert"] is None and eng.connection.account == "DU1234567"
    finally:
        eng.stop()


def test_a_relogin_to_a_live_account_is_refused(sim, tmp_path, client_errors):
    client_errors.allow(*LOST, 1100)
    eng = _engine(sim, tmp_path)
    try:
        sim.nightly_restart(relogin=True)
        sim.end_restart()  # at the login screen
        sim.login("U7654321")
        eventually(lambda: len(_refused(eng, "U***4321")) == 1, 20)
        assert "LIVE (real-money)" in eng.status["alert"]
        eng.stop()  # stopping while refused: nothing to finish there, nothing sent
        assert eng.state == "stopped" and eng.connection.state == "stopped"
        assert sim.executions() == [] and sim.connected_clients() == []
    finally:
        eng.stop()


def test_a_live_session_refuses_a_paper_account(tmp_path, client_errors, monkeypatch):
    client_errors.allow(*LOST)
    monkeypatch.setenv("QUANTNB_ALLOW_LIVE", "1")
    with GatewaySimulator(symbols=["AAPL"], mode="manual", account="U1234567") as sim:
        eng = _engine(sim, tmp_path, paper_trading=False)
        try:
            resting = _resting_order(sim, eng)
            sim.switch_account("DU7654321")
            eventually(lambda: len(_refused(eng, "DU***4321")) == 1, 10)
            alert = eng.status["alert"]
            assert "DU***4321 now, a paper account, not U***4567" in alert
            assert "live (real-money) session" in alert
            (refused,) = eng.call(lambda c: [c.sell("AAPL", 1)])
            assert refused.status is qn.OrderStatus.REJECTED
            sim.switch_account("U1234567")
            eventually(lambda: eng.status["connection"] == "connected", 20)
            assert resting.status is qn.OrderStatus.SUBMITTED and eng.status["alert"] is None
            assert "DU7654321" not in _messages(eng)
        finally:
            eng.stop()


def test_the_first_connect_checks_the_kind_before_anything_is_reconciled(tmp_path, client_errors):
    """A paper session on a live login stops at the account check: the broker never reconciles
    (its on-connected callback does not run), so nothing of the live account is read or booked."""
    with GatewaySimulator(symbols=["AAPL"], mode="manual", account="U7654321") as sim:
        sim.trade_outside("AAPL", 3)
        cfg = IBConfig(host=sim.host, port=sim.port, client_id=32, timeout=5)
        eng = LiveStrategyEngine(config=cfg, journal=tmp_path / "j.sqlite")
        eng.add_strategy(Idle())
        with pytest.raises(LiveTradingError, match=r"U\*\*\*4321 is not a paper account"):
            eng.connect()
        assert not eng.broker.is_reconciled and eng.broker.portfolio.open_positions() == {}
        assert eng.state == "disconnected" and sim.connected_clients() == []


def test_a_resumed_journal_is_refused_on_another_account(sim, tmp_path, client_errors):
    """A session started again on its journal trades the account the journal traded: on
    another one its orders would look unknown to the gateway and be closed in the journal."""
    client_errors.allow(*LOST)
    eng = _engine(sim, tmp_path)
    resting = _resting_order(sim, eng)
    eng.stop()
    sim.switch_account("DU7654321")
    with pytest.raises(LiveTradingError, match=r"DU\*\*\*4321, not DU\*\*\*4567 that this session"):
        eng.start(wait=True)
    assert eng.state == "disconnected"
    assert dict(zip(eng.orders["order_id"], eng.orders["status"])) == {resting.id: "submitted"}

    sim.switch_account("DU1234567")
    eng.start(wait=True)
    try:
        (again,) = eng.broker.open_orders()
        assert again.id == resting.id and again.status is qn.OrderStatus.SUBMITTED
    finally:
        eng.stop()
