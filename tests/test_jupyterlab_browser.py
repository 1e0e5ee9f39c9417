"""The quickstart notebook in a real JupyterLab, driven through headless Chromium as a person
would: run all cells from the Run menu, see the chart as an image and the quickstart's dashboard
follow its session's stop; then add a cell with the README's paper example (the embedded
simulator on its own clock, 300x real time for 5-minute bars), run it, see its dashboard's first
bar within 15 seconds of running the cell, press the dashboard's Stop and see its state change,
then Start it again. At the end every kernel is shut down and its process gone.

Skipped, with the reason, where Chromium, JupyterLab or playwright cannot run. Playwright drives
the system's Chromium (``executable_path``): it never downloads a browser of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quantnb.testing import eventually
from tests.test_widgets_browser import shots  # the Chromium flags the screenshots use

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_quickstart.ipynb"
FIRST_BAR_WITHIN = 15.0  # seconds from running the cell that starts the session
# the README's paper example, with the notebook's strategy class: no gateway configured, so the
# embedded simulator at its default pace; start() returns at once
PAPER_CELL = (
    'live2 = qn.paper(SmaCross(), ["AAPL", "MSFT"], interval="5m", '
    "journal_dir=tempfile.mkdtemp()); live2.start(); live2.dashboard()"
)
PAPER_CLOCK = "simulated market, 300× real time"
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


@dataclass
class Lab:
    """A running JupyterLab: the notebook's page URL, and what the teardown needs."""

    url: str
    base: str
    token: str
    pid: int


def _api(lab: Lab, path: str, method: str = "GET") -> object:
    request = urllib.request.Request(
        f"{lab.base}/api/{path}", method=method, headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (read from /proc; none where there is none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
        if int(ppid) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _shut_down_kernels(lab: Lab, timeout: float = 30.0) -> list[int]:
    """Shut down every notebook session and kernel through the server's REST API (what "Shut
    Down All" does in JupyterLab): their sessions stop with the kernel. Returns the kernel
    processes still alive after ``timeout`` seconds (killed, so nothing is left running)."""
    kernels = _children(lab.pid)
    for session in _api(lab, "sessions"):
        _api(lab, f"sessions/{session['id']}", "DELETE")
    for kernel in _api(lab, "kernels"):
        _api(lab, f"kernels/{kernel['id']}", "DELETE")
    assert _api(lab, "kernels") == []
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.2)  # the server reaps its kernels on its own loop: nothing to wait on here
    alive = [pid for pid in kernels if _alive(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


@pytest.fixture
def lab(tmp_path) -> Iterator[Lab]:
    """A JupyterLab on a free loopback port over a copy of the notebooks. At teardown every
    kernel is shut down (its live sessions with it) and must be gone, then the server stops."""
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
    left_running: list[int] = []
    try:
        base = f"http://127.0.0.1:{port}"
        _ready(f"{base}/api/status?token={token}", proc, log_path)
        lab = Lab(f"{base}/lab/tree/{NOTEBOOK}?token={token}", base, token, proc.pid)
        yield lab
        left_running = _shut_down_kernels(lab)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
    assert not left_running, f"kernel processes {left_running} outlived their shutdown (killed)"


@pytest.fixture
def page(tmp_path) -> Iterator[object]:
    executable = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable, args=shots.CHROMIUM_FLAGS)
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


def _dashboard(cell):
    """The cell's dashboard: its output with a Start and a Stop button."""
    page = cell.page
    return (
        cell.locator(".jp-OutputArea-output")
        .filter(has=page.get_by_role("button", name="Start", exact=True))
        .filter(has=page.get_by_role("button", name="Stop", exact=True))
    )


def _shows_bar(text: str) -> bool:
    return bool(BAR_SHOWN.search(text)) and "no bars yet" not in text


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


def _add_cell_below_last(page, code: str):
    """Select the notebook's last cell, insert a cell below it (``b`` in command mode), type
    ``code`` into its editor as a person would; the new cell, still to be run."""
    from playwright.sync_api import expect

    cells = page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    cells.last.locator(".jp-InputPrompt").click()  # selects the cell, in command mode
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(cells).to_have_count(count + 1)
    cell = cells.nth(count)
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.press("Enter")  # edit mode
    editor = cell.locator(".cm-content")
    expect(editor).to_be_focused()
    page.keyboard.type(code)
    expect(editor).to_have_text(code)  # as typed: nothing completed or closed on its own
    return cell


def test_quickstart_then_readme_paper_run_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    page.goto(lab.url)
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    _kernel_ready(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    eventually(lambda: page.evaluate(ALL_RUN), 90, interval=0.2)

    plot = _cell_with(page, ".plot(").locator(".jp-OutputArea-output img")
    expect(plot).to_have_count(1)
    assert plot.first.get_attribute("src").startswith("data:image/png;base64,")
    box = plot.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200, box
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [e for e in errors.all_inner_texts() if "Traceback" in e]

    # the quickstart's dashboard: the hour its step(60) moved, then the stop its code made
    quick = _dashboard(_cell_with(page, "live.dashboard()"))
    expect(quick).to_have_count(1)
    eventually(lambda: _shows_bar(quick.inner_text()) and STOPPED.search(_header(quick)), 30, 0.2)
    expect(quick.get_by_role("button", name="Start", exact=True)).to_be_enabled()
    expect(quick.get_by_role("button", name="Stop", exact=True)).to_be_disabled()

    # the README's paper example in a new cell: the simulator's market on its own clock
    cell = _add_cell_below_last(page, PAPER_CELL)
    started = time.monotonic()
    page.keyboard.press("Shift+Enter")
    dashboard = _dashboard(cell)
    eventually(lambda: dashboard.count() and _shows_bar(dashboard.inner_text()), 60, 0.1)
    first_bar = time.monotonic() - started
    print(f"first bar of the README's paper run: {first_bar:.1f} s after running its cell")
    assert first_bar <= FIRST_BAR_WITHIN, f"the dashboard's first bar came {first_bar:.1f} s late"
    before = _header(dashboard)
    assert RUNNING.search(before), before
    expect(dashboard.locator(".qn-clock")).to_have_text(f"Clock: {PAPER_CLOCK}")
    assert not [e for e in errors.all_inner_texts() if "Traceback" in e]

    stop = dashboard.get_by_role("button", name="Stop", exact=True)
    start = dashboard.get_by_role("button", name="Start", exact=True)
    expect(stop).to_be_enabled()
    expect(start).to_be_disabled()
    stop.click()
    after = eventually(lambda: STOPPED.search(_header(dashboard)), 30, interval=0.2).string
    assert not RUNNING.search(after), (before, after)
    expect(start).to_be_enabled(timeout=30_000)
    expect(stop).to_be_disabled()

    # Start from the dashboard runs the session again; the teardown's shutdown ends it
    start.click()
    eventually(lambda: RUNNING.search(_header(dashboard)), 30, interval=0.2)
    expect(stop).to_be_enabled(timeout=30_000)
