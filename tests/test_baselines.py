import dataclasses

import numpy as np
import pandas as pd
import pytest

from baselines import FORECASTERS, Linear, SeasonalNaive
from hybrid.data import load
from hybrid.forecaster import NotFittedError
from tests.conftest import wide_frame


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


def test_linear_is_near_exact_on_a_pure_sine():
    data = _sine()
    origins = data.origins("test")
    forecast = Linear().fit(data).predict(data, origins)
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


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_forecast_reads_nothing_at_or_after_its_origin(name):
    data = _sine(noise=0.3)
    model = FORECASTERS[name]().fit(data)
    origin = int(data.origins("test")[10])
    before = model.predict(data, np.array([origin]))
    values = data.values.copy()
    values[origin:] = 1e6
    after = model.predict(dataclasses.replace(data, values=values), np.array([origin]))
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_fit_never_reads_test_rows(name):
    data = _sine(noise=0.3)
    a = FORECASTERS[name]().fit(data)
    values = data.values.copy()
    values[data.split.val[1]:] *= -50.0
    b = FORECASTERS[name]().fit(dataclasses.replace(data, values=values))
    fitted = [k for k in vars(a) if k.endswith("_")]
    assert fitted
    for key in fitted:
        va, vb = getattr(a, key), getattr(b, key)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_predict_before_fit_is_refused(name):
    data = _sine()
    with pytest.raises(NotFittedError, match="call fit"):
        FORECASTERS[name]().predict(data, data.origins("test"))


def test_every_forecaster_has_a_unique_name_and_its_params():
    assert len({cls.name for cls in FORECASTERS.values()}) == len(FORECASTERS)
    assert Linear(subtract_last=False).get_params()["subtract_last"] is False
    assert SeasonalNaive(season=7).get_params() == {"season": 7}
