"""The dashboard as a browser shows it: embedded widget state rendered by headless Chromium.

The page loads the real @jupyter-widgets/html-manager bundle (fetched once from the npm registry
into a cache, then copied beside the page), so the widgets are drawn by the widget manager, not
by us. Skipped when Chromium or the bundle is not available.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from quantnb.widgets import Dashboard
from tests.test_widgets_dashboard import T0, StubEngine

ROOT = Path(__file__).resolve().parents[1]


def _load_screenshots():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts/screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shots = _load_screenshots()

pytestmark = pytest.mark.skipif(
    shots.chromium() is None,
    reason="headless Chromium is not installed (apt-get install -y chromium)",
)


@pytest.fixture(scope="module")
def embed_js() -> Path:
    path = shots.html_manager_js()
    if path is None:
        pytest.skip("cannot get @jupyter-widgets/html-manager: no npm, or the registry is offline")
    return path


def _visible_text(dom: str) -> str:
    """The DOM's text without scripts (the embedded widget state holds the same strings)."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S | re.I)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_dashboard_renders_engine_values_in_chromium(tmp_path, embed_js):
    engine = StubEngine()
    engine.status = dict(engine.status, connection="reconnecting", attempts=2)
    dash = Dashboard(engine, heartbeat=None, now=lambda: T0 + pd.Timedelta(seconds=42))
    page = shots.widget_page(dash.widget, tmp_path / "page", embed_js)
    dash.close()

    dom = shots.rendered_dom(page)
    assert "widget-html-content" in dom, "the widget manager did not render the page"
    text = _visible_text(dom)
    assert "reconnecting (attempt 2)" in text
    assert "last bar 2024-03-01 10:30 market time" in text
    positions = text[text.index("Positions") : text.index("Open orders")]
    assert re.search(r"AAPL 100 181\.25 183\.50 225\.00", positions)
    assert re.search(r"MSFT -25 402\.10 398\.00 102\.50", positions)
    assert "100,327.50" in text and "Flatten & stop" in text

    png = shots.screenshot(page, tmp_path / "dashboard.png")
    pixels = imread(png)[..., :3]
    amber = (abs(pixels - [0xBF / 255, 0x87 / 255, 0]).sum(axis=-1) < 0.05).sum()
    assert amber > 100, "the 'reconnecting' badge is not in the screenshot"
    if os.environ.get("QUANTNB_SCREENSHOTS"):
        out = ROOT / "docs/img"
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, out / "dashboard-test.png")


def test_dashboard_fits_a_950_pixel_wide_output(tmp_path, embed_js):
    """JupyterLab at 1280 px with the file browser open leaves about 950 px for an output: the
    dashboard must not make it scroll sideways (its tables may scroll inside their columns)."""
    engine = StubEngine()
    engine.status = dict(
        engine.status,
        connection="reconnecting",
        attempts=12,
        waiting_for="the IB gateway at 127.0.0.1:4002, attempt 12: it refuses connections "
        "(restarting, or waiting at its login screen)",
        clock="simulated market, 300× real time",
    )
    engine.errors = pd.DataFrame(
        {
            "time": [T0] * 2,
            "kind": ["order", "connection"],
            "code": [201, 1100],
            "message": [
                "Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
                "DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [1000.00 USD] MUST EXCEED THE "
                "INITIAL MARGIN [18125.00 USD]",
                "Connectivity between IB and Trader Workstation has been lost.",
            ],
        }
    )
    engine.orders = pd.concat([engine.orders] * 4, ignore_index=True).assign(
        status="submitted", stop_price=400.0, filled=0.0
    )
    dash = Dashboard(engine, heartbeat=None, now=lambda: T0)
    page = shots.widget_page(dash.widget, tmp_path / "page", embed_js)
    dash.close()
    assert shots.scroll_width(page, 950) <= 950
    text = _visible_text(shots.rendered_dom(page, size=(950, 900)))
    assert "Waiting for: the IB gateway at 127.0.0.1:4002, attempt 12" in text
    assert "Clock: simulated market, 300× real time" in text
    assert "YOUR ORDER IS NOT ACCEPTED" in text  # folded, still in the page
