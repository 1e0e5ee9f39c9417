"""The dashboard on a real paper session over the simulator: it follows the engine through a
gateway restart and shows the gateway's positions afterwards."""

from __future__ import annotations

import pytest

import quantnb as qn
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
