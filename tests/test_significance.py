import numpy as np
import pytest

from hybrid.foundation.significance import diebold_mariano, window_losses


def test_diebold_mariano_against_a_hand_computed_case():
    a, b = np.array([1.0, 2, 3, 4, 5, 6]), np.zeros(6)
    # d = 1..6, mean 3.5; autocovariances at lags 0 and 1 over n = 6: 17.5 / 6 and 8.75 / 6;
    # Bartlett weight at lag 1 of 2 lags in all: 1/2; long-run variance 17.5/6 + 8.75/6 = 4.375
    statistic = 3.5 / np.sqrt(4.375 / 6) * np.sqrt((6 + 1 - 4 + 2 / 6) / 6)
    got, p = diebold_mariano(a, b, horizon=2)
    assert got == pytest.approx(statistic) and got == pytest.approx(3.0551, abs=1e-4)
    assert p == pytest.approx(0.0282, abs=1e-3)  # 2 * P(t_5 > 3.0551)
    assert diebold_mariano(b, a, horizon=2)[0] == pytest.approx(-got)
    assert diebold_mariano(a, a, horizon=2) == (0.0, 1.0)


def test_diebold_mariano_tells_a_better_forecast_from_noise():
    rng = np.random.default_rng(0)
    n, H = 2000, 12
    noise = rng.standard_normal((n + H, 1))
    y = np.lib.stride_tricks.sliding_window_view(noise, H, axis=0)[:n].transpose(0, 2, 1)
    good = y + 0.5 * rng.standard_normal(y.shape)
    bad = y + 0.6 * rng.standard_normal(y.shape)
    twin = y + 0.5 * rng.standard_normal(y.shape)
    assert diebold_mariano(window_losses(y, good), window_losses(y, bad), H)[1] < 0.01
    assert diebold_mariano(window_losses(y, good), window_losses(y, twin), H)[1] > 0.01
