"""qn.paper / qn.live safety rules: where they connect, and what they refuse. No sockets."""

from __future__ import annotations

import sys

import pytest

import quantnb as qn
from quantnb.errors import ConfigError, LiveTradingError
from quantnb.ib.config import IBConfig
from quantnb.trading import LiveStrategyEngine, stop_all
from quantnb.trading.engine import check_account_kind, is_paper_account, live_allowed
from quantnb.trading.front import paper, use_simulator

ENV = ("QUANTNB_IB_HOST", "QUANTNB_IB_PORT", "QUANTNB_IB_CLIENT_ID", "QUANTNB_ALLOW_LIVE")


class Idle(qn.Strategy):
    pass


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    stop_all()


def test_no_environment_means_the_simulator():
    assert use_simulator(None, {})
    assert use_simulator("sim", {"QUANTNB_IB_HOST": "10.0.0.5"})
    assert not use_simulator(None, {"QUANTNB_IB_PORT": "4002"})
    assert not use_simulator("ib", {})
    with pytest.raises(ConfigError, match="gateway='tws'"):
        use_simulator("tws", {})


def test_paper_session_without_environment_uses_the_simulator_lazily(tmp_path):
    s = paper(Idle(), ["aapl", "MSFT"], interval="1m", journal=tmp_path / "j.sqlite")
    assert s.simulated and s.sim is None  # nothing started before start()
    assert s.symbols == ("AAPL", "MSFT")
    assert s.engine.paper_trading and s.engine.state == "created"
    assert s.status["connection"] == "disconnected"
    assert s.fills.empty and s.errors.empty and s.positions.empty


def test_paper_session_reads_the_gateway_from_the_environment(monkeypatch):
    monkeypatch.setenv("QUANTNB_IB_HOST", "10.1.2.3")
    monkeypatch.setenv("QUANTNB_IB_PORT", "7497")
    monkeypatch.setenv("QUANTNB_IB_CLIENT_ID", "9")
    s = qn.paper(Idle(), "SPY")
    assert not s.simulated
    cfg = s.engine.config
    assert (cfg.host, cfg.port, cfg.client_id) == ("10.1.2.3", 7497, 9)
    assert s.key == ("10.1.2.3", 7497, 9)
    forced = qn.paper(Idle(), "SPY", gateway="sim", client_id=4)
    assert forced.simulated and forced.key == ("sim", 4)


def test_live_refuses_without_the_environment_opt_in():
    with pytest.raises(LiveTradingError, match=r"QUANTNB_ALLOW_LIVE=1.*not set"):
        qn.live(Idle(), ["AAPL"])


def test_live_refuses_a_wrong_opt_in_value(monkeypatch):
    monkeypatch.setenv("QUANTNB_ALLOW_LIVE", "yes")
    with pytest.raises(LiveTradingError, match="it is 'yes'"):
        qn.live(Idle(), ["AAPL"])


def test_live_refuses_the_simulator(monkeypatch):
    monkeypatch.setenv("QUANTNB_ALLOW_LIVE", "1")
    with pytest.raises(LiveTradingError, match=r"real IB gateway.*QUANTNB_IB_HOST"):
        qn.live(Idle(), ["AAPL"])
    with pytest.raises(LiveTradingError, match="paper only"):
        qn.live(Idle(), ["AAPL"], gateway="sim")


def test_live_with_opt_in_and_gateway_builds_a_live_engine(monkeypatch):
    monkeypatch.setenv("QUANTNB_ALLOW_LIVE", "1")
    monkeypatch.setenv("QUANTNB_IB_PORT", "4001")
    s = qn.live(Idle(), ["AAPL"])
    assert not s.engine.paper_trading and s.engine.config.port == 4001
    import quantnb.trading  # noqa: F401  (importing the package must not hide qn.live)

    assert callable(qn.live) and qn.live.__module__ == "quantnb"
    assert qn.live(Idle(), ["MSFT"]).engine.paper_trading is False


def test_engine_live_mode_needs_the_environment_before_any_socket():
    eng = LiveStrategyEngine(paper_trading=False, config=IBConfig(port=1))
    eng.add_strategy(Idle())
    with pytest.raises(LiveTradingError, match="QUANTNB_ALLOW_LIVE=1"):
        eng.connect()
    assert eng.state == "created" and eng.connection is None


def test_account_kinds():
    assert is_paper_account("DU1234567") and is_paper_account("df99999")
    assert not is_paper_account("U1234567") and not is_paper_account(None)
    check_account_kind("DU1234567", paper_trading=True)
    check_account_kind("U7654321", paper_trading=False)
    with pytest.raises(LiveTradingError, match=r"U\*\*\*4321 is not a paper account") as info:
        check_account_kind("U7654321", paper_trading=True)
    assert "7654321" not in str(info.value)  # the account id is masked
    with pytest.raises(LiveTradingError, match="is a paper account"):
        check_account_kind("DU1234567", paper_trading=False)
    assert live_allowed({"QUANTNB_ALLOW_LIVE": "1"}) and not live_allowed({})


def test_second_engine_for_the_same_gateway_and_client_is_refused(monkeypatch):
    a = LiveStrategyEngine(config=IBConfig(port=4999, client_id=3))
    b = LiveStrategyEngine(config=IBConfig(port=4999, client_id=3))
    a._claim()
    a.state = "running"
    try:
        with pytest.raises(ConfigError, match="another engine is already running"):
            b._claim()
        c = LiveStrategyEngine(config=IBConfig(port=4999, client_id=4))
        c._claim()
        c._release()
    finally:
        a.state = "stopped"
        a._release()
    b._claim()
    b._release()


def test_bad_arguments():
    with pytest.raises(ConfigError, match=r"not a quantnb.Strategy"):
        paper(object(), ["AAPL"])
    with pytest.raises(ConfigError, match="no symbols"):
        paper(Idle(), [])
    with pytest.raises(ConfigError, match="update_interval"):
        LiveStrategyEngine(update_interval=0)
    eng = LiveStrategyEngine()
    with pytest.raises(ConfigError, match="add_strategy"):
        eng.start(["AAPL"])


def test_dashboard_without_widgets_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "quantnb.widgets", None)
    s = paper(Idle(), ["AAPL"])
    with pytest.raises(ConfigError, match=r"pip install quantnb\[notebook\]"):
        s.dashboard()
