"""Where hybrid keeps and finds things: its cache, the data it ships, other data folders, file
digests."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path


def cache_dir() -> Path:
    """The root of everything `hybrid` caches: `$HYBRID_CACHE_DIR`, else `~/.cache/hybrid`."""
    return Path(os.environ.get("HYBRID_CACHE_DIR") or Path.home() / ".cache" / "hybrid")


def packaged_data() -> Path:
    """The data shipped inside the package (the manifest, ETTh1): the source tree's `datasets/`,
    installed as package data of `hybrid` and found through `importlib.resources`, so that an
    installed copy reads its own files wherever it runs from."""
    return Path(str(resources.files("hybrid") / "datasets"))


def user_data_dirs() -> list[Path]:
    """The folders named in `$HYBRID_DATA_DIR` (several joined by `os.pathsep`), in order."""
    return [Path(p) for p in os.environ.get("HYBRID_DATA_DIR", "").split(os.pathsep) if p]


def file_hash(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file's bytes, read in blocks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


@contextmanager
def file_lock(path: Path, exclusive: bool = True) -> Iterator[None]:
    """Hold an advisory lock on `path` (created, with its folder, if absent): processes that
    build or publish the same thing take turns; the system drops the lock with a process that
    dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
