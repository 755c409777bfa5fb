"""Verified, atomic downloads into a cache folder (standard library only)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

CACHE_ENV = "HPE_CACHE_DIR"


class WeightsError(RuntimeError):
    """Weights that cannot be found, fetched, verified or loaded; the message says what to do."""


class ChecksumError(WeightsError):
    """A downloaded file whose SHA-256 does not match the registry: it is deleted, never used."""


def repo_root() -> Path:
    """Where the project's data/ and weights/ are: $HPE_ROOT if set (e.g. a clone on Colab), else the
    checkout the package lives in (parent of ``hpe_utils/``)."""
    env = os.environ.get("HPE_ROOT")
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


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: str | os.PathLike, expected: str | None) -> bool:
    """True when ``expected`` (a full digest or a prefix of >= 8 hex digits) matches the file, or is None."""
    if expected is None:
        return True
    exp = expected.lower()
    if len(exp) < 8 or any(c not in "0123456789abcdef" for c in exp):
        raise ValueError(f"a SHA-256 must be at least 8 hex digits, got {expected!r}")
    return sha256_file(path).startswith(exp)


def download(url: str, dest: str | os.PathLike, *, sha256: str | None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` through a temporary file, verify it, then rename it into place.

    An existing ``dest`` that verifies is reused without a request. A mismatch deletes the download and
    raises :class:`ChecksumError`; nothing partial is ever left at ``dest``.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists():
        if sha256 is not None and check_sha256(dest, sha256):
            return dest
        if sha256 is None:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".part-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "hpe-workbook"})
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                          disable=not progress) as bar:
                    while True:
                        block = resp.read(1 << 16)
                        if not block:
                            break
                        out.write(block)
                        bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise WeightsError(f"cannot download {url}: {reason}. No internet? Download it by hand and pass "
                               f"--weights PATH (or put it at {dest}).") from None
        if sha256 is not None and not check_sha256(tmp, sha256):
            actual = sha256_file(tmp)
            raise ChecksumError(f"{url}: SHA-256 mismatch, expected {sha256}…, got {actual}; the file was deleted")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest
