"""Market data: sample bars, loading, validation, resampling, alignment and a historical feed."""

from quantnb.data.align import Aligned, align
from quantnb.data.feed import HistoricalDataFeed
from quantnb.data.futures import continuous_series as continuous
from quantnb.data.futures import expiry
from quantnb.data.load import load, load_months, to_canonical
from quantnb.data.resample import resample
from quantnb.data.sample import sample
from quantnb.data.validate import validate
from quantnb.domain.interval import Interval

__all__ = [
    "Aligned",
    "HistoricalDataFeed",
    "Interval",
    "align",
    "continuous",
    "expiry",
    "load",
    "load_months",
    "resample",
    "sample",
    "to_canonical",
    "validate",
]
