"""hpe export --format web: the runtime is fetched, verified and cached; the site is complete and written atomically."""
from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest

from hpe_utils import web
from hpe_utils.cli import main
from hpe_utils.video import panning_frames, write_y4m

REPO = Path(__file__).resolve().parent.parent


def _fake_dist(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in web.ORT_FILES:
        (folder / name).write_bytes(b"not really " + name.encode())
    return folder


def _fake_npm(tmp_path: Path, monkeypatch, tarball: bytes | None) -> None:
    """An `npm` on PATH that 'packs' the given tarball (or fails like an offline npm), never the network."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    payload = tmp_path / "payload.tgz"
    if tarball is not None:
        payload.write_bytes(tarball)
    script = bindir / "npm"
    script.write_text("#!/bin/sh\n"
                      f'[ -f "{payload}" ] || {{ echo "npm error code ENOTFOUND registry.npmjs.org" >&2; exit 1; }}\n'
                      'while [ "$1" != "--pack-destination" ]; do shift; done\n'
                      f'cp "{payload}" "$2/onnxruntime-web-{web.ORT_WEB_VERSION}.tgz"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_given_dist_folder_is_used_and_a_wrong_one_is_refused_by_name(tmp_path):
    good = _fake_dist(tmp_path / "onnxruntime-web" / "dist")
    assert web.ort_dist(tmp_path / "onnxruntime-web") == good  # the package folder or its dist/ both work
    partial = _fake_dist(tmp_path / "partial")
    (partial / "ort-wasm-simd-threaded.wasm").unlink()
    with pytest.raises(web.WebExportError, match="lacks ort-wasm-simd-threaded.wasm"):
        web.ort_dist(partial)


def test_an_offline_npm_gives_a_clear_error_naming_the_way_out(tmp_path, monkeypatch):
    _fake_npm(tmp_path, monkeypatch, None)
    with pytest.raises(web.WebExportError, match=r"npm could not fetch onnxruntime-web .*ENOTFOUND.*--ort-dist DIR"):
        web.ort_dist(log=lambda _m: None)
    assert not any((tmp_path / "cache").glob("onnxruntime-web-*"))  # nothing half-made under the cache's name


def test_a_tampered_tarball_is_refused_before_anything_is_unpacked(tmp_path, monkeypatch):
    _fake_npm(tmp_path, monkeypatch, _tarball({n: b"evil" for n in web.ORT_FILES}))
    with pytest.raises(web.WebExportError, match="tampered"):
        web.ort_dist(log=lambda _m: None)
    assert not any((tmp_path / "cache").glob("onnxruntime-web-*"))


def test_a_tarball_with_the_pinned_hash_is_unpacked_into_the_cache_once(tmp_path, monkeypatch):
    data = _tarball({n: n.encode() for n in web.ORT_FILES})
    _fake_npm(tmp_path, monkeypatch, data)
    import hashlib

    monkeypatch.setattr(web, "ORT_WEB_SHA256", hashlib.sha256(data).hexdigest())
    first = web.ort_dist(log=lambda _m: None)
    assert sorted(p.name for p in first.iterdir()) == sorted(web.ORT_FILES)
    assert (first / "ort.wasm.min.js").read_bytes() == b"ort.wasm.min.js"
    (tmp_path / "again").mkdir()
    _fake_npm(tmp_path / "again", monkeypatch, None)  # an offline npm from now on
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    assert web.ort_dist(log=lambda _m: None) == first  # cached: npm (now offline) is not asked again


def test_meta_json_holds_what_predictor_uses(default):
    meta = web.web_metadata(default, fp16=False)
    from hpe_utils.predictor import Predictor

    p = Predictor(default, backend="torch", progress=False)
    assert (meta["input"]["width"], meta["input"]["height"]) == tuple(default.input_size)
    assert meta["input"]["color_order"] == default.color_order
    assert meta["box_padding"] == pytest.approx(p.box_padding)
    assert meta["sigma"] == pytest.approx(default.sigma)
    assert meta["skeleton"]["joints"] == list(default.skeleton.joints)
    assert meta["flip"]["permutation"] == default.skeleton.flip_permutation().tolist()
    assert meta["flip"]["shift"] == pytest.approx(0.75)
    assert len(meta["skeleton"]["colors"]) == len(meta["skeleton"]["limbs"])
    assert meta["model_fp16"] is None and meta["format"] == "hpe-web/1"
    from hpe_utils import centernet
    from hpe_utils.predictor import MIN_JOINTS, POSE_NMS_OKS
    from hpe_utils.tracking import OKS_SIGMAS

    det = meta["detector"]  # centernet.py's own numbers, never repeated in the page
    assert det["model"] == web.DETECTOR_FILE and det["sha256"] == centernet.CENTERNET.sha256
    assert (det["input"]["size"], det["score_threshold"], det["nms_iou"], det["max_people"], det["person_class"]) == (
        centernet.INPUT_SIZE, centernet.SCORE_THRESHOLD, centernet.NMS_IOU, centernet.MAX_PEOPLE, centernet.PERSON_CLASS)
    assert (det["input"]["name"], det["output"]["name"]) == ("tower_0/images:0", "tower_0/detections:0")
    assert det["redetect_every"] == web.REDETECT_EVERY and meta["min_joints"] == MIN_JOINTS
    assert meta["pose_nms"]["oks"] == POSE_NMS_OKS
    assert meta["pose_nms"]["sigmas"] == pytest.approx(OKS_SIGMAS[default.skeleton.name].tolist())
    assert web.web_metadata(default, fp16=False, detector=False)["detector"] is None


def test_the_export_refuses_to_replace_a_folder_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    assert main(["export", "--format", "web", str(mine), "--overwrite", "--ort-dist", str(_fake_dist(tmp_path / "d"))]) == 2
    assert "not a site written by hpe export" in capsys.readouterr().err
    assert (mine / "holiday.jpg").read_bytes() == b"precious"
    assert main(["export", "--format", "web", str(mine), "--ort-dist", str(tmp_path / "d")]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_a_missing_runtime_fails_before_any_export_work(tmp_path, capsys):
    assert main(["export", "--format", "web", str(tmp_path / "site"), "--ort-dist", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not onnxruntime-web's dist/ folder" in err and "Traceback" not in err
    assert not (tmp_path / "site").exists()


@pytest.mark.slow
def test_the_site_is_complete_verified_and_replaceable(tmp_path, capsys):
    dist = _fake_dist(tmp_path / "dist")
    out = tmp_path / "site"
    images = [str(REPO / "data" / "messi_kick.webp")]
    site = web.export_web("default", out, images, ort=dist, log=lambda _m: None)
    names = set(site.files)
    assert {"index.html", "app.js", "pose.js", "meta.json", "model.onnx", web.DETECTOR_FILE} <= names
    assert {f"ort/{n}" for n in web.ORT_FILES} <= names
    assert site.parity.ok and site.fp16 is not None
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["model_fp16"] is not None) == ("model.fp16.onnx" in names) == site.fp16.ok
    for name, text in web.page_files().items():
        assert (out / name).read_text() == text  # the very files hpe serve serves
    from hpe_utils.centernet import CENTERNET
    from hpe_utils.download import sha256_file

    assert sha256_file(out / web.DETECTOR_FILE) == CENTERNET.sha256 and meta["detector"]["model"] == web.DETECTOR_FILE
    import onnx

    assert max(o.version for o in onnx.load(str(out / "model.onnx")).opset_import if o.domain in ("", "ai.onnx")) == 17
    (out / "note.txt").write_text("old")
    bare = web.export_web("default", out, images, ort=dist, overwrite=True, fp16=False, detector=False, log=lambda _m: None)
    assert not (out / "note.txt").exists() and not list(tmp_path.glob(".site.*"))  # replaced whole, no temp left
    assert web.DETECTOR_FILE not in bare.files and json.loads((out / "meta.json").read_text())["detector"] is None


def test_a_changed_detector_file_fails_the_export_before_any_work(tmp_path, monkeypatch):
    from hpe_utils import centernet
    from hpe_utils.errors import WeightsError

    fake = centernet.ShippedModel("centernet", "weights/person_detector_centernet.onnx", "0" * 64,
                                  centernet.CENTERNET.size_bytes)
    monkeypatch.setattr(centernet, "CENTERNET", fake)  # as if the file on disk had been changed
    with pytest.raises(WeightsError, match="not the shipped one"):
        web.export_web("default", tmp_path / "site", ["x.jpg"], ort=_fake_dist(tmp_path / "d"), log=lambda _m: None)
    assert not (tmp_path / "site").exists()


def test_a_y4m_clip_has_its_header_and_every_frame(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    frames = panning_frames(image, (20, 10), 4)
    assert [xy for _f, xy in frames] == [(0, 15), (13, 15), (27, 15), (40, 15)]
    n = write_y4m([f for f, _xy in frames], tmp_path / "clip.y4m", fps=10)
    data = (tmp_path / "clip.y4m").read_bytes()
    assert n == 4 and data.startswith(b"YUV4MPEG2 W20 H10 F10:1 Ip A1:1 C420jpeg\n")
    assert data.count(b"FRAME\n") == 4 and len(data) == len(data.split(b"\n", 1)[0]) + 1 + 4 * (6 + 20 * 10 * 3 // 2)
    with pytest.raises(FileExistsError):
        write_y4m([frames[0][0]], tmp_path / "clip.y4m")
