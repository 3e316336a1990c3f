"""A run killed at any point: no worker outlives it."""

import subprocess
import sys
import time

import psutil


def test_a_fit_killed_with_minus_9_leaves_no_worker_behind(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\nfrom baselines.parallel import map_channels\n"
                      "def slow(i):\n    time.sleep(60)\n    return i\n"
                      "map_channels(slow, [(i,) for i in range(4)], n_jobs=2)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [p for p in psutil.Process(parent.pid).children(recursive=True)
                   if "popen_loky" in " ".join(p.cmdline())]
        time.sleep(0.2)
    assert len(workers) == 2, "the workers never started"
    parent.kill()
    parent.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"
