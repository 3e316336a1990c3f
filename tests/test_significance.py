import numpy as np
import pytest

import pandas as pd

from hybrid.foundation.significance import diebold_mariano, seeded_markdown, seeded_table, window_losses


def test_diebold_mariano_against_a_hand_computed_case():
    a, b = np.array([1.0, 2, 3, 4, 5, 6]), np.zeros(6)
    # d = 1..6, mean 3.5; autocovariances at lags 0 and 1 over n = 6: 17.5 / 6 and 8.75 / 6;
    # Bartlett weight at lag 1 of 2 lags in all: 1/2; long-run variance 17.5/6 + 8.75/6 = 4.375
    statistic = 3.5 / np.sqrt(4.375 / 6) * np.sqrt((6 + 1 - 4 + 2 / 6) / 6)
    got, p = diebold_mariano(a, b, horizon=2)
    assert got == pytest.approx(statistic) and got == pytest.approx(3.0551, abs=1e-4)
    assert p == pytest.approx(0.0282, abs=1e-3)  # 2 * P(t_5 > 3.0551)
    assert diebold_mariano(b, a, horizon=2)[0] == pytest.approx(-got)
    assert diebold_mariano(a, a, horizon=2) == (0.0, 1.0)


def test_diebold_mariano_tells_a_better_forecast_from_noise():
    rng = np.random.default_rng(0)
    n, H = 2000, 12
    noise = rng.standard_normal((n + H, 1))
    y = np.lib.stride_tricks.sliding_window_view(noise, H, axis=0)[:n].transpose(0, 2, 1)
    good = y + 0.5 * rng.standard_normal(y.shape)
    bad = y + 0.6 * rng.standard_normal(y.shape)
    twin = y + 0.5 * rng.standard_normal(y.shape)
    assert diebold_mariano(window_losses(y, good), window_losses(y, bad), H)[1] < 0.01
    assert diebold_mariano(window_losses(y, good), window_losses(y, twin), H)[1] > 0.01


def test_seeded_table_pools_the_seeds_losses_before_the_test():
    rng = np.random.default_rng(1)
    ref = rng.random(50) + 1.0
    seeds = [ref - 0.3 + 0.1 * rng.standard_normal(50) for _ in range(3)]
    shift = 0.5 * rng.random(50)
    twin = [ref + shift, ref - shift, ref]  # each seed apart from the reference, their mean not
    runs = pd.DataFrame(
        [{"dataset": "d", "horizon": 4, "config": "ref", "seed": 0, "mse": ref.mean(), "window_loss": ref}]
        + [{"dataset": "d", "horizon": 4, "config": "new", "seed": s, "mse": l.mean(), "window_loss": l}
           for s, l in enumerate(seeds)]
        + [{"dataset": "d", "horizon": 4, "config": "twin", "seed": s, "mse": l.mean(), "window_loss": l}
           for s, l in enumerate(twin)])
    table = seeded_table(runs, reference="ref").set_index("config")
    # pooled: the test of the seeds' mean loss at each window against the reference's
    assert table.loc["new", "dm_p"] == pytest.approx(diebold_mariano(np.mean(seeds, 0), ref, 4)[1])
    assert table.loc["new", "mean"] == pytest.approx(np.mean([l.mean() for l in seeds]))
    assert table.loc["new", "std"] == pytest.approx(np.std([l.mean() for l in seeds], ddof=1))
    assert table.loc["new", "n_seeds"] == 3 and table.loc["ref", "dm_p"] == 1.0
    text = seeded_markdown(table.reset_index(), reference="ref")
    new_line = next(line for line in text.splitlines() if line.startswith("| new"))
    twin_line = next(line for line in text.splitlines() if line.startswith("| twin"))
    assert new_line.count("**") == 2 and "·" not in new_line  # the best, and significantly so
    assert table.loc["twin", "dm_p"] >= 0.05 and twin_line.endswith("· |")
