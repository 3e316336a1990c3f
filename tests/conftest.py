"""Small synthetic series with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def wide_frame(n: int = 1200, freq: str = "h", channels: int = 2, seed: int = 0,
               noise: float = 0.0, period: int = 24) -> pd.DataFrame:
    """Channel k: a sine of `period` steps with phase k, plus a slow trend, plus optional noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {"date": pd.date_range("2020-01-01", periods=n, freq=freq)}
    for k in range(channels):
        data[f"s{k}"] = (np.sin(2 * np.pi * t / period + k) + 0.001 * t + k
                         + noise * rng.standard_normal(n))
    return pd.DataFrame(data)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's cache."""
    monkeypatch.setenv("HYBRID_CACHE_DIR", str(tmp_path / "hybrid-cache"))


@pytest.fixture(scope="session")
def local_ray():
    """Ray on this machine's two cores, started once for the tests that need it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.csv"
    wide_frame(noise=0.1).to_csv(path, index=False)
    return path


def two_ids_on_other_dates(path: Path) -> Path:
    """A long hourly file of two ids that start on different dates and differ in length."""
    parts = []
    for uid, start, n in (("a", "2020-01-01", 700), ("b", "2020-01-05", 620)):
        frame = wide_frame(n=n, channels=1, seed=len(parts), noise=0.1)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=n, freq="h"), "y": frame.s0}))
    pd.concat(parts).to_csv(path, index=False)
    return path
