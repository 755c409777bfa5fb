"""course_weights(): mmpose's ResNet-50 where it can be fetched and verified, the embedded default otherwise.

Every download here comes from conftest's file server on 127.0.0.1. The served file is a small stand-in for mmpose's
checkpoint, in mmpose 1.x's key layout (``backbone.*``, ``head.*``); the registry entry is patched to point at it
with the stand-in's SHA-256 (and its depth: a ResNet-18 keeps the file at 22 MB instead of mmpose's 100 MB).
"""
import dataclasses
import hashlib
import io

import numpy as np
import pytest
import torch

from hpe_utils import Predictor
from hpe_utils.model import PoseResNet
from hpe_utils.weights import (COURSE_WEIGHTS, OFFLINE_ENV, WEIGHTS, ChecksumError, WeightsError, course_weights,
                               offline)


@pytest.fixture(scope="module")
def mmpose_like():
    """(bytes of an mmpose-1.x-style COCO-17 checkpoint, the network it came from)."""
    torch.manual_seed(0)
    net = PoseResNet(depth=18, num_joints=17).eval()
    sd = {(f"backbone.{k}" if k.startswith(("conv1", "bn1", "layer")) else f"head.{k}"): v.half()
          if v.is_floating_point() else v for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"meta": {"mmpose_version": "1.0.0", "dataset_meta": {"dataset_name": "coco"}}, "state_dict": sd}, buf)
    return buf.getvalue(), net


@pytest.fixture
def course(file_server, tmp_path, monkeypatch, mmpose_like):
    """The course entry served from 127.0.0.1 with an empty cache: (folder served, handler, entry, checkpoint bytes)."""
    root, url, handler = file_server
    data, _ = mmpose_like
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    real = WEIGHTS[COURSE_WEIGHTS]
    entry = dataclasses.replace(real, urls=(f"{url}/{real.filename}",), sha256=hashlib.sha256(data).hexdigest(),
                                depth=18)
    monkeypatch.setitem(WEIGHTS, COURSE_WEIGHTS, entry)  # type: ignore[index]
    return root, handler, entry, data


def test_the_course_names_mmposes_resnet50_with_its_recipe():
    e = WEIGHTS[COURSE_WEIGHTS]
    assert (e.name, e.depth, e.metric, e.key_format) == ("mmpose_coco_r50_256x192", 50, "COCO AP 71.8", "mmpose_v1")
    assert (e.color_order, e.input_size, e.skeleton) == ("rgb", (192, 256), "coco17")
    assert e.urls[0].startswith("https://download.openmmlab.com/") and e.sha256 == "04af38ce"


def test_with_downloads_allowed_it_loads_the_mmpose_entry_and_its_preprocessing(course, mmpose_like, tmp_path):
    root, handler, entry, data = course
    (root / entry.filename).write_bytes(data)
    lines: list[str] = []
    lw = course_weights(progress=False, log=lines.append)
    assert lw.name == COURSE_WEIGHTS and lw.entry == entry
    assert (lw.color_order, lw.input_size, lw.skeleton.name) == ("rgb", (192, 256), "coco17")
    x = torch.randn(1, 3, 256, 192)
    with torch.no_grad():  # the served tensors, not some other weights (fp16 storage: 1e-2)
        assert (lw.model(x) - mmpose_like[1](x)).abs().max().item() < 1e-2
    assert lines == [f"course weights: {COURSE_WEIGHTS} (ResNet-18, RGB 256x192, coco17), downloaded, SHA-256 checked"]
    assert handler.requests == [f"/{entry.filename}"] and (tmp_path / "cache" / entry.filename).exists()
    predictor = Predictor(lw, backend="torch", detector=None)
    assert predictor.input_size == (192, 256) and predictor.color_order == "rgb"
    person = predictor(np.zeros((120, 90, 3), np.uint8)).people[0]
    assert person.keypoints.shape == (17, 2)
    lines.clear()
    course_weights(progress=False, log=lines.append)  # the second run reads the verified cache
    assert lines[0].endswith("from the cache, SHA-256 checked") and len(handler.requests) == 1


def test_offline_it_returns_default_says_why_and_asks_no_server(course, monkeypatch):
    root, handler, entry, data = course
    (root / entry.filename).write_bytes(data)
    monkeypatch.setenv(OFFLINE_ENV, "1")
    assert offline()
    lines: list[str] = []
    lw = course_weights(log=lines.append)
    assert lw.name == "default" and lw.skeleton.name == "mpii16" and lw.input_size == (192, 192)
    assert lines == [f"course weights: default (ResNet-18, RGB 192x192, mpii16); ${OFFLINE_ENV} is set, so "
                     f"{COURSE_WEIGHTS} (COCO AP 71.8) was not downloaded"]
    assert handler.requests == []
    with pytest.raises(WeightsError, match=OFFLINE_ENV):
        course_weights(fallback=None, log=lines.append)
    monkeypatch.setenv(OFFLINE_ENV, "0")  # "0" and "" mean: downloads allowed
    assert not offline()


def test_a_tampered_file_is_never_loaded(course, tmp_path):
    root, handler, entry, data = course
    cached = tmp_path / "cache" / entry.filename
    (root / entry.filename).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit changed
    lines: list[str] = []
    lw = course_weights(progress=False, log=lines.append)
    assert lw.name == "default" and len(lines) == 1
    assert f"{COURSE_WEIGHTS} (COCO AP 71.8) failed its SHA-256 check" in lines[0]
    assert "SHA-256 mismatch" in lines[0] and "the file was deleted" in lines[0]
    assert not cached.exists()
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        course_weights(progress=False, fallback=None)
    # a cached copy that no longer verifies is fetched again, not loaded
    (root / entry.filename).write_bytes(data)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"not the checkpoint")
    lines.clear()
    assert course_weights(progress=False, log=lines.append).name == COURSE_WEIGHTS
    assert lines[0].endswith("downloaded, SHA-256 checked") and cached.read_bytes() == data


def test_an_unreachable_file_falls_back_in_one_line_naming_the_url(course):
    _, _, entry, _ = course  # nothing served: 404
    lines: list[str] = []
    assert course_weights(progress=False, log=lines.append).name == "default"
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f"could not be loaded: cannot download {entry.urls[0]}" in lines[0]
