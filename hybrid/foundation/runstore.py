"""The store of an experiment grid's runs: one Parquet file, one row per run (its cell, its seed,
its metrics, the commit, the machine, seconds, peak memory), written whole after every run so that
an interrupted grid keeps what it finished."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Columns whose values Arrow cannot type as one (a mix of numbers and text, nested dicts of
# several shapes) or Parquet cannot hold (a dict with no keys: a struct of no fields) are kept as
# JSON text; the file's metadata names them so that reading undoes it.
_JSON_COLUMNS = b"hybrid.json_columns"


def write_runs(path: Path, rows: Sequence[dict]) -> None:
    """Write `rows` to `path` (Parquet), through a temporary file so that a reader never sees half of it."""
    columns, as_json = {}, []
    names = list(dict.fromkeys(k for row in rows for k in row))
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
            if _empty_struct(columns[name].type):
                raise pa.ArrowNotImplementedError("Parquet holds no struct without fields")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[name] = pa.array([None if v is None else json.dumps(v, default=str) for v in values])
            as_json.append(name)
    table = pa.table(columns) if columns else pa.table({"dataset": pa.array([], pa.string())})
    table = table.replace_schema_metadata({_JSON_COLUMNS: json.dumps(as_json).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    partial.replace(path)


def _empty_struct(kind: pa.DataType) -> bool:
    if pa.types.is_struct(kind):
        return kind.num_fields == 0 or any(_empty_struct(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _empty_struct(kind.value_type)
    return False


def read_runs(path: Path) -> list[dict]:
    """The rows `write_runs` wrote, each a dict without the columns it did not have (no None
    padding); lists come back as lists."""
    table = pq.read_table(path)
    as_json = set(json.loads((table.schema.metadata or {}).get(_JSON_COLUMNS, b"[]")))
    rows = []
    for row in table.to_pylist():
        rows.append({k: json.loads(v) if k in as_json and v is not None else v
                     for k, v in row.items() if v is not None})
    return rows


def runs_frame(path: Path) -> pd.DataFrame:
    """`read_runs` as a DataFrame."""
    return pd.DataFrame(read_runs(path))
