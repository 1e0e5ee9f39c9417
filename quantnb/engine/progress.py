"""The progress bar of a batch of backtests (sweeps, walk-forward runs)."""

from __future__ import annotations

from typing import Any


def progress_bar(total: int, desc: str, progress: bool | None) -> Any:
    """A tqdm bar counting runs: ``progress`` True always shows it, False never, None only when
    the batch takes more than a couple of seconds."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="run",
        disable=progress is False,
        delay=0 if progress else 2.0,
        leave=False,
    )
