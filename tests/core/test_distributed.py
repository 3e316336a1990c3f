"""The core on several processes (data-parallel over gloo, as torchrun or accelerate launch start
them) forecasts what it does on one."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args, "tests/distributed_core.py", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.with_suffix(".json").read_text())


def test_two_processes_over_gloo_forecast_what_one_does(tmp_path):
    with socket.socket() as s:  # a free port for the processes to meet on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    one = _run([], tmp_path / "one")
    two = _run(["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                "--master-port", str(port)], tmp_path / "two")
    assert (one["processes"], two["processes"]) == (1, 2) and "MULTI_CPU" in two["backend"]
    # the same steps: each process's half of a batch, the gradients averaged, is the whole batch's step
    assert [h["val_mse"] for h in two["history"]] == [
        __import__("pytest").approx(h["val_mse"], rel=1e-5) for h in one["history"]]
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"), rtol=1e-4, atol=1e-5)


def test_hybrid_fit_on_two_processes_writes_once_and_scores_as_one(tmp_path, csv_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    core = ["--backbone", "tiny-random-llama", "--prototypes", "16", "--vocab-size", "64", "--precision", "fp32",
            "--dropout", "0", "--epochs", "1", "--sample-fraction", "0.3", "--batch-size", "16"]
    fit = ["fit", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--models", "snaive,linear,timellm",
           "--backtest-blocks", "1", "--quiet", *core]
    runs = {}
    for name, launch in (("one", []), ("two", ["-m", "torch.distributed.run", "--nproc-per-node", "2",
                                              "--master-addr", "127.0.0.1", "--master-port", str(port)])):
        # each run its own cache: the core is computed, by both processes together, not read
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HYBRID_CACHE_DIR": str(tmp_path / f"cache-{name}")}
        done = subprocess.run([sys.executable, *launch, "-m", "hybrid", *fit, "--out", str(tmp_path / name)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = done.stdout
    one, two = (pd.read_csv(tmp_path / n / "comparison.csv") for n in ("one", "two"))
    assert list(two.columns) == list(one.columns) and list(two["model"]) == list(one["model"])
    # the scores (not the seconds, nor whether a member was read from the cache the two processes share)
    numbers = ["mse", "mae", "mae_orig", "rmse_orig", "smape", "mase", "n_windows"]
    np.testing.assert_allclose(two[numbers].to_numpy(float), one[numbers].to_numpy(float), rtol=1e-4, atol=1e-6)
    assert len(runs["two"].splitlines()) == len(runs["one"].splitlines())  # the second process printed nothing
