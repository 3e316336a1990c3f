import numpy as np
import pytest

from hybrid.foundation.data import load
from hybrid.foundation.metrics import mae, mase, mase_scale, mse, rmse, score, smape
from tests.conftest import wide_frame

Y = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
YHAT = np.array([2.0, 2.0, 5.0]).reshape(1, 3, 1)


def test_hand_computed_values():
    assert mse(Y, YHAT) == pytest.approx(5 / 3)
    assert mae(Y, YHAT) == pytest.approx(1.0)
    assert rmse(Y, YHAT) == pytest.approx(np.sqrt(5 / 3))
    # 2*1/3, 0, 2*2/8 -> mean 0.38889
    assert smape(Y, YHAT) == pytest.approx(100 * (2 / 3 + 0 + 0.5) / 3)
    assert smape(np.zeros((1, 2, 1)), np.zeros((1, 2, 1))) == 0.0


def test_mase_scales_by_in_sample_seasonal_naive():
    train = np.array([[1.0], [3.0], [2.0], [4.0], [3.0], [5.0]])
    # season 2 fits (6 // 2 = 3 > 2): |2-1|, |4-3|, |3-2|, |5-4| -> 1
    np.testing.assert_allclose(mase_scale(train, 2), [1.0])
    # season 3 does not (3 is not < 3): lag 1 -> (2+1+2+1+2)/5
    np.testing.assert_allclose(mase_scale(train, 3), [8 / 5])
    assert mase(Y, YHAT, np.array([2.0])) == pytest.approx(0.5)


def test_score_uses_normalised_and_original_scales():
    data = load(wide_frame(n=600, noise=0.2), seq_len=48, horizon=12)
    origins = data.origins("test")
    y = data.future(origins)
    yhat = y + 0.5  # off by half a training standard deviation everywhere
    s = score(data, y, yhat)
    assert s["mse"] == pytest.approx(0.25) and s["mae"] == pytest.approx(0.5)
    assert s["mae_orig"] == pytest.approx(np.mean(0.5 * data.scaler.std))
