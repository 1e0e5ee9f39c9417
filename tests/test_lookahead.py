"""The look-ahead check on declared indicators: intermittent peeking is caught and located,
causal indicators pass, and the number of recomputations stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

import quantnb as qn
from quantnb.engine.indicators import compute, cut_points
from quantnb.errors import LookAheadError
from tests.helpers import bars_from


def peek_every_tenth(x):
    """The next bar's value on every 10th bar, the bar's own value elsewhere."""
    out = np.asarray(x, dtype=float).copy()
    nxt = np.append(out[1:], np.nan)
    out[::10] = nxt[::10]
    return out


def scaled_by_max(x):
    return np.asarray(x) / np.max(x)


class Declares(qn.Strategy):
    def __init__(self, fn):
        self.fn = fn

    def initialize(self, ctx):
        ctx.indicator(self.fn, "close")


def ramp(n: int, peak_at: int | None = None):
    close = 100.0 + np.arange(n) * 0.01
    if peak_at is not None:
        close[peak_at] = 1_000.0
    return bars_from([(c, c, c, c) for c in close])


def test_shift_on_every_tenth_bar_is_caught_and_located():
    data = ramp(2_000)
    with pytest.raises(LookAheadError) as err:
        qn.backtest(Declares(peek_every_tenth), data, progress=False)
    text = str(err.value)
    # bar 10 is the first peeking bar a prefix can expose (bar 0 would need a one-bar prefix)
    assert "peek_every_tenth(close)" in text and "on X" in text
    assert f"bar 10 ({data.index[10]})" in text
    assert "is 100.11 with all 2000 bars but nan with only the first 11" in text


def test_whole_series_maximum_that_comes_early_is_caught():
    data = ramp(5_000, peak_at=3)
    with pytest.raises(LookAheadError, match=r"scaled_by_max\(close\).*bar 0 \("):
        qn.backtest(Declares(scaled_by_max), data, progress=False)
    data = ramp(5_000, peak_at=700)  # past the short prefixes: a power of two finds it
    with pytest.raises(LookAheadError, match=r"scaled_by_max"):
        qn.backtest(Declares(scaled_by_max), data, progress=False)


@pytest.mark.parametrize(
    ("fn", "fields"),
    [
        (qn.ind.sma, "close"),
        (qn.ind.ema, "close"),
        (qn.ind.rsi, "close"),
        (qn.ind.atr, ("high", "low", "close")),
        (qn.ind.rolling_high, "high"),
    ],
)
def test_causal_indicators_pass(fn, fields):
    data = qn.data.sample(["AAA"], interval="1m", start="2024-01-02", bars=5_000)

    class Uses(qn.Strategy):
        def initialize(self, ctx):
            ctx.indicator(fn, fields, 14)

    assert qn.backtest(Uses(), data, progress=False).fills.empty


def test_cut_points_every_prefix_of_a_short_series_and_a_bounded_set_of_a_long_one():
    assert cut_points(40, 0) == list(range(2, 40))
    n = 1_000_000
    cuts = cut_points(n, 7)
    assert cuts == cut_points(n, 7)  # seeded: the same run checks the same prefixes
    assert set(range(2, 17)) <= set(cuts)
    assert {n // 4, n // 2, 3 * n // 4, n - 1, 1 << 19} <= set(cuts)
    assert len(cuts) <= 50 and all(2 <= k < n for k in cuts)
    assert sum(cuts) < 12 * n  # about a dozen recomputations of the whole series at most


@pytest.mark.parametrize("fn", sorted(qn.ind.CAUSAL, key=lambda f: f.__name__))
def test_library_indicators_pass_the_check_at_every_cut_so_a_backtest_skips_it(fn):
    data = qn.data.sample(["AAA"], interval="1m", start="2024-01-02", bars=600)["AAA"]
    fields = {"atr": ("high", "low", "close"), "true_range": ("high", "low", "close")}
    cols = [data[f].to_numpy() for f in fields.get(fn.__name__, ("close",))]
    if fn is qn.ind.crossover:
        cols = [data["close"].to_numpy(), data["open"].to_numpy()]
    args = () if fn in (qn.ind.true_range, qn.ind.crossover) else (14,)
    full = compute(fn, cols, args, fn.__name__)
    for k in range(2, len(full)):  # every prefix, not only the backtest's cut points
        part = compute(fn, [c[:k] for c in cols], args, fn.__name__)
        np.testing.assert_array_equal(part, full[:k])
