"""environment.yml and pyproject.toml name the same dependencies, so conda users get what pip
users get."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(specs: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!\[ ]", s.strip(), maxsplit=1)[0].lower().replace("_", "-") for s in specs
    }


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = _names(
        project["dependencies"]
        + extras["ib"]
        + extras["notebook"]
        + extras["test"]
        + extras["dask"]
    )
    text = (ROOT / "environment.yml").read_text()
    listed = {
        m.group(1).lower().replace("_", "-")
        for m in re.finditer(r"^\s+- ([A-Za-z][A-Za-z0-9_.-]*)", text, re.M)
    }
    assert wanted - listed == set(), f"missing from environment.yml: {wanted - listed}"
    assert "ib-insync" not in listed  # never both clients in one environment


def test_package_is_typed():
    assert (ROOT / "quantnb" / "py.typed").exists()
