"""Bad input to a live run, through the real IB client against the gateway simulator: unknown
symbols fail ``start()`` naming them (or are skipped when asked), and a bad order from the
strategy is a quantnb error that never reaches the gateway."""

from __future__ import annotations

import pytest

import quantnb as qn
from quantnb.errors import OrderError, UnknownSymbolError
from quantnb.sim import GatewaySimulator
from quantnb.testing import eventually
from tests.ib.test_live_engine import Scripted, _engine

pytestmark = [pytest.mark.ib, pytest.mark.timeout(90)]


@pytest.fixture
def sim():
    with GatewaySimulator(symbols=["AAPL", "MSFT"], mode="manual", seed=5) as s:
        yield s


def test_unknown_symbols_fail_start_naming_them_and_nothing_starts(sim, tmp_path, client_errors):
    client_errors.allow(200)  # "No security definition has been found": the client logs it
    eng = _engine(sim, tmp_path, Scripted(), client_id=21)
    with pytest.raises(UnknownSymbolError) as info:
        eng.start(["AAPL", "NOPE", "msft", "ZZZZ"], lookback_days=0, interval="1m", wait=True)
    message = str(info.value)
    assert info.value.symbols == ("NOPE", "ZZZZ")
    assert "NOPE, ZZZZ" in message and "skip_unknown=True" in message
    assert "AAPL, MSFT" in message  # what the fix would trade
    assert eng.state == "disconnected" and not eng.is_running
    eventually(lambda: 21 not in sim.connected_clients(), 5)  # the client id is free again
    assert eng.errors["message"].str.contains("start refused").any()

    # the same engine starts once the symbols are right
    eng.start(["AAPL", "MSFT"], lookback_days=0, interval="1m", wait=True)
    assert eng.symbols == ("AAPL", "MSFT") and eng.status["symbols"] == 2
    eng.stop()


def test_skip_unknown_starts_with_the_known_symbols_only(sim, tmp_path, client_errors):
    client_errors.allow(200)
    strat = Scripted({0: lambda c: c.buy("AAPL", 3)})
    eng = _engine(sim, tmp_path, strat, client_id=21)
    eng.start(["NOPE", "AAPL"], lookback_days=0, interval="1m", wait=True, skip_unknown=True)
    assert eng.symbols == ("AAPL",) and eng.ctx.symbols == ("AAPL",)
    skipped = eng.errors[eng.errors["message"].str.startswith("skipped NOPE")]
    assert len(skipped) == 1 and skipped["symbol"].iloc[0] == "NOPE"
    sim.step(2)
    eventually(lambda: sim.positions().get("AAPL") == 3, 10)
    assert strat.seen[0][1] == ("AAPL",)
    eng.stop()


def test_skip_unknown_with_no_known_symbol_still_fails(sim, tmp_path, client_errors):
    client_errors.allow(200)
    eng = _engine(sim, tmp_path, Scripted(), client_id=21)
    with pytest.raises(UnknownSymbolError, match="knows none of the symbols NOPE, ZZZZ"):
        eng.start(["NOPE", "ZZZZ"], lookback_days=0, interval="1m", skip_unknown=True)
    assert eng.state == "disconnected"


def test_paper_session_start_names_unknown_symbols(client_errors):
    client_errors.allow(200)
    session = qn.paper(
        Scripted(),
        ["AAPL", "NOPE"],
        interval="1m",
        lookback_days=0,
        client_id=23,
        journal_dir=None,
        sim={"symbols": ("AAPL",), "mode": "manual"},
    )
    try:
        with pytest.raises(UnknownSymbolError, match="NOPE"):
            session.start(wait=True)
        assert not session.is_running
        session.start(wait=True, skip_unknown=True)
        assert session.engine.symbols == ("AAPL",) and session.is_running
    finally:
        session.stop()


def test_a_bad_order_is_a_strategy_error_and_never_reaches_the_gateway(sim, tmp_path):
    script = {
        0: lambda c: c.buy("AAPL", 0.5),
        1: lambda c: c.cancel(None),
        2: lambda c: c.buy("AAPL", 1, type="iceberg"),
        3: lambda c: c.buy("AAPL", 2),
    }
    strat = Scripted(script)
    eng = _engine(sim, tmp_path, strat, client_id=21)
    eng.start(["AAPL"], lookback_days=0, interval="1m", wait=True)
    for _ in range(5):
        sim.step(1)
    eventually(lambda: sim.positions().get("AAPL") == 2, 10)
    errors = eng.errors[eng.errors["kind"] == "strategy"]["message"].tolist()
    assert len(errors) == 3
    assert f"{OrderError.__name__}: qty=0.5 is not a whole number of shares" in errors[0]
    assert "cancel(None)" in errors[1] and "type='iceberg'" in errors[2]
    assert len(sim.executions()) == 1 and sim.executions()[0]["shares"] == 2
    eng.stop()
