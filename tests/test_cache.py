import json
import time

import numpy as np
import pytest

from baselines import ARIMA, Linear, SeasonalNaive
from hybrid.foundation.cache import CachedForecaster, ForecastCache, memo_json
from hybrid.foundation.data import load
from hybrid.foundation.metrics import TRACK_WINDOWS
from tests.conftest import wide_frame


@pytest.fixture
def data():
    return load(wide_frame(n=500, noise=0.2), seq_len=48, horizon=12)


def test_miss_then_hit_gives_the_same_forecasts(data, tmp_path):
    cache = ForecastCache(tmp_path)
    first = CachedForecaster(Linear(), cache).fit(data)
    assert not first.from_cache_
    second = CachedForecaster(Linear(), cache).fit(data)
    assert second.from_cache_
    origins = data.origins("test")
    direct = Linear().fit(data).predict(data, origins)
    np.testing.assert_array_equal(second.predict(data, origins), direct)
    np.testing.assert_array_equal(first.predict(data, origins), second.predict(data, origins))
    # both read the file through a memory map (only the origins indexed are paged in), read-only
    for cached in (first, second):
        assert isinstance(cached.forecasts_, np.memmap) and not cached.forecasts_.flags.writeable
    # the hit reports what the miss cost
    assert first.compute_seconds_ >= 0 and second.compute_seconds_ == first.compute_seconds_


def test_a_hit_reports_the_cost_the_miss_measured(data, tmp_path):
    class Slow(Linear):
        def fit(self, data):
            time.sleep(0.3)
            return super().fit(data)

    cache = ForecastCache(tmp_path)
    assert CachedForecaster(Slow(), cache).fit(data).compute_seconds_ >= 0.3
    start = time.perf_counter()
    hit = CachedForecaster(Slow(), cache).fit(data)
    assert hit.from_cache_ and hit.compute_seconds_ >= 0.3 and time.perf_counter() - start < 0.3


def test_key_follows_data_and_parameters(data, tmp_path):
    cache = ForecastCache(tmp_path)
    key = cache.key(data, Linear())[0]
    assert cache.key(data, Linear())[0] == key
    assert cache.key(data, Linear(subtract_last=False))[0] != key
    other = load(wide_frame(n=500, noise=0.2, seed=1), seq_len=48, horizon=12)
    assert cache.key(other, Linear())[0] != key
    longer = load(wide_frame(n=500, noise=0.2), seq_len=48, horizon=24)
    assert cache.key(longer, Linear())[0] != key


@pytest.mark.parametrize("damage", ["array", "sidecar", "shape"])
def test_a_damaged_entry_is_detected_and_recomputed(data, tmp_path, damage):
    cache = ForecastCache(tmp_path)
    CachedForecaster(SeasonalNaive(), cache).fit(data)
    key = cache.key(data, SeasonalNaive())[0]
    npy, meta = tmp_path / f"{key}.npy", tmp_path / f"{key}.json"
    if damage == "array":
        raw = bytearray(npy.read_bytes())
        raw[-8:] = b"\x00" * 8
        npy.write_bytes(bytes(raw))
    elif damage == "sidecar":
        meta.write_text("{not json")
    else:
        m = json.loads(meta.read_text())
        m["shape"][0] += 1
        meta.write_text(json.dumps(m))
    with pytest.warns(UserWarning, match="damaged"):
        again = CachedForecaster(SeasonalNaive(), cache).fit(data)
    assert not again.from_cache_
    origins = data.origins("test")
    np.testing.assert_array_equal(again.predict(data, origins), SeasonalNaive().fit(data).predict(data, origins))
    assert CachedForecaster(SeasonalNaive(), cache).fit(data).from_cache_  # repaired


def test_cached_forecaster_refuses_other_data(data, tmp_path):
    model = CachedForecaster(Linear(), ForecastCache(tmp_path)).fit(data)
    other = load(wide_frame(n=500, noise=0.2, seed=2), seq_len=48, horizon=12)
    with pytest.raises(ValueError, match="fitted on other data"):
        model.predict(other, other.origins("test"))


def test_memo_json_recomputes_an_unreadable_entry(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": [1.0, 2.0]}

    assert memo_json("ns", {"a": 1}, compute, root=tmp_path) == {"x": [1.0, 2.0]}
    assert memo_json("ns", {"a": 1}, compute, root=tmp_path) == {"x": [1.0, 2.0]}
    assert len(calls) == 1
    next((tmp_path / "ns").glob("*.json")).write_text("garbage")
    assert memo_json("ns", {"a": 1}, compute, root=tmp_path) == {"x": [1.0, 2.0]}
    assert len(calls) == 2


def test_arima_search_is_memoised_per_training_rows():
    rng = np.random.default_rng(0)
    import pandas as pd
    y = np.convolve(rng.standard_normal(400), [1, 0.6], mode="same")
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=400, freq="D"), "y": y})
    data = load(df, seq_len=28, horizon=7)
    start = time.perf_counter()
    first = ARIMA(season=1, max_p=2, max_q=2, n_jobs=1).fit(data)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    second = ARIMA(season=1, max_p=2, max_q=2, n_jobs=1).fit(data)
    warm = time.perf_counter() - start
    assert first.specs_ == second.specs_
    assert warm < cold / 3


def test_a_model_cached_from_validation_keeps_only_the_origins_scoring_and_the_router_read(tmp_path):
    class ValOnly(SeasonalNaive):
        cache_from = "val"

    data = load(wide_frame(n=600), seq_len=48, horizon=12)
    cached = CachedForecaster(ValOnly(), ForecastCache(tmp_path)).fit(data)
    first = data.origins("val")[0] - data.horizon - TRACK_WINDOWS + 1
    assert cached.first_origin_ == first and len(cached.forecasts_) == data.every_origin()[-1] + 1 - first
    scored = np.concatenate([data.origins("val"), data.origins("test")])
    np.testing.assert_array_equal(cached.predict(data, scored), SeasonalNaive().fit(data).predict(data, scored))
    with pytest.raises(ValueError, match="origins must lie in"):
        cached.predict(data, data.origins("train")[:1])
