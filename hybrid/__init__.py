"""hybrid: classical forecasters beside a Time-LLM core, fused by a learned router."""

from hybrid.data import SeriesBundle, load
from hybrid.errors import InputError
from hybrid.forecaster import Forecaster

__all__ = ["Forecaster", "InputError", "SeriesBundle", "load"]
