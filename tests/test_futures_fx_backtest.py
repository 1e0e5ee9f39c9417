"""Futures, FX and indices in a backtest, checked by hand: dollars per point, commission per
contract, margin, cash per currency at the bar's rate, the tick grid and index orders."""

from __future__ import annotations

import pandas as pd
import pytest

import quantnb as qn

IDX = pd.date_range("2024-01-02", periods=5, freq="B", tz="UTC")
ES = qn.future("ES", "2024-03")
FEES = qn.PerContractCommission(per_contract=0.85, fees=1.40)  # 2.25 a contract


def bars(opens, closes) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": opens,
            "high": [max(o, c) * 1.001 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) * 0.999 for o, c in zip(opens, closes, strict=True)],
            "close": closes,
            "volume": 1000.0,
        },
        index=IDX[: len(opens)],
    )


class Script(qn.Strategy):
    """Places ``plan[i]`` (a list of (method, args, kwargs)) on the i-th bar."""

    def __init__(self, plan: dict[int, list]) -> None:
        super().__init__()
        self.plan = plan
        self.i = -1

    def on_data(self, ctx, bars):
        self.i += 1
        for method, args, kwargs in self.plan.get(self.i, ()):
            getattr(ctx, method)(*args, **kwargs)


ES_BARS = bars([4800, 4801, 4810, 4820, 4830], [4800, 4805, 4815, 4825, 4830])


def test_futures_pnl_is_multiplier_times_points_and_commission_per_contract():
    plan = {0: [("buy", (ES, 2), {})], 2: [("close", (ES,), {})]}
    r = qn.backtest(Script(plan), {ES: ES_BARS}, cash=100_000, commission=FEES, slippage=0)
    f = r.fills
    assert list(f["price"]) == [4801.0, 4820.0]
    assert list(f["commission"]) == [4.5, 4.5]
    eq = r.equity
    # cash moves by commission only when opening; equity by $50 a point and contract
    assert eq["cash"].iloc[1] == pytest.approx(100_000 - 4.5)
    assert eq["equity"].iloc[1] == pytest.approx(100_000 - 4.5 + 2 * 50 * (4805 - 4801))
    assert eq["equity"].iloc[2] == pytest.approx(100_000 - 4.5 + 2 * 50 * (4815 - 4801))
    # closed at 4820: realized 2 × 50 × 19 = 1,900 less 9 of commission
    assert eq["cash"].iloc[-1] == pytest.approx(100_000 + 1_900 - 9)
    assert eq["equity"].iloc[-1] == pytest.approx(101_891.0)
    assert list(r.cash_by_currency.columns) == ["USD"]


def test_futures_short_needs_no_allow_short():
    plan = {0: [("sell", (ES, 1), {})]}
    r = qn.backtest(Script(plan), {ES: ES_BARS}, cash=100_000, commission=FEES, slippage=0)
    assert r.equity["equity"].iloc[-1] == pytest.approx(100_000 - 2.25 - 50 * (4830 - 4801))


def test_futures_order_beyond_initial_margin_is_rejected():
    # ES initial margin 13,200 a contract: 20,000 pays for one, not two
    plan = {0: [("buy", (ES, 2), {})], 1: [("buy", (ES, 1), {})]}
    r = qn.backtest(Script(plan), {ES: ES_BARS}, cash=20_000, commission=FEES, slippage=0)
    assert len(r.rejections) == 1
    reason = r.rejections["reason"].iloc[0]
    assert "insufficient margin" in reason and "26,404.50" in reason
    assert list(r.fills["qty"]) == [1.0]


def test_margin_call_is_recorded_and_liquidates_at_next_open():
    es = qn.with_margin(ES, initial=10_000, maintenance=9_000)
    data = {es: bars([4800, 4800, 4700, 4650, 4660], [4800, 4790, 4600, 4660, 4670])}
    plan = {0: [("buy", (es, 1), {})]}
    r = qn.backtest(Script(plan), data, cash=10_500, commission=FEES, slippage=0)
    calls = r.margin_calls
    assert len(calls) == 1
    call = calls.iloc[0]
    # bar 2 closes at 4600: equity 10,500 - 2.25 - 50 × 200 = 497.75 < 9,000 maintenance
    assert call["time"] == IDX[2]
    assert call["equity"] == pytest.approx(497.75)
    assert call["maintenance"] == 9_000
    assert call["liquidate"] == ((es.name, -1.0),)
    assert list(r.orders["tag"]) == ["", "margin liquidation"]
    f = r.fills.iloc[-1]
    assert (f["side"], f["qty"], f["price"], f["time"]) == ("SELL", 1.0, 4650.0, IDX[3])
    assert r.equity["equity"].iloc[-1] == pytest.approx(10_500 - 4.5 + 50 * (4650 - 4800))


def test_fx_pnl_in_usd_account_through_a_rate_change():
    eurusd, usdjpy = qn.fx("EURUSD"), qn.fx("USDJPY")
    data = {
        eurusd: bars(
            [1.1000, 1.1000, 1.1050, 1.1100, 1.1000], [1.1000, 1.1050, 1.1100, 1.1000, 1.0900]
        ),
        usdjpy: bars([150.0, 150.0, 151.0, 152.0, 149.0], [150.0, 152.0, 151.0, 148.0, 149.0]),
    }
    plan = {
        0: [("buy", (eurusd, 100_000), {}), ("buy", (usdjpy, 100_000), {})],
        2: [("close", (usdjpy,), {})],
    }
    r = qn.backtest(Script(plan), data, cash=100_000, slippage=0)
    fills = r.fills.set_index("symbol")
    # IB FX commission: 0.2 bps of the trade value in USD, at least USD 2
    assert fills.loc["EURUSD", "commission"] == pytest.approx(2.2)  # 110,000 × 0.00002
    assert fills.loc["USDJPY", "commission"].tolist() == pytest.approx([2.0, 2.0])
    cash = r.cash_by_currency
    assert list(cash.columns) == ["USD", "EUR", "JPY"]
    # bar 1: EUR +100,000 bought for 110,000 USD; USD +100,000 bought for 15,000,000 JPY
    assert cash.iloc[1].tolist() == pytest.approx(
        [100_000 - 110_000 + 100_000 - 4.2, 100_000, -15_000_000]
    )
    # equity in USD: EUR at 1.1050, JPY at 1 / 152
    eq1 = 100_000 - 4.2 + 100_000 * (1.1050 - 1.1000) + 100_000 - 15_000_000 / 152.0
    assert r.equity["equity"].iloc[1] == pytest.approx(eq1)
    # USDJPY sold at 152.0 on bar 3: JPY balance +200,000, kept and converted at each bar's rate
    assert cash["JPY"].iloc[3] == pytest.approx(200_000)
    eq4 = 100_000 - 6.2 + 100_000 * (1.0900 - 1.1000) + 200_000 / 149.0
    assert r.equity["equity"].iloc[-1] == pytest.approx(eq4)


def test_fx_needs_a_rate_for_each_currency():
    with pytest.raises(qn.ConfigError, match=r"EURJPY needs the (EUR|JPY)/USD rate"):
        qn.backtest(Script({}), {qn.fx("EURJPY"): bars([160.0] * 3, [160.0] * 3)})


@pytest.mark.parametrize(
    ("inst", "price", "good"),
    [(ES, 4800.1, "4800 or 4800.25"), (qn.fx("EURUSD"), 1.10003, "1.1 or 1.10005")],
)
def test_limit_off_the_tick_grid_is_refused_like_ib_error_110(inst, price, good):
    data = {inst: bars([price] * 3, [price] * 3)} if inst.kind == "future" else None
    data = {inst: bars([4800.0] * 3, [4800.0] * 3) if inst is ES else bars([1.1] * 3, [1.1] * 3)}
    plan = {0: [("buy", (inst, 1), {"limit": price})]}
    r = qn.backtest(Script(plan), data, cash=100_000, slippage=0)
    reason = r.rejections["reason"].iloc[0]
    assert reason.startswith(
        "error 110: The price does not conform to the minimum price variation for this contract."
    )
    assert good in reason
    assert r.fills.empty


def test_limit_on_the_tick_grid_is_accepted():
    plan = {0: [("buy", (ES, 1), {"limit": 4801.25})]}
    data = {ES: bars([4800, 4801, 4802], [4800, 4801, 4802])}
    r = qn.backtest(Script(plan), data, cash=100_000, commission=FEES, slippage=0)
    assert r.rejections.empty and len(r.fills) == 1


def test_order_on_an_index_is_refused_with_a_clear_error():
    spx = qn.index("SPX")
    data = {spx: bars([4800.0] * 3, [4800.0] * 3), "SPY": bars([480.0] * 3, [480.0] * 3)}
    with pytest.raises(qn.OrderError, match="'SPX' is an index: it is data only"):
        qn.backtest(Script({0: [("buy", ("SPX", 1), {})]}), data)


def test_instruments_by_name_and_plain_strings_stay_stocks():
    plan = {0: [("buy", ("ES 2024-03", 1), {}), ("buy", ("SPY", 10), {})]}
    data = {"ES 2024-03": ES_BARS, "SPY": bars([480.0] * 5, [480.0, 481, 482, 483, 484])}
    r = qn.backtest(Script(plan), data, cash=100_000, commission=FEES, slippage=0, instruments=[ES])
    # ES: 50 × (4830 - 4801) less 2.25; SPY: 10 × (484 - 480) less the default stock
    # commission, 0.1% of 4,800
    expected = 100_000 - 2.25 + 50 * 29 + 10 * 4 - 4.8
    assert r.equity["equity"].iloc[-1] == pytest.approx(expected)


def test_continuous_future_rolls_as_two_recorded_orders():
    days = pd.DatetimeIndex(
        ["2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15"],
        tz="UTC",
    )

    def month(closes, opens):
        return pd.DataFrame(
            {"open": opens, "high": 5000.0, "low": 4000.0, "close": closes, "volume": 100.0},
            index=days,
        )

    mar = month([4800, 4810, 4820, 4830, 4840, 4850], [4800, 4805, 4815, 4825, 4835, 4845])
    jun = month([4860, 4870, 4880, 4890, 4900, 4910], [4860, 4865, 4875, 4885, 4895, 4905])
    months = {"ES 2024-03": mar, "ES 2024-06": jun}
    series = qn.data.continuous(months, adjust="difference", roll_days=2)
    ((at, old, new),) = series.attrs["rolls"]
    assert (pd.Timestamp(at), old, new) == (days[3], "ES 2024-03", "ES 2024-06")
    es = qn.continuous("ES")

    class Hold(qn.Strategy):
        def on_data(self, ctx, bars):
            if ctx.position(es).qty == 0 and not ctx.open_orders("ES"):
                ctx.buy(es, 2)

    data = {"ES": series, **months}
    r = qn.backtest(Hold(), data, cash=100_000, commission=FEES, slippage=0)
    o = r.orders
    assert o[["symbol", "side", "qty", "status"]].values.tolist() == [
        ["ES 2024-03", "BUY", 2.0, "filled"],  # the strategy's, on the March contract
        ["ES 2024-03", "SELL", 2.0, "filled"],  # the roll: close the old month...
        ["ES 2024-06", "BUY", 2.0, "filled"],  # ...and open the new one
    ]
    assert list(o["created"].iloc[1:]) == [days[3], days[3]]
    assert list(o["tag"]) == ["", "roll", "roll"]
    f = r.fills
    assert f[["time", "symbol", "price"]].values.tolist() == [
        [days[1], "ES 2024-03", 4805.0],
        [days[4], "ES 2024-03", 4835.0],
        [days[4], "ES 2024-06", 4895.0],
    ]
    # realized 2 × 50 × 30 on March, June held from 4895 to 4910, 3 fills of 2 contracts
    assert r.equity["equity"].iloc[-1] == pytest.approx(
        100_000 + 2 * 50 * 30 + 2 * 50 * (4910 - 4895) - 3 * 4.5
    )
    assert r.equity["cash"].iloc[-1] == pytest.approx(100_000 + 2 * 50 * 30 - 3 * 4.5)


def test_round_trips_of_futures_and_usdjpy_are_in_dollars():
    usdjpy = qn.fx("USDJPY")
    data = {ES: ES_BARS, usdjpy: bars([150.0] * 5, [150.0, 152.0, 151.0, 148.0, 149.0])}
    plan = {
        0: [("buy", (ES, 2), {}), ("buy", (usdjpy, 100_000), {})],
        2: [("close", (ES,), {}), ("close", (usdjpy,), {})],
    }
    r = qn.backtest(Script(plan), data, cash=100_000, commission=FEES, slippage=0)
    t = r.trades.set_index("symbol")
    assert t.loc[ES.name, "gross_pnl"] == pytest.approx(2 * 50 * (4820 - 4801))
    assert t.loc[ES.name, "pnl"] == pytest.approx(1_900 - 9)
    # bought at 150, sold at 150: no P&L in JPY whatever the rate
    assert t.loc["USDJPY", "gross_pnl"] == pytest.approx(0.0)


def test_margin_call_liquidates_the_largest_margin_first():
    from quantnb.domain.accounting import Portfolio
    from quantnb.domain.margin import margin_call
    from quantnb.domain.model import Fill, Side

    cl = qn.future("CL", "2024-03")  # maintenance 5,900 a contract; ES 12,000
    pf = Portfolio(40_000.0)
    for inst, qty, price in ((cl, 3, 75.0), (ES, 1, 4800.0)):
        pf.add_instrument(inst)
        pf.apply_fill(Fill("1", inst.name, Side.BUY, qty, price, 0.0, IDX[0]))
    # maintenance 3 × 5,900 + 12,000 = 29,700; CL falls 3.00: equity 40,000 - 9,000 = 31,000
    pf.mark(cl.name, 72.0)
    pf.mark(ES.name, 4800.0)
    assert margin_call(pf) is None
    pf.mark(ES.name, 4760.0)  # ES falls 40 points: equity 29,000, short 700
    call = margin_call(pf, IDX[1])
    assert call.equity == pytest.approx(29_000.0)
    assert call.shortfall == pytest.approx(700.0)
    # CL's three contracts carry 17,700 of margin, more than ES's 12,000: one CL covers it
    assert call.liquidate == ((cl.name, -1.0),)


def test_stock_buys_cannot_spend_the_futures_margin():
    plan = {0: [("buy", (ES, 1), {})], 1: [("buy", ("SPY", 100), {})]}
    data = {ES: ES_BARS, "SPY": bars([480.0] * 5, [480.0] * 5)}
    r = qn.backtest(Script(plan), data, cash=50_000, commission=FEES, slippage=0)
    # 50,000 less ES's 13,200 initial margin leaves about 36,800: 100 SPY cost 48,000
    assert len(r.rejections) == 1 and "SPY" in r.rejections["reason"].iloc[0]


def test_instruments_without_data_are_refused():
    with pytest.raises(qn.ConfigError, match=r"instruments \['NQ 2024-03'\] have no data"):
        qn.backtest(Script({}), {ES: ES_BARS}, instruments=[qn.future("NQ", "2024-03")])
