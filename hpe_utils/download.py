"""Verified, atomic downloads into a cache folder (standard library and tqdm only)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .errors import ChecksumError, WeightsError


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so a large checkpoint never sits in memory twice."""
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


__all__ = ["ChecksumError", "WeightsError", "check_sha256", "download", "sha256_file"]
