"""REST API and Lambda handler: real predictions end to end, and no client input yields a 5xx."""
import base64
import io
import json
import logging
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from bad_images import bad_image_corpus
from hpe_utils import errors
from hpe_utils.model import PoseResNet
from hpe_utils.predictor import Predictor
from hpe_utils.serve import Limits, create_app, lambda_handler
from hpe_utils.weights import save_checkpoint

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MESSI = (REPO / "data" / "messi_kick.webp").read_bytes()
EVENTS = Path(__file__).resolve().parent / "fixtures" / "events"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    torch.manual_seed(0)
    m = PoseResNet(depth=18, num_joints=16, deconv_filters=(32, 32, 32))
    p = save_checkpoint(m, tmp_path_factory.mktemp("w") / "tiny.pt", skeleton="mpii16", input_size=(64, 64))
    return Predictor(p, progress=False, backend="torch")


@pytest.fixture(scope="module")
def client(predictor):
    app = create_app(predictor=predictor, limits=Limits(max_upload=2 * 1024 * 1024, max_pixels=4_000_000))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _multipart(data: bytes, name="image", filename="x.jpg", extra=None):
    files = {name: (filename, data, "application/octet-stream")}
    return {"files": files, "data": extra or {}}


def test_health_skeleton_docs_and_page(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["skeleton"] == "mpii16" and h["backend"] == "torch"
    assert h["flip_test"] is True and h["refine"] == "dark"  # how the served keypoints are decoded
    sk = client.get("/skeleton").json()
    assert len(sk["joints"]) == 16 and len(sk["limbs"]) == len(sk["limb_colours"])
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    import re

    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts and all("//" not in src for src in scripts)  # every script is the server's own: no CDN
    assert "cdn" not in page.text.lower()
    assert client.get("/docs").status_code == 200
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def test_multipart_and_raw_uploads_give_the_cli_record(client, predictor):
    r = client.post("/predict", **_multipart(MESSI))
    assert r.status_code == 200, r.text
    rec = r.json()
    assert (rec["width"], rec["height"], rec["skeleton"]) == (912, 516, "mpii16")
    assert len(rec["people"]) == 1 and len(rec["people"][0]["keypoints"]) == 16
    raw = client.post("/predict", content=MESSI, headers={"content-type": "image/webp"})
    assert raw.status_code == 200 and raw.json()["people"] == rec["people"]
    direct = predictor(MESSI).to_json()
    assert direct["people"] == rec["people"]


def test_png_overlay_and_boxes(client):
    r = client.post("/predict?format=png", content=MESSI)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (912, 516)
    boxes = json.dumps([[200, 0, 450, 516], [0, 0, 100, 100]])
    r = client.post("/predict", params={"boxes": boxes}, content=MESSI)
    assert [p["box"] for p in r.json()["people"]] == [[200, 0, 450, 516], [0, 0, 100, 100]]
    r = client.post("/predict", **_multipart(MESSI, extra={"boxes": json.dumps([200, 0, 450, 516])}))
    assert len(r.json()["people"]) == 1 and r.json()["people"][0]["box"] == [200, 0, 450, 516]


@pytest.mark.parametrize("query,status", [
    ({"boxes": "not json"}, 400), ({"boxes": "[[0, 0, -1, 5]]"}, 400), ({"boxes": "[[0, 0, 1]]"}, 400),
    ({"boxes": '{"a": 1}'}, 400), ({"format": "gif"}, 400), ({"threshold": "2"}, 400), ({"threshold": "abc"}, 400),
])
def test_bad_parameters_are_400_with_an_error_message(client, query, status):
    r = client.post("/predict", params=query, content=MESSI)
    assert r.status_code == status and r.json()["error"]


def test_size_and_pixel_limits_give_413(client):
    big = b"\xff\xd8" + b"\x00" * (3 * 1024 * 1024)
    assert client.post("/predict", content=big).status_code == 413
    buf = io.BytesIO()
    Image.new("L", (2500, 2000)).save(buf, format="PNG")  # 5 MP, tiny on disk, over the 4 MP limit
    r = client.post("/predict", content=buf.getvalue())
    assert r.status_code == 413 and "MP" in r.json()["error"]


def test_multipart_without_image_field_and_empty_bodies(client):
    assert client.post("/predict", **_multipart(MESSI, name="photo")).status_code == 400
    assert client.post("/predict", content=b"").status_code == 400
    assert client.post("/predict", content=b"", headers={"content-type": "multipart/form-data; boundary=x"}).status_code == 400


BAD = bad_image_corpus()


def test_no_bad_input_produces_a_5xx_and_the_server_keeps_serving(client):
    statuses = {}
    for name, data in BAD:
        for how in ("raw", "multipart"):
            r = client.post("/predict", content=data) if how == "raw" else client.post("/predict", **_multipart(data, filename=name))
            statuses[(name, how)] = r.status_code
            assert r.status_code in (400, 413, 415), (name, how, r.status_code, r.text)
            assert r.json()["error"]
    assert statuses[("text.txt", "raw")] == 415 and statuses[("bomb_30000x30000.png", "raw")] == 413
    assert client.get("/health").status_code == 200
    assert client.post("/predict", content=MESSI).status_code == 200


# ------------------------------------------------------------------ Lambda

def _event(kind: str, body: bytes, content_type: str = "image/webp", query=None) -> dict:
    ev = json.loads((EVENTS / f"{kind}.json").read_text())
    ev["body"] = base64.b64encode(body).decode()
    if kind == "apigw_rest_v1":
        ev["headers"]["Content-Type"] = content_type
    else:
        ev["headers"]["content-type"] = content_type
    if query is not None:
        ev["queryStringParameters"] = query
    return ev


def _multipart_bytes(data: bytes, boundary="XyZ") -> tuple[bytes, str]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"m.webp\"\r\n"
            f"Content-Type: image/webp\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("kind", ["apigw_rest_v1", "apigw_http_v2"])
def test_lambda_raw_and_multipart_events_match_the_api(client, predictor, kind):
    api = client.post("/predict", content=MESSI).json()
    out = lambda_handler(_event(kind, MESSI), None, predictor=predictor)
    assert out["statusCode"] == 200 and out["headers"]["Access-Control-Allow-Origin"] == "*"
    assert json.loads(out["body"])["people"] == api["people"]
    body, ctype = _multipart_bytes(MESSI)
    out = lambda_handler(_event(kind, body, ctype), None, predictor=predictor)
    assert out["statusCode"] == 200 and json.loads(out["body"])["people"] == api["people"]
    png = lambda_handler(_event(kind, MESSI, query={"format": "png"}), None, predictor=predictor)
    assert png["isBase64Encoded"] and base64.b64decode(png["body"])[:4] == b"\x89PNG"


def test_lambda_errors_use_the_same_codes(predictor):
    for name, data in BAD:
        out = lambda_handler(_event("apigw_http_v2", data), None, predictor=predictor, limits=Limits(max_pixels=4_000_000))
        assert out["statusCode"] in (400, 413, 415), name
        assert json.loads(out["body"])["error"] and out["headers"]["Access-Control-Allow-Origin"] == "*"
    ev = _event("apigw_rest_v1", MESSI)
    ev["body"] = "%%% not base64 %%%"
    assert lambda_handler(ev, None, predictor=predictor)["statusCode"] == 400
    assert lambda_handler("nonsense", None, predictor=predictor)["statusCode"] == 400
    opt = _event("apigw_rest_v1", b"")
    opt["httpMethod"] = "OPTIONS"
    assert lambda_handler(opt, None, predictor=predictor)["statusCode"] == 204


# ------------------------------------------------------------------ status by the error's type, a bug of ours is a 500

SECRET = "/srv/hpe/secret_internal_path.py line 42"  # must reach the log, never the client


class RaisingPredictor:
    """A stand-in predictor that raises what the test says: the server answers by the exception's type."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __call__(self, rgb, boxes=None):
        raise self.exc


def _api_post(predictor, content=MESSI):
    with TestClient(create_app(predictor=predictor)) as c:  # raise_server_exceptions: nothing may escape the app
        return c.post("/predict", content=content)


def _lambda_post(predictor, content=MESSI):
    out = lambda_handler(_event("apigw_http_v2", content), None, predictor=predictor)
    assert out["headers"]["Access-Control-Allow-Origin"] == "*"  # a browser can read the error
    return out["statusCode"], json.loads(out["body"])


def _logged_tracebacks(caplog):
    return [r for r in caplog.records if r.name == "hpe_utils.serve" and r.levelno == logging.ERROR and r.exc_info]


def test_a_plain_value_error_in_the_predictor_is_a_logged_500_that_reveals_nothing(caplog):
    with caplog.at_level(logging.ERROR, logger="hpe_utils.serve"):
        r = _api_post(RaisingPredictor(ValueError(SECRET)))
    assert r.status_code == 500, r.text
    assert r.json()["error"].startswith("internal error") and SECRET not in r.text and "Traceback" not in r.text
    logged = _logged_tracebacks(caplog)
    assert len(logged) == 1 and logged[0].exc_info[0] is ValueError and SECRET in caplog.text


def test_a_plain_value_error_in_the_lambda_predictor_is_a_logged_500_that_reveals_nothing(caplog):
    with caplog.at_level(logging.ERROR, logger="hpe_utils.serve"):
        status, body = _lambda_post(RaisingPredictor(ValueError(SECRET)))
    assert status == 500 and body["error"].startswith("internal error") and SECRET not in json.dumps(body)
    logged = _logged_tracebacks(caplog)
    assert len(logged) == 1 and logged[0].exc_info[0] is ValueError and SECRET in caplog.text


def test_a_bug_outside_predict_is_also_a_generic_500(caplog):
    with caplog.at_level(logging.ERROR, logger="hpe_utils.serve"), \
            TestClient(create_app(predictor=RaisingPredictor(ValueError(SECRET)))) as c:
        r = c.get("/health")  # the stand-in has no .skeleton: an AttributeError in the route
    assert r.status_code == 500 and r.json()["error"].startswith("internal error") and "skeleton" not in r.text
    assert [rec.exc_info[0] for rec in _logged_tracebacks(caplog)] == [AttributeError]


def test_the_real_predictor_and_crop_refuse_bad_boxes_with_box_error(predictor):
    from hpe_utils.transforms import box_to_center_scale

    for bad in ([[0, 0, -1, 5]], [[0, 0, 1]], [[0, float("nan"), 10, 10]], [[0, 0, 1, 1], [2, 3]], [["a", 0, 1, 1]]):
        with pytest.raises(errors.BoxError):
            predictor(MESSI, bad)
    with pytest.raises(errors.BoxError):
        box_to_center_scale([0, 0, 0, 10], 0.75)


def test_boxes_the_predictor_refuses_are_a_400_with_its_message(caplog):
    refusal = errors.BoxError("every box needs finite x, y and a positive width and height")
    r = _api_post(RaisingPredictor(refusal))
    assert r.status_code == 400 and r.json()["error"] == str(refusal)
    assert _lambda_post(RaisingPredictor(refusal)) == (400, {"error": str(refusal)})
    assert not _logged_tracebacks(caplog)  # a client's mistake is not logged as a server error


@pytest.mark.parametrize("kind,status", [
    (errors.ImageTooLargeError, 413), (errors.NotAnImageError, 415), (errors.UnreadableImageError, 400),
    (errors.ImageError, 400),
])
def test_each_image_error_type_gives_its_status_whatever_its_message(monkeypatch, kind, status):
    def refuse(*args, **kwargs):
        raise kind("upload: a message with none of the old keywords")

    monkeypatch.setattr("hpe_utils.serve.read_image", refuse)
    not_called = RaisingPredictor(AssertionError("the predictor must not run on a refused image"))
    r = _api_post(not_called)
    assert r.status_code == status and r.json()["error"].startswith("upload: a message")
    assert r.json()["error"].endswith("; send JPEG, PNG, WebP, BMP or TIFF") == (status == 415)
    assert _lambda_post(not_called) == (status, r.json())


# ------------------------------------------------------------------ a real server under load

@pytest.fixture(scope="module")
def live_server(predictor):
    from hpe_utils.serve import BackgroundServer

    with BackgroundServer(create_app(predictor=predictor)) as url:
        yield url


@pytest.mark.slow
def test_concurrent_clients_all_get_correct_answers(live_server):
    import concurrent.futures

    import httpx

    bad = dict(BAD)["truncated_half.jpg"]
    deadline = time.monotonic() + 8.0  # bounded in time and in count
    results = []

    def client_loop(i: int) -> list[tuple[int, bool]]:
        out = []
        with httpx.Client(base_url=live_server, timeout=30) as c:
            for n in range(20):
                if time.monotonic() > deadline:
                    break
                good = (i + n) % 3 != 0
                r = c.post("/predict", content=MESSI if good else bad)
                ok = (r.status_code == 200 and len(r.json()["people"][0]["keypoints"]) == 16) if good else \
                    (r.status_code == 400 and "error" in r.json())
                out.append((r.status_code, ok))
        return out

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for res in pool.map(client_loop, range(6)):
            results += res
    assert len(results) >= 12
    assert all(ok for _, ok in results), results
    assert httpx.get(live_server + "/health").status_code == 200
