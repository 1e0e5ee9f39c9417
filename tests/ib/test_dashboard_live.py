"""The dashboard on a real paper session over the simulator: it follows the engine through a
gateway restart and shows the gateway's positions afterwards; the session's realized P&L and
the buttons across stop() and start()."""

from __future__ import annotations

import pytest

import quantnb as qn
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually

pytest.importorskip("ipywidgets")
pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


class BuyOnce(qn.Strategy):
    def initialize(self, ctx):
        self.done = False

    def on_data(self, ctx, data):
        if not self.done and "AAPL" in data:
            ctx.buy("AAPL", 7)
            self.done = True


def test_dashboard_follows_a_restart(tmp_path, client_errors):
    client_errors.allow("Peer closed", "API connection failed", "Make sure API port")
    session = qn.paper(
        BuyOnce(),
        ["AAPL"],
        interval="1m",
        lookback_days=1,
        client_id=17,
        journal_dir=str(tmp_path),
        sim={"mode": "manual", "seed": 2},
    )
    session.start(wait=True)
    dash = session.dashboard(heartbeat=None)
    try:
        session.step(2)
        dash.refresh()
        state = dash.state()
        assert state["status"]["connection"] == "connected"
        assert [(p["symbol"], p["qty"]) for p in state["positions"]] == [("AAPL", 7.0)]

        session.sim.stop()
        eventually(lambda: session.status["connection"] != "connected", 10)
        dash.refresh()
        assert dash.state()["status"]["connection"] in ("reconnecting", "disconnected")
        assert "reconnecting" in dash.header.value or "disconnected" in dash.header.value

        session.sim.start()
        eventually(lambda: session.status["connection"] == "connected", 20)
        session.step(1)
        dash.refresh()
        state = dash.state()
        assert state["status"]["connection"] == "connected"
        assert [(p["symbol"], p["qty"]) for p in state["positions"]] == [("AAPL", 7.0)]
        assert session.sim.positions() == {"AAPL": 7}
        assert "AAPL" in dash.positions_html.value
    finally:
        dash.close()
        session.stop()


def test_dashboard_shows_a_gateway_back_on_a_live_account(tmp_path, client_errors):
    client_errors.allow("Peer closed", "API connection failed", "Make sure API port")
    session = qn.paper(
        BuyOnce(),
        ["AAPL"],
        interval="1m",
        lookback_days=0,
        client_id=18,
        journal_dir=str(tmp_path),
        sim={"mode": "manual", "seed": 2},
    )
    session.start(wait=True)
    dash = session.dashboard(heartbeat=None)
    try:
        session.sim.switch_account("U7654321")
        eventually(lambda: session.status["alert"] is not None, 10)
        dash.refresh()
        status = dash.state()["status"]
        assert "U***4321 now, a LIVE (real-money) account" in status["alert"]
        assert "Not trading:" in dash.header.value and "U***4321" in dash.header.value
        assert "Waiting for:" in dash.header.value
        assert "U7654321" not in dash.header.value + dash.errors_html.value
        assert "U***4321" in dash.errors_html.value  # in the error log too

        session.sim.switch_account("DU1234567")
        eventually(lambda: session.status["connection"] == "connected", 20)
        dash.refresh()
        assert dash.state()["status"]["alert"] is None
        assert "Not trading" not in dash.header.value
    finally:
        dash.close()
        session.stop()


class RoundTrip(qn.Strategy):
    """Buys 10 AAPL on its first bar and sells them on its third, once per strategy object
    (a restart runs ``initialize`` again, not the trade)."""

    def __init__(self) -> None:
        self.bars = 0

    def on_data(self, ctx, data):
        self.bars += 1
        if self.bars == 1:
            ctx.buy("AAPL", 10)
        elif self.bars == 3:
            ctx.sell("AAPL", 10)


def _enabled(dash) -> tuple[bool, bool, bool]:
    return tuple(not b.disabled for b in (dash.start_button, dash.stop_button, dash.flatten_button))


def test_realized_pnl_survives_stop_and_start_and_buttons_follow_the_state(tmp_path):
    from quantnb.trading.pnl import pnl_from_fills
    from quantnb.widgets import Dashboard
    from tests.ib.test_live_engine import _engine, _step

    with GatewaySimulator(symbols=["AAPL"], mode="manual", seed=5) as sim:
        eng = _engine(sim, tmp_path, RoundTrip(), client_id=19)
        eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
        dash = Dashboard(eng, heartbeat=None)
        try:
            assert _enabled(dash) == (False, True, True)  # running: Stop and Flatten only
            _step(sim, eng, 4)
            fills = eng.fills
            assert list(fills["side"]) == ["BUY", "SELL"] and sim.positions() == {}
            buy, sell = fills["price"]
            dash.refresh()
            before = dash.state()["pnl"]
            assert before.realized == pytest.approx(10 * (sell - buy))
            assert before.realized != 0 and before.unrealized == 0
            assert before.commissions == pytest.approx(fills["commission"].sum())
            assert before.commissions > 0
            assert before.net == pytest.approx(before.realized - before.commissions)
            assert before == pnl_from_fills(fills)  # the ledger agrees with the journal's fills
            assert "Net P&amp;L" in dash.account_html.value

            dash.stop().result(30)
            eventually(lambda: eng.state == "stopped", 10)
            dash.refresh()
            assert _enabled(dash) == (True, False, False)  # stopped: Start only
            assert dash.state()["pnl"] == before

            started = dash.start()  # what the Start button does: engine.start(), no arguments
            started.result(30)
            eventually(lambda: eng.state == "running", 20)
            dash.refresh()
            assert _enabled(dash) == (False, True, True)
            _step(sim, eng, 1)
            dash.refresh()
            after = dash.state()["pnl"]
            assert after.realized == pytest.approx(before.realized)  # not reset by the restart
            assert after.commissions == pytest.approx(before.commissions)
            assert eng.pnl["net"] == pytest.approx(before.net)
            assert f"{before.net:+,.2f}" in dash.account_html.value
            assert len(eng.fills) == 2  # no trade repeated
        finally:
            dash.close()
            eng.stop()
