"""Progress of the history downloads under way: requests done of those planned, and why they wait.

The feed counts the requests of each download; the pacing guard says when it holds one back (and
for how long); a request the gateway takes long to answer counts as waiting for the gateway. The
engine shows ``snapshot()`` as ``status["history_progress"]``, and each download's progress bar
shows the same reason and the time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SLOW_ANSWER = 5.0  # seconds without an answer after which a request counts as waiting


@dataclass(slots=True)
class _Download:
    total: int
    done: int = 0
    bar: Any = None  # its tqdm bar, if shown


@dataclass(slots=True)
class HistoryProgress:
    """The history requests of the downloads under way (several symbols at once)."""

    clock: Callable[[], float] = time.monotonic
    _downloads: dict[int, _Download] = field(default_factory=dict)
    _next: int = 0
    _reason: str | None = None
    _until: float | None = None
    _asked: dict[int, float] = field(default_factory=dict)  # request -> when sent

    def begin(self, total: int, bar: Any = None) -> int:
        """A download of ``total`` requests starts; returns its handle."""
        self._next += 1
        self._downloads[self._next] = _Download(max(int(total), 1), bar=bar)
        return self._next

    def step(self, handle: int) -> None:
        d = self._downloads.get(handle)
        if d is not None:
            d.done += 1
            if d.bar is not None:
                d.bar.update()
                self._show(d)

    def end(self, handle: int) -> None:
        d = self._downloads.pop(handle, None)
        if d is not None and d.bar is not None:
            if d.done < d.total:  # fewer requests were needed than planned: it is complete
                d.bar.total = d.done
                d.bar.refresh()
            d.bar.close()
        if not self._downloads:
            self._reason = self._until = None
            self._asked.clear()

    # ---- waiting -------------------------------------------------------------------------------
    def waiting(self, reason: str | None, seconds: float = 0.0) -> None:
        """The pacing guard holds requests back for ``seconds`` (None: it lets them go)."""
        self._reason = reason
        self._until = self.clock() + seconds if reason is not None else None
        for d in self._downloads.values():
            self._show(d)

    def asked(self, request: int) -> None:
        self._asked[request] = self.clock()

    def answered(self, request: int) -> None:
        self._asked.pop(request, None)

    # ---- reading -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any] | None:
        """``{"done", "total", "waiting", "resume_in"}``, None when no download is under way."""
        if not self._downloads:
            return None
        done = sum(d.done for d in self._downloads.values())
        total = sum(d.total for d in self._downloads.values())
        reason, resume_in = self._why()
        return {"done": done, "total": total, "waiting": reason, "resume_in": resume_in}

    def _why(self) -> tuple[str | None, float | None]:
        now = self.clock()
        if self._reason is not None and self._until is not None and self._until > now:
            return self._reason, self._until - now
        if self._asked:
            waited = now - min(self._asked.values())
            if waited >= SLOW_ANSWER:
                return f"the gateway has not answered for {waited:.0f} s", None
        return None, None

    def _show(self, d: _Download) -> None:
        if d.bar is None:
            return
        reason, resume_in = self._why()
        if reason is None:
            d.bar.set_postfix_str("", refresh=True)
        elif resume_in is None:
            d.bar.set_postfix_str(f"waiting: {reason}", refresh=True)
        else:
            d.bar.set_postfix_str(f"waiting {_duration(resume_in)}: {reason}", refresh=True)


def _duration(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


__all__ = ["HistoryProgress"]
