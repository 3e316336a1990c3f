"""Forecasts from every origin of a linear state-space model, in one matrix product.

A model with fixed parameters, run once through the series, leaves at each origin t a state
`a_t` that summarises rows < t. For a time-invariant linear model

    y_t     = Z a_t + d
    a_{t+1} = T a_t + c          (the noise terms have mean zero)

the forecast h steps on is  Z T^h a_t + d + Z (I + T + ... + T^(h-1)) c,  linear in a_t: the
forecasts of all N origins are one product [N, k] @ [k, H], with no per-origin call. SARIMAX's
predicted state a_{t|t-1} and the ETS state after observing y_{t-1} both fit this form.
"""

from __future__ import annotations

import numpy as np


def state_space_forecast(
    states: np.ndarray,
    design: np.ndarray,
    transition: np.ndarray,
    horizon: int,
    obs_intercept: float = 0.0,
    state_intercept: np.ndarray | None = None,
) -> np.ndarray:
    """Forecasts [N, horizon] from the states [N, k] at N origins."""
    k = transition.shape[0]
    design = np.asarray(design, dtype=float).reshape(k)
    c = np.zeros(k) if state_intercept is None else np.asarray(state_intercept, dtype=float).reshape(k)
    loadings = np.empty((horizon, k))  # row h: Z T^h
    offsets = np.empty(horizon)  # entry h: d + Z (I + ... + T^(h-1)) c
    row, drift = design.copy(), 0.0
    for h in range(horizon):
        loadings[h] = row
        offsets[h] = obs_intercept + drift
        drift += row @ c
        row = row @ transition
    return states @ loadings.T + offsets
