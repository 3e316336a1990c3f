"""The Time-LLM core as a forecaster of the project's interface."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hybrid.core.backbone import Backbone, Tokenizer, load_backbone, resolve_dtype
from hybrid.core.config import EVAL_BATCH, HINT_MODES, SETTINGS, Architecture, TrainConfig
from hybrid.core.hints import HintTable, crossfit_forecasts
from hybrid.core.model import CoreConfig, TimeLLM
from hybrid.core.training import Trainer
from hybrid.foundation import registry
from hybrid.foundation.cache import CachedForecaster
from hybrid.foundation.data import SeriesBundle, per_series
from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.periods import period_patching
from hybrid.foundation.settings import cli_fields

# The forecaster's parameters: every user-set field of the core's settings (hybrid.core.config),
# then what changes no forecast.
SETTING_FIELDS = {f.name: f for cls in SETTINGS for f in cli_fields(cls)}
# residual_base: the forecaster whose forecast residual_on="hybrid" corrects (the product gives the
# core one: the hint models fused by its router; the core cannot build one, it lies above it)
RUNTIME_PARAMS = {"cache_hints": True, "checkpoint_dir": None, "progress": True, "residual_base": None}

# Words a forecaster's vocabulary should hold whatever its size (the condensed vocabulary).
DOMAIN_WORDS = ("rise", "fall", "up", "down", "increase", "decrease", "peak", "trough", "high", "low",
                "trend", "season", "cycle", "daily", "weekly", "steady", "stable", "volatile", "spike",
                "drop", "jump", "flat", "growth", "decline", "level", "shift", "noise", "smooth", "sharp",
                "slow", "fast", "before", "after", "morning", "evening", "night", "day", "week", "month")


WORD = re.compile(r"[^\W\d_]+")  # letters of any script, nothing else


def is_word(text: str) -> bool:
    """Whether a token reads as a word (letters only, a leading space aside): not a control or
    markup token (`<|im_end|>`, `<jupyter_output>`), a word piece (`##ing`), a number or punctuation."""
    return bool(WORD.fullmatch(text.removeprefix(" ")))


def condensed_vocabulary(tokenizer: Tokenizer, vocab_size: int, size: int) -> torch.Tensor:
    """Up to `size` token ids that read as words (`is_word`): those of `DOMAIN_WORDS` first, then
    the lowest ids.

    A byte-pair vocabulary numbers its tokens in the order they were merged, i.e. roughly by
    frequency, so the lowest ids are the most frequent pieces of text. The prototypes start from
    these tokens and are read by their nearest ones, so the vocabulary holds words alone.
    """
    chosen: dict[int, None] = {}
    for word in DOMAIN_WORDS:
        for variant in (word, " " + word):
            chosen.update(dict.fromkeys(i for i in tokenizer.encode(variant) if is_word(tokenizer.token(i))))
    for token_id in range(vocab_size):
        if len(chosen) >= size:
            break
        if token_id not in chosen and is_word(tokenizer.token(token_id)):
            chosen[token_id] = None
    return torch.tensor(list(chosen)[:size])


def _per_series(windows: np.ndarray) -> np.ndarray:
    """[N, T, C] windows -> [C*N, T] float32 rows, channel-major: each (channel, origin) is a series."""
    return per_series(windows.astype(np.float32))


def series_windows(data: SeriesBundle, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Look-backs [C*N, L] and targets [C*N, H] of every (origin, channel)."""
    return _per_series(data.history(origins)), _per_series(data.future(origins))


def model_names(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'linear,lightgbm' or ('linear', 'lightgbm') -> ('linear', 'lightgbm'), each a known classical model."""
    names = tuple(registry.parse(spec))
    classical = registry.names("classical")
    unknown = [n for n in names if n not in classical]
    if unknown:
        raise InputError(f"unknown hint model {', '.join(map(repr, unknown))}; known: {', '.join(classical)}")
    return names


class TimeLLMForecaster(Forecaster):
    """Time-LLM (Jin et al., ICLR 2024) on a frozen backbone, trained on the training windows with
    early stopping on the validation windows (every `val_stride`-th origin); the best epoch's
    weights are kept.

    Patches are `patch_len` steps every `stride` steps, or with `period` they follow it
    (`hybrid.foundation.periods.period_patching`: a divisor of the period, every half of it), so that
    patches a whole number of periods apart start at the same phase.

    `hints` (none, stats, text, tokens, both) says what the core reads besides the window, and
    `hint_models` which classical models' forecasts the hints hold. `residual_on` (a classical
    model, `best`: the hint model with the lowest validation MSE, or `none`) makes the core
    predict a correction to that model's forecast, starting exactly at it; the start is scored
    on validation too, so no epoch worse than the base there is kept. With `hint_folds` K >= 2
    the hints of training windows are cross-fitted (hints.forward_folds): forecasts of models
    fitted only on rows before the window's block, as out of sample as they are on validation
    and test; the first block's windows, which have none, are left out of training.

    The hint models' every-origin forecasts come from the forecast cache (`cache_hints`), which
    ties predictions to the data the core was fitted on; with `cache_hints=False` they are
    fitted and can forecast any data.
    """

    name = "timellm"
    backtest_refit = False
    # timellm@24: patches follow a period of 24 steps (hybrid.foundation.periods.period_patching)
    period_param = "period"
    keeps_unperiodised = True  # its fixed 16/16 patches are a patching of their own, for validation to weigh
    cache_ignores = tuple(RUNTIME_PARAMS)
    cache_from = "val"  # nothing reads the core's training forecasts: on ETT they are 58% of every origin
    grid_forecasts = True  # a forward pass per origin and channel: the validation part on the router's grid
    collective = True  # over several processes its training is data-parallel (hybrid.core.distributed)
    uses = ("hybrid.core.backbone", "hybrid.core.config", "hybrid.core.distributed", "hybrid.core.head",
            "hybrid.core.hints", "hybrid.core.model", "hybrid.core.patch", "hybrid.core.prompt", "hybrid.core.prototypes", "hybrid.core.reprogramming",
            "hybrid.core.revin", "hybrid.core.training", "hybrid.foundation.metrics", "hybrid.foundation.periods")

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(SETTING_FIELDS) - set(RUNTIME_PARAMS))
        if unknown:
            raise TypeError(f"TimeLLMForecaster got unknown parameters {unknown}; its parameters are the fields of "
                            "hybrid.core.config's settings and " + ", ".join(RUNTIME_PARAMS))
        for name, f in SETTING_FIELDS.items():
            setattr(self, name, params.get(name, f.default))
        for name, default in RUNTIME_PARAMS.items():
            setattr(self, name, params.get(name, default))

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        return (*SETTING_FIELDS, *RUNTIME_PARAMS)

    def settings(self, cls: type) -> dict[str, Any]:
        """This instance's values of the fields of one settings dataclass (`TrainConfig`, ...)."""
        return {f.name: getattr(self, f.name) for f in cli_fields(cls)}

    def reads(self) -> list[Forecaster]:
        base = [self.residual_base] if self.residual_on == "hybrid" and self.residual_base is not None else []
        return [registry.model_class(name)() for name in self._hint_names()] + base

    @property
    def needs_residual_base(self) -> bool:
        """Whether this core corrects a fused forecast it has not been given yet (`residual_base`)."""
        return self.residual_on == "hybrid" and self.residual_base is None

    def _hint_names(self) -> tuple[str, ...]:
        """The hint models this configuration needs: none without text or token hints or a residual base."""
        if self.hints not in HINT_MODES:
            raise InputError(f"unknown hints '{self.hints}'; use one of {', '.join(HINT_MODES)}")
        if self.residual_on not in ("none", "best", "hybrid", *registry.names("classical")):
            raise InputError(f"unknown residual_on '{self.residual_on}'; use none, best, hybrid or one of "
                             f"{', '.join(registry.names('classical'))}")
        names = model_names(self.hint_models) if self.hints in ("text", "tokens", "both") else ()
        if self.hints in ("text", "tokens", "both") and not names:
            raise InputError(f"hints '{self.hints}' need at least one hint model (--hint-models)")
        if self.residual_on == "best":
            return names or model_names(self.hint_models)
        return names + ((self.residual_on,) if self.residual_on not in ("none", "hybrid", *names) else ())

    def fit_hints(self, data: SeriesBundle) -> HintTable | None:
        """Fit the hint models (their every-origin forecasts read from the forecast cache when
        `cache_hints`) and build their table for `data`; sets `hint_table_`, `residual_model_`."""
        names = self._hint_names()
        if self.hint_folds == 1 or self.hint_folds < 0:
            raise InputError(f"hint_folds must be 0 (in-sample hints) or at least 2, not {self.hint_folds}")

        def fit_one(name: str, part: SeriesBundle) -> Forecaster:
            model = registry.model_class(name)()
            return (CachedForecaster(model) if self.cache_hints else model).fit(part)

        self.hint_forecasters_ = [fit_one(name, data) for name in names]
        if self.residual_on == "hybrid":
            if self.residual_base is None:
                raise InputError("residual_on='hybrid' corrects the hint models' fused forecast: fit the core "
                                 "as a member of Hybrid / hybrid fit, which give it one, or pass residual_base="
                                 "HybridForecaster(hint_models)")
            # a copy: a backtest fit of this core must not refit the base another fit of it holds
            base = type(self.residual_base)(**self.residual_base.get_params())
            self.hint_forecasters_.append(base.fit(data))
        crossfit = [crossfit_forecasts(data, partial(fit_one, name), self.hint_folds) for name in names] \
            if self.hint_folds else None  # the fused base's training forecasts stay in-sample, as the members' are
        self.hint_table_ = (HintTable.build(data, self.hint_forecasters_, train_forecasts=crossfit)
                            if self.hint_forecasters_ else None)
        self.residual_model_ = None
        if self.residual_on == "hybrid":
            self.residual_model_ = self.hint_forecasters_[-1].name
        elif self.residual_on == "best":
            val_mse = self.hint_table_.mse(data, "val")
            self.residual_model_ = min(val_mse, key=val_mse.get)
        elif self.residual_on != "none":
            self.residual_model_ = self.residual_on
        return self.hint_table_

    def hint_table(self, data: SeriesBundle) -> HintTable | None:
        """The fitted hint models' table for `data` (the one built at fit when it is the same data)."""
        self.check_fitted()
        if self.hint_table_ is None or self.hint_table_.fingerprint == data.fingerprint():
            return self.hint_table_
        if self.cache_hints:
            raise InputError("the hint models' forecasts were read from the cache for the data the core was "
                             "fitted on; to forecast other data, fit with cache_hints=False")
        return HintTable.build(data, self.hint_forecasters_)

    def inputs(self, data: SeriesBundle, origins: np.ndarray, table: HintTable | None) -> tuple[np.ndarray, ...]:
        """The core's inputs for these origins: look-backs [C*N, L], then, when it reads hints,
        the hint forecasts [C*N, M, H] and their recent errors [C*N, M]."""
        x = _per_series(data.history(origins))
        return (x, *table.rows(origins)) if table is not None else (x,)

    def build(self, data: SeriesBundle, backbone: Backbone | None = None, **core: object) -> TimeLLM:
        """The untrained model for this data (seeded: the same weights every time); `core`
        overrides fields of its `CoreConfig`. Hints and a residual base need `fit_hints` first."""
        table = getattr(self, "hint_table_", None)
        models = table.models if table is not None else ()
        residual = getattr(self, "residual_model_", None)
        torch.manual_seed(self.seed)
        backbone = backbone or load_backbone(self.backbone, self.llm_layers, resolve_dtype(self.precision))
        vocab_ids = None
        if self.vocab_size:
            vocab_ids = condensed_vocabulary(backbone.tokenizer, len(backbone.word_embeddings), self.vocab_size)
        description = (data.spec.description if data.spec and data.spec.description
                       else f"{data.name}: {data.n_channels} {data.freq.name} series.")
        shape = self.settings(Architecture)
        if self.period:
            shape["patch_len"], shape["stride"] = period_patching(self.period)
        config = CoreConfig(**{**shape, **core}, seq_len=data.seq_len, horizon=data.horizon, hint_models=models,
                            residual_on=models.index(residual) if residual else None)
        return TimeLLM(config, backbone, description, vocab_ids)

    def fit(self, data: SeriesBundle) -> "TimeLLMForecaster":
        table = self.fit_hints(data)
        model = self.build(data)
        trainable = sum(p.numel() for p in model.trainable_parameters())
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        if self.progress:
            tqdm.write(f"timellm: backbone {model.backbone.name} ({model.backbone.n_layers} layers), "
                       f"{trainable:,} trainable and {frozen:,} frozen parameters")
        config = TrainConfig(**self.settings(TrainConfig), score_start=model.config.residual_on is not None)
        trainer = Trainer(model, config, Path(self.checkpoint_dir) if self.checkpoint_dir else None,
                          progress=self.progress, about={"forecaster": self._saved_params()})
        origins = {"train": data.origins("train"), "val": data.origins("val")[::self.val_stride]}
        parts = {p: (*self.inputs(data, o, table), _per_series(data.future(o))) for p, o in origins.items()}
        if table is not None:  # cross-fitted hints have none for the first fold's windows: leave those out
            known = np.isfinite(parts["train"][1]).all(axis=(1, 2))
            parts["train"] = tuple(a[known] for a in parts["train"])
        if self.progress:
            tqdm.write(f"timellm: {config.describe(len(parts['train'][0]), len(parts['val'][0]))}")
        trainer.fit(parts["train"], parts["val"])
        trainer.restore_best()
        self.model_ = model.eval()
        self.history_ = trainer.history
        self.best_val_ = trainer.best_val
        self.n_trainable_, self.n_frozen_ = trainable, frozen
        return self

    def _saved_params(self) -> dict:
        return {k: v for k, v in self.get_params().items() if k in SETTING_FIELDS}

    @classmethod
    def from_checkpoint(cls, stem: str | Path, data: SeriesBundle, progress: bool = True) -> "TimeLLMForecaster":
        """The core saved by `fit(...)` with a `checkpoint_dir` (stem: `<dir>/best` or `<dir>/last`),
        ready to predict on `data` (its hint models are fitted, or read from the cache, again)."""
        stem = Path(stem)
        if stem.is_dir():
            stem = stem / "best"
        try:
            meta = json.loads(Path(f"{stem}.json").read_text())
            params = meta["about"]["forecaster"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{stem}.json is not a checkpoint of the core written by fit with a checkpoint "
                             f"folder ({exc})") from exc
        self = cls(**params, progress=progress)
        self.fit_hints(data)
        model = self.build(data)
        if model.config.seq_len != meta["core_config"]["seq_len"] or model.config.horizon != meta["core_config"]["horizon"]:
            raise InputError(f"the checkpoint was trained for seq_len {meta['core_config']['seq_len']}, horizon "
                             f"{meta['core_config']['horizon']}: load the data with those")
        Trainer(model, TrainConfig()).load(stem, weights_only=True)
        self.model_ = model.eval()
        self.history_, self.best_val_ = meta["history"], meta["best_val"]
        return self

    def state(self) -> dict[str, Any]:
        """The fitted state without the frozen backbone (loaded again from its package): the
        trainable weights (float32 arrays), the model's shape and prompt, the hint table. Hint
        models read from the cache are not kept: their forecasts are in the hint table, and such a
        core forecasts the data it was fitted on only."""
        state = super().state()
        model = state.pop("model_")
        state["model_"] = {"config": model.config, "description": model.prompt.description,
                           "weights": {n: p.detach().float().cpu().numpy() for n, p in model.named_parameters()
                                       if p.requires_grad}}
        if self.cache_hints:
            state["hint_forecasters_"] = []
        return state

    def set_state(self, state: dict[str, Any]) -> "TimeLLMForecaster":
        saved = state["model_"]
        super().set_state({k: v for k, v in state.items() if k != "model_"})
        backbone = load_backbone(self.backbone, self.llm_layers, resolve_dtype(self.precision))
        vocab_ids = (condensed_vocabulary(backbone.tokenizer, len(backbone.word_embeddings), self.vocab_size)
                     if self.vocab_size else None)
        model = TimeLLM(saved["config"], backbone, saved["description"], vocab_ids)
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, weights in saved["weights"].items():
                params[name].copy_(torch.from_numpy(np.asarray(weights)))
        self.model_ = model.eval()
        return self

    def nearest_words(self, top: int = 5) -> list[list[str]]:
        """For each learned text prototype, the `top` vocabulary tokens closest to it (cosine)."""
        self.check_fitted()
        token = self.model_.backbone.tokenizer.token
        return [[token(int(i)) for i in row] for row in self.model_.prototypes.nearest_words(top)]

    def predict(self, data: SeriesBundle, origins: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        inputs = self.inputs(data, origins, self.hint_table(data))
        out = self.model_.forecast(inputs, batch_size, "timellm predict", self.progress)
        return out.reshape(data.n_channels, len(origins), data.horizon).transpose(1, 2, 0).astype(np.float64)
