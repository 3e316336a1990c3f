"""The experiment grid on Ray: the store, resuming, a failing cell, seeds."""

import sys

import pytest

ray = pytest.importorskip("ray")

from experiments import grid as grid_module  # noqa: E402
from experiments import record  # noqa: E402
from experiments.grid import Cell, Engine, Grid, with_seeds  # noqa: E402
from hybrid.foundation.runstore import read_runs, write_runs  # noqa: E402

# the workers cannot import this test module by name: its functions travel by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(cell: Cell) -> dict:
    if cell.config == "boom":
        raise RuntimeError("this cell always fails")
    return {"mse": cell.horizon ** 2 + cell.seed, "window_loss": [1.0, 2.0, float(cell.seed)]}


def refuse(cell: Cell) -> dict:
    raise AssertionError(f"{cell} should have been read from the store")


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(grid_module, "RESULTS", tmp_path)
    monkeypatch.setattr(record, "RESULTS", tmp_path)
    return tmp_path


def report(frame):
    return f"{len(frame)} rows"


def test_the_grid_on_ray_stores_every_run_and_a_failure_without_stopping(local_ray, results):
    cells = [*with_seeds([Cell("d", 2, "a"), Cell("d", 3, "a")], 2), Cell("d", 2, "boom")]
    frame = Grid("g", "t", square, report).run(cells, engine=Engine(cell_memory_gb=0.1))
    assert sorted(frame.mse) == [4, 5, 9, 10]  # the failure is not among the report's rows
    rows = read_runs(results / "g.parquet")
    assert len(rows) == 5
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["config"] == "boom"
    assert "RuntimeError: this cell always fails" in failed[0]["error"]
    ok = next(r for r in rows if (r["horizon"], r["seed"]) == (3, 1))
    assert ok["window_loss"] == [1.0, 2.0, 1.0] and ok["cell_seconds"] >= 0 and ok["cell_peak_mib"] > 0
    assert ok["commit"] and ok["machine"] and ok["command"] == record.this_command()
    page = (results / "g.md").read_text()
    assert "Failed cells" in page and f"- `{record.this_command()}` at `{ok['commit']}`: 5 row(s)" in page

    # a rerun reads what is stored (refuse would fail any cell it ran) and tries the failed cell again
    frame = Grid("g", "t", refuse, report).run(cells, engine=Engine(serial=True))
    assert sorted(frame.mse) == [4, 5, 9, 10]
    retried = [r for r in read_runs(results / "g.parquet") if r["status"] == "failed"]
    assert len(retried) == 1 and "should have been read from the store" in retried[0]["error"]


def test_serial_and_ray_give_the_same_rows(local_ray, results):
    cells = with_seeds([Cell("d", 4, "a")], 3)
    on_ray = Grid("r", "t", square, report).run(cells, engine=Engine(cell_memory_gb=0.1))
    serial = Grid("s", "t", square, report).run(cells, engine=Engine(serial=True))
    columns = ["dataset", "horizon", "config", "seed", "mse", "status"]
    assert on_ray.sort_values("seed")[columns].to_dict("records") == serial.sort_values("seed")[columns].to_dict("records")


def test_the_store_keeps_lists_and_columns_of_mixed_kinds(tmp_path):
    rows = [{"a": 1, "loss": [0.5, 1.5], "mixed": 2.0, "nested": {"x": 1}, "empty": {}, "inside": [{"p": {}}]},
            {"a": 2, "loss": [2.5], "mixed": "n/a", "extra": True, "empty": {}}]  # Parquet holds no empty struct
    write_runs(tmp_path / "s.parquet", rows)
    assert read_runs(tmp_path / "s.parquet") == rows
