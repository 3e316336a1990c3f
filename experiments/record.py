"""Writing a benchmark's results with its provenance: command, commit, machine, versions."""

from __future__ import annotations

import json
import resource
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from hybrid.runinfo import git_commit, machine, package_versions

RESULTS = Path(__file__).resolve().parent / "results"


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(stem: str, title: str, markdown: str, payload: dict) -> Path:
    """Write `results/<stem>.md` (for people) and `results/<stem>.json` (for programs)."""
    meta = {
        "command": "python -m " + shlex.join([sys.modules["__main__"].__spec__.name, *sys.argv[1:]]),
        "commit": git_commit(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "peak_memory_mib": round(peak_memory_mib(), 1),
        "versions": package_versions(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({**meta, **payload}, indent=2, default=str) + "\n")
    header = "\n".join(f"- {k}: `{v}`" for k, v in meta.items() if k != "versions")
    (RESULTS / f"{stem}.md").write_text(f"# {title}\n\n{header}\n\n{markdown}\n")
    return RESULTS / f"{stem}.md"
