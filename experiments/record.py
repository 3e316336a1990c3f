"""Writing a benchmark's results with its provenance: command, commit, machine, versions."""

from __future__ import annotations

import json
import resource
import shlex
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import psutil

from hybrid.foundation.runinfo import git_commit, machine, package_versions

RESULTS = Path(__file__).resolve().parent / "results"


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemory:
    """The peak, over the run, of the summed resident memory of this process and all its
    children (the worker processes that fit channels), sampled every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a worker that just exited
                pass
        self.peak_mib = max(self.peak_mib, total / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "TreeMemory":
        self._sample()  # a run shorter than the interval still has its peak
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Taken when the benchmark starts, so that later edits to the tree are not credited to this run.
COMMIT_AT_START = git_commit()


def this_command() -> str:
    """The command line that runs this process, as a reader would type it."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return ("python -m " + shlex.join([spec.name, *sys.argv[1:]]) if spec  # a script run by path has no spec
            else "python " + shlex.join(sys.argv))


def write_result(stem: str, title: str, markdown: str, payload: dict, echo: bool = False) -> Path:
    """Write `results/<stem>.md` (for people) and `results/<stem>.json` (for programs); with
    `echo`, also print the markdown and where it went."""
    meta = {
        "command": this_command(),
        "commit": COMMIT_AT_START,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "peak_memory_mib": round(peak_memory_mib(), 1),
        "versions": package_versions(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({**meta, **payload}, indent=2, default=str) + "\n")
    header = "\n".join(f"- {k}: `{v}`" for k, v in meta.items() if k != "versions")
    path = RESULTS / f"{stem}.md"
    path.write_text(f"# {title}\n\n{header}\n\n{markdown}\n")
    if echo:
        print(f"{markdown}\nwrote {path}")
    return path
