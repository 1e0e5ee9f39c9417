"""The simulator as a process: the command line, and ``GatewaySimulator(subprocess=True)``."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from quantnb.sim import GatewaySimulator

pytestmark = [pytest.mark.ib, pytest.mark.timeout(60)]


@pytest.mark.parametrize(
    "args", [["--port", "abc"], ["--speed", "-1"], ["--account", "XX"], ["--bogus"]]
)
def test_bad_arguments_give_one_line_and_exit_code_2(args):
    done = subprocess.run(
        [sys.executable, "-m", "quantnb.sim", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("quantnb.sim: error:")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_interrupted(sig, connect):
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantnb.sim", "--port", "0", "--symbols", "AAPL,MSFT"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("quantnb gateway simulator listening on 127.0.0.1:")
        assert "DU1234567" in lines[1] and "AAPL, MSFT" in lines[2]
        port = int(lines[0].rsplit(":", 1)[1])

        class Where:
            host, port = "127.0.0.1", 0

        Where.port = port
        ib = connect(Where)
        assert ib.managedAccounts() == ["DU1234567"]
        ib.disconnect()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_subprocess_mode_keeps_state_across_restarts(connect, ibc, wait, client_errors):
    client_errors.allow("Peer closed", "Socket disconnect")
    with GatewaySimulator(subprocess=True, mode="manual", symbols=["AAPL"]) as sim:
        ib = connect(sim)
        (aapl,) = ib.qualifyContracts(ibc.Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(aapl, ibc.MarketOrder("BUY", 4))
        wait(ib, lambda: trade.isDone())
        sim.step(2)
        price, now, port = sim.price("AAPL"), sim.now, sim.port
        ib.disconnect()
        sim.restart()
        assert sim.port == port
        assert sim.positions() == {"AAPL": 4}
        assert (sim.price("AAPL"), sim.now) == (price, now)
        assert sim.executions()[0]["shares"] == 4
        ib = connect(sim, client_id=2)
        assert [p.position for p in ib.positions()] == [4]
        sim.set_price("AAPL", 100.0)
        assert sim.price("AAPL") == 100.0
        ib.disconnect()
