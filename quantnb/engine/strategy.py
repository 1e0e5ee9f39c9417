"""The strategy base class: one object that runs unchanged in a backtest and live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantnb.domain.model import Fill
    from quantnb.engine.context import BarView, Context


class Strategy:
    """Subclass and override ``on_data``; the other hooks are optional.

    The same instance may be run many times (backtests, then paper trading): every run calls
    ``initialize`` first, so keep per-run state there rather than in ``__init__``.
    """

    def initialize(self, ctx: Context) -> None:
        """Called once at the start of every run, before the first bar (live: before the history
        is loaded), so there is no price or history yet. Declare indicators here: with the
        ``ctx.history`` depth asked for, they make the warm-up (or declare it, ``ctx.warmup(n)``);
        ``on_data`` is first called once every symbol has that many bars."""

    def on_data(self, ctx: Context, data: BarView) -> None:
        """Called with the newest bar of each symbol that has one at ``ctx.now``."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Called when one of this strategy's orders (partly) fills.

        ``ctx.now`` is the fill's time; in a backtest the market data (``ctx.bar``, prices,
        history, indicators) is still the previous bar's, and orders placed here trade from
        the next bar on.
        """

    def finalize(self, ctx: Context) -> None:
        """Called once when the run ends (the backtest's last bar, or ``stop()`` live)."""

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def params(self) -> dict[str, Any]:
        """Public scalar attributes: what identifies this configuration in results and logs."""
        return {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and isinstance(v, int | float | str | bool | tuple)
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"
