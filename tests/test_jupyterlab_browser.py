"""The quickstart notebook in a real JupyterLab, driven through headless Chromium as a person
would: run all cells from the Run menu, see the chart as an image, see the dashboard's first bar
within 15 seconds, press the dashboard's Stop and see its state change.

Skipped, with the reason, where Chromium, JupyterLab or playwright cannot run. Playwright drives
the system's Chromium (``executable_path``): it never downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantnb.testing import eventually

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_quickstart.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_BAR_WITHIN = 15.0  # seconds from the dashboard's appearance, right after its start()
BAR_SHOWN = re.compile(r"last bar|bars? received", re.I)
# the dashboard's connection badge, in its first line
RUNNING = re.compile(r"\bconnected\b")
STOPPED = re.compile(r"\b(stopped|disconnected)\b")
# every code cell has run: each prompt shows its execution count
ALL_RUN = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                 .every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()))"""
# JupyterLab settings for the run: every cell rendered (no windowing, so a cell's output can be
# found off screen), no news or update pop-ups
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (make browser, or apt-get install chromium)")


def _clear_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            last = log.read_text(errors="replace").strip().splitlines()[-1:]
            pytest.skip(f"JupyterLab does not run here (exit {proc.returncode}): {last}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a server that is starting: there is no event to wait on
    pytest.fail(f"jupyter lab did not answer {url} within {timeout:.0f} s")


@pytest.fixture
def lab(tmp_path) -> Iterator[str]:
    """A JupyterLab on a free loopback port over a copy of the notebooks; its URL with token."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (pip install jupyterlab)")
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _clear_outputs(root / NOTEBOOK)  # what the page shows is this run's, not the stored outputs
    settings = tmp_path / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp_path / "lab.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _ready(f"{base}/api/status?token={token}", proc, log_path)
        yield f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def page(tmp_path) -> Iterator[object]:
    executable = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium does not start here: {str(exc).splitlines()[0]}")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "jupyterlab.png"), full_page=True)  # to look at
            (tmp_path / "jupyterlab.html").write_text(page.content())
            browser.close()


def _cell_with(page, code: str):
    """The notebook's first code cell whose source contains ``code``."""
    return (
        page.locator(".jp-Notebook .jp-CodeCell")
        .filter(has=page.locator(".jp-InputArea", has_text=code))
        .first
    )


def _dashboards(page):
    """The notebook's dashboards: outputs with a Start and a Stop button."""
    return (
        page.locator(".jp-OutputArea-output")
        .filter(has=page.get_by_role("button", name="Start", exact=True))
        .filter(has=page.get_by_role("button", name="Stop", exact=True))
    )


def _shows_bar(text: str) -> bool:
    return bool(BAR_SHOWN.search(text)) and "no bars yet" not in text


def _run_and_watch(page, timeout: float) -> tuple[int, float]:
    """Until every cell has run and the last dashboard shows a bar: that dashboard's index and
    the seconds from its appearance (its session's start) to its first bar."""
    dashboards = _dashboards(page)
    appeared: dict[int, float] = {}
    shown: dict[int, float] = {}

    def settled() -> tuple[int] | None:
        texts = dashboards.all_inner_texts()
        now = time.monotonic()
        for i, text in enumerate(texts):
            appeared.setdefault(i, now)
            if _shows_bar(text):
                shown.setdefault(i, now)
        last = len(texts) - 1
        return (last,) if last >= 0 and last in shown and page.evaluate(ALL_RUN) else None

    (last,) = eventually(settled, timeout, interval=0.1)
    return last, shown[last] - appeared[last]


def _kernel_ready(page) -> None:
    """Pick the default kernel if JupyterLab asks (the notebook names none), then wait until
    the kernel is idle."""
    from playwright.sync_api import expect

    select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*Idle"))
    expect(select.or_(idle).first).to_be_visible(timeout=60_000)
    if select.is_visible():
        select.click()
    expect(idle).to_be_visible(timeout=60_000)


def _header(dashboard) -> str:
    return dashboard.inner_text().split("\n", 1)[0]


def test_quickstart_runs_in_jupyterlab_shows_chart_and_dashboard_and_stops(lab, page):
    from playwright.sync_api import expect

    page.goto(lab)
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    _kernel_ready(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()

    last, first_bar = _run_and_watch(page, timeout=90)
    assert first_bar <= FIRST_BAR_WITHIN, f"the dashboard's first bar came {first_bar:.1f} s late"
    dashboard = _dashboards(page).nth(last)

    plot = _cell_with(page, ".plot(").locator(".jp-OutputArea-output img")
    expect(plot).to_have_count(1)
    assert plot.first.get_attribute("src").startswith("data:image/png;base64,")
    box = plot.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200, box
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e for e in errors.all_inner_texts() if "Traceback" in e]

    stop = dashboard.get_by_role("button", name="Stop", exact=True)
    start = dashboard.get_by_role("button", name="Start", exact=True)
    if re.search(STOPPED, _header(dashboard)):
        # the notebook stopped its session in its last cell: Start it again from the dashboard
        start.click()
        eventually(lambda: re.search(RUNNING, _header(dashboard)), 30, interval=0.2)
    before = _header(dashboard)
    assert re.search(RUNNING, before), before
    expect(stop).to_be_enabled()
    stop.click()
    after = eventually(lambda: re.search(STOPPED, _header(dashboard)), 30, interval=0.2).string
    assert not re.search(RUNNING, after), (before, after)
    expect(start).to_be_enabled(timeout=30_000)
