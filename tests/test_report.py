"""The HTML report, opened in a real (headless) browser: it loads, logs no error, fetches
nothing, and every figure decodes."""

from __future__ import annotations

import html
import json
import re
import struct

import numpy as np
import pandas as pd
import pytest

from hybrid.foundation.runstore import write_runs
from hybrid.product.cli import main
from hybrid.product.plots import ablation_png
from tests.chromium import NAMES, Chromium, find_chromium
from tests.conftest import two_ids_on_other_dates, wide_frame

# a core that trains in seconds: a random one-layer backbone, no prompt, a twentieth of an epoch
FAST_CORE = ["--backbone", "tiny-random-llama", "--llm-layers", "1", "--prototypes", "16", "--vocab-size", "64",
             "--hints", "none", "--epochs", "1", "--sample-fraction", "0.05", "--val-stride", "8",
             "--precision", "fp32"]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, or None where there is none (the pages are still
    built and read; only their opening is skipped)."""
    executable = find_chromium()
    if executable is None:
        yield None
        return
    with Chromium(executable) as chromium:
        yield chromium


def _opened(browser, page, tmp_path, images: int):
    """The page as the browser saw it, checked: loaded, no error, nothing fetched, `images` figures that decode."""
    if browser is None:
        pytest.skip(f"no Chromium on PATH (looked for {', '.join(NAMES)}; `make setup` installs Debian's as root): "
                    "the page was built and read, not opened")
    seen = browser.open(page)
    (tmp_path / f"{page.stem}.png").write_bytes(seen.screenshot)
    assert seen.title == html.unescape(re.search("<title>(.*?)</title>", page.read_text()).group(1))
    assert seen.errors == [] and seen.remote_requests == []
    assert len(seen.images) == images
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in seen.images), seen.images
    assert seen.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = _png_size(seen.screenshot)
    assert width >= 1000 and height > 1000  # the whole page, not the first screen of it
    return seen


def _grid_store(path):
    """A grid's store: configs x 3 seeds x 2 horizons with per-window losses; `close` is `base`
    give or take noise, `better` loses less at every window, one run of `broken` failed."""
    rng = np.random.default_rng(0)
    rows = []
    for horizon in (24, 48):
        truth = rng.gamma(2.0, 0.2, size=60)
        for seed in range(3):
            for config, loss in (("base", truth), ("close", truth + rng.normal(0, 0.01, 60)),
                                 ("better", 0.7 * truth + rng.normal(0, 0.01, 60))):
                rows.append({"dataset": "toy", "horizon": horizon, "config": config, "seed": seed, "status": "ok",
                             "error": None, "commit": "abc1234", "machine": "test", "mse": float(loss.mean()),
                             "mae": float(np.sqrt(loss).mean()), "cell_seconds": 1.0 + seed + horizon / 24,
                             "cell_peak_mib": 300.0 + 10 * seed, "window_loss": [float(v) for v in loss]})
        rows.append({"dataset": "toy", "horizon": horizon, "config": "broken", "seed": 1, "status": "failed",
                     "error": "RuntimeError: out of memory", "commit": "abc1234", "machine": "test",
                     "cell_seconds": 0.5, "cell_peak_mib": 900.0})
    write_runs(path, rows)
    return path


def test_report_of_result_stores_opens_in_a_browser(tmp_path, browser, capsys):
    store = _grid_store(tmp_path / "grid.parquet")
    older = tmp_path / "older.json"  # a result file from before the store: rows, no seeds, no losses, no costs
    older.write_text(json.dumps({"rows": [{"dataset": "toy", "horizon": 24, "config": "", "model": m, "test_mse": v}
                                          for m, v in (("a", 0.5), ("b", 0.4))]}))
    out = tmp_path / "report.html"
    assert main(["report", str(store), str(older), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text()
    assert "base (reference)" in page and "<strong>" in page  # the reference row; the best of a column in bold
    assert page.count('class="ns"') == 2  # close, at both horizons, is not significantly different from base
    assert "RuntimeError: out of memory" in page and "Failed runs (2)" in page
    assert "No per-window losses" in page and "No cost columns" in page  # the older file's missing parts: notes
    assert "<script" not in page and "http://" not in page and "https://" not in page
    # the store's ablation bars and cost against accuracy; the older file's bars
    _opened(browser, out, tmp_path, images=3)


def test_a_record_s_questions_give_a_table_each_against_its_own_reference(tmp_path):
    store = _grid_store(tmp_path / "grid.parquet")
    store.with_suffix(".json").write_text(json.dumps({"store": store.name, "questions": {
        "Is close as good?": ["base", "close", "later"], "Does better win?": ["close", "better"],
        "Is the next one better?": ["base", "next"]}}))
    out = tmp_path / "report.html"
    assert main(["report", str(store), "--out", str(out)]) == 0
    page = out.read_text()
    first, second = page.split("<h3>Is close as good?</h3>")[1].split("<h3>Does better win?</h3>")
    second, third = second.split("<h3>Is the next one better?</h3>")
    # a question none of whose compared rows has run is a line, not a table of its reference alone
    assert "Not run yet: next." in third and "<table" not in third.split("<h3>")[0].split("<h2>")[0]
    assert "Not run yet: later." in first
    assert "base (reference)" in first and "better" not in first.split("<h4>")[0]
    assert first.split("<h4>")[0].count('class="ns"') == 2  # close vs base: not significant at either horizon
    assert "close (reference)" in second and "base" not in second.split("<h4>")[0]
    assert second.split("<h4>")[0].count('class="ns"') == 0  # better beats close at every window
    # --reference asks for one table of every label again
    assert main(["report", str(store), "--reference", "base", "--out", str(out)]) == 0
    assert "<h3>Is close as good?</h3>" not in out.read_text()


def test_ablation_bars_leave_out_a_group_where_only_the_reference_ran():
    table = pd.DataFrame([{"dataset": "toy", "horizon": horizon, "config": config, "mean": mean, "std": 0.01,
                           "n_seeds": 3, "dm_p": p}
                          for horizon, config, mean, p in ((24, "base", 0.5, 1.0), (24, "better", 0.4, 0.01),
                                                           (48, "base", 0.6, 1.0))])
    alone = ablation_png(table, "config", "base", "mse")
    # a panel of the reference by itself would be a grey band and no bar: the figure is the one group's
    assert _png_size(alone) == _png_size(ablation_png(table[table["horizon"] == 24], "config", "base", "mse"))
    # and the size does follow the panels: a second group with a bar adds a panel beside the first
    both = pd.concat([table, table.iloc[[1]].assign(horizon=48)])
    assert _png_size(ablation_png(both, "config", "base", "mse"))[0] > _png_size(alone)[0]


def _png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def test_fit_report_opens_in_a_browser(tmp_path, browser):
    csv = tmp_path / "s.csv"
    wide_frame(noise=0.1).to_csv(csv, index=False)
    out = tmp_path / "run"
    assert main(["fit", "--data", str(csv), "--seq-len", "48", "--horizon", "12", "--models", "snaive,linear",
                 "--periods", "24", "--out", str(out), "--report", "--quiet"]) == 0
    page = (out / "report.html").read_text()
    for heading in ("Comparison", "Forecasts against the actual values", "Router weights over the test origins",
                    "Weights by period"):
        assert f"<h2>{heading}</h2>" in page
    assert "snaive@24" in page and "The Time-LLM core (timellm) is not a member of this run." in page
    # three test windows, the weights over time, the weights by period
    _opened(browser, out / "report.html", tmp_path, images=5)


def test_fit_report_of_the_core_shows_its_prototypes(tmp_path, browser):
    csv = tmp_path / "small.csv"
    wide_frame(n=600, noise=0.1).to_csv(csv, index=False)
    report = tmp_path / "elsewhere" / "core.html"
    assert main(["fit", "--data", str(csv), "--seq-len", "48", "--horizon", "12", "--models", "timellm", *FAST_CORE,
                 "--out", str(tmp_path / "run"), "--report", str(report), "--quiet"]) == 0
    page = report.read_text()
    assert "nearest words" in page and page.count('<td class="num">#') == 5  # the five prototypes attended to most
    assert "No fused forecaster in this run" in page  # one member: the router's sections are notes
    _opened(browser, report, tmp_path, images=3)


@pytest.mark.parametrize("case, argv, message", [
    ("missing", ["{tmp}/absent.parquet"], "absent.parquet: no such file"),
    ("not a store", ["{tmp}/junk.parquet"], "junk.parquet: not a result store"),
    ("no rows", ["{tmp}/meta.json"], "meta.json: no result rows"),
    ("out not html", ["{tmp}/grid.parquet", "--out", "{tmp}/report.txt"], "give an .html file"),
    # the output is checked first: an unwritable one is said even where the input is missing too
    ("out unwritable", ["{tmp}/absent.parquet", "--out", "{tmp}/a-file/report.html"], "is a file, so nothing"),
    ("reference", ["{tmp}/grid.parquet", "--reference", "nope", "--out", "{tmp}/r.html"], "not a config of"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, case, argv, message):
    _grid_store(tmp_path / "grid.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    (tmp_path / "meta.json").write_text(json.dumps({"command": "x"}))
    (tmp_path / "a-file").write_text("x")
    assert main(["report", *[a.format(tmp=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "report.html").exists()


def test_fit_report_that_cannot_be_written_is_refused_before_any_fit(csv_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("hybrid.product.cli.compare", lambda *a, **k: pytest.fail("fitted before the check"))
    (tmp_path / "a-file").write_text("x")
    for report, message in ((tmp_path / "a-file" / "r.html", "is a file, so nothing"), (tmp_path / "r.png", ".html")):
        assert main(["fit", "--data", str(csv_path), "--models", "snaive", "--out", str(tmp_path / "run"),
                     "--report", str(report), "--quiet"]) == 2
        assert message in capsys.readouterr().err


def test_fit_report_of_series_that_do_not_share_their_dates(tmp_path, browser):
    path = two_ids_on_other_dates(tmp_path / "long.csv")
    assert main(["fit", "--data", str(path), "--seq-len", "48", "--horizon", "12", "--models", "snaive,linear",
                 "--out", str(tmp_path / "run"), "--report", "--quiet"]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "the first of 2 groups of series" in page
    _opened(browser, tmp_path / "run" / "report.html", tmp_path, images=4)  # three test windows, the weights
