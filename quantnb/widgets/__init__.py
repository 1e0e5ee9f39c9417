"""Notebook widgets: the live ``Dashboard`` of an engine and ``compare`` for backtest results.

The only part of quantnb that imports ipywidgets (``pip install quantnb[notebook]``).
"""

from quantnb.widgets.compare import compare, compare_table
from quantnb.widgets.dashboard import Dashboard, flatten_and_stop

__all__ = ["Dashboard", "compare", "compare_table", "flatten_and_stop"]
