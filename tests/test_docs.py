"""Every ```python block in README.md and docs/*.md runs, in order, one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_doc_code_blocks_run(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what the examples write (journals, caches) stays out of the repo
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no python blocks"
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)


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
