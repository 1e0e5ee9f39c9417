"""A matplotlib Figure that shows itself once in a notebook cell, with no ``%matplotlib`` magic.

The figure is not registered with pyplot, so the inline backend never shows it on its own. It
renders as PNG when it is the cell's value; a figure made in a cell but not its value (e.g.
``fig = res.plot()``) is shown when the cell ends. Outside a Jupyter kernel nothing happens and
the figure is only returned (scripts call ``fig.savefig``).
"""

from __future__ import annotations

import io
import logging
import sys

from matplotlib.figure import Figure

log = logging.getLogger(__name__)

PNG_DPI = 100
_pending: list[NotebookFigure] = []  # made in the running cell; strong refs, cleared per cell
_hooked: set[int] = set()


class NotebookFigure(Figure):
    """A Figure whose notebook display is one PNG and whose text form names what it shows."""

    def __init__(self, *args, label: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label = label
        self.shown = False
        _watch(self)

    def _repr_png_(self) -> bytes:
        self.shown = True
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=PNG_DPI)
        return buf.getvalue()

    def __repr__(self) -> str:
        w, h = self.get_size_inches()
        return f"<Figure {self.label} ({w:g}x{h:g} in, {len(self.axes)} axes)>"


def _kernel_shell():
    """The IPython shell when running in a Jupyter kernel (already imported), else None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _watch(fig: NotebookFigure) -> None:
    shell = _kernel_shell()
    if shell is None:
        return
    if id(shell) not in _hooked:
        _hooked.add(id(shell))
        # Type printers win over ``_repr_png_``; the inline backend registers one for Figure, so
        # register ours for the subclass (looked up first) to keep the "shown" mark reliable.
        png = shell.display_formatter.formatters["image/png"]
        png.for_type(NotebookFigure, NotebookFigure._repr_png_)
        shell.events.register("pre_execute", _pending.clear)  # drop figures made between cells
        shell.events.register("post_execute", _show_pending)
    _pending.append(fig)


def _show_pending() -> None:
    """After a cell: display each figure made in it that the cell's value did not show."""
    figs = [f for f in _pending if not f.shown]
    _pending.clear()
    if not figs:
        return
    from IPython.display import display

    for fig in figs:
        display(fig)
