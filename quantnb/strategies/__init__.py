"""Ready-made example strategies, used by the demo, the notebooks and the benchmarks."""

from quantnb.strategies.sma_cross import SmaCross

__all__ = ["SmaCross"]
