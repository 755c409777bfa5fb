"""Downloads: verified by SHA-256, atomic, cached — tested against a server on 127.0.0.1 only."""
import hashlib
from pathlib import Path

import pytest
import torch

from hpe_utils.download import ChecksumError, WeightsError, download
from hpe_utils.model import PoseResNet
from hpe_utils.weights import WEIGHTS, WeightsEntry, load_weights


@pytest.fixture
def server(file_server):
    """The loopback file server of conftest: (folder, URL, handler with .requests)."""
    return file_server


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_download_is_verified_and_leaves_no_partial_files(server, tmp_path):
    root, url, _ = server
    data = b"weights" * 1000
    (root / "w.bin").write_bytes(data)
    dest = tmp_path / "cache" / "w.bin"
    assert download(f"{url}/w.bin", dest, sha256=_sha(data), progress=False) == dest
    assert dest.read_bytes() == data
    dest.unlink()
    download(f"{url}/w.bin", dest, sha256=_sha(data)[:8].upper(), progress=False)  # 8-hex prefix, any case
    assert dest.read_bytes() == data
    assert not [p for p in dest.parent.iterdir() if ".part" in p.name]


def test_tampered_download_is_deleted_and_refused(server, tmp_path):
    root, url, _ = server
    (root / "w.bin").write_bytes(b"tampered")
    dest = tmp_path / "cache" / "w.bin"
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        download(f"{url}/w.bin", dest, sha256=_sha(b"original"), progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_http_errors_name_the_url_and_suggest_a_manual_download(server, tmp_path):
    _, url, _ = server
    with pytest.raises(WeightsError, match=r"cannot download http://127\.0\.0\.1:\d+/missing\.bin.*--weights PATH"):
        download(f"{url}/missing.bin", tmp_path / "m.bin", sha256=None, progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_a_verified_cached_file_is_not_downloaded_again(server, tmp_path):
    root, url, handler = server
    data = b"abc" * 100
    (root / "w.bin").write_bytes(data)
    dest = tmp_path / "w.bin"
    download(f"{url}/w.bin", dest, sha256=_sha(data), progress=False)
    download(f"{url}/w.bin", dest, sha256=_sha(data), progress=False)
    assert handler.requests == ["/w.bin"]
    dest.write_bytes(b"corrupted cache")  # a cache file that no longer verifies is fetched again
    download(f"{url}/w.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data and len(handler.requests) == 2


def _checkpoint_bytes(tmp_path: Path) -> bytes:
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16)
    p = tmp_path / "src.pth"
    torch.save(m.state_dict(), p)
    return p.read_bytes()


def test_load_weights_from_a_url_downloads_into_the_cache(server, tmp_path, monkeypatch):
    root, url, _ = server
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    data = _checkpoint_bytes(tmp_path)
    name = f"model-{_sha(data)[:8]}_20240101.pth"  # the 8 hex digits in the name are checked
    (root / name).write_bytes(data)
    lw = load_weights(f"{url}/{name}", progress=False)
    assert lw.config.depth == 18 and (tmp_path / "cache" / name).exists()


def test_registry_entry_with_wrong_checksum_is_refused(server, tmp_path, monkeypatch):
    root, url, _ = server
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    (root / "m.pth").write_bytes(_checkpoint_bytes(tmp_path))
    base = WEIGHTS["mmpose_mpii_r50_256x256"].__dict__
    bad = WeightsEntry(**{**base, "name": "test_bad", "filename": "m.pth", "urls": (f"{url}/m.pth",), "sha256": "deadbeef",
                          "depth": 18})
    with pytest.raises(ChecksumError):
        load_weights(bad, progress=False)
    assert not (tmp_path / "cache" / "m.pth").exists()
    good = WeightsEntry(**{**bad.__dict__, "sha256": _sha((root / "m.pth").read_bytes())})
    assert load_weights(good, progress=False).skeleton.name == "mpii16"


def test_no_test_can_reach_the_internet():
    import socket

    with pytest.raises(RuntimeError, match="must stay on 127.0.0.1"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
