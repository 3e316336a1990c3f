"""The brief's questions again, with seeds: does the LLM help, which hint, do period-aligned patches, does fusing.

    python -m experiments.brief [--data ETTh1 ETTh2] [--horizons 96 336] [--configs ...] [--seeds 3]
        [--epochs N] [--sample-fraction F] [--val-stride K] [--fresh] [--serial] [--report]
    python -m experiments.brief --speedup [--data ETTh1 --horizons 96 --configs none --seeds 4]

A cell is one configuration at one seed. The core's cells change one thing each from the default
core (SmolLM2, 2 layers, the statistics prompt, 16/16 patches): the backbone (`none`: no LLM;
MiniLM), the hints (text, numeric tokens, a residual on the best hint model or on the hint
models fused by the router), or the patches (aligned to the period found on the training part). Each trains on the same budget, smaller than
the core's default so that the grid runs in hours here, early-stopped on validation, and is scored
once on every test window. The `fused` cell fits the default classical members (LightGBM and the
router at the cell's seed) and gives two rows: the fused forecast and the member best on test. The
`hint-fused` cell fits the residual-on-hybrid core's base alone (the hint models fused), so that
the residual's row can be set against what it corrected.
Every row keeps its per-window test losses, so that each table's Diebold-Mariano p is pooled over
the seeds (`hybrid.foundation.significance.seeded_table`).

The cells are declared in the order they are worth having: every configuration at the first
dataset and horizon, then the next; the grid resumes, so an interrupted run keeps what finished.
`--speedup` runs the cells asked for twice in one run, as Ray tasks and one after another in this
process (into stores of their own), and records both wall times.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.grid import Cell, Engine, Grid, grid_arguments, run_options, with_seeds
from experiments.hint_ablation import BUDGET, ms_per_training_sequence
from experiments.record import write_result
from hybrid.core.config import TrainConfig
from hybrid.core.forecaster import TimeLLMForecaster
from hybrid.foundation.data import SeriesBundle, from_series
from hybrid.foundation.metrics import mae, mse
from hybrid.foundation.periods import data_periods
from hybrid.foundation.settings import add_flags, flag_values
from hybrid.foundation.significance import seeded_markdown, seeded_table, window_losses
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import CLASSICAL_MEMBERS, HybridForecaster
from hybrid.product.report import not_run

DEFAULT_CORE = "SmolLM2 (default core)"
FUSED, BEST = "fused (auto router)", "best member on test"
HINT_BASE = "the hint models fused (the residual's base)"
FUSED_CONFIGS = ("fused", "hint-fused")  # cells of classical members only: no core, no budget


@dataclass(frozen=True)
class Config:
    label: str
    core: dict = field(default_factory=dict)  # what the cell changes from the default core


CONFIGS = {
    "smollm2": Config(DEFAULT_CORE),
    "none": Config("none (no LLM)", {"backbone": "none"}),
    "minilm": Config("MiniLM", {"backbone": "minilm"}),
    "fused": Config(FUSED),
    "text": Config("text hints", {"hints": "text"}),
    "numeric": Config("numeric hints", {"hints": "tokens"}),
    "residual": Config("residual on the best hint model", {"residual_on": "best"}),
    "residual-hybrid": Config("residual on the fused hint models", {"residual_on": "hybrid"}),
    "hint-fused": Config(HINT_BASE),
    "aligned": Config("period-aligned patches", {"period": "found"}),
}
# Each question: the rows it compares (their labels), the first its reference; the HTML report
# (`hybrid report results/brief.parquet`) reads them from the record.
QUESTIONS = {
    "Does the LLM help? The backbone": [CONFIGS[c].label for c in ("smollm2", "none", "minilm")],
    "Which hint? What the core reads besides the window": [CONFIGS[c].label
                                                          for c in ("smollm2", "text", "numeric", "residual",
                                                                    "residual-hybrid")],
    "Do period-aligned patches help?": [CONFIGS[c].label for c in ("smollm2", "aligned")],
    "Does fusing beat the best member?": [BEST, FUSED],
    "Does the residual improve on the forecast it corrects?": [HINT_BASE, CONFIGS["residual-hybrid"].label],
}


def core_of(config: Config, data: SeriesBundle, seed: int, budget: dict) -> TimeLLMForecaster:
    params = dict(config.core)
    if params.get("period") == "found":
        found = data_periods(data)
        params["period"] = found[0] if found else None  # no period found: the fixed patches
    if params.get("residual_on") == "hybrid":
        params["residual_base"] = hint_base(seed)
    return TimeLLMForecaster(**params, seed=seed, progress=False, **budget)


def hint_base(seed: int) -> HybridForecaster:
    """The residual-on-hybrid core's base as Hybrid gives it: the hint models fused, at this seed."""
    return HybridForecaster(TimeLLMForecaster().hint_models, seed=seed)


def test_row(data: SeriesBundle, forecast: np.ndarray) -> dict:
    """A forecast [N, H, C] of every test window scored, with each window's loss for the DM test."""
    y = data.future(data.origins("test"))
    return {"test_mse": mse(y, forecast), "test_mae": mae(y, forecast), "window_loss": window_losses(y, forecast)}


def fused_rows(fused: HybridForecaster, data: SeriesBundle, label: str = FUSED, with_best: bool = True) -> list[dict]:
    """`fused` fitted on `data`, scored on test: its fused forecast's row, then (`with_best`) its
    member best on test."""
    fused.fit(data)
    test = fused.rows(data, data.origins("test"), with_target=True)
    C = data.n_channels
    rows = [{"model": label, **test_row(data, from_series(fused.router_.fuse(test), C)),
             "chose": fused.router_.describe().splitlines()[-1]}]
    if with_best:
        best = int(np.argmin(test.errors().mean(0)))
        rows.append({"model": BEST, **test_row(data, from_series(test.forecasts[:, best].astype(np.float64), C)),
                     "chose": test.models[best]})
    return rows


def run_cell(cell: Cell, budget: dict) -> dict | list[dict]:
    data = cell.load()
    config = CONFIGS[cell.config]
    if cell.config == "fused":
        return fused_rows(HybridForecaster(CLASSICAL_MEMBERS, seed=cell.seed,
                                           model_params={"lightgbm": {"seed": cell.seed}}), data)
    if cell.config == "hint-fused":  # its best member would mix with the classical members' best row
        return fused_rows(hint_base(cell.seed), data, HINT_BASE, with_best=False)
    model = core_of(config, data, cell.seed, budget)
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = data.origins("test")
    forecast = model.predict(data, test)
    predict_seconds = time.perf_counter() - start
    base = model.residual_model_
    # the forecast the residual corrects, scored alike: did the core improve on its base?
    base_test_mse = mse(data.future(test), model.hint_table_.at(test)[:, model.hint_table_.models.index(base)]) \
        if base else None
    return {"model": config.label, **test_row(data, forecast), "val_mse": model.best_val_,
            "base_test_mse": base_test_mse,
            "fit_seconds": fit_seconds, "predict_seconds": predict_seconds, "period": model.period,
            "residual_base": model.residual_model_, "ms_per_train_sequence": ms_per_training_sequence(model.history_),
            "epochs_run": len([h for h in model.history_ if h.get("train_windows")]), "budget": budget}


def report(frame: pd.DataFrame) -> str:
    parts = []
    for question, labels in QUESTIONS.items():
        rows = frame[frame["model"].isin(labels)]
        missing, comparable = not_run(labels, rows["model"])
        reference = labels[0]
        if not comparable:
            parts.append(f"## {question}\n\nNot run yet: {', '.join(missing)}.")
            continue
        table = seeded_table(rows, reference, label="model", metric="test_mse")
        table = table.assign(rank=table["model"].map(labels.index)).sort_values("rank")
        parts.append(f"## {question}\n\ntest MSE (z-scored, every test window)\n\n"
                     + seeded_markdown(table, reference, label="model")
                     + (f"\n\nNot run yet: {', '.join(missing)}." if missing else ""))
        p = table[table["model"] != reference].pivot_table(index="model", columns=["dataset", "horizon"],
                                                           values="dm_p", sort=False)
        if p.size:
            p = p[sorted(p.columns)]  # as the table above: datasets, then horizons
            p.columns = [f"{d} H={h}" for d, h in p.columns]
            parts.append(f"Diebold-Mariano p against {reference} (losses pooled over seeds)\n\n"
                         + to_markdown(p.reset_index(), floatfmt=".3f"))
    core = frame[~frame["config"].isin(FUSED_CONFIGS)]
    if len(core):
        columns = ["val_mse", "test_mse", "base_test_mse", "fit_seconds", "predict_seconds", "ms_per_train_sequence"]
        means = core.reindex(columns=["dataset", "horizon", "model", *columns]).groupby(
            ["dataset", "horizon", "model"], sort=False)[columns].mean().reset_index().sort_values(
            ["dataset", "horizon"], kind="stable")  # the cells ran in the grid's order; shown in the tables' order
        parts.append("## The core's cells, means over seeds\n\n" + to_markdown(means, floatfmt=".4f"))
        budgets = list(dict.fromkeys(str(b) for b in core["budget"].dropna()))
        parts.insert(0, f"- the core's training budget: {'; '.join(budgets)} (every core cell the same); the core's "
                     "other settings its defaults; seeds " + ", ".join(map(str, sorted(frame["seed"].unique()))))
    fused = frame[frame["config"].isin(FUSED_CONFIGS)]
    if len(fused):
        chose = fused.groupby(["dataset", "horizon", "model"])["chose"].agg(lambda v: "; ".join(dict.fromkeys(v)))
        parts.append("## What the fused cells chose\n\n" + to_markdown(chose.reset_index()))
    return "\n\n".join(parts)


def speedup(cells: list[Cell], budget: dict, engine: Engine) -> None:
    """The cells as Ray tasks, then one after another in this process, each into a store of its
    own, timed in this one run."""
    walls = {}
    for name, run_on in (("ray", engine), ("serial", Engine(serial=True))):
        grid = Grid(f"brief_speedup_{name}", f"The brief's cells run {name}", lambda c: run_cell(c, budget), report)
        start = time.perf_counter()
        grid.run(cells, fresh=True, engine=run_on)
        walls[name] = time.perf_counter() - start
    lines = "\n".join(f"| {name} | {seconds:.1f} |" for name, seconds in walls.items())
    markdown = (f"- cells: {', '.join(map(str, cells))}; Ray: {engine.cell_cpus:g} core(s) per cell, the cells "
                "as tasks on this machine's cores; serial: one after another in one process, torch on every core\n"
                f"- speed-up of Ray over serial: {walls['serial'] / walls['ray']:.2f}x\n\n"
                f"| run | wall_seconds |\n| --- | --- |\n{lines}")
    print(f"wrote {write_result('brief_speedup', 'The grid on Ray against the same cells one after another', markdown, {'walls': walls, 'cells': [str(c) for c in cells]})}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2"), horizons=(96, 336), seeds=3)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="configurations, each a cell at each seed (default: all)")
    add_flags(parser.add_argument_group("the core's budget"), TrainConfig, only=BUDGET,
              defaults={"epochs": 2, "sample_fraction": 0.05, "val_stride": 8})
    parser.add_argument("--report", action="store_true", help="only rewrite the tables from the store")
    parser.add_argument("--speedup", action="store_true",
                        help="run the cells as Ray tasks and serially, in one run, and record both wall times")
    args = parser.parse_args()
    budget = flag_values(args, TrainConfig, only=BUDGET)
    cells = with_seeds([Cell(d, h, c) for h in args.horizons for d in args.data for c in args.configs], args.seeds)
    cells.sort(key=lambda c: (args.horizons.index(c.horizon), args.data.index(c.dataset)))
    if args.speedup:
        speedup(cells, budget, run_options(args)["engine"])
        return
    grid = Grid("brief", "The brief's questions, with seeds and Diebold-Mariano p-values",
                lambda cell: run_cell(cell, budget), report, payload=lambda: {"questions": QUESTIONS})
    if args.report:
        print(f"wrote {grid.write(grid.stored())}")
        return
    grid.run(cells, **run_options(args))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
