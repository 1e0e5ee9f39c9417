"""The equity curve as a small inline SVG: a time axis in the chosen zone and a money scale.

Cheap to redraw on every refresh (no matplotlib), and it shrinks with its container.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from quantnb.results.fmt import format_money
from quantnb.widgets.render import GREEN, RED
from quantnb.widgets.times import zone_label

_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 8, 14, 20


def _nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round values between ``lo`` and ``hi``."""
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def _money_label(value: float, span: float) -> str:
    return format_money(value, 0 if span >= 20 else 2)


def _time_format(first: pd.Timestamp, last: pd.Timestamp) -> str:
    if last - first >= pd.Timedelta(days=2):
        return "%m-%d"
    return "%H:%M" if first.normalize() == last.normalize() else "%m-%d %H:%M"


def equity_svg(equity: pd.Series, tz: str = "UTC", width: int = 460, height: int = 150) -> str:
    """``equity`` (a Series on a UTC DatetimeIndex) as an SVG line chart with labelled axes."""
    equity = equity.dropna().astype(float)
    if len(equity) < 2 or not isinstance(equity.index, pd.DatetimeIndex):
        return (
            f'<svg viewBox="0 0 {width} 40" style="width:100%;max-width:{width}px">'
            '<text x="4" y="20" font-size="11" fill="#777" font-family="sans-serif">'
            "Equity: waiting for data</text></svg>"
        )
    index = equity.index.tz_localize("UTC") if equity.index.tz is None else equity.index
    times = index.tz_convert(tz)
    y = equity.to_numpy()
    x = times.as_unit("ns").asi8.astype(float)
    if len(y) > width:  # one point per pixel is enough
        keep = np.linspace(0, len(y) - 1, width).astype(int)
        x, y = x[keep], y[keep]
    lo, hi = float(y.min()), float(y.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    x0, x1 = x[0], x[-1] if x[-1] > x[0] else x[0] + 1
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def px(v: np.ndarray | float) -> np.ndarray | float:
        return _LEFT + (np.asarray(v) - x0) / (x1 - x0) * plot_w

    def py(v: np.ndarray | float) -> np.ndarray | float:
        return _TOP + (hi - np.asarray(v)) / (hi - lo) * plot_h

    parts = [
        f'<svg class="qn-equity" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        f'style="width:100%;max-width:{width}px;height:auto;background:#fafafa">',
        f'<text x="{_LEFT}" y="10" font-size="10" fill="#555">Equity</text>',
    ]
    for tick in _nice_ticks(lo, hi):
        ty = float(py(tick))
        parts.append(
            f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{_LEFT - 4}" y="{ty + 3:.1f}" font-size="10" fill="#555" '
            f'text-anchor="end">{_money_label(tick, hi - lo)}</text>'
        )
    fmt = _time_format(times[0], times[-1])
    for t in np.linspace(x0, x1, 4):
        label = pd.Timestamp(int(t), tz="UTC").tz_convert(tz).strftime(fmt)
        anchor = "start" if t == x0 else "end" if t == x1 else "middle"
        parts.append(
            f'<text x="{float(px(t)):.1f}" y="{height - 6}" font-size="10" fill="#555" '
            f'text-anchor="{anchor}">{label}</text>'
        )
    parts.append(
        f'<text x="{width - _RIGHT}" y="10" font-size="10" fill="#777" text-anchor="end">'
        f"{html.escape(zone_label(tz))}</text>"
    )
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(x), py(y), strict=True))
    color = GREEN if y[-1] >= y[0] else RED
    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>')
    parts.append("</svg>")
    return "".join(parts)
