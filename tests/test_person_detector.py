"""The shipped person detector and the top-down default: every person found, given boxes kept, bad input handled."""
import json
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_utils import Predictor
from hpe_utils.centernet import (CENTERNET, INPUT_SIZE, MAX_PEOPLE, SCORE_THRESHOLD, CenterNetDetector, box_iou,
                                 check_model_file, decode_detections, letterbox, letterbox_matrix, nms)
from hpe_utils.cli import main
from hpe_utils.detect import DEFAULT_DETECTOR, DETECTORS, load_detector
from hpe_utils.errors import InputError, WeightsError
from hpe_utils.images import read_image

REPO = Path(__file__).resolve().parent.parent
GROUP = REPO / "data" / "group_photo_coco_000000000790.jpg"
GROUP_GT = json.loads((REPO / "data" / "group_photo_coco_000000000790.json").read_text())
# COCO annotates four people; a fifth, cut by the left edge (only a blue shirt shows), is found too
IN_GROUP = 5
MESSI = REPO / "data" / "messi_kick.webp"


@pytest.fixture(scope="module")
def detector():
    return CenterNetDetector()


@pytest.fixture(scope="module")
def predictor():
    return Predictor("default", backend="torch")


# ------------------------------------------------------------------ numpy-pure pre- and post-processing

def test_the_letterbox_warp_equals_cv2_resize_into_the_top_left_corner():
    img = np.random.default_rng(0).integers(0, 255, (300, 640, 3), dtype=np.uint8)
    x, m = letterbox(img)
    assert x.shape == (1, INPUT_SIZE, INPUT_SIZE, 3) and x.dtype == np.float32
    s = INPUT_SIZE / 640
    resized = cv2.resize(img, (INPUT_SIZE, round(300 * s)), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    inner = x[0, 1:round(300 * s) - 1, 1:-1]  # the border rows differ only by where each samples the edge
    assert np.abs(inner - resized[1:-1, 1:-1]).max() <= 1.0
    assert x[0, round(300 * s) + 1:].max() == 0  # the padding below is black
    assert np.allclose(m, letterbox_matrix(640, 300))


def test_decoding_keeps_people_above_the_threshold_in_frame_pixels_most_confident_first():
    m = letterbox_matrix(1024, 512)  # scale 0.5
    o = m[0, 2]
    raw = np.array([
        [10 * 0.5 + o, 20 * 0.5 + o, 110 * 0.5 + o, 220 * 0.5 + o, 0.5, 0],  # a person
        [400 * 0.5 + o, 0 + o, 500 * 0.5 + o, 100 * 0.5 + o, 0.9, 0],  # a more confident person
        [0, 0, 50, 50, 0.95, 2],  # a car
        [0, 0, 50, 50, SCORE_THRESHOLD - 0.01, 0],  # too weak
        [10, 300, 30, 400, 0.8, 0],  # in the padding below the frame: no box left after clipping
    ])
    boxes, scores = decode_detections(raw, m, 1024, 512)
    assert scores.tolist() == pytest.approx([0.9, 0.5])
    assert boxes[1].tolist() == pytest.approx([10, 20, 100, 200], abs=1e-3)
    assert boxes[0].tolist() == pytest.approx([400, 0, 100, 100], abs=1e-3)


def test_nms_drops_the_less_confident_of_two_overlapping_boxes_only():
    boxes = np.array([[0, 0, 100, 100], [5, 5, 100, 100], [300, 0, 50, 50]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.1])).tolist() == [1, 2]
    assert box_iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(95 * 95 / (2 * 10000 - 95 * 95))


# ------------------------------------------------------------------ the shipped model

def test_the_registry_default_is_the_shipped_offline_detector():
    assert DEFAULT_DETECTOR == "centernet" and DETECTORS["centernet"].kind == "shipped"
    assert CENTERNET.file().stat().st_size == CENTERNET.size_bytes < 15e6
    assert load_detector("default").name == "centernet"


def test_it_finds_each_of_the_four_people_of_the_group_photo(detector):
    boxes, scores = detector(read_image(GROUP))
    gt = np.array([p["bbox"] for p in GROUP_GT["people"]])
    assert len(gt) == 4 and len(boxes) == IN_GROUP
    assert (box_iou(gt, boxes).max(axis=1) > 0.6).all()
    assert boxes[-1][0] < 5 and boxes[-1][2] < 40  # the least confident: the one at the left edge
    assert (scores >= SCORE_THRESHOLD).all() and (np.diff(scores) <= 0).all()


def test_it_finds_messi_alone(detector):
    boxes, scores = detector(read_image(MESSI))
    assert len(boxes) == 1 and 200 < boxes[0][0] < 260 and boxes[0][3] > 400


def test_a_photo_with_nobody_gives_no_boxes(detector):
    boxes, scores = detector(np.full((300, 400, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5, 3), (17, 4000, 3)])
def test_tiny_and_extreme_images_work(detector, shape):
    boxes, _ = detector(np.zeros(shape, np.uint8))
    assert boxes.shape[1] == 4


@pytest.mark.slow
def test_a_40_megapixel_photo_is_detected_on_a_small_copy_without_a_memory_spike(detector):
    small = read_image(GROUP)
    big = cv2.resize(small, (7680, 5064), interpolation=cv2.INTER_LINEAR)  # 38.9 MP
    tracemalloc.start()
    boxes, _ = detector(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated for a {big.nbytes / 1e6:.0f} MB photo"
    gt = np.array([p["bbox"] for p in GROUP_GT["people"]]) * 12  # the same people, 12x larger
    assert len(boxes) == IN_GROUP and (box_iou(gt, boxes).max(axis=1) > 0.6).all()


def _checkout_with(tmp_path, change):
    """A copy of the checkout's weights/ under $HPE_ROOT, with the detector file changed by ``change``."""
    (tmp_path / "weights").mkdir()
    shutil.copy(REPO / "weights" / "hpe_default.pt", tmp_path / "weights" / "hpe_default.pt")
    target = tmp_path / CENTERNET.path
    shutil.copy(CENTERNET.file(), target)
    change(target)
    return tmp_path


@pytest.mark.parametrize("change, words", [
    (lambda p: p.unlink(), "is missing"),
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "is not the shipped one"),
    (lambda p: p.write_bytes(p.read_bytes()[:-8] + b"tampered"), "is not the shipped one"),
])
def test_a_missing_or_tampered_detector_file_is_one_line_naming_it_and_how_to_restore_it(
        tmp_path, monkeypatch, capsys, change, words):
    root = _checkout_with(tmp_path, change)
    monkeypatch.setenv("HPE_ROOT", str(root))
    with pytest.raises(WeightsError) as e:
        check_model_file(CENTERNET)
    msg = str(e.value)
    assert words in msg and str(root / CENTERNET.path) in msg and "git checkout" in msg and "\n" not in msg
    assert main(["predict", str(MESSI), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "person_detector_centernet.onnx" in err
    assert main(["predict", str(MESSI), "-q", "--detector", "none"]) == 0  # the way around it works


# ------------------------------------------------------------------ the default wherever no boxes are given

def test_predictor_poses_every_detected_person_with_the_detector_s_score(predictor):
    res = predictor(GROUP)
    rec = res.to_json()
    assert rec["detector"] == "centernet" and rec["detected"] == IN_GROUP and len(rec["people"]) == IN_GROUP
    assert all(isinstance(p["box_score"], float) and p["box_score"] >= SCORE_THRESHOLD for p in rec["people"])
    assert all(p["weak"] is False for p in rec["people"][:4])
    gt = np.array([p["bbox"] for p in GROUP_GT["people"]])
    assert (box_iou(gt, np.array([p["box"] for p in rec["people"]])).max(axis=1) > 0.6).all()


def test_without_a_detector_the_whole_image_is_one_person(predictor):
    res = Predictor(predictor.weights, detector=None)(GROUP)
    assert len(res.people) == 1 and res.people[0].box.tolist() == [0, 0, 640, 422]
    assert res.to_json()["detector"] is None and res.people[0].box_score is None


def test_every_given_box_yields_a_person_weak_poses_marked_never_dropped(predictor):
    gt = [p["bbox"] for p in GROUP_GT["people"]]
    given = [*gt, gt[0], [600, 5, 30, 30]]  # a duplicate box and a box on the wall: still people, as asked
    res = predictor(GROUP, boxes=given)
    assert len(res.people) == len(given) and res.detector is None and res.detected is None
    assert np.allclose([p.box for p in res.people], given, atol=1e-3)
    assert all(p.box_score is None for p in res.people)
    assert res.people[-1].weak and not res.people[1].weak


def test_max_people_keeps_the_most_confident_and_counts_them_all(predictor):
    res = Predictor(predictor.weights, max_people=2)(GROUP)
    assert res.detected == IN_GROUP and len(res.people) == 2 and res.capped
    scores = sorted((p.box_score for p in predictor(GROUP).people), reverse=True)
    assert sorted((p.box_score for p in res.people), reverse=True) == pytest.approx(scores[:2])
    with pytest.raises(InputError, match="max_people"):
        Predictor(predictor.weights, max_people=0)
    assert MAX_PEOPLE >= 10


def test_hpe_predict_finds_everyone_and_reports_box_score(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["predict", str(GROUP), "--json", str(out), "--out", str(tmp_path), "-q"]) == 0
    rec = json.loads(out.read_text())[0]
    assert len(rec["people"]) == IN_GROUP and all(p["box_score"] > 0 for p in rec["people"])
    assert (tmp_path / f"{GROUP.stem}_pose.png").exists()


def test_hpe_predict_on_nobody_gives_no_people_exit_0_and_a_note(tmp_path, capsys):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((200, 300, 3), 128, np.uint8))
    out = tmp_path / "o.json"
    assert main(["predict", str(grey), "--json", str(out), "-q"]) == 0
    assert json.loads(out.read_text())[0]["people"] == []
    err = capsys.readouterr().err
    assert "found nobody" in err and "--detector none" in err


def test_hpe_predict_max_people_reports_how_many_were_found(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["predict", str(GROUP), "--json", str(out), "-q", "--max-people", "2"]) == 0
    assert len(json.loads(out.read_text())[0]["people"]) == 2
    assert f"{IN_GROUP} people found; posed the 2 most confident" in capsys.readouterr().err


def test_hpe_predict_boxes_are_kept_and_the_rest_detected(tmp_path):
    boxes = tmp_path / "b.json"
    boxes.write_text(json.dumps({str(MESSI): [[600, 20, 40, 40]]}))
    out = tmp_path / "o.json"
    assert main(["predict", str(MESSI), str(GROUP), "--boxes", str(boxes), "--json", str(out), "-q"]) == 0
    messi, group = json.loads(out.read_text())
    assert len(messi["people"]) == 1 and messi["people"][0]["box_score"] is None and messi["detector"] is None
    assert len(group["people"]) == IN_GROUP and group["detector"] == "centernet"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare for a network namespace")
def test_hpe_predict_runs_with_no_network_at_all(tmp_path):
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.decode().strip()}")
    out = tmp_path / "o.json"
    done = subprocess.run(["unshare", "-rn", sys.executable, "-m", "hpe_utils.cli", "predict", str(GROUP),
                           "--json", str(out), "-q"], capture_output=True, text=True, timeout=300,
                          env={"HPE_BACKEND": "torch", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "HPE_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())[0]["people"]) == IN_GROUP


# ------------------------------------------------------------------ the REST API and the Lambda handler

def test_serve_predict_detects_everyone_and_keeps_given_boxes(predictor):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hpe_utils.serve import create_app

    client = TestClient(create_app(predictor=predictor, web_site=None))
    data = GROUP.read_bytes()
    rec = client.post("/predict", content=data).json()
    assert rec["detector"] == "centernet" and len(rec["people"]) == IN_GROUP
    assert all(p["box_score"] >= SCORE_THRESHOLD for p in rec["people"])
    rec = client.post("/predict", params={"boxes": "[[10, 10, 100, 200]]"}, content=data).json()
    assert len(rec["people"]) == 1 and rec["people"][0]["box_score"] is None
    assert client.get("/health").json()["detector"] == "centernet"
    png = client.post("/predict", params={"format": "png"}, content=data)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"


def test_the_lambda_handler_detects_everyone(predictor):
    import base64

    from hpe_utils.serve import lambda_handler

    event = {"body": base64.b64encode(GROUP.read_bytes()).decode(), "isBase64Encoded": True,
             "headers": {"content-type": "image/jpeg"}, "requestContext": {"http": {"method": "POST"}}}
    res = lambda_handler(event, predictor=predictor)
    assert res["statusCode"] == 200, res
    rec = json.loads(res["body"])
    assert len(rec["people"]) == IN_GROUP and rec["detector"] == "centernet"


# ------------------------------------------------------------------ parity with the original runtime

TFJS = json.loads((REPO / "tests" / "fixtures" / "centernet_tfjs_reference.json").read_text())


@pytest.mark.parametrize("image", sorted(TFJS["images"]))
def test_the_onnx_file_matches_tf_js_on_the_original_graph_within_a_pixel(detector, image):
    """TF.js's own answers were recorded by tools/human_models/convert.py: ONNX Runtime must give the same."""
    ref = np.asarray(TFJS["images"][image], dtype=np.float64).reshape(-1, 6)
    raw, _ = detector.raw(read_image(REPO / image))
    got = raw[raw[:, 4] >= 0.1 - 1e-3]
    assert len(ref) > 0
    for row in ref:  # each recorded detection has its twin: same class, box within 1 px, score within 1e-3
        # (one centre peak gives the same box to every class it scores: match class and score too)
        d = np.abs(got[:, :4] - row[:4]).max(axis=1) + 1e3 * np.abs(got[:, 4] - row[4]) + 1e6 * (got[:, 5] != row[5])
        j = int(np.argmin(d))
        assert np.abs(got[j, :4] - row[:4]).max() <= 1.0 and abs(got[j, 4] - row[4]) <= 1e-3 and got[j, 5] == row[5]
    assert abs(len(got) - len(ref)) <= 1  # nothing extra, bar one row exactly at the 0.1 cut
