"""The README cannot rot: it shows the two set-up commands and documents every stats key."""

from __future__ import annotations

from pathlib import Path

from quantnb.results import STATS_KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_shows_the_two_commands_first():
    first_block = README.split("```")[1]
    assert first_block.split() == ["make", "demo", "make", "test"]


def test_readme_documents_every_stats_key():
    missing = [k for k in STATS_KEYS if f"`{k}`" not in README]
    assert not missing, f"README.md does not document: {missing}"
