"""The pieces that let a live session trade a continuous future, without a gateway: the feed
that streams a month under the continuous name, the months booked at a start, and a live run's
bars split into the months it streamed for its backtest."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

import quantnb as qn
from quantnb.domain.accounting import Portfolio
from quantnb.domain.model import Bar
from quantnb.engine.backtest import BacktestEngine
from quantnb.trading.continuous import ContinuousFutures, MonthFeed, replay_frames

ES = qn.continuous("ES")
MARCH, JUNE, SEPT = "ES 2024-03", "ES 2024-06", "ES 2024-09"
T0 = pd.Timestamp("2024-03-07 23:57", tz="UTC")


class FakeFeed:
    """Records what is asked of it; ``push`` delivers a bar to a subscription's callbacks."""

    def __init__(self) -> None:
        self.subs: dict[str, list] = {}
        self.history: list[str] = []

    async def subscribe_async(self, symbols, interval="1m", on_bar=None, since=None):
        for s in symbols:
            self.subs.setdefault(s, [])
            if on_bar is not None and on_bar not in self.subs[s]:
                self.subs[s].append(on_bar)

    async def unsubscribe_async(self, symbols):
        for s in symbols:
            self.subs.pop(s, None)

    async def get_recent_history_async(self, symbol, days, interval):
        self.history.append(symbol)
        return pd.DataFrame()

    @property
    def subscriptions(self):
        return {s: "1m" for s in self.subs}

    def push(self, symbol: str, minute: int, close: float) -> None:
        bar = Bar(symbol, T0 + pd.Timedelta(minutes=minute), close, close, close, close, 1.0)
        for cb in list(self.subs.get(symbol, ())):
            cb(bar)


def test_the_month_streams_under_the_continuous_name_and_switches_at_a_roll():
    inner, got = FakeFeed(), []
    feed = MonthFeed(inner)
    feed.months["ES"] = MARCH

    async def run() -> None:
        await feed.get_recent_history_async("ES", 1, "1m")
        await feed.subscribe_async(["ES"], "1m", got.append)
        inner.push(MARCH, 0, 4700.0)
        switching = feed.switch("ES", JUNE, "1m", got.append, T0)
        inner.push(MARCH, 1, 4701.0)  # already on its way: not the name's any more
        await switching
        inner.push(JUNE, 1, 4720.0)

    asyncio.run(run())
    assert inner.history == [MARCH]
    assert [(b.symbol, b.close) for b in got] == [("ES", 4700.0), ("ES", 4720.0)]
    assert list(inner.subs) == [JUNE]  # June streamed, March cancelled
    assert feed.subscriptions == {"ES": "1m"}


def test_a_start_books_the_current_and_next_month_and_an_older_one_still_held():
    cont = ContinuousFutures([ES, qn.future("ES", "2024-03")])  # only the continuous one counts
    assert list(cont.continuous) == ["ES"]
    held = Portfolio(0.0)
    held.position(MARCH).qty = 2.0
    months = cont.months(pd.Timestamp("2024-03-08 00:05", tz="UTC"), held)
    assert sorted(months) == [MARCH, JUNE, SEPT]
    assert months[JUNE].margin_initial == ES.margin_initial
    assert cont.watch.current["ES"].name == JUNE
    assert [(n, old.name, new.name) for n, old, new in cont.carry] == [("ES", MARCH, JUNE)]
    assert cont.names == {MARCH: "ES", JUNE: "ES", SEPT: "ES"}
    # before the roll date nothing older is held: no carry
    fresh = ContinuousFutures([ES])
    assert sorted(fresh.months(pd.Timestamp("2024-03-07 23:00", tz="UTC"), Portfolio(0.0))) == [
        MARCH,
        JUNE,
    ]
    assert fresh.carry == []


def test_a_live_runs_bars_split_into_the_months_it_streamed():
    times = pd.date_range("2024-03-07 23:56", periods=8, freq="1min", tz="UTC")
    closes = [4700.0, 4701, 4702, 4703, 4730, 4731, 4732, 4733]  # June from 00:01 on
    frame = pd.DataFrame(
        {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0},
        index=times,
    )
    live = {"ES": list(times[1:])}  # the first bar was history
    roll = pd.Timestamp("2024-03-08 00:00", tz="UTC")
    fills = {(MARCH, JUNE): (4703.5, 4729.75)}
    frames, found, rolls = replay_frames({"ES": frame}, live, {"ES": ES}, fills)
    assert rolls == {"ES": [(str(roll), MARCH, JUNE)]}
    assert sorted(found) == ["ES", MARCH, JUNE]
    march, june = frames[MARCH], frames[JUNE]
    # March: its bars to the roll, and where its closing leg filled one bar later
    assert list(march.index) == [*times[:5], times[5]]
    assert march["open"].iloc[-1] == 4703.5 and march["volume"].iloc[-1] == 0
    # June: priced at the roll by its leg's fill, then its own bars
    assert list(june.index) == [roll, *times[5:]]
    assert june["close"].iloc[0] == 4729.75
    assert list(june["close"].iloc[1:]) == closes[5:]


def test_a_run_without_a_roll_trades_one_month_throughout():
    times = pd.date_range("2024-03-07 23:50", periods=5, freq="1min", tz="UTC")
    frame = pd.DataFrame({f: 4700.0 for f in ("open", "high", "low", "close", "volume")}, times)
    frames, _, rolls = replay_frames({"ES": frame}, {"ES": list(times)}, {"ES": ES}, {})
    assert list(frames) == ["ES", MARCH]
    pd.testing.assert_frame_equal(frames[MARCH], frame)
    ((at, old, new),) = rolls["ES"]
    assert (old, new) == (MARCH, JUNE) and pd.Timestamp(at) > times[-1]  # never reached


@pytest.mark.parametrize("symbols", [[ES], ["ES"]])
def test_strategy_orders_on_the_name_go_to_the_month_in_a_backtest_of_it(symbols):
    # the replayed backtest routes "ES" orders to the month, as the live session does
    times = pd.date_range("2024-03-07 23:50", periods=5, freq="1min", tz="UTC")
    frame = pd.DataFrame({f: 4700.0 for f in ("open", "high", "low", "close", "volume")}, times)
    frames, found, rolls = replay_frames({"ES": frame}, {"ES": list(times)}, {"ES": ES}, {})

    class Buy(qn.Strategy):
        def on_data(self, ctx, bars):
            if not ctx.position(symbols[0]).qty and not ctx.open_orders("ES"):
                ctx.buy(symbols[0], 1)

    res = BacktestEngine(frames, instruments=found, rolls=rolls, interval="1m").run(Buy())
    assert list(res.orders["symbol"]) == [MARCH]
