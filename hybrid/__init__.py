"""hybrid: classical forecasters beside a Time-LLM core, fused by a learned router.

The names below are loaded when first used (PEP 562), so that importing one floor of the package
(`hybrid.foundation`, the models) never imports the floors above it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Forecaster": "hybrid.foundation.forecaster",
    "InputError": "hybrid.foundation.errors",
    "SeriesBundle": "hybrid.foundation.data",
    "load": "hybrid.foundation.data",
    "ReadOptions": "hybrid.foundation.data",
    "Hybrid": "hybrid.product.front",
    "HybridForecaster": "hybrid.product.fused",
    "select": "hybrid.product.select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hybrid' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
