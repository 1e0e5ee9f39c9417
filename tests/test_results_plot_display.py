"""A result's plot shows as exactly one image in a notebook cell, with no ``%matplotlib`` magic.

A real Jupyter kernel executes a small notebook (nbclient), under the Agg backend that ``make``
sets and under the inline backend that a kernel uses by default.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]

CELLS = {
    "setup": f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
    "from tests.test_results_result import make_result\nres = make_result()",
    "value": "res.plot()",
    "assigned": "fig = res.plot(symbols=['AAPL'], candles=True, volume=True)",
    "again": "fig",
    "not_last": "res.plot()\nx = 1",
    "pyplot": "import matplotlib.pyplot as plt\nres.plot()",
    "after_pyplot": "fig2 = res.plot()\nfig2",
    "plain": "x + 1",
}


def _run(backend: str) -> dict[str, list[dict]]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS.values()]
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = backend  # the kernel inherits it
    try:
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        if old is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = old
    return {name: cell.outputs for name, cell in zip(CELLS, nb.cells, strict=True)}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["Agg", "module://matplotlib_inline.backend_inline"])
def test_plot_shows_once_per_cell(backend):
    outputs = _run(backend)
    for name in ["value", "assigned", "again", "not_last", "pyplot", "after_pyplot"]:
        images = [o for o in outputs[name] if "image/png" in o.get("data", {})]
        assert len(images) == 1, (name, outputs[name])
        assert images[0]["data"]["image/png"]  # base64 PNG text
        text = images[0]["data"].get("text/plain", "")
        assert not text.startswith("<Figure size"), text
    value = outputs["value"][0]
    assert value["output_type"] == "execute_result"
    assert value["data"]["text/plain"] == "<Figure SmaCross(fast=10, slow=30) (11x12 in, 4 axes)>"
    assert outputs["assigned"][0]["output_type"] == "display_data"  # shown when the cell ended
    assert outputs["plain"][0]["data"] == {"text/plain": "2"}
    assert not outputs["setup"]


@pytest.mark.slow
def test_quickstart_notebook_plot_cell_shows_one_image(monkeypatch):
    """The quickstart notebook as committed, run by a real kernel: the cell that plots the
    backtest shows its chart as exactly one PNG, and nothing in it fails."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    path = ROOT / "notebooks" / "01_quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    plots = [c for c in nb.cells if c.cell_type == "code" and ".plot(" in c.source]
    assert plots, "no cell of the quickstart calls .plot("
    outputs = plots[0].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, outputs
    png = base64.b64decode(images[0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
