"""Person detectors: torchvision's weights fetched once and hash-checked (from 127.0.0.1 here), users' own checked."""
import hashlib

import numpy as np
import pytest
import torch

from hpe_utils.detect import (DETECTORS, CheckedDetector, DetectorEntry, TorchvisionDetector, _load_state,
                              check_detections, load_detector)
from hpe_utils.errors import ChecksumError, DetectorError, InputError, WeightsError

FRAME = np.zeros((60, 80, 3), np.uint8)


@pytest.fixture
def server(file_server):
    """The loopback file server of conftest: (folder, URL, handler with .requests)."""
    return file_server


def _tiny_faster_rcnn() -> torch.nn.Module:
    """A Faster R-CNN with torchvision's heads on a one-layer backbone: the real code path, a 100 kB state dict."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.ReLU())
    backbone.out_channels = 8
    return FasterRCNN(backbone, rpn_anchor_generator=AnchorGenerator(((16, 32),), ((1.0,),)),
                      box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_head=TwoMLPHead(8 * 49, 32),
                      box_predictor=FastRCNNPredictor(32, 91), min_size=64, max_size=96)


@pytest.fixture
def served_entry(server, tmp_path, monkeypatch):
    """A detector entry whose weights (a tiny Faster R-CNN's) are served on 127.0.0.1 under a torchvision-style name."""
    root, url, handler = server
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "w.pth"
    torch.save(_tiny_faster_rcnn().state_dict(), src)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    name = f"tiny_frcnn-{sha[:8]}.pth"
    (root / name).write_bytes(src.read_bytes())
    return DetectorEntry("tiny_frcnn", f"{url}/{name}", sha[:8], _tiny_faster_rcnn, "test"), root, handler


def test_the_weights_download_once_into_the_cache_and_load_weights_only(served_entry, tmp_path):
    entry, _, handler = served_entry
    det = TorchvisionDetector(entry, progress=False)
    assert (tmp_path / "cache" / entry.filename).exists()
    boxes, scores = det(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    assert boxes.dtype == np.float32 and boxes.shape[1:] == (4,) and scores.shape == (len(boxes),)
    TorchvisionDetector(entry, progress=False)  # the cached file verifies: no second request
    assert handler.requests == [f"/{entry.filename}"]


def test_a_tampered_download_is_deleted_and_refused(served_entry, tmp_path):
    entry, root, _ = served_entry
    (root / entry.filename).write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        TorchvisionDetector(entry, progress=False)
    assert not list((tmp_path / "cache").glob("tiny*"))


def test_weights_that_cannot_be_fetched_name_the_url_the_cache_path_and_the_way_out(served_entry, tmp_path):
    entry, root, _ = served_entry
    (root / entry.filename).unlink()
    with pytest.raises(WeightsError) as e:
        TorchvisionDetector(entry, progress=False)
    msg = str(e.value)
    assert entry.url in msg and str(tmp_path / "cache" / entry.filename) in msg and "--detector none" in msg
    with pytest.raises(WeightsError, match="not in .*--detector none"):
        TorchvisionDetector(entry, download=False)


def test_only_people_come_out_as_xywh_boxes(served_entry):
    det = TorchvisionDetector(served_entry[0], progress=False)
    det.model = lambda frames: [{"boxes": torch.tensor([[10.0, 20, 50, 80], [0, 0, 5, 5]]),
                                 "labels": torch.tensor([1, 3]), "scores": torch.tensor([0.9, 0.8])}]
    boxes, scores = det(FRAME)
    assert boxes.tolist() == [[10, 20, 40, 60]] and scores.tolist() == [pytest.approx(0.9)]


def test_the_registry_holds_torchvision_s_own_urls_and_the_hash_in_their_names():
    from torchvision.models.detection import (FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
                                              FasterRCNN_MobileNet_V3_Large_FPN_Weights)

    published = {"fasterrcnn_mobilenet_v3_large_fpn": FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1.url,
                 "fasterrcnn_mobilenet_v3_large_320_fpn": FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1.url}
    torchvision = {n: e for n, e in DETECTORS.items() if e.kind == "torchvision"}
    assert set(torchvision) == set(published)
    for name, entry in torchvision.items():
        assert entry.url == published[name]
        assert entry.filename.endswith(f"-{entry.sha256}.pth")  # torch.hub checks this SHA-256 prefix too


def test_the_real_architecture_takes_a_state_dict_shaped_like_torchvision_s(tmp_path):
    entry = DETECTORS["fasterrcnn_mobilenet_v3_large_320_fpn"]
    model = entry.build()
    # torchvision's file comes from a model with frozen BatchNorms: no num_batches_tracked counters
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, tmp_path / "w.pth")
    _load_state(entry.build(), tmp_path / "w.pth", entry.name)
    sd.pop("roi_heads.box_predictor.cls_score.bias")
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="does not fit"):
        _load_state(entry.build(), tmp_path / "bad.pth", entry.name)


# ------------------------------------------------------------------ users' detectors

def test_none_means_no_detector_and_a_callable_is_wrapped():
    assert load_detector("none") is None and load_detector(None) is None
    det = load_detector(lambda f: ([[1, 2, 3, 4]], [0.9]))
    boxes, scores = det(FRAME)
    assert boxes.dtype == np.float32 and boxes.tolist() == [[1, 2, 3, 4]] and scores.shape == (1,)


def test_module_function_loads_from_the_path_or_a_py_file(tmp_path, monkeypatch):
    (tmp_path / "mydet.py").write_text("def find(frame):\n    return [[0, 0, frame.shape[1], frame.shape[0]]], [1.0]\n")
    monkeypatch.chdir(tmp_path)  # `hpe track --detector mydet:find` from the folder holding mydet.py
    assert load_detector("mydet:find")(FRAME)[0].tolist() == [[0, 0, 80, 60]]
    det = load_detector(f"{tmp_path / 'mydet.py'}:find")
    assert det.name.endswith("mydet.py:find") and len(det(FRAME)[0]) == 1


@pytest.mark.parametrize("spec, words", [
    ("nosuchmodule_xyz:find", "no module named 'nosuchmodule_xyz'"),
    ("mydet:missing", "mydet has no 'missing'"),
    ("mydet:VALUE", "VALUE is a int, not a function"),
    ("mydet", "use default, none, centernet, fasterrcnn_mobilenet_v3_large_fpn"),
    ("broken:find", "importing broken raised ZeroDivisionError"),
    ("nofile.py:find", "no file nofile.py"),
])
def test_a_detector_that_cannot_be_loaded_is_named_in_one_line(spec, words, tmp_path, monkeypatch):
    (tmp_path / "mydet.py").write_text("VALUE = 3\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DetectorError) as e:
        load_detector(spec)
    assert words in str(e.value) and "\n" not in str(e.value) and isinstance(e.value, InputError)


def test_a_detector_that_raises_is_named_with_its_error():
    def explode(frame):
        raise RuntimeError("GPU on fire")

    with pytest.raises(DetectorError, match="detector explode raised RuntimeError: GPU on fire"):
        load_detector(explode)(FRAME)


@pytest.mark.parametrize("out, words", [
    (None, "returned a NoneType; it must return (boxes, scores)"),
    (([[1, 2, 3, 4]],), "returned a tuple"),
    (([[1, 2, 3]], [0.5]), "boxes of shape (1, 3)"),
    (([["a", 2, 3, 4]], [0.5]), "not arrays of numbers"),
    (([[1, 2, 3, 4]], [0.5, 0.6]), "1 boxes but scores of shape (2,)"),
    (([[1, 2, np.nan, 4]], [0.5]), "NaN or infinite"),
    (([[10, 10, -3, 4]], [0.5]), "width or height <= 0"),
    (([[500, 10, 30, 40]], [0.5]), "outside the 80x60 frame"),
])
def test_a_detector_returning_garbage_is_named_and_told_the_format(out, words):
    with pytest.raises(DetectorError) as e:
        CheckedDetector(lambda f: out, "mine:find")(FRAME)
    assert str(e.value).startswith("detector mine:find ") and words in str(e.value)


def test_no_people_is_a_valid_answer():
    boxes, scores = check_detections(([], []), "x")
    assert boxes.shape == (0, 4) and scores.shape == (0,)
