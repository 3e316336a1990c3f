"""The data protocol: finding a dataset, reading it, splitting, scaling and windowing it.

Everything a model sees comes through a `SeriesBundle`. The conventions are those of the public
long-horizon benchmarks (Informer / Autoformer / Time-Series-Library), so that our numbers compare
with the published ones:

- splits: ETT hourly 12/4/4 months (train rows [0, 8640), val [8640-L, 11520), test
  [11520-L, 14400)), ETT 15-minute the same borders x4, anything else 70/10/20 (val and test at
  least one horizon each, as M4 cuts short series); val and test start
  L rows early so that their first window has a full look-back;
- a per-channel z-score fitted on the training rows only;
- channel independence: every column is its own series;
- a window origin `t` is the first forecast row: the look-back is rows [t-L, t), the target rows
  [t, t+H). A model forecasting from origin t may read rows < t only.

One module per concern: `read` (reading and validating a table), `calendar` (frequency and
season), `windows` (splits and windows), `bundle` (the `SeriesBundle` and `load`), `datasets`
(the named datasets of the manifest).
"""

from hybrid.foundation.data.bundle import Scaler, SeriesBundle, load
from hybrid.foundation.data.calendar import Frequency, detect_frequency, next_timestamps
from hybrid.foundation.data.groups import load_groups
from hybrid.foundation.data.datasets import DatasetSpec, data_dirs, load_manifest, resolve
from hybrid.foundation.data.read import FILL_METHODS, LONG_COLUMNS, Frame, ReadOptions, read_frame, read_table
from hybrid.foundation.data.windows import (Part, Split, backtest_blocks, backtest_split, cutoff_split, default_lengths, from_series, make_split, per_series,
                                            take_rows, validation_rows)

__all__ = ["FILL_METHODS", "LONG_COLUMNS", "DatasetSpec", "Frame", "Frequency", "Part", "ReadOptions", "Scaler", "SeriesBundle",
           "Split", "backtest_blocks", "backtest_split", "cutoff_split", "data_dirs", "default_lengths", "detect_frequency", "from_series", "load",
           "load_groups", "load_manifest", "make_split", "next_timestamps", "per_series", "read_frame", "read_table", "resolve", "take_rows",
           "validation_rows"]
