"""One registry: a new model is one class and one `register` line, and every part finds it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hybrid.foundation import registry
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster
from hybrid.product.cli import main


class Mean(Forecaster):
    """The look-back's mean, repeated: a toy that a user might register from their own code."""

    name = "mean"

    def __init__(self, window: int = 8) -> None:
        self.window = window

    def fit(self, data: SeriesBundle) -> "Mean":
        self.fitted_ = True
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        level = data.history(origins)[:, -self.window:].mean(axis=1, keepdims=True)
        return np.repeat(level, data.horizon, axis=1)


@pytest.fixture
def mean_registered():
    registry.register("mean", "tests.test_registry:Mean")
    yield
    registry.unregister("mean")


def test_a_registered_toy_runs_through_hybrid_fit(mean_registered, csv_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", "--data", str(csv_path), "--models", "mean,snaive", "--horizon", "24", "--seq-len", "96",
                 "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert {"mean", "snaive", "hybrid"} <= set(table.model)
    assert "mean" in capsys.readouterr().out
    assert "mean" in registry.names("classical")


def test_a_family_name_stands_for_its_members_and_unknown_names_are_refused():
    assert registry.parse("classical") == list(registry.names("classical"))
    assert registry.parse("linear, classical,,linear")[0] == "linear"
    assert "timellm" not in registry.parse("classical") and registry.names("neural") == ("timellm",)
    with pytest.raises(InputError, match="unknown model 'nope'.*known models: naive, snaive"):
        registry.make_models("linear,nope")


def test_keeping_the_unperiodised_form_is_the_models_own_attribute(mean_registered):
    assert registry.with_periods("snaive,linear,timellm", (24,)) == ["snaive@24", "linear", "timellm", "timellm@24"]
    assert registry.model_class("timellm").keeps_unperiodised and not registry.model_class("snaive").keeps_unperiodised


def test_listing_and_fitting_classical_models_never_imports_torch():
    code = ("import sys; from hybrid.foundation import registry; registry.names(); "
            "[registry.model_class(n) for n in registry.names('classical')]; print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
