"""The ray backend: the per-series work of fitting and forecasting as Ray tasks, the same forecasts."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

from baselines.parallel import map_channels
from hybrid import Hybrid
from hybrid.foundation.backend import current_backend, use_backend
from hybrid.foundation.errors import InputError
from tests.conftest import wide_frame

ray = pytest.importorskip("ray")
# the workers cannot import this test module by name: its functions travel by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def where(i: int) -> tuple[int, int, str]:
    return i, os.getpid(), current_backend()


def many_series() -> pd.DataFrame:
    """Two groups of hourly series on different dates: three sharing theirs, two starting later."""
    parts = []
    for group, (start, n, channels) in enumerate((("2020-01-01", 720, 3), ("2020-01-04", 640, 2))):
        frame = wide_frame(n=n, channels=channels, seed=group, noise=0.2)
        frame["date"] = pd.date_range(start, periods=n, freq="h")
        long = frame.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})
        parts.append(long.assign(unique_id=f"g{group}-" + long.unique_id))
    return pd.concat(parts, ignore_index=True)


def test_each_channel_is_a_ray_task_in_order_and_the_task_spreads_nothing_further(local_ray):
    with use_backend("ray"):
        out = map_channels(where, [(i,) for i in range(6)])
    assert [i for i, _, _ in out] == list(range(6))
    assert os.getpid() not in {pid for _, pid, _ in out}
    assert {backend for _, _, backend in out} == {"local"}  # inside a task the work is not spread again
    assert current_backend() == "local"


def test_the_ray_backend_forecasts_what_the_local_one_does(local_ray):
    df = many_series()
    settings = dict(models="snaive,ets,linear", horizon=24, cache=False, progress=False, backtest_blocks=1)
    local = Hybrid(**settings).fit(df)
    on_ray = Hybrid(**settings, backend="ray").fit(df)
    assert len(on_ray.fit_.engines) == 2  # the two groups were fitted as two tasks
    # equal to round-off: a task's BLAS runs on its one core, the local fit's on two, summing in another order
    pd.testing.assert_frame_equal(on_ray.predict(level=80), local.predict(level=80), rtol=1e-9, atol=1e-9)
    newer = df.groupby("unique_id").head(600)  # forecasting from other rows too
    pd.testing.assert_frame_equal(on_ray.predict(df=newer), local.predict(df=newer), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(on_ray.evaluate()["mse"], local.evaluate()["mse"], rtol=1e-9)


def test_an_unknown_backend_is_one_line_before_any_work():
    with pytest.raises(InputError, match="unknown backend 'spark'; use local or ray"):
        Hybrid(backend="spark").fit(many_series())
