"""Clips with known ground truth (hpe_utils.synthetic) and the tracking benchmark's metrics (bench/tracking.py)."""
import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_utils.errors import InputError
from hpe_utils.skeletons import COCO17, MPII16
from hpe_utils.synthetic import (MPII_EVALUATED, AnnotatedPerson, Extra, coco_people, coco_to_mpii, make_clip,
                                 person_mask)

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
SIZE = (320, 180)


@functools.lru_cache(maxsize=None)
def _sample(name: str) -> tuple[np.ndarray, AnnotatedPerson]:
    """A shipped COCO photo (RGB) and its annotated person."""
    data = json.loads((SAMPLES / "coco_keypoints.json").read_text())
    image = cv2.cvtColor(cv2.imread(str(SAMPLES / name)), cv2.COLOR_BGR2RGB)
    image.flags.writeable = False
    return image, coco_people(data, name)[0]


def street_clip(n: int = 12, seed: int = 0, **kw):
    """The man of sample 234748 in his street, the woman of 535506 and the child of 37666 walking across."""
    image, man = _sample("coco_000000234748.jpg")
    extras = [Extra(*_sample("coco_000000535506.jpg")), Extra(*_sample("coco_000000037666.jpg"))]
    return make_clip(image, [man], n, SIZE, seed, extras=extras, **kw)


@functools.lru_cache(maxsize=None)
def bench():
    """bench/tracking.py as a module (its metric code)."""
    spec = importlib.util.spec_from_file_location("bench_tracking", REPO / "bench" / "tracking.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _pixel(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    x, y = np.round(xy).astype(int)
    return image[y, x].astype(float)


# ------------------------------------------------------------------ the clip's ground truth

@pytest.mark.parametrize("mirror", [False, True])
def test_a_pasted_persons_visible_keypoints_land_on_its_own_pixels(mirror):
    _, woman = _sample("coco_000000535506.jpg")
    h, w = 480, 360  # her photo's size; its pixels replaced by their own coordinates: R = x, G = y (scaled)
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    coded = np.dstack([xs * 255 / (w - 1), ys * 255 / (h - 1), np.full((h, w), 128.0)]).round().astype(np.uint8)
    blue = np.zeros((300, 480, 3), np.uint8)
    blue[..., 2] = 255  # the background: B = 255, never the person's 128
    clip = make_clip(blue, [], 8, SIZE, 3, extras=[Extra(coded, woman)], mirror=mirror, shake=0)
    perm = COCO17.flip_permutation() if mirror else np.arange(COCO17.num_joints)
    checked = 0
    for t in range(len(clip)):
        for j in np.flatnonzero(clip.visible[t, 0]):
            r, g, b = _pixel(clip.frames[t], clip.keypoints[t, 0, j])
            assert abs(b - 128) < 3, f"frame {t} joint {j} is not on her pixels"
            source = woman.keypoints[perm[j], :2]  # mirrored: her left joint shows the photo's right one
            np.testing.assert_allclose([r * (w - 1) / 255, g * (h - 1) / 255], source, atol=6,
                                       err_msg=f"frame {t} joint {j}")
            checked += 1
    assert checked >= 8 * 8


def test_the_photos_people_follow_the_camera_and_hidden_joints_are_not_visible():
    clip = street_clip(30)
    image, man = _sample("coco_000000234748.jpg")
    w, h = clip.size
    inside = (clip.keypoints[..., 0] >= 0) & (clip.keypoints[..., 0] <= w - 1) \
        & (clip.keypoints[..., 1] >= 0) & (clip.keypoints[..., 1] <= h - 1)
    assert not (clip.visible & ~inside).any()  # a joint outside the frame is never visible
    labelled_visible = man.keypoints[:, 2] == 2
    hidden = inside[:, 0] & labelled_visible & ~clip.visible[:, 0]
    assert hidden.any(), "the walkers never cross the man"
    same = seen = 0
    for t in range(len(clip)):
        expected = clip.cameras[t, :2, :2] @ man.keypoints[:, :2].T + clip.cameras[t, :2, 2:]
        np.testing.assert_allclose(clip.keypoints[t, 0][man.labelled], expected.T[man.labelled])
        assert np.isnan(clip.keypoints[t, 0][~man.labelled]).all()
        photo = cv2.warpAffine(image, clip.cameras[t, :2], (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT101)
        for j in np.flatnonzero(clip.visible[t, 0]):  # where he is seen, the frame shows his photo's pixels
            xy = clip.keypoints[t, 0, j]
            same += np.abs(_pixel(clip.frames[t], xy) - _pixel(photo, xy)).max() <= 3
            seen += 1
        for j in np.flatnonzero(hidden[t]):  # where he is hidden, a walker's pixels
            xy = clip.keypoints[t, 0, j]
            assert np.abs(_pixel(clip.frames[t], xy) - _pixel(photo, xy)).max() > 0
    assert same >= 0.9 * seen  # (a walker's soft edge, under the 0.5 that hides a joint, may tint a few)


def test_identities_are_stable_people_move_smoothly_and_boxes_hold_them():
    clip = street_clip(30, shake=0)
    assert clip.ids.tolist() == [0, 1, 2] and clip.pasted.tolist() == [False, True, True]
    centre = np.nanmean(clip.keypoints, axis=2)  # (T, P, 2)
    step = np.linalg.norm(np.diff(centre, axis=0), axis=-1)
    gap = min(np.linalg.norm(centre[0, a] - centre[0, b]) for a in range(3) for b in range(a + 1, 3))
    assert step.max() < 12 and step.max() < gap / 2  # no person jumps onto another's place between frames
    for t in range(len(clip)):
        for p in range(3):
            x, y, bw, bh = clip.boxes[t, p]
            k = clip.keypoints[t, p][clip.visible[t, p]]
            assert ((k >= [x - 1, y - 1]) & (k <= [x + bw + 1, y + bh + 1])).all()
    assert np.isfinite(clip.torso).all() and (clip.torso > 10).all()


def test_the_same_seed_makes_the_same_clip_and_another_seed_another():
    a, b, c = street_clip(6, seed=5), street_clip(6, seed=5), street_clip(6, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.visible, b.visible)
    assert not np.allclose(a.keypoints, c.keypoints, equal_nan=True)


def test_coco_ground_truth_maps_to_mpii_body_joints_and_midpoints():
    kps = np.arange(34, dtype=float).reshape(17, 2)
    vis = np.ones(17, bool)
    vis[COCO17.index("left_hip")] = False
    out, ov = coco_to_mpii(kps, vis)
    assert out[MPII16.index("r_ankle")].tolist() == kps[COCO17.index("right_ankle")].tolist()
    np.testing.assert_allclose(out[MPII16.index("thorax")],
                               (kps[COCO17.index("left_shoulder")] + kps[COCO17.index("right_shoulder")]) / 2)
    assert not ov[MPII16.index("pelvis")] and not ov[MPII16.index("l_hip")]  # a midpoint needs both ends
    assert not ov[MPII16.index("head_top")] and np.isnan(out[MPII16.index("upper_neck")]).all()
    head = [MPII16.index("upper_neck"), MPII16.index("head_top")]
    assert MPII_EVALUATED.sum() == 14 and not MPII_EVALUATED[head].any()


def test_a_cut_out_is_soft_at_its_edge_and_covers_every_labelled_joint():
    _, man = _sample("coco_000000234748.jpg")
    mask = person_mask(man, (319, 480))
    k = man.keypoints[man.labelled, :2].round().astype(int)
    assert (mask[k[:, 1], k[:, 0]] > 0.99).all()
    assert ((mask > 0.05) & (mask < 0.95)).any() and mask.max() <= 1 and mask.min() >= 0


def test_bad_clip_requests_are_refused_with_one_clear_error():
    image, man = _sample("coco_000000234748.jpg")
    for kwargs in ({"n_frames": 0}, {"size": (8, 8)}, {"zoom": 0.5}):
        args = {"image": image, "people": [man], "n_frames": 3, **kwargs}
        with pytest.raises(InputError):
            make_clip(**args)
    with pytest.raises(InputError, match="RGB uint8"):
        make_clip(image.astype(np.float32), [man], 3)
    with pytest.raises(InputError, match="at least one person"):
        make_clip(image, [], 3)
    with pytest.raises(InputError, match="17, 3"):
        AnnotatedPerson(np.zeros((16, 3)))


# ------------------------------------------------------------------ the benchmark's metrics

def _perfect(clip):
    """Per frame, every person with a visible joint predicted exactly where the ground truth is, id = identity."""
    kps, vis = clip.mpii()
    out = []
    for t in range(len(clip)):
        frame = []
        for p in range(kps.shape[1]):
            if vis[t, p].any():
                frame.append((p, np.nan_to_num(kps[t, p]), np.where(MPII_EVALUATED, 0.9, 0.1)))
        out.append(frame)
    return out


def test_perfect_predictions_score_mota_1_and_no_id_switch():
    pytest.importorskip("motmetrics")
    b = bench()
    clip = street_clip(5, shake=0, zoom_swing=0, rotate=0)  # camera and walkers at constant speed
    scores = b.evaluate(b.Truth.of(clip), _perfect(clip))
    assert scores.mota == 1.0 and scores.idf1 == 1.0 and scores.switches == 0
    assert scores.pck == 1.0 and scores.false_positives == scores.misses == 0 and scores.objects > 0
    assert scores.jitter_samples > 0 and scores.jitter < 1e-6  # nothing accelerates: no jitter


def test_swapped_ids_are_id_switches():
    pytest.importorskip("motmetrics")
    b = bench()
    clip = street_clip(5, shake=0)
    preds = _perfect(clip)
    assert all({0, 1} <= {i for i, _, _ in f} for f in preds[3:])
    for t in (3, 4):  # persons 0 and 1 trade ids for the last two frames
        preds[t] = [({0: 1, 1: 0}.get(i, i), k, s) for i, k, s in preds[t]]
    scores = b.evaluate(b.Truth.of(clip), preds)
    assert scores.switches >= 2 and scores.mota < 1.0
    assert scores.pck == 1.0  # keypoints are still right: only the ids are wrong


def test_a_pose_far_from_everyone_is_a_false_positive_and_a_missing_one_a_miss():
    pytest.importorskip("motmetrics")
    b = bench()
    clip = street_clip(5)
    preds = _perfect(clip)
    k0 = preds[2][0][1]
    preds[2] = preds[2][1:] + [(99, k0 + 1000.0, np.full(16, 0.9))]
    scores = b.evaluate(b.Truth.of(clip), preds)
    assert scores.false_positives == 1 and scores.misses == 1


@pytest.mark.slow
def test_the_benchmark_prints_the_variant_table(tmp_path):
    pytest.importorskip("motmetrics")
    out = tmp_path / "t.md"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "tracking.py"), "--frames", "6", "--clips", "1",
                        "--boxes", "propagate", "--backend", "torch", "--speed-frames", "0", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    for v in ("(i) no tracking", "(ii) greedy IoU", "(iii) greedy OKS", "(iv) flow + OKS", "(v) (iv) + One-Euro"):
        assert v in text
    assert "| MOTA | IDF1 | ID switches |" in text
