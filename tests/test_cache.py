import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from baselines import ARIMA, Linear, SeasonalNaive
from hybrid.foundation.cache import CachedForecaster, ForecastCache, memo_json
from hybrid.foundation.data import load
from hybrid.foundation.metrics import TRACK_WINDOWS, grid_step, scored_origins, track_step
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


def test_a_costly_model_forecasts_the_test_part_densely_and_the_rest_on_the_grid(tmp_path):
    asked = []

    class Costly(SeasonalNaive):  # as the core: each origin a forward pass
        cache_from = "val"
        grid_forecasts = True

        def predict(self, data, origins):
            asked.append(np.asarray(origins))
            return super().predict(data, origins)

    data = load(wide_frame(n=1200), seq_len=96, horizon=96)  # the grid every 4th origin (H / 24)
    assert track_step(data.horizon) == 4
    cached = CachedForecaster(Costly(), ForecastCache(tmp_path)).fit(data)
    test, val = data.origins("test"), scored_origins(data, "val")
    every = data.origins("val")
    assert (val % 4 == 0).all() and (np.diff(val) == 4).all() and val[0] - every[0] < 4 and every[-1] - val[-1] < 4
    computed = asked[-1]
    assert set(test) <= set(computed) and set(val) <= set(computed)
    assert (computed[computed < test[0]] % 4 == 0).all()  # before the test part, the grid alone
    exact = SeasonalNaive().fit(data)
    np.testing.assert_array_equal(cached.predict(data, val), exact.predict(data, val))
    np.testing.assert_array_equal(cached.predict(data, test), exact.predict(data, test))
    assert np.isnan(cached.predict(data, val[:1] + 1)).all()  # off the grid: not forecast
    # a backtest block's forecasts (its bundle's test part) on the grid too, under a key of their own
    block = CachedForecaster(Costly(), ForecastCache(tmp_path), "test", test_on_grid=True).fit(data)
    assert not block.from_cache_ and (asked[-1] % 4 == 0).all()
    # a cheap model's forecasts are every origin's, whatever is asked
    np.testing.assert_array_equal(CachedForecaster(SeasonalNaive(), ForecastCache(tmp_path), "test",
                                                   test_on_grid=True).fit(data).predict(data, val[:1] + 1),
                                  exact.predict(data, val[:1] + 1))


def test_the_track_step_divides_the_grid_and_leaves_a_track_record_of_several_windows():
    for horizon, step in ((12, 1), (96, 4), (192, 4), (336, 2), (720, 6)):
        assert track_step(horizon) == step and grid_step(horizon) % step == 0
        assert TRACK_WINDOWS // step >= 4


# --- keys from declared dependencies -----------------------------------------------------------

TOY_MODEL = '''
import numpy as np
from hybrid.foundation.forecaster import Forecaster
import toyhelper


class Toy(Forecaster):
    name = "toy"
    uses = ("toyhelper",)

    def __init__(self):
        pass

    def fit(self, data):
        self.fitted_ = True
        return self

    def predict(self, data, origins):
        return np.full((len(origins), data.horizon, data.n_channels), toyhelper.LEVEL)
'''


def _edit(path, cache_module):
    """Change a module's source (a comment: the code runs the same) as a user's edit would, and
    forget the hashes this process took, as the next process would."""
    path.write_text(path.read_text() + "\n# edited\n")
    cache_module.module_hash.cache_clear()


def test_an_edit_to_a_used_module_makes_the_entry_unreachable_and_another_leaves_it(data, tmp_path, monkeypatch):
    import hybrid.foundation.cache as cache_module

    src = tmp_path / "src"
    src.mkdir()
    (src / "toymodel.py").write_text(TOY_MODEL)
    (src / "toyhelper.py").write_text("LEVEL = 1.5\n")
    (src / "toyother.py").write_text("UNRELATED = 0\n")
    monkeypatch.syspath_prepend(str(src))
    from toymodel import Toy

    cache = ForecastCache(tmp_path / "forecasts")
    assert not CachedForecaster(Toy(), cache).fit(data).from_cache_
    assert CachedForecaster(Toy(), cache).fit(data).from_cache_
    _edit(src / "toyother.py", cache_module)  # used by no model: the entry stays reachable
    assert CachedForecaster(Toy(), cache).fit(data).from_cache_
    _edit(src / "toyhelper.py", cache_module)  # declared in Toy.uses
    assert not CachedForecaster(Toy(), cache).fit(data).from_cache_
    _edit(src / "toymodel.py", cache_module)  # the model's own module
    assert not CachedForecaster(Toy(), cache).fit(data).from_cache_
    cache_module.module_hash.cache_clear()


def test_the_cores_key_holds_its_modules_and_its_hint_models_keys(data, tmp_path, monkeypatch):
    import hybrid.foundation.cache as cache_module
    from hybrid.core.forecaster import TimeLLMForecaster

    cache = ForecastCache(tmp_path)
    hinted, plain = TimeLLMForecaster(hints="text", hint_models="linear"), TimeLLMForecaster(hints="stats")
    before = {m: cache.key(data, m)[0] for m in (hinted, plain)}
    real = cache_module.module_hash

    def keys_after_editing(module):
        monkeypatch.setattr(cache_module, "module_hash", lambda m: "edited" if m == module else real(m))
        keys = {m: cache.key(data, m)[0] for m in (hinted, plain)}
        monkeypatch.setattr(cache_module, "module_hash", real)
        return keys

    after = keys_after_editing("baselines.linear")  # the hint model's code: only the core that reads it changes
    assert after[hinted] != before[hinted] and after[plain] == before[plain]
    assert cache.key(data, hinted)[1]["reads"] == {"linear": cache.key(data, Linear())[0]}
    for used in ("hybrid.foundation.periods", "hybrid.foundation.metrics", "hybrid.core.prompt"):
        assert all(keys_after_editing(used)[m] != before[m] for m in (hinted, plain)), used
    for unrelated in ("hybrid.core.explain", "baselines.arima", "hybrid.foundation.registry"):
        assert keys_after_editing(unrelated) == before, unrelated


def test_every_model_declares_the_project_modules_it_imports():
    """What a model imports from the models floor or from the foundation's numeric modules (and
    what those import in turn), it must declare in `uses`: otherwise an edit there would serve a
    stale forecast. The foundation's other modules (data protocol, interface, cache) compute no
    forecast: the module docstring of hybrid.foundation.cache says what covers them."""
    import grimp

    from hybrid.foundation import registry

    graph = grimp.build_graph("hybrid", "baselines", "router")
    numeric = {"hybrid.foundation.periods", "hybrid.foundation.metrics"}

    def computes(module: str) -> bool:
        return module in numeric or module.startswith(("baselines.", "router.", "hybrid.core."))

    for name in registry.names():
        cls = registry.model_class(name)
        needed, todo = set(), [cls.__module__]
        while todo:
            for module in graph.find_modules_directly_imported_by(todo.pop()):
                if computes(module) and module not in needed | {cls.__module__}:
                    needed.add(module)
                    todo.append(module)
        assert needed <= set(cls.uses), f"{name} imports {sorted(needed - set(cls.uses))} without declaring them"


# --- two writers at once -----------------------------------------------------------------------

SHAPE = (300, 24, 8)


def _writer(root: str, key: str, value: float, times: int) -> None:
    cache = ForecastCache(Path(root))
    for _ in range(times):
        cache.save(key, np.full(SHAPE, value), {"seconds": 0})


def _reader(root: str, key: str, times: int) -> None:
    import warnings

    cache = ForecastCache(Path(root))
    warnings.simplefilter("error")  # a damaged entry warns: here it fails the process
    for _ in range(times):
        array = cache.load(key, SHAPE)
        if array is not None:
            assert len(np.unique(array)) == 1


def test_two_processes_writing_one_entry_leave_one_whole_entry(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    root, key = str(tmp_path / "forecasts"), "k" * 32
    workers = [context.Process(target=_writer, args=(root, key, value, 40)) for value in (1.0, 2.0)]
    workers.append(context.Process(target=_reader, args=(root, key, 200)))
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    final = ForecastCache(Path(root)).load(key, SHAPE)
    assert final is not None and len(np.unique(final)) == 1 and final[0, 0, 0] in (1.0, 2.0)
    assert not list(Path(root).glob(".tmp-*"))


def test_a_backtest_fit_keeps_only_its_blocks_origins_under_a_key_of_its_own(data, tmp_path):
    cache = ForecastCache(tmp_path)
    block = CachedForecaster(Linear(), cache, origins_from="test").fit(data)
    first = data.origins("test")[0] - data.horizon - TRACK_WINDOWS + 1
    assert block.first_origin_ == first and block.n_origins_ == data.every_origin()[-1] + 1 - first
    assert cache.key(data, Linear(), "test")[0] != cache.key(data, Linear())[0]
    assert not CachedForecaster(Linear(), cache).fit(data).from_cache_  # every origin: another entry
    test = data.origins("test")
    # equal but for the last bit (a product over fewer origins is summed in another order)
    np.testing.assert_allclose(block.predict(data, test), Linear().fit(data).predict(data, test), rtol=0, atol=1e-12)


def test_the_cache_removes_the_entries_used_longest_ago_but_never_one_in_use(data, tmp_path, monkeypatch):
    monkeypatch.setattr(ForecastCache, "warned_full", False)
    cache = ForecastCache(tmp_path)
    old, recent = (CachedForecaster(m, cache).fit(data).path_ for m in (Linear(), SeasonalNaive()))  # let go of
    size = old.stat().st_size
    now = time.time()
    os.utime(old.with_suffix(".json"), (now - 100, now - 100))
    # used a minute ago, maybe by another process that still reads them: both stay, and that is said
    with pytest.warns(UserWarning, match="above its bound"):
        CachedForecaster(Linear(subtract_last=False), ForecastCache(tmp_path, max_bytes=size)).fit(data)
    assert old.exists() and recent.exists()
    monkeypatch.setattr(ForecastCache, "warned_full", False)
    bounded = ForecastCache(tmp_path, max_bytes=int(3.5 * size), grace_seconds=0)
    third = CachedForecaster(Linear(subtract_last=False, alphas=(1.0,)), bounded).fit(data)
    assert not old.exists() and recent.exists() and third.path_.exists()
    # a hit refreshes an entry's time; what a live forecaster of this process reads stays, over the bound
    held = CachedForecaster(SeasonalNaive(), bounded).fit(data)
    assert held.from_cache_
    with pytest.warns(UserWarning, match="above its bound"):
        fourth = CachedForecaster(SeasonalNaive(season=12), ForecastCache(tmp_path, max_bytes=size, grace_seconds=0)).fit(data)
    assert recent.exists() and third.path_.exists() and fourth.path_.exists()
    third_path = third.path_
    del held, third  # their cell is over: the next write may take their room
    CachedForecaster(Linear(alphas=(1.0,)), ForecastCache(tmp_path, max_bytes=int(2.5 * size), grace_seconds=0)).fit(data)
    assert not third_path.exists() and not recent.exists() and fourth.path_.exists()


def test_two_cold_fits_at_once_compute_once_and_the_files_are_shared(data, tmp_path):
    import stat
    import threading

    calls = []

    class Slow(Linear):
        def fit(self, data):
            calls.append(1)
            time.sleep(0.5)
            return super().fit(data)

    fitted = [None, None]

    def fit(i):
        fitted[i] = CachedForecaster(Slow(), ForecastCache(tmp_path)).fit(data)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and sorted(f.from_cache_ for f in fitted) == [False, True]
    test = data.origins("test")
    np.testing.assert_array_equal(fitted[0].predict(data, test), fitted[1].predict(data, test))
    mode = stat.S_IMODE(fitted[0].path_.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH  # readable by others, not mkstemp's 0600
