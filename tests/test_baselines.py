import dataclasses

import numpy as np
import pandas as pd
import pytest

from baselines import ARIMA, ETS, DLinear, ETSGrid, LightGBM, Linear, SeasonalNaive
from baselines.linear import moving_average
from baselines.statespace import state_space_forecast
from hybrid.foundation import registry
from hybrid.foundation.data import load
from hybrid.foundation.forecaster import NotFittedError
from tests.conftest import wide_frame

# Small settings so that every model fits in seconds on the small daily data below.
QUICK = {"arima": {"season": 1, "max_p": 2, "max_q": 1, "n_jobs": 1},
         "ets": {"n_jobs": 1}, "prophet": {"n_jobs": 1},
         "lightgbm": {"n_components": 4, "max_rounds": 60, "n_jobs": 1}}


CLASSICAL = registry.names("classical")


def quick(name):
    return registry.model_class(name)(**QUICK.get(name, {}))


@pytest.fixture(scope="module")
def daily():
    """Two daily channels, weekly sine + trend + noise: 420 rows, L = 28, H = 7."""
    return load(wide_frame(n=420, freq="D", period=7, noise=0.3), seq_len=28, horizon=7)


def _sine(n=1200, noise=0.0):
    df = wide_frame(n=n, noise=noise)
    df["s1"] = np.sin(2 * np.pi * np.arange(n) / 24)  # a pure sine, period 24
    return load(df, seq_len=96, horizon=24)


def test_seasonal_naive_is_exact_on_a_pure_sine():
    data = _sine()
    origins = data.origins("test")
    forecast = SeasonalNaive().fit(data).predict(data, origins)
    assert forecast.shape == (len(origins), 24, 2)
    np.testing.assert_allclose(forecast[:, :, 1], data.future(origins)[:, :, 1], atol=1e-12)


def test_seasonal_naive_repeats_the_last_season_over_a_long_horizon():
    data = load(wide_frame(n=600), seq_len=48, horizon=60)
    model = SeasonalNaive(season=24).fit(data)
    f = model.predict(data, np.array([200]))[0, :, 0]
    np.testing.assert_array_equal(f, data.values[np.r_[176:200, 176:200, 176:188], 0])


@pytest.mark.parametrize("cls", [Linear, DLinear])
def test_linear_maps_are_near_exact_on_a_pure_sine(cls):
    data = _sine()
    origins = data.origins("test")
    forecast = cls().fit(data).predict(data, origins)
    assert np.mean((forecast[:, :, 1] - data.future(origins)[:, :, 1]) ** 2) < 1e-6


def test_linear_with_last_value_subtraction_continues_a_trend():
    n = 800
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                       "y": 3.0 + 0.5 * np.arange(n)})
    data = load(df, seq_len=30, horizon=10)
    origins = data.origins("test")
    forecast = Linear().fit(data).predict(data, origins)
    np.testing.assert_allclose(forecast, data.future(origins), atol=1e-8)


def test_linear_chooses_its_penalty_on_validation():
    data = _sine(noise=0.3)
    model = Linear(alphas=(1e-4, 1.0, 100.0)).fit(data)
    assert set(model.val_mse_by_alpha_) == {1e-4, 1.0, 100.0}
    assert model.val_mse_by_alpha_[model.alpha_] == min(model.val_mse_by_alpha_.values())


def test_moving_average_matches_a_loop_with_edge_padding():
    x = np.random.default_rng(0).standard_normal((3, 20))
    k = 5
    padded = np.concatenate([np.repeat(x[:, :1], 2, 1), x, np.repeat(x[:, -1:], 2, 1)], axis=1)
    expected = np.stack([padded[:, i:i + k].mean(1) for i in range(20)], axis=1)
    np.testing.assert_allclose(moving_average(x, k), expected)


def test_state_space_forecast_matches_the_recursion():
    rng = np.random.default_rng(1)
    T = np.array([[0.9, 0.2], [0.0, 0.5]])
    Z = np.array([1.0, -1.0])
    c = np.array([0.1, -0.3])
    states = rng.standard_normal((4, 2))
    got = state_space_forecast(states, Z, T, 6, obs_intercept=2.0, state_intercept=c)
    for i, a in enumerate(states):
        for h in range(6):
            assert got[i, h] == pytest.approx(Z @ a + 2.0)
            a = T @ a + c


def _ar1_path(n: int, phi: float, scale: float = 1.0, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + scale * rng.standard_normal()
    return y


def _ar1(n=1500, phi=0.7, seed=3):
    return pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="D"), "y": _ar1_path(n, phi, seed=seed)})


def test_arima_recovers_an_ar1_coefficient():
    data = load(_ar1(), seq_len=28, horizon=7)
    model = ARIMA(season=1, n_jobs=1).fit(data)
    spec = model.specs_[0]
    assert spec["order"][1] == 0  # no differencing for a stationary series
    ar = dict(zip(spec["param_names"], spec["params"]))["ar.L1"]
    assert ar == pytest.approx(0.7, abs=0.06)


def test_arima_every_origin_equals_a_per_origin_forecast(daily):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    daily = dataclasses.replace(daily, values=daily.values[:, :1], columns=daily.columns[:1])
    model = ARIMA(max_p=2, max_q=1, max_P=1, max_Q=1, n_jobs=1).fit(daily)
    assert model.season_ == 7 and model.specs_[0]["seasonal_order"][3] in (0, 7)
    origins = daily.origins("test")[[0, 5, 17, 40]]
    forecast = model.predict(daily, origins)
    for c, spec in enumerate(model.specs_):
        for i, t in enumerate(origins):
            sm = SARIMAX(daily.values[:t, c], order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]),
                         trend=spec["trend"])
            expected = sm.filter(np.asarray(spec["params"])).forecast(daily.horizon)
            np.testing.assert_allclose(forecast[i, :, c], expected, atol=1e-9, rtol=0)


def test_arima_takes_a_long_season_as_fourier_terms_and_says_so():
    # a weekly cycle of hourly data (168 lags: far past a seasonal ARIMA's state) under AR(1) noise
    n = 2400
    noise = _ar1_path(n, 0.5, 0.2, seed=4)
    t = np.arange(n)
    df = pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="h"),
                       "y": np.sin(2 * np.pi * t / 168) + 0.5 * np.cos(4 * np.pi * t / 168) + noise})
    data = load(df, seq_len=336, horizon=48)
    model = ARIMA(season=168, max_p=2, max_q=1, n_jobs=1).fit(data)
    assert model.season_ == 1 and model.fourier_period_ == 168 and model.fourier_[0][0] >= 2
    assert model.describe()[0].endswith(f"+ {model.fourier_[0][0]} Fourier pairs of period 168")
    test = data.origins("test")
    error = np.mean((model.predict(data, test) - data.future(test)) ** 2)
    assert error < 0.15 * data.future(test).var()


def test_ets_every_origin_equals_a_per_origin_forecast(daily):
    from baselines.ets import ets_model

    model = ETS(n_jobs=1).fit(daily)
    assert model.season_ == 7
    origins = daily.origins("test")[[0, 5, 17, 40]]
    forecast = model.predict(daily, origins)
    for c, spec in enumerate(model.specs_):
        for i, t in enumerate(origins):
            expected = ets_model(daily.values[:t, c], spec, spec["init"]).smooth(spec["params"]).forecast(daily.horizon)
            np.testing.assert_allclose(forecast[i, :, c], expected, atol=1e-9, rtol=0)


def test_ets_forecasts_a_constant_level():
    rng = np.random.default_rng(0)
    n = 500
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="D"),
                       "y": 5.0 + 0.1 * rng.standard_normal(n)})
    data = load(df, seq_len=28, horizon=14)
    model = ETS(n_jobs=1).fit(data)
    forecast = data.scaler.inverse(model.predict(data, data.origins("test")))
    assert np.abs(forecast - 5.0).max() < 0.05  # half the noise's spread, at every step


def _holt_winters(y, alpha, beta, gamma, phi, level, trend, seasonal, horizon):
    """The textbook additive damped Holt-Winters recursion through y, then its forecast."""
    m, s = len(seasonal), list(seasonal)
    for t, value in enumerate(y):
        error = value - (level + phi * trend + s[t % m])
        level, trend = level + phi * trend + alpha * error, phi * trend + beta * error
        s[t % m] += gamma * error
    n = len(y)
    return [level + sum(phi ** k for k in range(1, h + 1)) * trend + s[(n + h - 1) % m] for h in range(1, horizon + 1)]


def test_ets_grid_every_origin_is_the_holt_winters_recursion(daily):
    from baselines.ets_grid import _initial

    model = ETSGrid().fit(daily)
    assert model.season_ == 7 and model.params_.shape == (daily.n_channels, 6)
    origins = daily.origins("test")[[0, 9, 33]]
    forecast = model.predict(daily, origins)
    level, trend, seasonal = _initial(daily.train_values.T, 7)
    for c, (alpha, beta, gamma, phi, has_trend, has_season) in enumerate(model.params_):
        for i, t in enumerate(origins):
            expected = _holt_winters(daily.values[:t, c], alpha, beta, gamma, phi, level[c], trend[c] * has_trend,
                                     seasonal[c] * has_season, daily.horizon)
            np.testing.assert_allclose(forecast[i, :, c], expected, atol=1e-9, rtol=0)


def test_ets_grid_is_near_exact_on_a_noiseless_trend_and_season():
    n = 300
    t = np.arange(n)
    df = pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="MS"),
                       "y": 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)})
    data = load(df, seq_len=24, horizon=12)
    model = ETSGrid().fit(data)
    assert model.params_[0, 4] == 1 and model.params_[0, 5] == 1  # a trend and a season chosen
    error = model.predict(data, data.origins("test")) - data.future(data.origins("test"))
    assert np.mean(error ** 2) < 1e-3


def test_ets_grid_chosen_on_many_steps_forecasts_many_steps_better_than_chosen_by_likelihood():
    # a daily cycle under persistent short-run noise (AR(1), 0.95): one step on, the last value
    # says most, so the likelihood smooths little (a high alpha); 48 steps on the noise has faded
    # and the cycle is what is left, which a low alpha keeps
    n = 3000
    noise = _ar1_path(n, 0.95, 0.3, seed=0)
    df = pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="h"),
                       "y": np.sin(2 * np.pi * np.arange(n) / 24) + noise})
    data = load(df, seq_len=96, horizon=48)
    test = data.origins("test")
    fits = {c: ETSGrid(criterion=c).fit(data) for c in ETSGrid.CRITERIA}
    errors = {c: float(np.mean((m.predict(data, test) - data.future(test)) ** 2)) for c, m in fits.items()}
    assert fits["multistep"].params_[0, 0] < fits["aic"].params_[0, 0]
    assert errors["multistep"] < 0.9 * errors["aic"]


def test_the_simple_benchmarks_match_hand_computed_forecasts(daily):
    from baselines import Drift, Naive, SeasonalWindowAverage, WindowAverage

    y, H, t = daily.values[:, 0], daily.horizon, int(daily.origins("test")[3])
    steps = np.arange(1, H + 1)
    expected = {
        Naive(): np.full(H, y[t - 1]),
        Drift(): y[t - 1] + steps * (y[t - 1] - y[0]) / (t - 1),
        WindowAverage(window=5): np.full(H, y[t - 5:t].mean()),
        WindowAverage(): np.full(H, y[t - 7:t].mean()),  # a season of daily data: a week
        SeasonalWindowAverage(window=2): np.array([(y[t - 7 + h % 7] + y[t - 14 + h % 7]) / 2 for h in range(H)]),
    }
    for model, answer in expected.items():
        np.testing.assert_allclose(model.fit(daily).predict(daily, [t])[0, :, 0], answer, rtol=1e-12, err_msg=model.name)
    # from an origin 15 rows in, two whole weeks lie before it: the mean of those two, not of three
    early = SeasonalWindowAverage(window=3).fit(daily).predict(daily, [15])[0, :, 0]
    np.testing.assert_allclose(early, [(y[8 + h % 7] + y[1 + h % 7]) / 2 for h in range(H)], rtol=1e-12)


def test_lightgbm_stops_early_on_validation_and_learns_the_rest_from_train(daily):
    model = LightGBM(n_components=3, max_rounds=2000, early_stopping_rounds=10, n_jobs=1).fit(daily)
    assert len(model.boosters_) == 3 and model.components_.shape == (3, daily.horizon)
    assert all(0 < r < 2000 for r in model.best_rounds_)
    values = daily.values.copy()
    start, end = daily.split.val
    values[daily.split.train[1]:end] += 5 * np.sin(np.arange(end - daily.split.train[1]))[:, None]
    other = LightGBM(n_components=3, max_rounds=2000, early_stopping_rounds=10, n_jobs=1).fit(
        dataclasses.replace(daily, values=values))
    np.testing.assert_array_equal(model.components_, other.components_)
    np.testing.assert_array_equal(model.mean_, other.mean_)
    assert model.best_rounds_ != other.best_rounds_


def _same(a, b):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif hasattr(a, "model_to_string"):  # a LightGBM booster
        assert a.model_to_string() == b.model_to_string()
    elif hasattr(a, "params") and isinstance(getattr(a, "params"), dict):  # a Prophet model
        _same({k: np.asarray(v) for k, v in a.params.items()}, {k: np.asarray(v) for k, v in b.params.items()})
    else:
        assert a == b


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_forecast_reads_nothing_at_or_after_its_origin(daily, name):
    model = quick(name).fit(daily)
    origins = daily.origins("test")[[3, 30]]
    before = model.predict(daily, origins)
    assert before.shape == (2, daily.horizon, daily.n_channels) and np.isfinite(before).all()
    for i, origin in enumerate(origins):
        values = daily.values.copy()
        values[origin:] = 1e3
        after = model.predict(dataclasses.replace(daily, values=values), np.array([origin]))
        np.testing.assert_allclose(before[i], after[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_fit_never_reads_test_rows(daily, name, tmp_path, monkeypatch):
    a = quick(name).fit(daily)
    monkeypatch.setenv("HYBRID_CACHE_DIR", str(tmp_path / "other-cache"))  # no memoised fit reused
    values = daily.values.copy()
    values[daily.split.val[1]:] *= -50.0
    b = quick(name).fit(dataclasses.replace(daily, values=values))
    fitted = [k for k in vars(a) if k.endswith("_")]
    assert fitted
    for key in fitted:
        _same(getattr(a, key), getattr(b, key))


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_predict_before_fit_is_refused(daily, name):
    with pytest.raises(NotFittedError, match="call fit"):
        quick(name).predict(daily, daily.origins("test"))


def test_every_forecaster_has_a_unique_name_and_its_params():
    assert [registry.model_class(n).name for n in registry.names()] == list(registry.names())
    assert Linear(subtract_last=False).get_params()["subtract_last"] is False
    assert SeasonalNaive(season=7).get_params() == {"season": 7}
    assert DLinear(kernel=9).get_params()["kernel"] == 9
