"""The one forecaster interface of the project.

Every model — classical baselines, the Time-LLM core, the fused forecaster — is a `Forecaster`,
and the router, the hints and the experiments see nothing else. The contract:

- The constructor only stores parameters (scikit-learn style); `get_params()` returns them.
- `fit(data)` learns from the training rows of a `SeriesBundle` (`data.split.train`). It may
  read the validation rows, but only to choose a hyper-parameter or to stop early. It never reads
  the test rows. Fitted state lives in attributes ending in `_`; `fit` returns `self`.
- `predict(data, origins)` returns forecasts of shape [len(origins), H, n_channels] on the
  z-scored scale (`data.values`), H = `data.horizon`. Origin `t` is the first forecast row: the
  forecast covers rows [t, t+H) and may read rows < t only. It does not learn.
- All origins arrive in one call, so a model that can forecast every origin in one vectorised
  pass (a linear map over strided windows, a state-space filter run once through the series) does
  so; nothing forces it through a per-window loop.
- Channels are independent series; a model may share parameters across them.

Adding a model is one new class with a unique `name` and one line in `hybrid.foundation.registry`.
What its cached forecasts depend on is declared on the class (`version`, `uses`, `reads`; see
`hybrid.foundation.cache`). Its fitted state is saved as JSON and arrays (`hybrid.foundation.state`):
a model holding a library object overrides `state` and `set_state`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.state import Stateful


class NotFittedError(RuntimeError):
    """`predict` was called before `fit`."""


class Forecaster(Stateful, ABC):
    name: ClassVar[str]
    # constructor parameters that change no forecast (progress bars, where checkpoints go)
    cache_ignores: ClassVar[tuple[str, ...]] = ()
    # the first part whose origins the forecast cache keeps: "train" (every origin: the hints read
    # the training ones) or "val" (the scored origins, with the router's track record before them)
    cache_from: ClassVar[str] = "train"
    # the constructor parameter that sets the period the model follows (a season, a patch length),
    # where the constructor has it: "snaive@168" is SeasonalNaive(season=168)
    period_param: ClassVar[str] = "season"
    # told no period, the model is a candidate of its own beside its per-period forms (the core's
    # fixed patches are a patching of their own), so `--periods` keeps it and validation chooses
    keeps_unperiodised: ClassVar[bool] = False
    # refitted before each backtest block the router learns from (the fused forecaster's
    # `learning_rows`); false where a fit costs too much to repeat (a search, a sampler, a network):
    # fitted once before the first block, the model runs on with those parameters, out of sample
    backtest_refit: ClassVar[bool] = True
    # each origin costs a forward pass of a network (the core): the forecast cache forecasts it
    # every origin of the test part only, elsewhere every `track_step`-th (the router's grid and
    # enough of each track record), the rows between NaN
    grid_forecasts: ClassVar[bool] = False
    # fitted by every process of a multi-process run together (the core's data-parallel training):
    # the forecast cache lets each compute it, where another model is computed by one while the rest wait
    collective: ClassVar[bool] = False
    # what the forecast cache's key holds besides the data and the parameters: a version the
    # model's author bumps when its forecasts change for a reason no hashed source shows, and the
    # project modules besides its own whose code its forecasts depend on (its own is always hashed)
    version: ClassVar[int] = 1
    uses: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def follows_period(cls) -> bool:
        return cls.period_param in cls.param_names()

    def reads(self) -> list["Forecaster"]:
        """The models whose forecasts this one reads (the core's hints, its residual base), as it
        would fit them: their cache keys are part of its own."""
        return []

    @property
    def period_followed(self) -> int | None:
        """The period this instance was told to follow, if any."""
        return getattr(self, self.period_param) if self.follows_period() else None

    @property
    def label(self) -> str:
        """The name that tells this instance from others of its class: `name`, or `name@period`
        where the period was set."""
        return f"{self.name}@{self.period_followed}" if self.period_followed is not None else self.name

    @abstractmethod
    def fit(self, data: SeriesBundle) -> "Forecaster":
        """Learn from `data`'s training rows (validation rows for selection only); return self."""

    @abstractmethod
    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        """Forecasts [len(origins), H, C] on the z-scored scale, reading rows < each origin only."""

    def check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(data) before predict")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
