"""The one registry of forecasters by name, read by the CLI, the fused forecaster, the core's
hints and the experiments: nothing else lists model names.

An entry names its class as "module:Class" and is imported the first time it is asked for, so
that listing the models, or fitting the classical ones, never loads torch. A new model is one
file and one `register` line below (or a `register` call from a user's own code).

A spec of members is a comma-separated list of names, each optionally followed by the period it
follows (`snaive@168`), or a family name (`classical`: every classical model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster

FAMILIES = ("classical", "neural")


@dataclass(frozen=True)
class Entry:
    name: str
    target: str | type[Forecaster]  # "module:Class", imported when first asked for, or the class itself
    family: str

    def load(self) -> type[Forecaster]:
        if isinstance(self.target, type):
            return self.target
        module, _, cls = self.target.partition(":")
        return getattr(import_module(module), cls)


_ENTRIES: dict[str, Entry] = {}


def register(name: str, target: str | type[Forecaster], family: str = "classical") -> None:
    """Make `name` a model: `target` is "module:Class" (imported when first used) or a class."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    if name in FAMILIES or "@" in name or "," in name:
        raise ValueError(f"{name!r} cannot be a model name (a family name, or holds '@' or ',')")
    _ENTRIES[name] = Entry(name, target, family)


def unregister(name: str) -> None:
    _ENTRIES.pop(name, None)


register("naive", "baselines.naive:Naive")
register("snaive", "baselines.snaive:SeasonalNaive")
register("drift", "baselines.benchmarks:Drift")
register("window_average", "baselines.benchmarks:WindowAverage")
register("seasonal_window_average", "baselines.benchmarks:SeasonalWindowAverage")
register("linear", "baselines.linear:Linear")
register("dlinear", "baselines.linear:DLinear")
register("ets", "baselines.ets:ETS")
register("ets-grid", "baselines.ets_grid:ETSGrid")
register("arima", "baselines.arima:ARIMA")
register("prophet", "baselines.prophet:Prophet")
register("lightgbm", "baselines.lightgbm:LightGBM")
register("timellm", "hybrid.core.forecaster:TimeLLMForecaster", family="neural")


def names(family: str | None = None) -> tuple[str, ...]:
    """Every registered name (of one family), in the order registered."""
    return tuple(n for n, e in _ENTRIES.items() if family is None or e.family == family)


def model_class(name: str) -> type[Forecaster]:
    if name not in _ENTRIES:
        raise InputError(f"unknown model '{name}'; known models: {', '.join(_ENTRIES)}")
    return _ENTRIES[name].load()


def parse(spec: str | Sequence[str]) -> list[str]:
    """'a, b,,a' or ('a', 'b') -> ['a', 'b']: stripped, empty ones dropped, a family name replaced
    by its members, each once."""
    given = spec.split(",") if isinstance(spec, str) else spec
    out: list[str] = []
    for name in (n.strip() for n in given):
        out += list(names(name)) if name in FAMILIES else [name] if name else []
    return list(dict.fromkeys(out))


def make_models(spec: str | Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None) -> list[Forecaster]:
    """'snaive,linear,timellm' -> fresh forecasters; `name@P` sets the period a model follows
    ('snaive@168', 'ets@24'); `params[name]` are the constructor parameters of that model."""
    chosen = parse(spec)
    unknown = [n for n in chosen if n.partition("@")[0] not in _ENTRIES]
    if unknown or not chosen:
        raise InputError(
            f"unknown model {', '.join(map(repr, unknown)) or '(none given)'}; known models: "
            f"{', '.join(_ENTRIES)}, or a family: {', '.join(FAMILIES)} (a period after @ where the model "
            "follows one: snaive@168)")
    models = []
    for name in chosen:
        base, _, period = name.partition("@")
        cls = model_class(base)
        kwargs = dict((params or {}).get(base, {}))
        if period:
            if not cls.follows_period():
                raise InputError(f"'{name}': {base} follows no period")
            if not period.isdigit() or int(period) < 2:
                raise InputError(f"'{name}': give the period as a whole number of steps, at least 2")
            kwargs[cls.period_param] = int(period)
        models.append(cls(**kwargs))
    return models


def with_periods(spec: str | Sequence[str], periods: Sequence[int]) -> list[str]:
    """Each named model that follows a period and has none set, once per period, in its place
    (beside it where the model `keeps_unperiodised`, so that validation chooses between the core's
    patchings): ('snaive', 'linear', 'timellm') with periods (24, 168) -> ['snaive@24',
    'snaive@168', 'linear', 'timellm', 'timellm@24', 'timellm@168']."""
    out = []
    for name in parse(spec):
        cls = model_class(name) if "@" not in name and name in _ENTRIES else None
        if cls is not None and cls.follows_period() and periods:
            out += [name] * cls.keeps_unperiodised + [f"{name}@{p}" for p in periods]
        else:
            out.append(name)
    return list(dict.fromkeys(out))
