"""Bad input across the public API: every case raises the quantnb error of its kind, naming the
bad value and the fix, in the backtest and the live context alike; never a crash or a silent run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantnb as qn
from quantnb.data.validate import validate
from quantnb.domain import checks
from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Bar, Order
from quantnb.errors import (
    ConfigError,
    DataError,
    IntervalError,
    OptionError,
    OrderError,
    QuantnbError,
)
from quantnb.ib.config import IBConfig
from quantnb.trading.context import LiveContext

# garbage times make pandas warn that it parses them one by one: expected here
pytestmark = pytest.mark.filterwarnings("ignore:Could not infer format:UserWarning")

DATA = qn.data.sample(["AAPL", "MSFT"], bars=6, interval="1d", seed=1)

# ---- orders ---------------------------------------------------------------------------------
# (id, the call, the words the message must hold: the bad value and the fix)
ORDER_CASES: list[tuple[str, Callable[[qn.Context], object], tuple[str, ...]]] = [
    ("qty-half", lambda c: c.buy("AAPL", 0.5), ("qty=0.5", "whole", "int(qty)")),
    ("qty-true", lambda c: c.buy("AAPL", True), ("qty=True", "bool")),
    ("qty-text", lambda c: c.buy("AAPL", "10"), ("qty='10'", "qty=10")),
    ("qty-tiny", lambda c: c.sell("AAPL", 1e-9), ("qty=1e-09", "whole")),
    ("qty-nan", lambda c: c.buy("AAPL", float("nan")), ("qty=nan", "finite")),
    ("qty-inf", lambda c: c.buy("AAPL", float("inf")), ("qty=inf", "finite")),
    ("qty-none", lambda c: c.buy("AAPL", None), ("qty=None", "not a number")),
    ("qty-zero", lambda c: c.buy("AAPL", 0), ("qty=0", "positive")),
    ("qty-negative", lambda c: c.buy("AAPL", -5), ("qty=-5", "positive")),
    ("order-half", lambda c: c.order("AAPL", -2.5), ("qty=-2.5", "whole")),
    ("order-numpy-bool", lambda c: c.order("AAPL", np.bool_(True)), ("qty=", "bool")),
    ("target-half", lambda c: c.order_target("AAPL", 0.5), ("target=0.5", "whole")),
    ("bracket-half", lambda c: c.bracket("AAPL", 1.5, stop_loss=1.0), ("qty=1.5", "whole")),
    ("limit-text", lambda c: c.buy("AAPL", 1, limit="abc"), ("limit='abc'", "not a number")),
    ("limit-true", lambda c: c.buy("AAPL", 1, limit=True), ("limit=True", "bool")),
    ("type-iceberg", lambda c: c.buy("AAPL", 1, type="iceberg"), ("'iceberg'", "'limit'")),
    ("type-int", lambda c: c.buy("AAPL", 1, type=3), ("type=3", "'market'")),
    ("cancel-none", lambda c: c.cancel(None), ("cancel(None)", ".id")),
    ("cancel-int", lambda c: c.cancel(12345), ("cancel(12345)", "'12345'")),
    ("cancel-unknown-id", lambda c: c.cancel("nope"), ("cancel('nope')", "no order")),
    ("cancel-empty", lambda c: c.cancel(""), ("cancel('')", ".id")),
    ("unknown-symbol", lambda c: c.buy("TSLA", 1), ("'TSLA'", "AAPL")),
    ("tif", lambda c: c.buy("AAPL", 1, tif="GTX"), ("tif='GTX'", "GTC")),
]


class Once(qn.Strategy):
    """Calls ``action(ctx)`` on the third bar (a price and a position exist by then)."""

    def __init__(self, action) -> None:
        self.action = action

    def initialize(self, ctx):
        self.n = 0

    def on_data(self, ctx, data):
        self.n += 1
        if self.n == 1:
            ctx.buy("AAPL", 2)
        if self.n == 3:
            self.action(ctx)


def _backtest(action) -> qn.BacktestResult:
    return qn.backtest(Once(action), DATA, progress=False)


def _live_ctx() -> LiveContext:
    class Broker:
        def __init__(self) -> None:
            self.portfolio = Portfolio(10_000.0)
            self.orders: dict[str, Order] = {}

        def open_orders(self, symbol=None):
            return []

    ctx = LiveContext(["AAPL", "MSFT"], Broker(), "run1")
    t = pd.Timestamp("2024-01-02 14:30", tz="UTC")
    for s in ("AAPL", "MSFT"):
        ctx.update(Bar(s, t, 100.0, 101.0, 99.0, 100.0, 1000.0))
    ctx.set_now(t)
    return ctx


@pytest.mark.parametrize("case", ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_bad_orders_raise_order_error_in_a_backtest(case):
    _, action, words = case
    with pytest.raises(OrderError) as info:
        _backtest(action)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("case", ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_bad_orders_raise_order_error_in_the_live_context(case):
    _, action, words = case
    ctx = _live_ctx()
    with pytest.raises(OrderError) as info:
        action(ctx)
    for word in words:
        assert word in str(info.value)
    assert ctx.outbox == []  # nothing was queued for the broker


OPTION_TYPOS = [
    (lambda c: c.buy("AAPL", 1, limt=99.0), ("buy('AAPL', ...)", "'limt'", "'limit'")),
    (lambda c: c.order("AAPL", -1, stop_price=90.0), ("sell('AAPL', ...)", "'stop_price'")),
    (lambda c: c.order_target("AAPL", 5, time_in_force="GTC"), ("'time_in_force'", "tif")),
    (lambda c: c.bracket("AAPL", 1, stop_los=90.0), ("bracket()", "'stop_loss'")),
]


@pytest.mark.parametrize("mode", ["backtest", "live"])
@pytest.mark.parametrize("case", OPTION_TYPOS)
def test_a_misspelt_order_option_is_named_in_both_contexts(mode, case):
    action, words = case
    with pytest.raises(OptionError) as info:
        _backtest(action) if mode == "backtest" else action(_live_ctx())
    for word in words:
        assert word in str(info.value)


def test_good_quantities_still_trade_in_both_contexts():
    ctx = _live_ctx()
    for qty in (3, 3.0, np.int64(3), np.float32(3.0)):
        order = ctx.buy("AAPL", qty)
        assert order.qty == 3.0 and isinstance(order.qty, float)
    assert ctx.order("AAPL", 0) is None and len(ctx.outbox) == 4
    assert ctx.cancel(ctx.outbox[0].id) is True and ctx.cancel(ctx.outbox[0]) is True

    res = _backtest(lambda c: c.sell("AAPL", np.int32(2)))
    assert res.fills["qty"].tolist() == [2.0, 2.0] and res.fills["side"].tolist() == ["BUY", "SELL"]


def test_the_checks_are_one_helper_shared_by_both_contexts(monkeypatch):
    """Both contexts call quantnb.domain.checks: a change there reaches backtest and live."""
    seen = []
    real = checks.quantity

    def spy(name, value, **kw):
        seen.append(value)
        return real(name, value, **kw)

    monkeypatch.setattr(checks, "quantity", spy)
    _live_ctx().buy("AAPL", 7)
    _backtest(lambda c: c.buy("AAPL", 8))
    assert 7 in seen and 8 in seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda x: not (math.isfinite(x) and x == math.trunc(x) and x > 0)
        ),
        st.fractions().filter(lambda f: f.denominator != 1 or f <= 0),
        st.booleans(),
        st.text(max_size=6),
        st.none(),
    )
)
def test_fuzz_quantities_that_are_not_whole_positive_shares(qty):
    ctx = _live_ctx()
    with pytest.raises(OrderError, match=r"qty="):
        ctx.buy("AAPL", qty)
    with pytest.raises(OrderError, match=r"qty="):
        _backtest(lambda c: c.sell("AAPL", qty))


# ---- data -----------------------------------------------------------------------------------
HEADER = "time,open,high,low,close,volume\n"


def _csv(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


DATA_CASES: list[tuple[str, Callable[[Path], object], type[QuantnbError], tuple[str, ...]]] = [
    ("empty-frame", lambda p: DATA["AAPL"].iloc[:0], DataError, ("no bars", "AAPL")),
    ("empty-dict-frame", lambda p: {"AAPL": DATA["AAPL"].iloc[:0]}, DataError, ("no bars",)),
    ("header-only-csv", lambda p: _csv(p, HEADER), DataError, ("no bars", "bars.csv")),
    ("empty-file", lambda p: _csv(p, ""), DataError, ("cannot read", "bars.csv")),
    (
        "out-of-range-time",
        lambda p: _csv(p, HEADER + "1200-01-01,1,1,1,1,1\n"),
        DataError,
        ("1200-01-01", "1677", "2262", "row 0"),
    ),
    (
        "far-future-time",
        lambda p: _csv(p, HEADER + "2024-01-02,1,1,1,1,1\n3000-01-01,1,1,1,1,1\n"),
        DataError,
        ("3000-01-01", "row 1"),
    ),
    (
        "garbage-csv",
        lambda p: _csv(p, "a,b\n,,,,\nfoo\n"),
        DataError,
        ("more fields than the header", "['a', 'b']"),
    ),
    ("binary-file", lambda p: _binary(p), DataError, ("cannot read",)),
    ("no-time", lambda p: _csv(p, "open,high,low,close\n1,1,1,1\n"), DataError, ("time",)),
    ("bad-time", lambda p: _csv(p, HEADER + "yesterday,1,1,1,1,1\n"), DataError, ("yesterday",)),
    (
        "bad-time-among-offsets",
        lambda p: _csv(
            p, HEADER + "x,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n2024-01-02T10:00:00+05:00,1,1,1,1,1\n"
        ),
        DataError,
        ("'x' at row 0",),
    ),
    ("text-price", lambda p: _csv(p, HEADER + "2024-01-02,1,x,1,1,1\n"), DataError, ("'x'",)),
    ("nan-price", lambda p: _csv(p, HEADER + "2024-01-02,1,,1,1,1\n"), DataError, ("NaN",)),
    ("missing-file", lambda p: p / "nope.csv", DataError, ("no such file",)),
    ("unknown-type", lambda p: _csv(p, HEADER, "bars.xlsx"), ConfigError, (".xlsx",)),
    ("not-data", lambda p: 42, ConfigError, ("int",)),
]


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "bars.csv"
    path.write_bytes(bytes(range(256)) * 4)
    return path


@pytest.mark.parametrize("case", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_raises_data_errors_in_load_and_backtest(case, tmp_path):
    _, make, kind, words = case
    with pytest.raises(kind) as info:
        qn.data.load(make(tmp_path))
    for word in words:
        assert word in str(info.value)
    with pytest.raises(kind):
        qn.backtest(Once(lambda c: None), make(tmp_path), progress=False)


def test_an_empty_symbol_among_others_is_named(tmp_path):
    with pytest.raises(DataError, match="MSFT: no bars"):
        qn.backtest(
            Once(lambda c: None), {"AAPL": DATA["AAPL"], "MSFT": DATA["MSFT"].iloc[:0]}, 1e5
        )


CELLS = st.one_of(
    st.sampled_from(["", "nan", "inf", "-1", "0", "1e400", "abc", "2024-01-02", "1200-01-01"]),
    st.sampled_from(["2024-01-02 09:30", "9999-12-31", "\u00e9", '"', "1,2", "2024-13-45"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.text(max_size=5),
)
NAMES = st.sampled_from(["time", "date", "open", "high", "low", "close", "volume", "symbol", "x"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(NAMES, min_size=0, max_size=8),
    rows=st.lists(st.lists(CELLS, max_size=9), max_size=6),
)
def test_fuzz_garbage_csv_is_a_quantnb_error_or_clean_bars(tmp_path_factory, header, rows):
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    _check_load(tmp_path_factory.mktemp("csv") / "x.csv", text)


TIMES = st.sampled_from(
    [
        *("2024-01-02", "2024-01-03 09:30", "2024-01-02T10:00:00+05:00", "2024-01-02 10:00-05:00"),
        *("", "x", "1200-01-01", "9999-12-31", "2262-04-12", "0001-01-01", "2024-02-30"),
    ]
)
PRICES = st.one_of(st.sampled_from(["1", "2", "1.5", "100", ""]), CELLS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbols=st.booleans(),
    rows=st.lists(
        st.tuples(st.sampled_from(["A", "B"]), TIMES, PRICES, PRICES, PRICES, PRICES, PRICES),
        max_size=5,
    ),
)
def test_fuzz_bar_shaped_csv_is_a_quantnb_error_or_clean_bars(tmp_path_factory, symbols, rows):
    header = ("symbol," if symbols else "") + HEADER
    text = header + "".join(",".join(r if symbols else r[1:]) + "\n" for r in rows)
    _check_load(tmp_path_factory.mktemp("bars") / "x.csv", text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_fuzz_random_text_is_a_quantnb_error_or_clean_bars(tmp_path_factory, text):
    _check_load(tmp_path_factory.mktemp("txt") / "x.csv", text)


def _check_load(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        loaded = qn.data.load(path)
    except QuantnbError:
        return
    frames = loaded if isinstance(loaded, dict) else {"x": loaded}
    for symbol, df in frames.items():  # loaded without complaint: real, clean bars only
        assert len(df) > 0
        validate(df, symbol)


# ---- configuration and options -------------------------------------------------------------
def _paper(**kw):
    return qn.paper(Once(lambda c: None), ["AAPL"], gateway="sim", **kw)


CONFIG_CASES: list[tuple[str, Callable[[], object], type[QuantnbError], tuple[str, ...]]] = [
    ("paper-int-symbols", lambda: qn.paper(Once(None), 123), ConfigError, ("symbols=123",)),
    ("paper-none-symbols", lambda: qn.paper(Once(None), None), ConfigError, ("None", "AAPL")),
    ("paper-empty-symbols", lambda: qn.paper(Once(None), []), ConfigError, ("no symbols",)),
    ("paper-symbol-int", lambda: qn.paper(Once(None), ["AAPL", 5]), DataError, ("symbol 5",)),
    ("paper-interval-empty", lambda: _paper(interval=""), IntervalError, ("''", "5m")),
    ("paper-interval-bad", lambda: _paper(interval="7m"), IntervalError, ("'7m'", "5m")),
    (
        "paper-misspelt",
        lambda: _paper(jurnal_dir="/tmp/x"),
        OptionError,
        ("'jurnal_dir'", "'journal_dir'", "lookback_days", "client_id", "sim"),
    ),
    ("paper-gateway", lambda: _paper(gateway_="ib"), OptionError, ("'gateway_'",)),
    ("paper-not-strategy", lambda: qn.paper(object(), ["AAPL"]), ConfigError, ("Strategy",)),
    (
        "backtest-misspelt",
        lambda: qn.backtest(Once(None), DATA, comission=0.0),
        OptionError,
        ("'comission'", "'commission'", "allow_short"),
    ),
    ("backtest-interval-empty", lambda: _bt(interval=""), IntervalError, ("''",)),
    ("backtest-cash", lambda: _bt(cash="lots"), ConfigError, ("cash='lots'",)),
    ("backtest-cash-nan", lambda: _bt(cash=float("nan")), ConfigError, ("cash=nan",)),
    ("backtest-not-strategy", lambda: qn.backtest(object(), DATA), ConfigError, ("Strategy",)),
    (
        "sweep-misspelt",
        lambda: qn.sweep(Grid, DATA, {"q": [1]}, executor="serial", levrage=2),
        OptionError,
        ("'levrage'", "'leverage'"),
    ),
    (
        "client-id-env",
        lambda: IBConfig.from_env({"QUANTNB_IB_CLIENT_ID": "abc"}),
        ConfigError,
        ("QUANTNB_IB_CLIENT_ID='abc'", "e.g. 1"),
    ),
    (
        "port-env",
        lambda: IBConfig.from_env({"QUANTNB_IB_PORT": "gw"}),
        ConfigError,
        ("QUANTNB_IB_PORT='gw'", "4002"),
    ),
    ("client-id-arg", lambda: IBConfig(client_id="7"), ConfigError, ("client_id='7'",)),
    ("timeout-arg", lambda: IBConfig(timeout="10"), ConfigError, ("timeout='10'",)),
    ("timeout-nan", lambda: IBConfig(timeout=float("nan")), ConfigError, ("timeout=nan",)),
    ("engine-interval-empty", lambda: _engine_start(interval=""), IntervalError, ("''",)),
    ("engine-symbols-int", lambda: _engine_start(symbols=123), ConfigError, ("symbols=123",)),
    ("sim-setting", lambda: _paper(sim={"sped": 2}).start(), ConfigError, ("'sped'",)),
    ("sim-not-dict", lambda: _paper(sim=[1]), ConfigError, ("sim=[1]", "dict")),
    ("paper-lookback", lambda: _paper(lookback_days=-1), ConfigError, ("lookback_days=-1",)),
    ("paper-lookback-text", lambda: _paper(lookback_days="x"), ConfigError, ("'x'", "30")),
    ("paper-capacity", lambda: _paper(capacity=0.5), ConfigError, ("capacity=0.5", "integer")),
    ("paper-group-timeout", lambda: _paper(group_timeout="x"), ConfigError, ("'x'",)),
    ("paper-timeout", lambda: _paper(timeout="x"), ConfigError, ("timeout='x'",)),
    ("paper-journal", lambda: _paper(journal=5), ConfigError, ("journal=5", "path")),
    ("paper-risk", lambda: _paper(risk={"max_order_qty": 1}), ConfigError, ("RiskLimits",)),
    ("paper-allow-short", lambda: _paper(allow_short="no"), ConfigError, ("True or False",)),
    ("paper-commission", lambda: _paper(commission=True), ConfigError, ("commission=True",)),
    ("backtest-cash-bool", lambda: _bt(cash=True), ConfigError, ("cash=True",)),
    ("backtest-leverage-inf", lambda: _bt(leverage=float("inf")), ConfigError, ("leverage=inf",)),
    ("backtest-leverage-bool", lambda: _bt(leverage=True), ConfigError, ("leverage=True",)),
    ("backtest-short-text", lambda: _bt(allow_short="no"), ConfigError, ("allow_short='no'",)),
    ("backtest-lookahead", lambda: _bt(check_lookahead=0), ConfigError, ("check_lookahead=0",)),
    ("backtest-risk-dict", lambda: _bt(risk={"max_order_qty": 1}), ConfigError, ("RiskLimits",)),
    ("backtest-slippage-2", lambda: _bt(slippage=2), ConfigError, ("rate=2.0", "200%")),
    ("backtest-slippage-bool", lambda: _bt(slippage=True), ConfigError, ("slippage=True",)),
    ("backtest-commission-1", lambda: _bt(commission=1), ConfigError, ("100%",)),
    ("model-rate-text", lambda: qn.PercentCommission(rate="x"), ConfigError, ("rate='x'",)),
    ("sample-int", lambda: qn.data.sample(123), ConfigError, ("symbols=123",)),
    ("sample-misspelt", lambda: qn.data.sample("AAPL", seeed=1), OptionError, ("'seed'",)),
    ("load-misspelt", lambda: qn.data.load(DATA["AAPL"], symbl="X"), OptionError, ("'symbol'",)),
]


def _engine_start(symbols=("AAPL",), **kw):
    """LiveStrategyEngine.start() checks its arguments before it connects (nothing listens)."""
    from quantnb.trading import LiveStrategyEngine

    eng = LiveStrategyEngine(config=IBConfig(port=1, timeout=0.5), journal_dir="/nonexistent")
    eng.add_strategy(Once(None))
    return eng.start(symbols, lookback_days=0, **kw)


def _bt(**kw):
    return qn.backtest(Once(lambda c: None), DATA, progress=False, **kw)


class Grid(qn.Strategy):
    def __init__(self, q: int = 1) -> None:
        self.q = q


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_configuration_raises_config_errors(case):
    _, call, kind, words = case
    with pytest.raises(kind) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_client_id_message_does_not_suggest_a_port():
    with pytest.raises(ConfigError) as info:
        IBConfig.from_env({"QUANTNB_IB_CLIENT_ID": "abc"})
    assert "4002" not in str(info.value)


def test_a_misspelt_option_is_also_a_type_error_for_old_except_clauses():
    with pytest.raises(TypeError, match="jurnal_dir"):
        _paper(jurnal_dir="x")
    with pytest.raises(TypeError, match="comission"):
        _bt(comission=0.0)


def test_live_names_its_options_too(monkeypatch):
    monkeypatch.setenv("QUANTNB_ALLOW_LIVE", "1")
    with pytest.raises(OptionError, match=r"live\(\): unknown option 'jurnal_dir'"):
        qn.live(Once(None), ["AAPL"], jurnal_dir="x")


def test_every_engine_option_is_accepted_by_paper():
    """The option list comes from the engine's signature: a new engine option is known at once."""
    from quantnb.trading.arguments import session_options

    known = session_options()
    assert {"journal_dir", "commission", "risk", "lookback_days", "sim", "client_id"} <= known
    assert "registry_key" not in known and "paper_trading" not in known


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=14))
def test_fuzz_unknown_option_names(name):
    from quantnb.options import keyword_names
    from quantnb.trading.arguments import session_options

    bt_known = keyword_names(qn.backtest)
    if name not in bt_known:
        with pytest.raises(OptionError, match=repr(name)):
            qn.backtest(Once(None), DATA, **{name: 1})
    if name not in session_options() | keyword_names(qn.paper):
        with pytest.raises(OptionError, match=repr(name)):
            qn.paper(Once(None), ["AAPL"], gateway="sim", **{name: 1})
