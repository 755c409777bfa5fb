"""hpe serve serves the in-browser page's files (one source with hpe export --format web) beside its API."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from hpe_utils import web  # noqa: E402
from hpe_utils.serve import create_app  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _site(folder: Path) -> Path:
    (folder / "ort").mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"format": "hpe-web/1", "model": "model.onnx"}))
    (folder / "model.onnx").write_bytes(b"onnx bytes")
    (folder / web.DETECTOR_FILE).write_bytes(b"detector bytes")
    for name in web.ORT_FILES:
        (folder / "ort" / name).write_bytes(name.encode())
    return folder


@pytest.fixture(scope="module")
def predictor(default):
    from hpe_utils.predictor import Predictor

    return Predictor(default, backend="torch", progress=False)


def test_the_page_is_the_exported_sites_page_and_is_cross_origin_isolated(predictor):
    client = TestClient(create_app(predictor=predictor, web_site=None))
    r = client.get("/")
    assert r.status_code == 200 and r.text == web.page_files()["index.html"]
    assert r.headers["cross-origin-embedder-policy"] == "require-corp"
    for name in ("app.js", "pose.js"):
        r = client.get(f"/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        assert r.text == web.page_files()[name]


def test_a_given_site_is_served_with_the_right_types_and_nothing_else(predictor, tmp_path):
    client = TestClient(create_app(predictor=predictor, web_site=_site(tmp_path / "site")))
    meta = client.get("/meta.json").json()
    assert meta["format"] == "hpe-web/1" and meta["model"] == "model.onnx"  # the site's, plus the server's offer
    assert meta["server"]["predict"] == "predict" and meta["browser"]["state"] == "ready"
    assert client.get("/model.onnx").content == b"onnx bytes"
    det = client.get(f"/{web.DETECTOR_FILE}")  # the person detector the page runs, from the same site
    assert det.content == b"detector bytes" and det.headers["content-type"] == "application/octet-stream"
    wasm = client.get("/ort/ort-wasm-simd-threaded.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert client.get("/model.fp16.onnx").status_code == 404  # not in this site
    for path in ("/ort/..%2Fmeta.json", "/ort/other.wasm", "/secret.txt", "/..%2F..%2Fetc%2Fpasswd"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path
    health = client.get("/health").json()
    assert health["browser_inference"]["state"] == "ready" and health["browser_inference"]["available"]
    assert client.get("/skeleton").status_code == 200 and client.get("/docs").status_code == 200  # not shadowed


def test_with_in_browser_inference_off_the_page_is_told_why(predictor):
    client = TestClient(create_app(predictor=predictor, web_site="auto"))  # a predictor, no weights to build from
    health = client.get("/health").json()["browser_inference"]
    assert not health["available"] and "predictor" in health["reason"]
    meta = client.get("/meta.json").json()  # 200 all the same: the page reads why, and draws server results with it
    assert "model" not in meta and not meta["browser"]["available"]
    assert meta["skeleton"]["joints"][0] == "r_ankle" and len(meta["skeleton"]["colors"]) == len(meta["skeleton"]["limbs"])
    r = client.get("/model.onnx")
    assert r.status_code == 404 and "in-browser inference is off" in r.json()["error"]


def test_a_folder_that_is_not_a_site_is_refused_at_start(predictor, tmp_path):
    from hpe_utils.errors import InputError

    with pytest.raises(InputError, match="not a site written by hpe export"):
        create_app(predictor=predictor, web_site=tmp_path)


@pytest.mark.slow
def test_auto_builds_the_site_on_first_use_then_serves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    dist = tmp_path / "cache" / f"onnxruntime-web-{web.ORT_WEB_VERSION}"
    dist.mkdir(parents=True)
    for name in web.ORT_FILES:
        (dist / name).write_bytes(name.encode())
    app = create_app("default", backend="torch", web_site="auto")
    client = TestClient(app)
    assert client.get("/health").json()["browser_inference"]["state"] == "not built"  # nothing built until asked
    first = client.get("/meta.json").json()  # asking for it starts the build
    assert first["browser"]["state"] == "building" and "model" not in first
    assert client.get("/model.onnx").status_code == 503
    assert app.state.web_site.wait(300), app.state.web_site.status()
    meta = client.get("/meta.json").json()
    assert meta["format"] == "hpe-web/1" and meta["skeleton"]["name"] == "mpii16"
    assert client.get("/model.onnx").content[:2] == b"\x08\x07" or len(client.get("/model.onnx").content) > 1_000_000
    assert client.get("/ort/ort.wasm.min.js").content == b"ort.wasm.min.js"
