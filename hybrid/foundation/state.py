"""Fitted state as JSON and arrays, never a pickle: what `Hybrid.save` writes and `load` reads.

An object's state is a tree of plain values (None, bool, int, float, str), lists, tuples, dicts,
NumPy arrays, pandas timestamps, dataclass instances, `Document`s (a library's own text format: a LightGBM model
string, Prophet's JSON) and objects of this project's classes that are `Stateful` (their
constructor parameters and their state). `encode` turns the tree into JSON-able values, putting
each array into a flat `arrays` dict (saved as safetensors) and each document into `documents`
(saved as files); `decode` reverses it. Classes are found again by their import path, and only
inside this project's packages: a saved folder cannot make `load` import anything else.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PACKAGES = ("hybrid.", "baselines.", "router.")


@dataclass(frozen=True)
class Document:
    """Text in a library's own format, saved as a file of its own (`suffix`: .txt, .json)."""

    text: str
    suffix: str = ".txt"


class Stateful:
    """What can be saved: the constructor's parameters (`get_params`) and the fitted state, by
    default every public attribute ending in `_`. A class holding a library object overrides
    `state` and `set_state` to turn it into (and back from) arrays or a `Document`."""

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The constructor's parameters (a class whose constructor takes **settings overrides it)."""
        return tuple(name for name, p in inspect.signature(cls.__init__).parameters.items()
                     if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters and their current values."""
        return {p: getattr(self, p) for p in self.param_names()}

    def state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def set_state(self, state: dict[str, Any]) -> "Stateful":
        for key, value in state.items():
            setattr(self, key, value)
        return self


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _find(path: str) -> type:
    module, _, name = path.partition(":")
    if not module.startswith(PACKAGES):
        raise ValueError(f"saved state names {path}, outside this project's packages")
    return getattr(importlib.import_module(module), name)


def encode(value: Any, arrays: dict[str, np.ndarray], documents: dict[str, str], at: str = "state") -> Any:
    """`value` as JSON-able values; arrays and documents go to the dicts, named by where they are."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.fields is not None:
            raise TypeError(f"{at}: an array of dtype {value.dtype} cannot be saved; store plain arrays")
        arrays[at] = np.ascontiguousarray(value)
        return {"__array__": at}
    if isinstance(value, pd.DatetimeIndex):
        return {"__datetimes__": encode(value.asi8, arrays, documents, at), "unit": value.unit,
                "tz": None if value.tz is None else str(value.tz)}
    if isinstance(value, Document):
        name = at.replace("/", ".") + value.suffix
        documents[name] = value.text
        return {"__document__": name, "suffix": value.suffix}
    if isinstance(value, tuple | list):
        items = [encode(v, arrays, documents, f"{at}/{i}") for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v, arrays, documents, f"{at}/{k}") for k, v in value.items()}
        return {"__items__": [[encode(k, arrays, documents, f"{at}/key{i}"), encode(v, arrays, documents, f"{at}/{i}")]
                              for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, Stateful):
        return {"__object__": _path(type(value)),
                "params": encode(value.get_params(), arrays, documents, f"{at}/params"),
                "state": encode(value.state(), arrays, documents, f"{at}/state")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__dataclass__": _path(type(value)), "fields": encode(fields, arrays, documents, at)}
    raise TypeError(f"{at}: a {type(value).__name__} cannot be saved; its class should give its state as "
                    "arrays or a Document (Stateful.state)")


def decode(value: Any, arrays: dict[str, np.ndarray], documents: dict[str, str]) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, list):
        return [decode(v, arrays, documents) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__datetimes__" in value:
        unit = value.get("unit", "ns")
        stamps = pd.DatetimeIndex(decode(value["__datetimes__"], arrays, documents).astype(f"datetime64[{unit}]"))
        return stamps if value["tz"] is None else stamps.tz_localize("UTC").tz_convert(value["tz"])
    if "__document__" in value:
        return Document(documents[value["__document__"]], value["suffix"])
    if "__tuple__" in value:
        return tuple(decode(v, arrays, documents) for v in value["__tuple__"])
    if "__items__" in value:
        return {decode(k, arrays, documents): decode(v, arrays, documents) for k, v in value["__items__"]}
    if "__object__" in value:
        cls = _find(value["__object__"])
        obj = cls(**decode(value["params"], arrays, documents))
        return obj.set_state(decode(value["state"], arrays, documents))
    if "__dataclass__" in value:
        return _find(value["__dataclass__"])(**decode(value["fields"], arrays, documents))
    return {k: decode(v, arrays, documents) for k, v in value.items()}
