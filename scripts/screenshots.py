"""Write the README images: docs/img/backtest.png and docs/img/dashboard.png.

The dashboard is embedded as static widget HTML and rendered by headless Chromium with the
@jupyter-widgets/html-manager bundle fetched once from the npm registry (cached, never committed).
It shows a running paper engine on the embedded gateway simulator when the live layer is there,
else a fixed example state. Usage: ``python scripts/screenshots.py [--out docs/img] [--stub]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("screenshots")

HTML_MANAGER_VERSION = "1.0.13"  # the html-manager release that renders ipywidgets 8 state
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",  # the page loads embed.js from beside it
    "--hide-scrollbars",
]


def chromium() -> str | None:
    """The Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def html_manager_js() -> Path | None:
    """The html-manager ``embed.js``: $QUANTNB_HTML_MANAGER, the cache, or npm; else None."""
    env = os.environ.get("QUANTNB_HTML_MANAGER")
    if env:
        return Path(env) if Path(env).is_file() else None
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache_root / "quantnb" / f"html-manager-{HTML_MANAGER_VERSION}" / "embed.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"@jupyter-widgets/html-manager@{HTML_MANAGER_VERSION}"
        try:
            subprocess.run(
                [npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, timeout=180
            )
        except (OSError, subprocess.TimeoutExpired):
            log.warning("npm pack %s failed", spec, exc_info=True)
            return None
        tgz = next(Path(tmp).glob("*.tgz"), None)
        if tgz is None:
            return None
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/dist/embed.js")
            data = member.read() if member else b""
        if not data:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)  # only a complete file ever appears under the final name
    return target


def widget_page(widget: Any, directory: Path, embed_js: Path, title: str = "quantnb") -> Path:
    """Write ``widget``'s state as a static HTML page that renders it with ``embed_js``."""
    from ipywidgets.embed import embed_minimal_html

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(embed_js, directory / "embed.js")
    page = directory / "page.html"
    embed_minimal_html(page, views=[widget], title=title, requirejs=False, embed_url="embed.js")
    return page


def run_chromium(page: Path, *args: str, size: tuple[int, int] = (1200, 900)) -> str:
    """Load ``page`` in headless Chromium (scripts get 5 s of virtual time); return stdout."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            "--virtual-time-budget=5000",
            *args,
            page.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=page.parent)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    """Save a PNG of ``page`` as rendered by headless Chromium."""
    png.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(page, f"--screenshot={png.resolve()}", size=size)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")
    return png


def rendered_dom(page: Path, size: tuple[int, int] = (1200, 900)) -> str:
    """The page's DOM after its scripts ran, as HTML."""
    return run_chromium(page, "--dump-dom", size=size)


_MEASURE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const out = document.createElement("pre");
  out.id = "qn-scroll-width";
  let width = document.documentElement.scrollWidth;
  for (const el of document.body.querySelectorAll("*")) {
    if (el.parentElement && el.parentElement.closest(".qn-scroll")) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0) width = Math.max(width, Math.ceil(box.right + window.scrollX));
  }
  out.textContent = String(width);
  document.body.appendChild(out);
}, 3000));
</script>"""


def scroll_width(page: Path, width: int) -> int:
    """How wide ``page`` is once rendered in a window ``width`` pixels wide: its scrollWidth or
    the right edge of any element outside a scroll container (``.qn-scroll``), clipped or not.
    More than ``width`` means something sticks out or is cut off."""
    measured = page.with_name(page.stem + "-measured.html")
    measured.write_text(page.read_text().replace("</body>", _MEASURE + "</body>"))
    dom = rendered_dom(measured, size=(width, 900))
    found = re.search(r'id="qn-scroll-width">(\d+)<', dom)
    if found is None:
        raise RuntimeError("the page did not report its width (did its scripts run?)")
    return int(found.group(1))


class ExampleEngine:
    """A fixed engine state for the image when no paper engine can run: two positions, a day."""

    def __init__(self) -> None:
        now = pd.Timestamp("2024-03-01 15:35", tz="UTC")
        times = pd.date_range(end=now, periods=80, freq="5min")
        step = np.arange(80, dtype=float)
        equity = pd.Series(100_000 + 6 * step + 160 * np.sin(step / 6) + 60 * np.sin(step / 1.7))
        self.status = {
            "connection": "connected",
            "state": "running",
            "running": True,
            "attempts": 0,
            "fallback_mode": False,
            "last_bar_time": now,
            "last_bar_age": 38.0,
            "next_bar_due": now + pd.Timedelta("5min"),
        }
        self.account = pd.DataFrame(
            {
                "time": times,
                "equity": equity.to_numpy(),
                "cash": 64_210.0,
                "realized_pnl": 212.4,
                "unrealized_pnl": equity.to_numpy() - 100_000 - 212.4,
            }
        )
        self.positions = pd.DataFrame(
            {
                "symbol": ["AAPL", "MSFT"],
                "qty": [100.0, 40.0],
                "avg_price": [179.62, 404.88],
                "market_price": [181.30, 407.15],
                "market_value": [18_130.0, 16_286.0],
                "unrealized_pnl": [168.0, 90.8],
            }
        )
        self.orders = pd.DataFrame(
            {
                "order_id": ["qn-7"],
                "symbol": ["MSFT"],
                "side": ["SELL"],
                "qty": [40.0],
                "type": ["LMT"],
                "limit_price": [415.0],
                "status": ["submitted"],
            }
        )
        self.fills = pd.DataFrame(
            {
                "time": [now - pd.Timedelta("95min"), now - pd.Timedelta("40min")],
                "symbol": ["AAPL", "MSFT"],
                "side": ["BUY", "BUY"],
                "qty": [100.0, 40.0],
                "price": [179.62, 404.88],
                "commission": [17.96, 16.20],
            }
        )
        self.errors = pd.DataFrame(
            {
                "time": [now - pd.Timedelta("70min")],
                "kind": ["connection"],
                "code": [1102],
                "message": ["Connectivity restored - data maintained"],
            }
        )

    def add_listener(self, fn: Any) -> None:
        pass

    def remove_listener(self, fn: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def backtest_png(out: Path) -> Path:
    """The quickstart backtest plot."""
    import quantnb as qn
    from quantnb.strategies import SmaCross

    res = qn.backtest(SmaCross(), qn.data.sample(["AAPL", "MSFT"], "1d"), cash=100_000)
    png = out / "backtest.png"
    res.plot(figsize=(10, 7)).savefig(png, dpi=80)
    return png


def _paper_engine(wait: float) -> Any | None:
    """A paper session on the embedded simulator after 45 one-minute bars, or None."""
    try:
        import quantnb as qn
        from quantnb.strategies import SmaCross

        session = qn.paper(
            SmaCross(fast=3, slow=8, qty=50),
            ["AAPL", "MSFT"],
            interval="1m",
            lookback_days=1,
            journal_dir=tempfile.mkdtemp(),
            sim={"mode": "manual", "seed": 0},
        )
        session.start(wait=True, timeout=wait)
        session.step(45)
    except Exception:
        log.info("no paper engine; using the example state", exc_info=True)
        return None
    return session


def dashboard_png(out: Path, stub: bool = False, wait: float = 30.0) -> Path:
    """The dashboard of a paper engine (or the example state) as rendered by Chromium."""
    from quantnb.widgets import Dashboard

    embed_js = html_manager_js()
    if embed_js is None:
        raise RuntimeError("cannot get @jupyter-widgets/html-manager (needs npm and the registry)")
    engine = None if stub else _paper_engine(wait)
    live = engine is not None
    dash = Dashboard(engine if live else ExampleEngine(), heartbeat=None, max_rows=6)
    try:
        dash.refresh()
        with tempfile.TemporaryDirectory() as tmp:
            page = widget_page(dash.widget, Path(tmp), embed_js, title="quantnb dashboard")
            # the width JupyterLab leaves an output at 1280 px with the file browser open
            return screenshot(page, out / "dashboard.png", size=(950, 660))
    finally:
        dash.close()
        if live:
            engine.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/img", type=Path)
    ap.add_argument("--stub", action="store_true", help="example state, no paper engine")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    for png in (backtest_png(args.out), dashboard_png(args.out, stub=args.stub)):
        log.info("wrote %s (%d KB)", png, png.stat().st_size // 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
