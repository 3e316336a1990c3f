"""The `hybrid` command line."""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from baselines.prophet import VERBOSE_ENV
from hybrid.core.config import Architecture, CoreSettings, TrainConfig
from hybrid.foundation import registry
from hybrid.foundation.backend import BACKENDS, use_backend
from hybrid.foundation.cache import CachedForecaster, ForecastCache
from hybrid.foundation.data import ReadOptions, SeriesBundle, load, load_groups
from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.registry import make_models, with_periods
from hybrid.foundation.runinfo import git_commit, package_versions, process_rank
from hybrid.foundation.settings import add_flags, flag_values
from hybrid.foundation.significance import diebold_mariano, window_losses
from hybrid.product.evaluation import compare, summary, to_markdown, verdict
from hybrid.product.front import Hybrid
from hybrid.product.fused import BACKTEST_BLOCKS, CLASSICAL_MEMBERS, DEFAULT_MEMBERS, HybridForecaster
from hybrid.product.intervals import PER_SERIES, check_levels
from hybrid.product.plots import forecast_png, future_png, periods_png
from hybrid.product.report import check_output, fit_page, read_store, results_page, short_commit, write_page
from router.routers import MODES

# `hybrid fit` compares every classical model and the core (the fused forecast of them all beside them)
FIT_MEMBERS = "classical,timellm"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2), like every input error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="ETTh1", metavar="PATH_OR_NAME",
                        help="a CSV file (wide: a date column + numeric columns; or long: unique_id, "
                        "ds, y) or a dataset named in datasets/manifest.toml (default: ETTh1)")
    channels = parser.add_mutually_exclusive_group()
    channels.add_argument("--target", metavar="COL",
                          help="forecast only this column (or unique_id)")
    channels.add_argument("--all", action="store_true",
                          help="forecast every column, each as its own series (the default)")
    parser.add_argument("--horizon", type=int, metavar="H",
                        help="steps to forecast (default: the manifest's first horizon, or chosen "
                        "from the data's length and frequency)")
    parser.add_argument("--seq-len", type=int, metavar="L",
                        help="look-back window (default: the manifest's, e.g. 512 for ETT, or chosen "
                        "from the data's length and frequency)")
    add_flags(parser, ReadOptions)


def _read(args: argparse.Namespace) -> ReadOptions:
    """The data flags' `ReadOptions`."""
    return ReadOptions(**flag_values(args, ReadOptions))


def _core_settings(training: bool) -> tuple[tuple[type, tuple[str, ...] | None], ...]:
    """The core's settings classes (hybrid.core.config) and the fields a command takes of each: with
    `training`, all; else (explain trains nothing) only the seed of its untrained core."""
    return (CoreSettings, None), (Architecture, None), (TrainConfig, None if training else ("seed",))


def _core_arguments(parser: argparse.ArgumentParser, title: str, training: bool = True) -> None:
    core = parser.add_argument_group(title)
    for cls, only in _core_settings(training):
        add_flags(core, cls, only=only)
    if training:
        core.add_argument("--checkpoint-dir", type=Path, help="keep best/last checkpoints here (safetensors + JSON)")


def _router_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--router", default="auto", choices=MODES,
                        help="how the members are fused: auto (default: the mode that forecast best, in every stretch, "
                        "in forward-chained cross-validation over the backtest and validation windows), vote, or one mode")
    parser.add_argument("--backtest-blocks", type=int, default=BACKTEST_BLOCKS, metavar="N",
                        help="blocks of windows before the validation part, each forecast by the members refitted on "
                        f"the rows before it, that the router also learns from (default {BACKTEST_BLOCKS}, as many as "
                        "the data holds; 0: the validation windows alone). Each costs a fit of every member")


def _backend_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="local", choices=BACKENDS,
                        help="where the per-series work runs: local (this machine's cores, default) or ray (Ray tasks, "
                        "on this machine or the cluster in $RAY_ADDRESS; the same forecasts)")


def _periods_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--periods", default="none", metavar="auto|none|LIST",
                        help="the periods the seasonal models (snaive, ets, arima) and the core follow, each model "
                        "once per period (the core also keeps its fixed patches, for validation to choose): auto "
                        "(the periods the series share, found on the training part; see `hybrid periods`), none "
                        "(default: the frequency's calendar season, the core's fixed patches) or steps, e.g. 24,168")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hybrid",
        description="A forecasting ensemble: classical models beside a Time-LLM core, fused by a "
        "learned router. Every model is scored on the public long-horizon protocol "
        "(z-scored MSE/MAE over every validation and test window).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = sub.add_parser(
        "fit",
        help="fit forecasters on a dataset and print their comparison table",
        description="Fit the chosen forecasters on the training part and the router that fuses them on "
        "the backtest and validation windows (the hybrid row; --backtest-blocks), score them all on every validation and test window, print "
        "the comparison table (lowest test MSE marked *), say whether the fused forecast beats the best "
        "single model, and "
        "write comparison.csv, comparison.md, config.json and forecast.png (the last test window "
        "of the last column) to --out; with --report, also the report (one self-contained HTML page).",
    )
    _data_arguments(fit)
    fit.add_argument("--models", default=FIT_MEMBERS, metavar="LIST",
                     help=f"comma-separated forecasters, from: {', '.join(registry.names())}, or a family: "
                     f"{', '.join(registry.FAMILIES)} (default: {FIT_MEMBERS}, every classical one and the core; "
                     "classical: without the core)")
    fit.add_argument("--out", type=Path, metavar="DIR",
                     help="folder for comparison.csv, comparison.md, config.json and forecast.png "
                     "(default: runs/<data>-H<horizon>)")
    _router_arguments(fit)
    _backend_argument(fit)
    fit.add_argument("--no-fused", action="store_true", help="leave out the fused row")
    _periods_argument(fit)
    _core_arguments(fit, "the Time-LLM core (--models ...,timellm)")
    fit.add_argument("--no-cache", action="store_true",
                     help="recompute every forecast instead of reading the forecast cache "
                     "($HYBRID_CACHE_DIR/forecasts, default ~/.cache/hybrid/forecasts)")
    fit.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    fit.add_argument("--verbose", action="store_true", help="let Prophet and cmdstanpy log")
    fit.add_argument("--save", type=Path, metavar="DIR",
                     help="also fit the forecaster of the future (the members refitted on all the history but the "
                     "last validation block, the router on that block) and save it to DIR, for "
                     "`hybrid forecast --load DIR` or Hybrid.load(DIR)")
    fit.add_argument("--report", nargs="?", const="", metavar="FILE.html",
                     help="also write the report, one self-contained HTML page: the table, forecasts against the "
                     "actual values in the easiest, a typical and the hardest test window, the router's weights over "
                     "the test origins and by period, the core's prototypes (default FILE: <out>/report.html)")
    fit.set_defaults(func=run_fit)

    fc = sub.add_parser(
        "forecast",
        help="forecast the future: the next H values of every series, with prediction intervals",
        description="Fit the members on all the history but its last validation block, and the router (and the "
        "intervals' calibration) on that block and the backtest blocks before it (--backtest-blocks), then forecast the next H steps after each series' last "
        "timestamp, in its own calendar; write forecast.csv (unique_id, ds, one column per member, hybrid, "
        "hybrid-lo-<level>, hybrid-hi-<level>, on the data's own scale), forecast.png and config.json to --out. "
        "With --load, a model saved by `hybrid fit --save` or `hybrid forecast --save` forecasts instead, after "
        "the data it was fitted on or after --data (newer rows of the same series), refitting nothing.",
    )
    _data_arguments(fc)
    fc.set_defaults(data=None)
    fc.add_argument("--models", default=DEFAULT_MEMBERS, metavar="LIST",
                    help=f"comma-separated forecasters or a family (default {DEFAULT_MEMBERS})")
    _router_arguments(fc)
    _backend_argument(fc)
    fc.add_argument("--level", default="80,95", metavar="LIST",
                    help="prediction interval levels in percent, comma-separated (default 80,95; none for no interval)")
    fc.add_argument("--no-refit", action="store_true",
                    help="keep the members fitted on the training part of the data's own split")
    fc.add_argument("--out", type=Path, metavar="DIR", help="folder for forecast.csv, forecast.png and config.json "
                    "(default: runs/<data>-forecast-H<horizon>)")
    fc.add_argument("--save", type=Path, metavar="DIR", help="also save the fitted model to DIR")
    fc.add_argument("--load", type=Path, metavar="DIR", help="forecast with a model saved to DIR, after the data it "
                    "was fitted on, or after --data (newer rows of the same series; nothing is refitted)")
    _periods_argument(fc)
    _core_arguments(fc, "the Time-LLM core (--models ...,timellm)")
    fc.add_argument("--no-cache", action="store_true", help="recompute every forecast instead of reading the cache")
    fc.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    fc.add_argument("--verbose", action="store_true", help="let Prophet and cmdstanpy log")
    fc.set_defaults(func=run_forecast)

    sel = sub.add_parser(
        "select",
        help="say which forecaster to use for each series, with the weights and the reasons",
        description="Fit the forecasters on each series' training part and one router on the backtest and "
        "validation windows of all series, then print, for each series (each column, or each unique_id of a long "
        "file), the recommended forecaster at its latest window, the router's weights, the features that "
        "drove them and the rules that fired.",
    )
    _data_arguments(sel)
    sel.add_argument("--models", default=CLASSICAL_MEMBERS, metavar="LIST",
                     help=f"comma-separated forecasters to choose between (default {CLASSICAL_MEMBERS}: a choice for "
                     "each of many series, without the core's training per group)")
    _router_arguments(sel)
    _backend_argument(sel)
    sel.add_argument("--out", type=Path, metavar="FILE", help="also write every series' choice to FILE (.csv or .json)")
    sel.add_argument("--limit", type=int, default=20, help="series printed (default 20; --out holds all)")
    _periods_argument(sel)
    sel.add_argument("--no-cache", action="store_true", help="recompute every forecast instead of reading the cache")
    sel.add_argument("--quiet", action="store_true", help="no progress bars")
    _core_arguments(sel, "the Time-LLM core (--models ...,timellm)")
    sel.set_defaults(func=run_select)

    periods = sub.add_parser(
        "periods",
        help="list the periods each series has, found on its training part",
        description="Find each column's periods on the training part only: the strongest peaks of its "
        "spectrum and the calendar periods of its frequency (a day and a week for sub-daily data; a week "
        "for daily, a year for weekly or monthly data), each kept where its spectral peak stands out of "
        "the power around it (Fisher's test at --alpha) and the series repeats itself after it (the "
        "autocorrelation at the period above the one at half of it, by --min-confidence). Harmonics are "
        "merged into their period.",
    )
    _data_arguments(periods)
    periods.add_argument("--top", type=int, default=3, help="periods listed per series, strongest first (default 3)")
    periods.add_argument("--alpha", type=float, default=0.01,
                         help="the spectral test's level: a chance peak is kept this rarely (default 0.01)")
    periods.add_argument("--min-confidence", type=float, default=0.1,
                         help="least (acf at the period - acf at half of it) / 2 (default 0.1)")
    periods.add_argument("--plot", type=Path, metavar="FILE.png",
                         help="also draw each channel's periodogram with its periods marked")
    periods.set_defaults(func=run_periods)

    explain = sub.add_parser(
        "explain",
        help="show what the core read for one window: prompt, statistics, hints, prototypes",
        description="Print, for one window, the prompt the core sent to the backbone (and its length in "
        "tokens), the window's statistics, each hint model's hint and recent accuracy, and the text "
        "prototypes the window's patches attended to most, with the words nearest to each. With "
        "--checkpoint, the core trained by `hybrid fit --models timellm --checkpoint-dir DIR` (its settings "
        "come from the checkpoint); without, an untrained core of the settings given here.",
    )
    _data_arguments(explain)
    explain.add_argument("--window", type=int, default=-1, metavar="N",
                         help="the N-th window of --part (0 = the first; negative counts from the end; default -1)")
    explain.add_argument("--part", choices=("train", "val", "test"), default="test",
                         help="which part's windows --window counts (default test)")
    explain.add_argument("--channel", metavar="COL", help="which column's series (default: the last column)")
    explain.add_argument("--checkpoint", type=Path, metavar="DIR",
                         help="a --checkpoint-dir of `hybrid fit` (its best epoch), or a checkpoint stem")
    explain.add_argument("--top", type=int, default=5, help="prototypes and nearest words shown (default 5)")
    _core_arguments(explain, "the core's settings (ignored with --checkpoint)", training=False)
    explain.set_defaults(func=run_explain)

    report = sub.add_parser(
        "report",
        help="write one self-contained HTML page from the experiment grid's result stores",
        description="Read result stores of the experiment grid (Parquet files, a row per run; or the older JSON "
        "result files of experiments/results) and write one HTML page that needs nothing else to be read: per "
        "store, the comparison table (the metric's mean ± std over seeds per dataset and horizon, the best in "
        "bold, a difference from --reference that is not significant marked: Diebold-Mariano on the per-window "
        "losses pooled over seeds), the failed runs with their errors, ablation bars with error bars, and cost "
        "(seconds or ms per sequence, peak memory) against accuracy.",
    )
    report.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help="result stores (.parquet or .json)")
    report.add_argument("--out", type=Path, default=Path("report.html"), metavar="FILE.html",
                        help="the page (default report.html)")
    report.add_argument("--reference", metavar="NAME",
                        help="the config (or model) every other is tested against (default: each store's first)")
    report.add_argument("--metric", default="mse",
                        help="the metric compared (default mse; in an older file without it, test_<metric>)")
    report.set_defaults(func=run_report)
    return parser


def _core_params(args: argparse.Namespace) -> dict:
    """The core's constructor parameters from the command line."""
    training = args.command != "explain"
    params = {k: v for cls, only in _core_settings(training) for k, v in flag_values(args, cls, only=only).items()}
    params["progress"] = not getattr(args, "quiet", False)
    if training:
        params["checkpoint_dir"] = str(args.checkpoint_dir) if args.checkpoint_dir else None
    return params


def _model_params(args: argparse.Namespace) -> dict[str, dict]:
    return {"timellm": _core_params(args)}


def run_periods(args: argparse.Namespace) -> int:
    from hybrid.foundation.periods import dataset_periods

    if args.top < 1 or not 0 < args.alpha < 1 or not 0 <= args.min_confidence <= 1:
        raise InputError("--top must be at least 1, --alpha in (0, 1) and --min-confidence in [0, 1]")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise InputError(f"--plot {args.plot}: give a .png file")
    _check_writable(args.plot, "--plot", folder=False)
    data = load(args.data, target=args.target, seq_len=args.seq_len, horizon=args.horizon, read=_read(args))
    start, end = data.split.train
    found = dataset_periods(data, args.top, args.alpha, args.min_confidence)
    print(f"{data.name} ({data.freq.name}): periods of the training part (rows {start}-{end - 1}), strongest first")
    width = max(map(len, found))
    for name, periods in found.items():
        lines = [p.describe() for p in periods] or ["no period confirmed"]
        print(f"  {name:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<{width}}  {line}")
    if args.plot is not None:
        png = periods_png(data, found)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_bytes(png)
        print(f"wrote {args.plot}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from hybrid.core.explain import explain
    from hybrid.core.forecaster import TimeLLMForecaster

    data = load(args.data, target=args.target, seq_len=args.seq_len, horizon=args.horizon, read=_read(args))
    origins = data.origins(args.part)
    if not -len(origins) <= args.window < len(origins):
        raise InputError(f"--window {args.window} is outside the {len(origins)} windows of the {args.part} part")
    if args.channel is not None and args.channel not in data.columns:
        raise InputError(f"unknown --channel '{args.channel}'; columns are: {', '.join(data.columns)}")
    channel = data.columns.index(args.channel) if args.channel is not None else -1
    if args.checkpoint:
        core = TimeLLMForecaster.from_checkpoint(args.checkpoint, data, progress=False)
    else:
        core = TimeLLMForecaster(**{**_core_params(args), "progress": False})
        core.fit_hints(data)
        core.model_ = core.build(data)
        print("note: an untrained core (pass --checkpoint DIR for one trained by hybrid fit --checkpoint-dir DIR)")
    print(explain(core, data, int(origins[args.window]), channel, args.top).text())
    return 0


def run_report(args: argparse.Namespace) -> int:
    check_output(args.out, "--out")
    _check_writable(args.out, "--out", folder=False)
    stores = [read_store(path, args.metric) for path in args.results]
    print(f"wrote {write_page(args.out, results_page(stores, args.reference))}")
    return 0


def _report_path(args: argparse.Namespace, out: Path) -> Path | None:
    """--report: where the page goes (default <out>/report.html), checked like every output."""
    if args.report is None:
        return None
    path = Path(args.report) if args.report else out / "report.html"
    check_output(path, "--report")
    _check_writable(path, "--report", folder=False)
    return path


def _fit_facts(args: argparse.Namespace, data: SeriesBundle) -> list[str]:
    """The report's lines under its title: the command, the data, the commit."""
    start, end = data.split.test
    return [f"<code>{html.escape('hybrid ' + shlex.join(args.argv))}</code>",
            html.escape(f"{data.name}: {len(data.values)} {data.freq.name} rows x {data.n_channels} series, "
                        f"seq_len {data.seq_len}, horizon {data.horizon}, split {data.split.rule} (test rows "
                        f"{start}-{end - 1}); commit {short_commit(git_commit())}")]


def run_select(args: argparse.Namespace) -> int:
    from hybrid.product.select import select

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"--out {args.out}: give a .csv or a .json file")
    _check_writable(args.out, "--out", folder=False)
    periods = _periods(args.periods)
    data = args.data if args.target is None else load(args.data, target=args.target, seq_len=args.seq_len,
                                                        horizon=args.horizon, read=_read(args))
    with use_backend(args.backend):
        selection = select(data, models=args.models, mode=args.router, backtest_blocks=args.backtest_blocks,
                           seq_len=args.seq_len, horizon=args.horizon, read=_read(args), cache=not args.no_cache,
                           model_params=_model_params(args), progress=not args.quiet, periods=periods)
    print(selection.text(limit=args.limit))
    if args.out is not None:
        selection.write(args.out)
        print(f"wrote {args.out}")
    return 0


def _write_outputs(out: Path, files: dict[str, str | bytes]) -> None:
    """Write every file or none: stage them in a temporary folder, then move them in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".hybrid-", dir=out.parent))
    try:
        for name, content in files.items():
            path = staging / name
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        out.mkdir(exist_ok=True)
        for name in files:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _config(args: argparse.Namespace, data: SeriesBundle, models: Sequence[Forecaster]) -> dict:
    return {
        "command": "hybrid " + shlex.join(args.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "data": {
            "name": data.name,
            "argument": args.data,
            "columns": list(data.columns),
            "rows": len(data.values),
            "frequency": data.freq.name,
            "season": data.season,
            "split": {"rule": data.split.rule, "train": data.split.train,
                      "val": data.split.val, "test": data.split.test},
            "read": flag_values(args, ReadOptions),
            "notes": list(data.notes),
        },
        "seq_len": data.seq_len,
        "horizon": data.horizon,
        "models": {m.label: m.get_params() for m in models},
        "versions": package_versions(),
    }


def fused_verdict(wide, fused: HybridForecaster, data: SeriesBundle, models: Sequence[Forecaster]) -> str:
    """Whether the fused row beats the best single model on test, whether the difference is
    significant (Diebold-Mariano over the test windows), and how the router chose."""
    test = wide.set_index("model").test_mse
    singles = test.drop(fused.name)
    best, fused_mse = singles.idxmin(), test[fused.name]
    origins = data.origins("test")
    y = data.future(origins)
    best_model = next(m for m in models if m.label == best)
    _, p = diebold_mariano(window_losses(y, fused.predict(data, origins)),
                           window_losses(y, best_model.predict(data, origins)), data.horizon)
    significance = f"Diebold-Mariano p = {p:.3f}" + ("" if p < 0.05 else ", not significant at 5%")
    return (f"hybrid {verdict(fused_mse, singles.min())} the best single model ({best}): test MSE {fused_mse:.4f} "
            f"against {singles.min():.4f} ({significance}).\nrouter: {fused.router_.describe()}"
            + (f"\nperiods, by their mean weight on the windows the router learned from: {periods}"
               if (periods := fused.describe_periods(fused.learned_weights_)) else ""))


def _periods(text: str) -> str | tuple[int, ...]:
    """--periods: 'auto', () for 'none', or the steps listed."""
    if text in ("auto", "none"):
        return "auto" if text == "auto" else ()
    try:
        periods = tuple(int(p) for p in text.split(","))
    except ValueError:
        periods = ()
    if not periods or min(periods) < 2:
        raise InputError(f"--periods {text}: give auto, none or whole numbers of steps of at least 2, e.g. 24,168")
    return periods


def _levels(text: str) -> tuple[float, ...]:
    """--level: '80,95', or 'none'."""
    if text.strip().lower() == "none":
        return ()
    try:
        return check_levels([float(v) for v in text.split(",")])
    except ValueError:
        raise InputError(f"--level {text}: give percentages between 0 and 100, e.g. 80,95, or none") from None


def _check_writable(path: Path | None, flag: str, folder: bool = True) -> None:
    """Where the command will write (a folder, or with `folder` false a file), checked before any
    compute: a fit of minutes must not end in a traceback about its output."""
    if path is None:
        return
    if path.exists() and path.is_dir() != folder:
        raise InputError(f"{flag} {path} exists and is not a {'folder' if folder else 'file'}")
    target = path if folder and path.is_dir() else path.parent
    while not target.exists() and target != target.parent:
        target = target.parent  # the nearest folder that exists: the command makes those below it
    if not target.is_dir():
        raise InputError(f"{flag} {path}: {target} is a file, so nothing can be written under it")
    try:
        tempfile.TemporaryFile(dir=target).close()
    except OSError as exc:
        raise InputError(f"{flag} {path}: cannot write in {target} ({exc.strerror or exc}); choose another "
                         "folder") from None


def _hybrid(args: argparse.Namespace, refit: bool = True) -> Hybrid:
    """The front door with the command's settings."""
    return Hybrid(models=args.models, router=args.router, backtest_blocks=args.backtest_blocks, horizon=args.horizon,
                  seq_len=args.seq_len, refit=refit, periods=_periods(args.periods), model_params=_model_params(args),
                  cache=not args.no_cache, progress=not args.quiet, backend=args.backend, **flag_values(args, ReadOptions))


def run_forecast(args: argparse.Namespace) -> int:
    say = (lambda msg: None) if args.quiet else print
    levels = _levels(args.level)
    for path, flag in ((args.out or Path("runs"), "--out"), (args.save, "--save")):
        _check_writable(path, flag)
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    newer = None
    if args.load is not None:
        model = Hybrid.load(args.load)
        if args.data is not None:  # newer rows of the same series: forecast after them, refit nothing
            newer = args.data if args.target is None else load(args.data, target=args.target, read=_read(args))
    else:
        args.data = args.data or "ETTh1"
        data = args.data if args.target is None else load(args.data, target=args.target, seq_len=args.seq_len,
                                                          horizon=args.horizon, read=_read(args), log=say)
        model = _hybrid(args, refit=not args.no_refit).fit(data)
    name = "+".join(b.name for b in model.bases_)
    forecast = model.predict(h=args.horizon if args.load is not None else None, level=levels, df=newer)
    fit = model.fit_
    h = forecast.groupby("unique_id").size().iloc[0]
    say(f"{name}: {forecast.unique_id.nunique()} series, the next {h} steps, from {forecast.ds.min()} to "
        f"{forecast.ds.max()}; members {', '.join(fit.members)}")
    say(f"router: {fit.router.describe()}")
    for label, reason in fit.dropped.items():
        say(f"left out: {label} ({reason})")
    shown = forecast[["unique_id", "ds", "hybrid", *[c for c in forecast if c.startswith("hybrid-")]]]
    print(to_markdown(shown.head(min(len(shown), 8)).astype({"ds": str}), ".3f"))
    out = args.out or Path("runs") / f"{name}-forecast-H{h}"
    config = {
        "command": "hybrid " + shlex.join(args.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "model": {k: v for k, v in model.get_params().items() if k != "progress"},
        "loaded_from": str(args.load) if args.load is not None else None,
        "data": [{"name": b.name, "series": list(b.columns), "rows": len(b.raw), "frequency": b.freq.name,
                  "last": str(b.timestamps[-1])} for b in model.bases_],
        "members": list(fit.members),
        "left_out": fit.dropped,
        "router": fit.router.describe(),
        "seq_len": model.seq_len_,
        "horizon": int(h),
        "levels": list(levels),
        "intervals": "split conformal on the fused forecast's errors over the backtest and validation windows, per horizon step "
                     f"(per series with at least {PER_SERIES} windows, else pooled)",
        "versions": package_versions(),
    }
    _write_outputs(out, {
        "forecast.csv": forecast.to_csv(index=False),
        "forecast.png": future_png(model.bases_, forecast, fit.members, levels),
        "config.json": json.dumps(config, indent=2, default=str) + "\n",
    })
    say(f"wrote {out}/forecast.csv, forecast.png, config.json")
    if args.save is not None:
        say(f"saved the model to {model.save(args.save)}")
    return 0


def _fit_groups(args: argparse.Namespace, groups: list[SeriesBundle], say) -> int:
    """`hybrid fit` on series that do not share their dates: each group of those that do is split
    on its own, one router serves them all, and the table pools every series' windows."""
    out = args.out or Path("runs") / f"{groups[0].name}-H{groups[0].horizon}"
    _check_writable(out, "--out")
    _check_writable(args.save, "--save")
    report = _report_path(args, out)
    model = _hybrid(args, refit=False).fit(groups)
    wide = model.comparison()
    markdown = to_markdown(wide)
    print(markdown)
    print(f"* lowest test MSE: {wide.loc[wide.best == '*', 'model'].iloc[0]} over {len(groups)} groups of series "
          "(each split on its own; MSE/MAE on each series' z-scored scale)")
    test = wide.set_index("model").test_mse
    singles = test.drop("hybrid")
    said = (f"hybrid {verdict(test['hybrid'], singles.min())} the best single model ({singles.idxmin()}): test MSE "
            f"{test['hybrid']:.4f} against {singles.min():.4f}.\nrouter: {model.fit_.router.describe()}")
    print(said)
    forecast = model.predict(level=(80, 95))
    config = {"command": "hybrid " + shlex.join(args.argv),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": git_commit(),
              "groups": [{"name": b.name, "series": list(b.columns), "rows": len(b.raw), "split": asdict(b.split)}
                         for b in groups],
              "seq_len": model.seq_len_, "horizon": model.horizon_, "members": list(model.fit_.members),
              "versions": package_versions()}
    _write_outputs(out, {"comparison.csv": model.evaluate().to_csv(index=False),
                         "comparison.md": f"# {args.data}, seq_len {model.seq_len_}, horizon {model.horizon_}\n\n"
                         + markdown + "\n",
                         "forecast.png": future_png(groups, forecast, model.fit_.members, (80, 95)),
                         "config.json": json.dumps(config, indent=2, default=str) + "\n"})
    say(f"wrote {out}/comparison.csv, comparison.md, config.json, forecast.png (the future)")
    if report is not None:
        # the windows and weights of one group: each has its own test windows and calendar
        data, engine = model.fit_.bundles[0], model.fit_.engines[0]
        scope = (f"The figures below are those of the first of {len(groups)} groups of series "
                 f"({', '.join(data.columns[:6])}{', ...' if data.n_channels > 6 else ''}); the table pools them all.")
        title = f"{groups[0].name}, seq_len {model.seq_len_}, horizon {model.horizon_}"
        page = fit_page(title, _fit_facts(args, groups[0]), wide, said, data, [*engine.members_, engine],
                        groups[0].origins("test"), scope)
        say(f"wrote {write_page(report, page)}")
    _save_future(args, groups, say)
    return 0


def _save_future(args: argparse.Namespace, data: SeriesBundle | list[SeriesBundle], say) -> None:
    """--save: the forecaster of the future (the members refitted on all the history but its last
    validation block), fitted and saved."""
    if args.save is not None:
        say("fitting the forecaster of the future to save it (the members on all the history but its last "
            "validation block)")
        say(f"saved the model to {_hybrid(args).fit(data).save(args.save)}")


def run_fit(args: argparse.Namespace) -> int:
    say = (lambda msg: None) if args.quiet else print
    periods = _periods(args.periods)
    make_models(args.models, _model_params(args))  # a bad model name fails before the data are read
    groups = load_groups(args.data, target=args.target, seq_len=args.seq_len, horizon=args.horizon,
                         read=_read(args), log=say)
    if len(groups) > 1:
        return _fit_groups(args, groups, say)
    data = groups[0]
    if periods == "auto":
        from hybrid.foundation.periods import data_periods

        periods = data_periods(data)
        say(f"periods found on the training part: {', '.join(map(str, periods)) or 'none'}")
    models = make_models(with_periods(args.models, periods), _model_params(args))
    out = args.out or Path("runs") / f"{data.name}-H{data.horizon}"
    _check_writable(out, "--out")
    _check_writable(args.save, "--save")
    report = _report_path(args, out)
    say(f"{data.name}: {len(data.values)} {data.freq.name} rows x {data.n_channels} channels, "
        f"seq_len={data.seq_len}, horizon={data.horizon}, split {data.split.rule} "
        f"(train {data.split.train}, val {data.split.val}, test {data.split.test})")

    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"  # read by the worker processes that fit Prophet
    if not args.no_cache:
        cache = ForecastCache()
        models = [CachedForecaster(m, cache) for m in models]
    if not args.no_fused and len(models) > 1:  # last, so that it finds its members fitted
        models.append(HybridForecaster(list(models), mode=args.router, prefit=True, cache=False, backtest_blocks=args.backtest_blocks))
    table = compare(data, models, progress=not args.quiet)
    wide = summary(table)
    markdown = to_markdown(wide)
    print(markdown)
    best = wide.loc[wide.best == "*", "model"].iloc[0]
    print(f"* lowest test MSE: {best}. MSE/MAE on the z-scored scale; *_orig, sMAPE (%) and MASE "
          "on the original scale.")
    said = fused_verdict(wide, models[-1], data, models) if isinstance(models[-1], HybridForecaster) else ""
    if said:
        print(said)
    config = _config(args, data, models)
    last_test_origin = int(data.origins("test")[-1])
    _write_outputs(out, {
        "forecast.png": forecast_png(data, models, last_test_origin, channel=data.n_channels - 1),
        "comparison.csv": table.to_csv(index=False),
        "comparison.md": f"# {data.name}, seq_len {data.seq_len}, horizon {data.horizon}\n\n"
        + markdown + "\n",
        "config.json": json.dumps(config, indent=2, default=str) + "\n",
    })
    say(f"wrote {out}/comparison.csv, comparison.md, config.json, forecast.png")
    if report is not None:
        title = f"{data.name}, seq_len {data.seq_len}, horizon {data.horizon}"
        say(f"wrote {write_page(report, fit_page(title, _fit_facts(args, data), wide, said, data, models))}")
    _save_future(args, data, say)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        if process_rank() > 0:
            return _beside_the_first(args)
        return args.func(args)
    except InputError as exc:
        print(f"hybrid: error: {exc}", file=sys.stderr)
        return 2


def _beside_the_first(args: argparse.Namespace) -> int:
    """A later process of a multi-process run (`accelerate launch -m hybrid ...`, torchrun): it
    computes what the first does (the core's training is shared among them), and the first alone
    prints and writes; this one's files go to a scratch folder, deleted after."""
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()):
        for name in ("out", "save", "report", "plot"):
            value = getattr(args, name, None)
            if not hasattr(args, name) or value == "" or (value is None and name != "out"):
                continue  # not asked for, or (--report without a file) inside --out, which is scratch now
            (Path(scratch) / name).mkdir()
            setattr(args, name, Path(scratch) / name / (Path(value).name if value is not None else ""))
        if hasattr(args, "quiet"):
            args.quiet = True
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
