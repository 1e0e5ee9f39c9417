"""Every ```python block in README.md and docs/*.md runs, in order, one namespace per page.

A block whose first line is ``# needs: GatewaySimulator.method`` (or ``...method(param)``) runs
only when the simulator has that method (and parameter); it documents a fault being added.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NEEDS = re.compile(r"^# needs: GatewaySimulator\.(\w+)(?:\((\w+)\))?\s*$")


def missing(code: str) -> str:
    """What the block needs that the simulator lacks, or ''."""
    from quantnb.sim import GatewaySimulator

    found = NEEDS.match(code.split("\n", 1)[0])
    if found is None:
        return ""
    name, param = found.groups()
    method = getattr(GatewaySimulator, name, None)
    if method is None:
        return f"GatewaySimulator.{name}"
    if param and param not in inspect.signature(method).parameters:
        return f"GatewaySimulator.{name}({param})"
    return ""


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_doc_code_blocks_run(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what the examples write (journals, caches) stays out of the repo
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no python blocks"
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        if missing(code):
            continue
        exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)


def test_needs_marker_is_understood():
    assert missing("# needs: GatewaySimulator.no_such_fault\nx = 1") == (
        "GatewaySimulator.no_such_fault"
    )
    assert missing("# needs: GatewaySimulator.pause(no_such_param)\n") == (
        "GatewaySimulator.pause(no_such_param)"
    )
    assert missing("# needs: GatewaySimulator.resume(data_lost)\n") == ""
    assert missing("x = 1\n") == ""


def test_simulator_page_documents_every_setting_and_control_method():
    from dataclasses import fields

    from quantnb.sim import GatewaySimulator, SimConfig

    page = (ROOT / "docs" / "simulator.md").read_text()
    settings = [f.name for f in fields(SimConfig) if f"`{f.name}`" not in page]
    methods = [
        name
        for name, value in vars(GatewaySimulator).items()
        if callable(value) and not name.startswith("_") and f"{name}(" not in page
    ]
    assert not settings and not methods, f"docs/simulator.md does not document {settings + methods}"
