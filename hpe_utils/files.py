"""Where the project's files live (checkout, cache) and how we write them: atomically, so nothing is half-written.

Standard library only, at the bottom of the layers: downloads, checkpoints, exports and engine caches all use it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

CACHE_ENV = "HPE_CACHE_DIR"  # where downloads and compiled engines go
ROOT_ENV = "HPE_ROOT"  # a checkout holding data/ and weights/ (e.g. a clone on Colab, beside a non-editable install)


def repo_root() -> Path:
    """Where the project's data/ and weights/ are: $HPE_ROOT if set (e.g. a clone on Colab), else the
    checkout the package lives in (parent of ``hpe_utils/``)."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser().resolve() if env else Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where downloads go: $HPE_CACHE_DIR, else weights/cache in a checkout, else ~/.cache/hpe_utils."""
    env = os.environ.get(CACHE_ENV)
    if env:
        d = Path(env).expanduser()
    elif (repo_root() / "weights").is_dir():
        d = repo_root() / "weights" / "cache"
    else:
        d = Path.home() / ".cache" / "hpe_utils"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """``writer`` fills a file of the same name in a temporary folder beside ``path``, then it replaces ``path``
    in one step: readers never see half a file, and writers that insist on a suffix (.pt2, .onnx) get it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        part = Path(tmp) / path.name
        writer(part)
        os.replace(part, path)


def write_new(path: Path, writer: Callable[[Path], None], overwrite: bool) -> None:
    """:func:`write_atomic`, refusing to replace an existing file unless asked (a user's file is never lost)."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    write_atomic(path, writer)


def shipped_images() -> list[str]:
    """The real images in the checkout's data/ (the demo image and data/samples): calibration and parity inputs."""
    data = repo_root() / "data"
    return [str(p) for p in sorted(data.glob("*.webp")) + sorted((data / "samples").glob("*.jpg"))]


__all__ = ["CACHE_ENV", "ROOT_ENV", "cache_dir", "repo_root", "shipped_images", "write_atomic", "write_new"]
