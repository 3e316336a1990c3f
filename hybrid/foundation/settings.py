"""Typed settings: each a dataclass field carrying its default and its help once, and the command
line flags generated from them, so that the forecaster, the CLI and the experiments read one source.

    @dataclass(frozen=True, kw_only=True)
    class TrainConfig:
        epochs: int = setting(3, "at most this many epochs")

    add_flags(parser, TrainConfig)             # --epochs N (help: "at most this many epochs (default 3)")
    add_flags(parser, TrainConfig, "core-")    # --core-epochs N, for a script that also has its own flags
    flag_values(args, TrainConfig)             # {"epochs": ...}
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any


def setting(default: Any, help: str, *, choices: Sequence[Any] | None = None, flag: str | None = None,
            metavar: str | None = None, cli: bool = True) -> Any:
    """A dataclass field with its help text; `flag` names its option where the field's name would
    not (`--prototypes` for n_prototypes); `cli=False` marks one the code sets, not a user."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "flag": flag,
                                                          "metavar": metavar, "cli": cli})


def _scalar_type(annotation: Any) -> type:
    """int, float, str or bool, from `int`, `float | None`, ... (the settings' only types)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation not in (int, float, str, bool):
        raise TypeError(f"a setting must be int, float, str or bool (or one of them | None), not {annotation}")
    return annotation


def _optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _or_none(kind: type) -> Any:
    """A flag's type for a field that may be None: `none` gives None (`--max-windows none`)."""
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__  # argparse names the type in its error: "invalid int value"
    return parse


def cli_fields(cls: type, only: Sequence[str] | None = None) -> list[dataclasses.Field]:
    """The fields of `cls` a user sets (all of them but those marked cli=False), or those in `only`."""
    return [f for f in dataclasses.fields(cls)
            if f.metadata.get("cli", False) and (only is None or f.name in only)]


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, prefix: str = "",
              only: Sequence[str] | None = None, defaults: Mapping[str, Any] | None = None) -> None:
    """One option per field of the settings dataclass `cls`: its type, choices, default and help;
    `defaults` replaces a field's default (a benchmark's smaller budget)."""
    hints = typing.get_type_hints(cls)
    for f in cli_fields(cls, only):
        kind = _scalar_type(hints[f.name])
        flag = "--" + prefix + (f.metadata["flag"] or f.name).replace("_", "-")
        dest = (prefix + f.name).replace("-", "_")
        value = (defaults or {}).get(f.name, f.default)
        shown = "none" if value is None else f"{value:g}" if kind is float else value
        help_text = f"{f.metadata['help']} (default {shown})"
        if kind is bool:
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=value,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=dest, type=_or_none(kind) if _optional(hints[f.name]) else kind,
                                default=value, choices=f.metadata["choices"],
                                metavar=f.metadata["metavar"] or {int: "N", float: "X"}.get(kind, "NAME"),
                                help=help_text)


def flag_values(args: argparse.Namespace, cls: type, prefix: str = "", only: Sequence[str] | None = None
                ) -> dict[str, Any]:
    """The values the flags of `add_flags(parser, cls, prefix, only)` were given, by field name."""
    return {f.name: getattr(args, (prefix + f.name).replace("-", "_")) for f in cli_fields(cls, only)}
