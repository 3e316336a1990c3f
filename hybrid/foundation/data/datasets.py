"""Named datasets: the manifest shipped with the package, where each file is looked for, and the
download (md5-checked) of one that is not on disk."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hybrid.foundation.errors import InputError
from hybrid.foundation.paths import cache_dir, file_hash, packaged_data, user_data_dirs


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of `datasets/manifest.toml`."""

    name: str
    file: str
    freq: str
    split: str
    seq_len: int
    horizons: tuple[int, ...]
    url: str
    md5: str
    license: str = ""
    description: str = ""  # one sentence about the data, for the core's prompt


def load_manifest(path: Path | None = None) -> dict[str, DatasetSpec]:
    """The datasets of a manifest, by name (default: the one shipped with the package)."""
    with open(path or packaged_data() / "manifest.toml", "rb") as fh:
        raw = tomllib.load(fh)
    return {
        name: DatasetSpec(name=name, **{**entry, "horizons": tuple(entry["horizons"])})
        for name, entry in raw.items()
    }


def data_dirs() -> list[Path]:
    """Where a dataset named in the manifest is looked for, in order: the data shipped with the
    package, the folders of `$HYBRID_DATA_DIR`, then the download cache."""
    return [packaged_data(), *user_data_dirs(), cache_dir() / "datasets"]


def download(spec: DatasetSpec, dest_dir: Path) -> Path:
    """Download a manifest dataset into `dest_dir`, keeping it only if its md5 matches."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.file
    fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as resp:
            shutil.copyfileobj(resp, out)
        got = file_hash(Path(tmp))
        if got != spec.md5:
            raise InputError(
                f"downloaded {spec.name} from {spec.url} has md5 {got}, expected {spec.md5}; "
                "nothing was kept"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(
            f"{spec.name} is not on disk and could not be downloaded from {spec.url} ({exc}); "
            f"put {spec.file} in a folder named by $HYBRID_DATA_DIR (looked in: {', '.join(map(str, data_dirs()))}), "
            "or pass its path as --data"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def resolve(data: str | os.PathLike) -> tuple[Path, DatasetSpec | None]:
    """A path or a dataset name -> the file to read and its manifest entry (None if unknown).

    An existing path wins; a name (or file name) from the manifest, in any case, is looked up in
    `data_dirs()` and downloaded if absent.
    """
    manifest = load_manifest()
    by_key = {}
    for spec in manifest.values():
        by_key[spec.name.lower()] = spec
        by_key[spec.file.lower()] = spec
    path = Path(data)
    if path.is_file():
        return path, by_key.get(path.name.lower())
    spec = by_key.get(str(data).lower())
    if spec is None:
        raise InputError(
            f"no such file or known dataset: '{data}' (known datasets: {', '.join(manifest)})"
        )
    for folder in data_dirs():
        if (folder / spec.file).is_file():
            return folder / spec.file, spec
    return download(spec, cache_dir() / "datasets"), spec
