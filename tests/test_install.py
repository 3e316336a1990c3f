"""A normal (not editable) install works from any folder: the wheel carries its data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_and_fits_etth1_from_outside_the_repo(tmp_path):
    # built from a copy: setuptools builds in the source tree, and a build/ left there by an earlier
    # build would carry modules deleted since into the wheel
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "runs", "results", "__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(wheels)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("hybrid-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    # the dependencies (numpy, pandas, statsmodels...) come from this environment's site-packages as a
    # plain path: its .pth files, among them the editable install of this checkout, are not processed
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HYBRID_DATA_DIR", "PYTHONPATH")}
    where = subprocess.run([str(py), "-c", "import hybrid.foundation.paths as p; print(p.packaged_data())"],
                           cwd=outside, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv) and (Path(where) / "ETTh1.csv").is_file()
    run = subprocess.run([str(venv / "bin" / "hybrid"), "fit", "--data", "ETTh1", "--models", "snaive,linear",
                          "--horizon", "24", "--quiet", "--out", str(outside / "run")],
                         cwd=outside, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "linear" in run.stdout and (outside / "run" / "comparison.csv").is_file()
