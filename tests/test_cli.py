import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hybrid.product.cli import main
from tests.conftest import two_ids_on_other_dates, wide_frame


def test_fit_end_to_end_on_a_synthetic_csv(csv_path, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["fit", "--data", str(csv_path), "--seq-len", "96", "--horizon", "24",
               "--models", "snaive,linear", "--out", str(out), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| linear |" in printed and "| snaive |" in printed and "lowest test MSE" in printed
    table = pd.read_csv(out / "comparison.csv")
    assert {"model", "split", "mse", "mae"} <= set(table.columns)
    assert sorted(zip(table.model, table.split)) == [("hybrid", "test"), ("hybrid", "val"),
        ("linear", "test"), ("linear", "val"), ("snaive", "test"), ("snaive", "val")]
    # the fused row says whether it beat the best single model, by how the test MSEs compare
    test_mse = table[table.split == "test"].set_index("model").mse
    margin = test_mse["hybrid"] - test_mse[["linear", "snaive"]].min()
    verdict = "beats" if margin < -1e-4 else "ties with" if margin <= 1e-4 else "does not beat"
    assert f"hybrid {verdict} the best single model (linear)" in printed and "router: auto: chose" in printed
    assert re.search(r"\(Diebold-Mariano p = [01]\.\d{3}(, not significant at 5%)?\)", printed)
    # a sine with a trend: the ridge must beat repeating yesterday
    test = table[table.split == "test"].set_index("model")
    assert test.loc["linear", "mse"] < test.loc["snaive", "mse"]
    assert "| * |" in (out / "comparison.md").read_text()
    assert (out / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert config["seq_len"] == 96 and config["horizon"] == 24
    assert config["versions"]["numpy"] and config["data"]["split"]["rule"] == "ratio"


def test_second_run_reads_the_forecast_cache_unless_told_not_to(csv_path, tmp_path):
    argv = ["fit", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12",
            "--models", "snaive,linear", "--quiet"]

    def cached(out, *extra):
        assert main([*argv, "--out", str(tmp_path / out), *extra]) == 0
        return set(pd.read_csv(tmp_path / out / "comparison.csv").cached)

    assert cached("first") == {False}
    assert cached("second") == {True}
    assert cached("third", "--no-cache") == {False}
    first = pd.read_csv(tmp_path / "first" / "comparison.csv")
    second = pd.read_csv(tmp_path / "second" / "comparison.csv")
    metrics = ["mse", "mae", "mae_orig", "rmse_orig", "smape", "mase"]
    pd.testing.assert_frame_equal(first[metrics], second[metrics])  # a cached forecast scores the same


def test_fit_trains_the_core_beside_the_classical_models(csv_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--models", "linear,timellm",
                 "--backbone", "tiny-random-llama", "--llm-layers", "2", "--prototypes", "16", "--vocab-size", "64",
                 "--epochs", "1", "--sample-fraction", "0.2", "--checkpoint-dir", str(tmp_path / "ckpt"),
                 "--precision", "fp32", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table.model) == {"linear", "timellm", "hybrid"}
    assert (tmp_path / "ckpt" / "best.safetensors").exists() and (tmp_path / "ckpt" / "best.json").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["models"]["timellm"]["backbone"] == "tiny-random-llama"
    assert config["models"]["timellm"]["precision"] == "fp32"


def test_the_core_takes_hints_and_explains_a_window(csv_path, tmp_path, capsys):
    core = ["--backbone", "tiny-random-llama", "--prototypes", "16", "--vocab-size", "64", "--precision", "fp32",
            "--hints", "both", "--hint-models", "linear,snaive", "--residual-on", "linear"]
    assert main(["fit", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--models", "timellm", *core,
                 "--epochs", "1", "--sample-fraction", "0.2", "--checkpoint-dir", str(tmp_path / "ckpt"),
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    params = json.loads((tmp_path / "run" / "config.json").read_text())["models"]["timellm"]
    assert (params["hints"], params["hint_models"], params["residual_on"]) == ("both", "linear,snaive", "linear")
    capsys.readouterr()
    # the settings come from the checkpoint: the flags here (none given) are not needed
    assert main(["explain", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--window", "3",
                 "--checkpoint", str(tmp_path / "ckpt"), "--top", "4"]) == 0
    text = capsys.readouterr().out
    assert "prompt as sent" in text and " linear " in text and " snaive " in text  # the text hints
    assert "residual: the core corrects linear's forecast" in text
    assert text.count("nearest words:") == 4
    assert "domain words the prototypes settled near" in text
    assert main(["explain", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--window", "100000",
                 "--checkpoint", str(tmp_path / "ckpt")]) == 2
    assert "outside the" in capsys.readouterr().err


def test_fit_target_column_only(csv_path, tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "--data", str(csv_path), "--target", "s1", "--models", "linear",
                 "--seq-len", "48", "--horizon", "12", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["data"]["columns"] == ["s1"]


def test_select_prints_each_series_choice_and_writes_it(csv_path, tmp_path, capsys):
    out = tmp_path / "choice.json"
    assert main(["select", "--data", str(csv_path), "--seq-len", "96", "--horizon", "24", "--models",
                 "snaive,linear,dlinear", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("router: auto: chose") and "s0: use " in printed and "s1: use " in printed
    written = json.loads(out.read_text())
    assert [s["series"] for s in written["series"]] == ["s0", "s1"]
    assert set(written["series"][0]["weights"]) == {"snaive", "linear", "dlinear"}
    assert main(["select", "--data", str(csv_path), "--out", str(tmp_path / "choice.txt"), "--quiet"]) == 2
    assert "give a .csv or a .json file" in capsys.readouterr().err


def test_short_monthly_csv_works_without_flags(tmp_path, capsys):
    n = 300
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS"),
                       "sales": np.sin(np.arange(n) * 2 * np.pi / 12) + 0.01 * np.arange(n)
                       + 0.2 * np.random.default_rng(0).standard_normal(n)})
    df.to_csv(tmp_path / "monthly.csv", index=False)
    out = tmp_path / "run"
    assert main(["fit", "--data", str(tmp_path / "monthly.csv"), "--out", str(out)]) == 0
    assert "chose seq_len=36, horizon=12" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["horizon"] == 12


def _bad_nan_csv(tmp_path):
    df = wide_frame(n=400)
    df.loc[17, "s1"] = float("nan")
    path = tmp_path / "nan.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, args, expected", [
    ("missing", ["--data", "{tmp}/absent.csv"], "no such file or known dataset"),
    ("model", ["--data", "{csv}", "--models", "linear,nosuch"], "unknown model 'nosuch'; known models: naive, snaive, drift, window_average"),
    ("target", ["--data", "{csv}", "--target", "nope"], "unknown --target 'nope'"),
    ("nan", ["--data", "{nan}"], "column 's1' at row 18"),
    ("short", ["--data", "{csv}", "--seq-len", "5000"], "need at least"),
    ("flag", ["--data", "{csv}", "--horizon", "soon"], "invalid int value"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(csv_path, tmp_path, capsys, case, args, expected):
    fmt = {"tmp": tmp_path, "csv": csv_path, "nan": _bad_nan_csv(tmp_path)}
    out = tmp_path / "out"
    argv = ["fit", *[a.format(**fmt) for a in args], "--out", str(out), "--quiet"]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_help_is_complete():
    top = subprocess.run([sys.executable, "-m", "hybrid", "--help"], capture_output=True, text=True)
    assert top.returncode == 0 and "fit" in top.stdout
    fit = subprocess.run([sys.executable, "-m", "hybrid", "fit", "--help"], capture_output=True, text=True)
    assert fit.returncode == 0
    for flag in ("--data", "--target", "--all", "--horizon", "--seq-len", "--models", "--out", "--fill"):
        assert flag in fit.stdout
    # explain trains nothing: it offers the core's settings, not the training flags it would ignore
    explain = subprocess.run([sys.executable, "-m", "hybrid", "explain", "--help"], capture_output=True, text=True)
    assert "--hints" in explain.stdout and "--seed" in explain.stdout
    assert "--epochs" not in explain.stdout and "--time-budget" not in explain.stdout
    assert "--epochs" in fit.stdout


def test_help_shows_the_cores_own_defaults_without_loading_torch():
    from hybrid.core.config import CoreSettings, TrainConfig
    from hybrid.core.forecaster import TimeLLMForecaster

    params = TimeLLMForecaster().get_params()
    assert {k: params[k] for k in ("llm_layers", "epochs", "sample_fraction", "precision")} == {
        "llm_layers": CoreSettings.llm_layers, "epochs": TrainConfig.epochs,
        "sample_fraction": TrainConfig.sample_fraction, "precision": CoreSettings.precision}
    code = ("import sys; from hybrid.product.cli import build_parser; "
            "text = build_parser()._subparsers._group_actions[0].choices['fit'].format_help(); "
            "print('torch' in sys.modules); print(text)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    first, help_text = run.stdout.split("\n", 1)
    assert run.returncode == 0 and first == "False"
    assert f"backbone layers kept (default {CoreSettings.llm_layers})" in " ".join(help_text.split())


def test_the_default_members_hold_the_core_and_classical_leaves_it_out():
    from hybrid import Hybrid
    from hybrid.foundation import registry
    from hybrid.product.cli import build_parser

    parser = build_parser()
    for command in ("fit", "forecast"):
        chosen = registry.parse(parser.parse_args([command]).models)
        assert "timellm" in chosen and set(registry.names("classical")) & set(chosen)
    assert "timellm" in registry.parse(Hybrid().models)
    assert "timellm" not in registry.parse(parser.parse_args(["fit", "--models", "classical"]).models)
    assert "timellm" not in registry.parse(parser.parse_args(["select"]).models)  # many series: a choice each


def test_every_core_setting_has_a_flag_that_reaches_the_forecaster():
    from hybrid.core.forecaster import SETTING_FIELDS, TimeLLMForecaster
    from hybrid.product.cli import _core_params, build_parser

    parser = build_parser()
    defaults = _core_params(parser.parse_args(["fit"]))
    assert {k: defaults[k] for k in SETTING_FIELDS} == {k: f.default for k, f in SETTING_FIELDS.items()}
    args = parser.parse_args(["fit", "--patch-len", "12", "--no-cache-prompt", "--dropout", "0.2", "--prototypes",
                              "50", "--val-stride", "3", "--time-budget", "60", "--period", "24", "--d-model", "8"])
    core = TimeLLMForecaster(**_core_params(args))
    assert (core.patch_len, core.cache_prompt, core.dropout, core.n_prototypes, core.val_stride, core.time_budget,
            core.period, core.d_model) == (12, False, 0.2, 50, 3, 60.0, 24, 8)
    with pytest.raises(TypeError, match="unknown parameters \\['patch'\\]"):
        TimeLLMForecaster(patch=3)


def test_forecast_writes_the_future_and_a_saved_model_forecasts_the_same(csv_path, tmp_path, capsys):
    out, saved = tmp_path / "future", tmp_path / "model"
    rc = main(["forecast", "--data", str(csv_path), "--seq-len", "48", "--horizon", "12", "--models", "snaive,linear",
               "--level", "80,95", "--out", str(out), "--save", str(saved), "--quiet"])
    assert rc == 0
    assert "| hybrid | hybrid-lo-95 | hybrid-lo-80 | hybrid-hi-80 | hybrid-hi-95 |" in capsys.readouterr().out
    forecast = pd.read_csv(out / "forecast.csv", parse_dates=["ds"])
    assert list(forecast.columns) == ["unique_id", "ds", "snaive", "linear", "hybrid", "hybrid-lo-95", "hybrid-lo-80",
                                      "hybrid-hi-80", "hybrid-hi-95"]
    last = pd.read_csv(csv_path, parse_dates=["date"]).date.iloc[-1]
    assert forecast.ds.min() == last + pd.Timedelta(hours=1) and forecast.ds.nunique() == 12
    assert (out / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "config.json").read_text())["levels"] == [80.0, 95.0]
    again = tmp_path / "again"
    assert main(["forecast", "--load", str(saved), "--out", str(again), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again / "forecast.csv"), pd.read_csv(out / "forecast.csv"))
    # newer rows of the same series: the saved model forecasts after them
    newer = tmp_path / "newer.csv"
    frame = pd.read_csv(csv_path, parse_dates=["date"])
    extra = frame.tail(24).assign(date=frame.date.iloc[-1] + pd.to_timedelta(np.arange(1, 25), unit="h"))
    pd.concat([frame, extra]).to_csv(newer, index=False)
    assert main(["forecast", "--load", str(saved), "--data", str(newer), "--out", str(tmp_path / "n"), "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "n" / "forecast.csv", parse_dates=["ds"]).ds.min() == extra.date.iloc[-1] + pd.Timedelta(hours=1)


@pytest.mark.parametrize("argv, message", [
    (["--level", "80,120"], "--level 80,120: give percentages between 0 and 100"),
    (["--level", "high"], "--level high"),
    (["--load", "nowhere"], "nowhere is not a saved Hybrid"),
])
def test_forecast_refuses_bad_arguments_in_one_line(csv_path, tmp_path, capsys, argv, message):
    rc = main(["forecast", "--data", str(csv_path), "--models", "snaive,linear", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and re.search(message, err)
    assert not (tmp_path / "o").exists()


def test_fit_on_a_long_file_whose_ids_differ_in_dates_and_length(tmp_path, capsys):
    path = two_ids_on_other_dates(tmp_path / "long.csv")
    out = tmp_path / "run"
    rc = main(["fit", "--data", str(path), "--seq-len", "48", "--horizon", "12", "--models", "snaive,linear",
               "--out", str(out), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| linear |" in printed and "over 2 groups of series" in printed
    table = pd.read_csv(out / "comparison.csv")
    assert set(table.model) == {"snaive", "linear", "hybrid"} and (table.n_windows > 0).all()
    assert (out / "forecast.png").exists() and json.loads((out / "config.json").read_text())["horizon"] == 12


@pytest.mark.parametrize("command", ["fit", "forecast", "select"])
def test_an_output_that_cannot_be_written_is_refused_before_any_fit(command, csv_path, tmp_path, capsys, monkeypatch):
    from hybrid.product import front
    monkeypatch.setattr(front.Hybrid, "fit", lambda *a, **k: pytest.fail("fitted before the output was checked"))
    monkeypatch.setattr("hybrid.product.select.select", lambda *a, **k: pytest.fail("selected first"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "sub" / ("choice.json" if command == "select" else "run")
    assert main([command, "--data", str(csv_path), "--models", "snaive", "--out", str(out), "--quiet"]) == 2
    assert "is a file, so nothing can be written under it" in capsys.readouterr().err
    assert not (tmp_path / "a-file" / "sub").exists()


def test_data_too_short_for_a_member_or_the_router_is_one_line_not_a_traceback(tmp_path, capsys):
    hourly = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=400, freq="h"), "a": np.sin(np.arange(400) / 3.8)})
    hourly.to_csv(tmp_path / "h.csv", index=False)
    hourly.head(10).to_csv(tmp_path / "ten.csv", index=False)
    argv = ["--models", "snaive,linear", "--quiet", "--out"]
    assert main(["fit", "--data", str(tmp_path / "h.csv"), "--seq-len", "12", *argv, str(tmp_path / "a")]) == 2
    assert "snaive cannot forecast h: origin 12 has less than one season (24)" in capsys.readouterr().err
    assert main(["select", "--data", str(tmp_path / "ten.csv"), *argv, str(tmp_path / "b.json")]) == 2
    assert "the router reads look-backs of at least 4 rows" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="snaive is left out: it cannot forecast"):  # many series: the member goes
        assert main(["select", "--data", str(tmp_path / "h.csv"), "--seq-len", "12", "--horizon", "6", *argv,
                     str(tmp_path / "c.json")]) == 0


def test_select_says_when_every_series_gets_the_same_weights(csv_path, capsys):
    assert main(["select", "--data", str(csv_path), "--seq-len", "96", "--horizon", "24", "--models", "snaive,linear",
                 "--router", "stacked", "--backtest-blocks", "0", "--quiet"]) == 0
    assert "note: all 2 series get the same weights" in capsys.readouterr().out
