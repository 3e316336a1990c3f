"""Classical forecasts as hints inside the core."""

import dataclasses

import numpy as np
import pytest
import torch

from baselines import Linear, SeasonalNaive
from hybrid.core.backbone import Backbone, load_backbone
from hybrid.core.forecaster import TimeLLMForecaster
from hybrid.core.hints import HintTable, forward_folds
from hybrid.core.prompt import PromptBuilder, hint_summaries, window_statistics
from hybrid.foundation.data import load
from hybrid.foundation.metrics import recent_errors, window_errors
from hybrid.product.fused import HybridForecaster
from tests.conftest import wide_frame

TINY = dict(backbone="tiny-random-llama", n_prototypes=16, d_ff=32, d_model=16, n_heads=2, progress=False,
            hint_models="linear,snaive")  # fast hint models


@pytest.fixture(scope="module")
def data():
    return load(wide_frame(n=600, noise=0.1), seq_len=48, horizon=12)


@pytest.fixture(scope="module")
def fitted(data):
    return [Linear().fit(data), SeasonalNaive().fit(data)]


def test_recent_errors_average_the_windows_known_at_the_origin():
    errors = np.arange(10, dtype=float)[:, None]  # the window of origin index j scored j
    recent = recent_errors(errors, horizon=3, track=2)[:, 0]
    # at index i the known windows are j <= i - 3, the last two of them
    np.testing.assert_array_equal(recent[:3], np.nan)
    assert recent[3] == 0 and recent[4] == 0.5 and recent[9] == 5.5


def test_window_errors_score_each_forecast_against_what_followed():
    values = np.arange(20, dtype=float)[:, None]
    forecasts = np.zeros((4, 2, 1))
    errors = window_errors(forecasts, values, first_origin=17)  # origins 17..20: 19 and 20 run past the data
    assert errors[0, 0] == (17**2 + 18**2) / 2 and errors[1, 0] == (18**2 + 19**2) / 2
    assert np.isnan(errors[2:]).all()


def test_a_hint_uses_nothing_after_its_origin(data, fitted):
    table = HintTable.build(data, fitted)
    t = int(data.origins("test")[10])
    later = data.values.copy()
    later[t:] += 5.0  # change the future of origin t
    changed = HintTable.build(dataclasses.replace(data, values=later), fitted)
    for a, b in zip(table.rows(np.array([t])), changed.rows(np.array([t]))):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(table.rows(np.array([t]))[1]).all()  # the window had a track record to rank by
    # and the check can fail: a change at row t-1 reaches both the forecast and the track record
    earlier = data.values.copy()
    earlier[t - 1] += 5.0
    moved = HintTable.build(dataclasses.replace(data, values=earlier), fitted)
    for a, b in zip(table.rows(np.array([t])), moved.rows(np.array([t]))):
        assert not np.array_equal(a, b)


def test_the_recent_error_is_the_mean_over_the_last_known_windows(data, fitted):
    table = HintTable.build(data, fitted, track=5)
    t, H = int(data.origins("val")[3]), data.horizon
    model = fitted[0]
    known = np.arange(t - H - 4, t - H + 1)  # the 5 latest origins whose target ends before t
    errors = ((model.predict(data, known) - data.future(known)) ** 2).mean(axis=1)  # [5, C]
    np.testing.assert_allclose(table.recent_error[t - table.first_origin, 0], errors.mean(axis=0), rtol=1e-5)


def test_prompt_text_with_hints_for_a_known_window():
    L, H = 8, 4
    x = torch.tensor([[0.0, 1, 2, 3, 4, 5, 6, 7]])
    hints = torch.tensor([[[8.0, 9, 10, 9], [7.0, 7, 7, 7]]])  # linear rises, snaive stays
    errors = torch.tensor([[0.5, 0.2]])  # snaive has been the more accurate lately
    builder = PromptBuilder("Test data.", L, H, hint_models=("linear", "snaive"))
    summary = hint_summaries(x, hints, errors, builder.hint_models)[0]
    assert builder.text(window_statistics(x)[0], summary) == (
        "<|start_prompt|>Dataset description: Test data. Task description: forecast the next 4 steps given the "
        "previous 8 steps information; Input statistics, then for each classical model: the change its forecast "
        "makes, the steps of its peak and low, how close it is to the other models, its rank by recent accuracy:"
        " min 0.0, max 7.0, median 3.0, trend upward, top lags 1 2 3 4."
        # linear: mean 9 against the last 4 values' 5.5, highest at step 3; 2.1 apart from snaive
        " linear up 3.5 peak 3 low 1 far second. snaive up 1.5 peak 1 low 1 far first.")
    # no rank while no window's outcome is known
    unknown = hint_summaries(x, hints, torch.full((1, 2), float("nan")), builder.hint_models)[0]
    assert builder.hint_text(unknown[1]) == " snaive up 1.5 peak 1 low 1 far."


@pytest.mark.parametrize("hints, residual_on", [("stats", "linear"), ("both", "linear"), ("stats", "hybrid")])
def test_the_residual_mode_starts_exactly_at_the_base_forecast(data, hints, residual_on):
    # on "hybrid" the base is the hint models fused by the router (the product's --residual-on hybrid)
    base_model = HybridForecaster(TINY["hint_models"], cache=False, backtest_blocks=2)
    forecaster = TimeLLMForecaster(hints=hints, residual_on=residual_on, cache_hints=False, residual_base=base_model,
                                   **TINY)
    table = forecaster.fit_hints(data)
    model = forecaster.build(data).eval()
    origins = data.origins("val")[:20]
    inputs = forecaster.inputs(data, origins, table)
    with torch.no_grad():
        out = model(*(torch.as_tensor(a, dtype=torch.float32) for a in inputs))
    base = inputs[1][:, table.models.index(forecaster.residual_model_)]
    torch.testing.assert_close(out, torch.as_tensor(base), atol=1e-5, rtol=1e-5)
    if residual_on == "hybrid":  # and that base is the fused forecast, not a member's
        fused = type(base_model)(**base_model.get_params()).fit(data)
        rows = fused.rows(data, origins)
        expected = fused.router_.fuse(rows)
        torch.testing.assert_close(out, torch.as_tensor(expected, dtype=torch.float32), atol=1e-5, rtol=1e-5)
        assert not np.allclose(expected, rows.forecasts[:, rows.models.index("linear")], atol=1e-3)


def test_hint_tokens_are_read_and_change_the_forecast(data, fitted):
    forecaster = TimeLLMForecaster(hints="tokens", **TINY)
    table = HintTable.build(data, fitted)
    forecaster.hint_table_, forecaster.residual_model_ = table, None
    model = forecaster.build(data).eval()
    x, hints, errors = (torch.as_tensor(a, dtype=torch.float32) for a in forecaster.inputs(data, data.origins("val")[:8], table))
    with torch.no_grad():
        out = model(x, hints, errors)
        other = model(x, hints + 1.0, errors)
        assert not torch.allclose(out, other)
        assert model.hint_tokens(hints).shape == (len(x), 2 * 1, 16)  # H = 12: one 16-step tile per model
    with pytest.raises(ValueError, match="reads hints"):
        model(x)


def test_the_core_with_hints_fits_and_keeps_no_epoch_worse_than_its_base(data):
    model = TimeLLMForecaster(hints="both", residual_on="best", cache_hints=False, epochs=2, sample_fraction=0.3, val_stride=1,
                              **TINY).fit(data)
    val_mse = model.hint_table_.mse(data, "val")
    assert model.residual_model_ == min(val_mse, key=val_mse.get)
    # epoch 0 is the untrained core: exactly the base forecast, scored on every val window
    assert model.history_[0]["val_mse"] == pytest.approx(val_mse[model.residual_model_], rel=1e-4)
    assert model.best_val_ <= model.history_[0]["val_mse"]
    origins = data.origins("test")
    forecast = model.predict(data, origins)
    assert forecast.shape == (len(origins), 12, 2) and np.isfinite(forecast).all()
    # the core's forecast from an origin reads nothing after it, hints included
    later = data.values.copy()
    later[origins[5]:] = 1e3
    again = model.predict(dataclasses.replace(data, values=later), origins[5:6])
    np.testing.assert_allclose(again[0], forecast[5], atol=1e-5)


def test_cached_hints_refuse_other_data_with_a_clear_error(data):
    model = TimeLLMForecaster(hints="text", epochs=1, sample_fraction=0.1, **TINY).fit(data)
    other = dataclasses.replace(data, values=data.values + 1.0)
    with pytest.raises(Exception, match="cache_hints=False"):
        model.predict(other, data.origins("test")[:2])


def test_unknown_hint_settings_are_refused():
    data = load(wide_frame(n=300), seq_len=24, horizon=6)
    with pytest.raises(Exception, match="unknown hints"):
        TimeLLMForecaster(hints="words", **TINY).fit(data)
    with pytest.raises(Exception, match="unknown hint model"):
        TimeLLMForecaster(hints="text", **{**TINY, "hint_models": "linear,oracle"}).fit(data)
    with pytest.raises(Exception, match="need at least one hint model"):
        TimeLLMForecaster(hints="tokens", **{**TINY, "hint_models": ""}).fit(data)
    with pytest.raises(Exception, match="unknown residual_on"):
        TimeLLMForecaster(residual_on="oracle", **TINY).fit(data)


def test_without_an_llm_the_head_reads_the_hint_tokens(data, fitted):
    tiny = load_backbone("tiny-random-llama", 2)
    none = Backbone("none", None, tiny.tokenizer, tiny.word_embeddings, causal=True)
    forecaster = TimeLLMForecaster(hints="tokens", **TINY)
    forecaster.hint_table_, forecaster.residual_model_ = HintTable.build(data, fitted), None
    model = forecaster.build(data, none).eval()
    inputs = [torch.as_tensor(a, dtype=torch.float32)
              for a in forecaster.inputs(data, data.origins("val")[:4], forecaster.hint_table_)]
    with torch.no_grad():
        assert not torch.allclose(model(*inputs), model(inputs[0], inputs[1] + 1.0, inputs[2]))


def test_a_checkpoint_restores_the_fitted_core_and_its_hint_settings(data, tmp_path):
    # no residual: its zero head would make an untrained core forecast like the trained one
    model = TimeLLMForecaster(hints="tokens", epochs=1, sample_fraction=0.2, checkpoint_dir=str(tmp_path),
                              **TINY).fit(data)
    restored = TimeLLMForecaster.from_checkpoint(tmp_path, data, progress=False)
    assert (restored.hints, restored.hint_models) == ("tokens", "linear,snaive")
    origins = data.origins("test")[:16]
    np.testing.assert_allclose(restored.predict(data, origins), model.predict(data, origins), atol=1e-6)


def test_forward_folds_fit_on_rows_before_the_block_they_forecast(data):
    folds = forward_folds(data, 4)
    train = data.origins("train")
    covered = np.concatenate([origins for _, origins in folds])
    assert len(folds) == 3 and np.array_equal(covered, train[train >= covered[0]])  # every block but the first
    for sub, origins in folds:
        assert np.array_equal(sub.origins("test"), origins)
        last_target_row = sub.origins("val")[-1] + data.horizon - 1
        assert sub.split.train[1] <= origins[0] and last_target_row < origins[0]


def test_cross_fitted_hints_are_out_of_sample(data):
    model = TimeLLMForecaster(hints="tokens", hint_folds=4, cache_hints=False, **TINY)
    table = model.fit_hints(data)
    train = data.origins("train")
    first_fold = forward_folds(data, 4)[0][1][0]
    assert np.isnan(table.at(train[train < first_fold])).all() and np.isfinite(table.at(train[train >= first_fold])).all()
    # a training window's cross-fitted hint comes from models that never saw its future: refit
    # everything on data whose rows from the origin on are changed, and the hint stays; the
    # in-sample hint moves, because the full fit learned from those rows
    t = int(forward_folds(data, 4)[1][1][20])
    later = dataclasses.replace(data, values=data.values + 5.0 * (np.arange(len(data.values)) >= t)[:, None])

    def hint(data, folds):
        return TimeLLMForecaster(hints="tokens", hint_folds=folds, cache_hints=False, **TINY).fit_hints(data).at(
            np.array([t]))

    np.testing.assert_allclose(hint(later, 4), table.at(np.array([t])), atol=1e-9)
    assert not np.allclose(hint(later, 0), hint(data, 0))


def test_the_core_trains_only_on_windows_with_cross_fitted_hints(data):
    model = TimeLLMForecaster(hints="tokens", hint_folds=4, cache_hints=False, epochs=1, sample_fraction=1.0,
                              **TINY).fit(data)
    train = data.origins("train")
    known = train >= forward_folds(data, 4)[0][1][0]
    assert model.history_[-1]["train_windows"] == known.sum() * data.n_channels


def test_the_residual_on_the_fused_forecast_starts_at_it_and_keeps_it_where_training_does_not_help(data):
    from hybrid.product.fused import HybridForecaster  # the product gives the core its fused base

    core = {**TINY, "residual_on": "hybrid", "hints": "stats", "epochs": 2, "sample_fraction": 0.3, "lr": 0.0}
    engine = HybridForecaster("snaive,linear,timellm", model_params={"timellm": core}, cache=False,
                              backtest_blocks=1).fit_members(data)
    member = engine.members_[-1]
    assert member.residual_model_ == "hybrid" and member.hint_table_.models == ("hybrid",)
    base = HybridForecaster("linear,snaive", cache=False, backtest_blocks=1).fit(data)  # the hint models, fused
    origins = data.origins("test")
    # no step can move it (lr 0): the zero head leaves the base exactly, and validation keeps epoch 0
    assert min(member.history_, key=lambda h: h["val_mse"])["epoch"] == 0
    np.testing.assert_allclose(member.predict(data, origins), base.predict(data, origins), rtol=1e-5, atol=1e-5)
    with pytest.raises(Exception, match="residual_on='hybrid' corrects the hint models' fused forecast"):
        TimeLLMForecaster(**core).fit(data)  # alone, the core has no fused forecast to start from
