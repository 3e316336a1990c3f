"""The readers fuzzed: random frames and files (`tests/reader_strategies.py`) through
`load_groups`, each loading as documented or refused with one line, never another exception.

    python -m experiments.fuzz_readers [--examples 10000] [--seed 0]

Hypothesis draws the examples (frames and files in equal numbers); a failure stops the run with
the falsifying example, shrunk. The result counts what loaded and what was refused, and why (the
refusals' first words), so that a strategy that only ever produces refusals shows.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import pandas as pd
from hypothesis import HealthCheck, given, seed, settings

from experiments.record import write_result
from hybrid.product.evaluation import to_markdown
from tests.reader_strategies import file_loads_or_refuses, files, loads_or_refuses, tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="examples in all (half frames, half files)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    outcomes: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    profile = settings(max_examples=args.examples // 2, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))

    def record(kind: str, refusal: str | None) -> None:
        outcomes[kind, "loaded" if refusal is None else "refused"] += 1
        if refusal is not None:
            reasons[" ".join(refusal.split()[:4])] += 1

    @seed(args.seed)
    @profile
    @given(tables())
    def frames(case):
        record("frame", loads_or_refuses(*case))

    @seed(args.seed)
    @profile
    @given(files())
    def csv_files(case):
        record("file", file_loads_or_refuses(*case))

    start = time.perf_counter()
    frames()
    csv_files()
    seconds = time.perf_counter() - start
    total = sum(outcomes.values())
    table = pd.DataFrame([{"input": k, "outcome": o, "examples": n} for (k, o), n in sorted(outcomes.items())])
    top = pd.DataFrame([{"refusal begins": r, "examples": n} for r, n in reasons.most_common(15)])
    markdown = (f"{total} examples (hypothesis runs each drawn example, and the shrinking of none: nothing failed) "
                f"in {seconds:.0f} s; no exception other than `InputError`, each of one line.\n\n"
                + to_markdown(table) + "\n\nThe most common refusals (first words):\n\n" + to_markdown(top))
    write_result("fuzz_readers", "The readers fuzzed", markdown,
                 {"examples": total, "seconds": round(seconds, 1),
                  "outcomes": {f"{k} {o}": n for (k, o), n in outcomes.items()},
                  "refusals": dict(reasons.most_common(30))}, echo=True)


if __name__ == "__main__":
    main()
