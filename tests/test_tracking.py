"""The paper's tracker (hpe_utils.tracking): OKS, greedy matching, NMS, boxes, flow, One-Euro, ids over real frames."""
import functools
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from hpe_utils.errors import InputError
from hpe_utils.skeletons import COCO17, MPII16
from hpe_utils.tracking import (FLOWS, OKS_SIGMAS, Flow, OneEuroFilter, PoseTracker, box_from_joints, greedy_match,
                                iou_matrix, nms, oks, oks_matrix)

DATA = Path(__file__).resolve().parent.parent / "data"
SIZE = (640, 360)


@functools.lru_cache(maxsize=None)
def _messi() -> tuple[np.ndarray, np.ndarray]:
    """The Messi photo (BGR, full size) and its manual MPII-16 keypoints (16, 2)."""
    image = cv2.imread(str(DATA / "messi_kick.webp"))
    kp = json.loads((DATA / "messi_kick_manual_keypoints.json").read_text())["keypoints"]
    return image, np.array([kp[j] for j in MPII16.joints], dtype=np.float64)


def messi_640() -> tuple[np.ndarray, np.ndarray]:
    """The photo resized to 640x360 and its keypoints in that frame."""
    image, kp = _messi()
    h, w = image.shape[:2]
    return cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA), kp * [SIZE[0] / w, SIZE[1] / h]


def shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (image.shape[1], image.shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def confident(kps: np.ndarray, score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(kps, dtype=np.float64), np.full(len(kps), score)


# --- OKS -----------------------------------------------------------------------------------------------------------

def test_oks_is_one_for_identical_poses_and_falls_with_distance_as_cocos_formula():
    _, kp = messi_640()
    s = np.full(16, 0.9)
    sig = OKS_SIGMAS["mpii16"]
    assert oks(kp, s, kp, s, area=1e4, sigmas=sig) == 1.0
    values = []
    for d in (2.0, 5.0, 10.0, 20.0):
        moved = kp.copy()
        moved[0] += [d * 0.6, d * 0.8]  # r_ankle moves d px
        values.append(oks(kp, s, moved, s, area=1e4, sigmas=sig))
        e = d ** 2 / (2 * 1e4 * (2 * 0.089) ** 2)  # cocoeval: d² / vars / area / 2 with vars = (2σ)²; ankle σ .089
        assert values[-1] == pytest.approx((15 + math.exp(-e)) / 16, rel=1e-9)
    assert values == sorted(values, reverse=True) and values[-1] < values[0] < 1.0
    assert oks(kp, s, kp + 10, s, area=4e4, sigmas=sig) > oks(kp, s, kp + 10, s, area=1e4, sigmas=sig)  # scale-aware


def test_oks_matches_pycocotools_computeoks_on_coco17():
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    rng = np.random.default_rng(0)
    gt = rng.uniform(50, 250, (17, 2))
    dt = gt + rng.normal(0, 6, (17, 2))
    vis = np.ones(17)
    vis[[1, 4, 9]] = 0  # unlabelled in the ground truth: ignored, like a joint scored below the threshold
    area = 180.0 * 120.0
    ev = cocoeval.COCOeval(iouType="keypoints")
    ev._gts = {(1, 1): [{"keypoints": np.c_[gt, 2 * vis].ravel().tolist(), "area": area, "bbox": [0, 0, 300, 300]}]}
    ev._dts = {(1, 1): [{"keypoints": np.c_[dt, np.ones(17)].ravel().tolist(), "score": 1.0}]}
    expected = ev.computeOks(1, 1)[0, 0]
    assert np.allclose(OKS_SIGMAS["coco17"], ev.params.kpt_oks_sigmas)
    assert oks(dt, np.ones(17), gt, vis, area, OKS_SIGMAS["coco17"]) == pytest.approx(expected, rel=1e-9)


def test_oks_ignores_joints_either_pose_scores_below_the_threshold():
    _, kp = messi_640()
    s = np.full(16, 0.9)
    far = kp.copy()
    far[:4] += 200  # four joints way off ...
    low = s.copy()
    low[:4] = 0.39  # ... but not confident in one of the two poses
    sig = OKS_SIGMAS["mpii16"]
    assert oks(kp, s, far, low, 1e4, sig) == 1.0 and oks(kp, low, far, s, 1e4, sig) == 1.0
    assert oks(kp, s, far, s, 1e4, sig) < 0.8
    assert oks(kp, np.zeros(16), kp, s, 1e4, sig) == 0.0  # no joint counts
    assert oks(kp, low, far, s, 1e4, sig, joint_threshold=0.3) < 0.8


def test_oks_sigmas_are_cocos_and_mpii_takes_the_same_body_joints():
    coco = dict(zip(COCO17.joints, OKS_SIGMAS["coco17"]))
    assert [coco["nose"], coco["left_hip"], coco["right_ankle"]] == pytest.approx([0.026, 0.107, 0.089])
    mpii = dict(zip(MPII16.joints, OKS_SIGMAS["mpii16"]))
    for joint in ("ankle", "knee", "hip", "wrist", "elbow", "shoulder"):
        assert mpii[f"r_{joint}"] == coco[f"right_{joint}"] and mpii[f"l_{joint}"] == coco[f"left_{joint}"]
    assert mpii["pelvis"] == coco["left_hip"] and mpii["thorax"] == coco["left_shoulder"]
    assert len(OKS_SIGMAS["lsp14"]) == 14 and not OKS_SIGMAS["mpii16"].flags.writeable


def test_oks_matrix_takes_the_area_from_the_previous_poses_box():
    _, kp = messi_640()
    s = np.full(16, 0.9)
    small = (kp - kp.mean(0)) * 0.5 + kp.mean(0)  # the same person at half the size: a quarter of the area
    current = [confident(kp + 4), confident(small + 4)]
    m = oks_matrix(current, [confident(kp), confident(small)], OKS_SIGMAS["mpii16"])
    box = box_from_joints(kp, s, enlarge=0.0)
    assert m.shape == (2, 2)
    assert m[0, 0] == pytest.approx(oks(kp + 4, s, kp, s, box[2] * box[3], OKS_SIGMAS["mpii16"]))
    assert m[1, 1] < m[0, 0]  # 4 px matter more on a smaller person
    assert oks_matrix([], [confident(kp)], OKS_SIGMAS["mpii16"]).shape == (0, 1)
    assert oks_matrix(current, [(kp, np.zeros(16))], OKS_SIGMAS["mpii16"]).tolist() == [[0.0], [0.0]]


# --- matching, boxes, NMS ------------------------------------------------------------------------------------------

def test_greedy_takes_the_globally_best_pair_first_even_where_hungarian_would_not():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    # Hungarian maximises the sum: (0, 1) + (1, 0) = 1.65; greedy takes 0.9 first, then what is left
    assert greedy_match(sim, 0.05) == [(0, 0), (1, 1)]
    assert greedy_match(sim, 0.3) == [(0, 0)]  # (1, 1) is below the threshold: pose 1 starts a new track
    assert greedy_match(np.full((2, 2), 0.5), 0.1) == [(0, 0), (1, 1)]  # ties: lower indices first
    assert greedy_match(np.array([[0.3]]), 0.3) == []  # strictly above the threshold
    assert greedy_match(np.zeros((0, 3)), 0.3) == [] and greedy_match(np.zeros((2, 0)), 0.3) == []


def test_iou_matrix_of_xywh_boxes():
    m = iou_matrix([[0, 0, 10, 10], [100, 100, 5, 5]], [[5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]])
    assert m.shape == (2, 3)
    assert m[0].tolist() == pytest.approx([1 / 3, 1.0, 0.0]) and m[1].tolist() == [0.0, 0.0, 0.0]


def test_nms_keeps_the_highest_score_and_drops_its_overlaps_deterministically():
    boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]]
    assert nms(boxes, [0.9, 0.8, 0.95, 0.9]) == [2, 0]  # 1 overlaps 0 (IoU .68); 3 ties with 0, the lower index wins
    assert nms(boxes, [0.9, 0.8, 0.95, 0.9], iou_threshold=0.7) == [2, 0, 1]
    assert nms([], []) == []
    with pytest.raises(InputError):
        nms(boxes, [1.0])


def test_box_from_joints_is_enlarged_15_percent_about_the_centre_and_clipped_to_the_image():
    kps = np.array([[10.0, 20.0], [30.0, 60.0], [500.0, 500.0]])
    scores = np.array([0.9, 0.5, 0.1])  # the far joint is not confident: not in the box
    assert box_from_joints(kps, scores).tolist() == pytest.approx([8.5, 17.0, 23.0, 46.0])
    assert box_from_joints(kps, scores, enlarge=0.0).tolist() == [10.0, 20.0, 20.0, 40.0]
    assert box_from_joints(kps, scores, image_size=(25, 50)).tolist() == pytest.approx([8.5, 17.0, 16.5, 33.0])
    assert box_from_joints(kps, np.array([0.9, 0.1, 0.1])) is None  # fewer than two confident joints
    assert box_from_joints(kps + 1000, scores, image_size=(25, 50)) is None  # nothing left inside the image


# --- flow ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", FLOWS)
def test_flow_follows_the_joints_of_a_real_image_shifted_by_a_known_amount(method):
    image, kp = messi_640()
    prev, cur = (cv2.cvtColor(i, cv2.COLOR_BGR2GRAY) for i in (image, shift(image, 4, 3)))
    moved = Flow(method)(prev, cur, kp)
    assert moved.shape == (16, 2)
    assert np.abs(moved - (kp + [4, 3])).max() < 0.5
    assert np.abs(Flow(method)(prev, prev, kp) - kp).max() < 0.1


def test_flow_rejects_unknown_methods_colour_frames_and_frames_of_two_sizes():
    gray = np.zeros((40, 60), np.uint8)
    with pytest.raises(InputError, match="dis, farneback, lk"):
        Flow("raft")
    with pytest.raises(InputError, match="grey uint8"):
        Flow("lk")(np.zeros((40, 60, 3), np.uint8), gray, [[1, 1]])
    with pytest.raises(InputError, match="differ in size"):
        Flow("lk")(gray, np.zeros((40, 61), np.uint8), [[1, 1]])
    assert Flow("lk")(gray, gray, np.zeros((0, 2))).shape == (0, 2)


def test_flow_moves_points_it_loses_with_the_others():
    image, kp = messi_640()
    prev, cur = (cv2.cvtColor(i, cv2.COLOR_BGR2GRAY) for i in (image, shift(image, 4, 3)))
    pts = np.vstack([kp, [[1e6, 1e6]]])  # a point far outside the frame cannot be followed
    moved, ok = Flow("dis").track(prev, cur, pts)
    assert ok[:16].all() and not ok[16] and moved[16].tolist() == [1e6, 1e6]
    assert np.abs(Flow("dis")(prev, cur, pts)[16] - (1e6 + np.array([4, 3]))).max() < 0.5


# --- One-Euro --------------------------------------------------------------------------------------------------------

def test_one_euro_reduces_the_jitter_of_a_noisy_constant_signal():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 5.0 + rng.normal(0, 1.0, (300, 2))
    out = np.array([f(x, i / 30) for i, x in enumerate(noisy)])
    assert out[0].tolist() == noisy[0].tolist()  # the first sample passes through
    assert out[30:].std() < 0.4 * noisy[30:].std()
    assert abs(out[30:].mean() - 5.0) < 0.2


def test_one_euro_with_beta_follows_a_ramp_with_little_lag():
    t = np.arange(60) / 30
    ramp = 100.0 * t  # 100 px/s
    def lag(beta):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        return ramp[-1] - [f(np.array([x]), s) for x, s in zip(ramp, t)][-1][0]
    assert lag(0.0) > 10  # a plain 1 Hz low-pass trails by ~15 px
    assert lag(0.1) < 0.25 * lag(0.0) and lag(0.1) < 3


def test_one_euro_rejects_bad_parameters_and_ignores_a_repeated_time():
    with pytest.raises(InputError):
        OneEuroFilter(min_cutoff=0)
    f = OneEuroFilter()
    f(np.array([1.0]), 0.0)
    assert f(np.array([9.0]), 0.0).tolist() == [1.0]


# --- the tracker on frames -------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def crossing_scene(n: int = 16) -> tuple[list[np.ndarray], list[list[tuple[np.ndarray, np.ndarray]]]]:
    """Two textured people (a cut-out of the photo and its mirror image) walking through each other over a panning
    background: frames and, per frame, the poses [A, B] (A's joints hidden by B score 0.1)."""
    image, kp = _messi()
    small = cv2.resize(image, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    pose = kp * 0.4
    x0, y0 = np.floor(pose.min(0) - 10).clip(0).astype(int)
    x1, y1 = np.ceil(pose.max(0) + 10).astype(int)
    sprite, local = small[y0:y1, x0:x1], pose - [x0, y0]
    mask = np.zeros(sprite.shape[:2], np.uint8)
    for a, b in MPII16.limbs:  # the body: thick limbs, so the background shows between them
        cv2.line(mask, tuple(map(int, np.round(local[a]))), tuple(map(int, np.round(local[b]))), 255, 16)
    w = sprite.shape[1]
    people = [(sprite, mask, local), (sprite[:, ::-1], mask[:, ::-1], np.c_[w - 1 - local[:, 0], local[:, 1]])]
    background, _ = messi_640()
    rng = np.random.default_rng(0)
    frames, poses = [], []
    for i in range(n):
        frame = shift(background, -2 * i, 0)  # the camera pans slowly
        offsets = [(40 + 26 * i, 20), (40 + 26 * (n - 1 - i), 140)]  # A walks right, B left, B in front
        covered = np.zeros(frame.shape[:2], bool)
        for (spr, msk, _), (ox, oy) in zip(people, offsets):
            region = frame[oy:oy + spr.shape[0], ox:ox + spr.shape[1]]
            region[msk > 0] = spr[msk > 0]
        ox, oy = offsets[1]
        covered[oy:oy + mask.shape[0], ox:ox + w] = people[1][1] > 0
        frame_poses = []
        for k, ((_, _, loc), off) in enumerate(zip(people, offsets)):
            kps = loc + off + rng.normal(0, 1.0, loc.shape)
            scores = np.full(16, 0.9)
            if k == 0:
                xy = np.round(loc + off).astype(int)
                scores[covered[xy[:, 1].clip(0, 359), xy[:, 0].clip(0, 639)]] = 0.1
            frame_poses.append((kps, scores))
        frames.append(frame)
        poses.append(frame_poses)
    return frames, poses


def run(tracker: PoseTracker, frames, poses) -> list[list[int]]:
    ids = []
    for frame, frame_poses in zip(frames, poses):
        tracker.propagate(frame)
        ids.append([p.track_id for p in tracker.update(frame_poses)])
    return ids


def test_two_people_crossing_keep_their_ids_with_flow_and_oks_but_swap_when_ordered_left_to_right():
    frames, poses = crossing_scene()
    ids = run(PoseTracker("mpii16"), frames, poses)
    assert ids == [[0, 1]] * len(frames)
    ordered = run(PoseTracker("mpii16", similarity="order"), frames, poses)
    assert ordered[0] == [0, 1] and ordered[-1] == [1, 0]  # A starts on the left and ends on the right


def test_flow_keeps_ids_when_the_camera_moves_farther_than_people_stand_apart():
    image, kp = messi_640()
    pose = (kp - kp.mean(0)) * 0.5 + [150, 180]
    frames, poses = [], []
    for i in range(4):  # the view jumps 40 px a frame; the two people stand 40 px apart
        frames.append(shift(image, 40 * i, 0))
        poses.append([confident(pose + [40 * i, 0]), confident(pose + [40 * (i + 1), 0])])
    assert run(PoseTracker(flow="lk"), frames, poses) == [[0, 1]] * 4
    assert run(PoseTracker(flow="dis"), frames, poses) == [[0, 1]] * 4
    without_flow = run(PoseTracker(flow=None, similarity="oks"), frames, poses)
    assert without_flow[1][0] == 1  # A is now where B was: OKS without flow hands it B's id


@pytest.mark.parametrize(("gap", "same_id"), [(5, True), (6, False)])
def test_a_person_away_for_more_than_max_age_frames_comes_back_with_a_new_id(gap, same_id):
    image, kp = messi_640()
    tracker = PoseTracker(max_age=5)
    seen = []
    for i in range(3 + gap + 1):
        tracker.propagate(image)
        present = i < 3 or i >= 3 + gap
        out = tracker.update([confident(kp)] if present else [])
        seen += [p.track_id for p in out]
    assert seen[:3] == [0, 0, 0]
    assert seen[-1] == (0 if same_id else 1)


def test_iou_similarity_and_propagated_boxes():
    image, kp = messi_640()
    kp = (kp - kp.mean(0)) * 0.6 + kp.mean(0)  # a smaller person: the box stays inside the frame
    tracker = PoseTracker(similarity="iou")
    assert tracker.propagate(image) == []  # first frame: nothing to propagate
    first = tracker.update([confident(kp)])
    boxes = tracker.propagate(shift(image, 4, 3))
    assert len(boxes) == 1 and np.abs(boxes[0][:2] - (first[0].box[:2] + [4, 3])).max() < 1.0
    assert tracker.update([confident(kp + [4, 3])])[0].track_id == 0
    # the detector's box wins over the propagated one it overlaps; a weak detection is dropped
    merged = tracker.merge_boxes([boxes[0] + [1, 1, 0, 0], [0, 0, 20, 20]], [0.95, 0.3])
    assert len(merged) == 1 and merged[0].tolist() == (boxes[0] + [1, 1, 0, 0]).tolist()


def test_tracking_is_deterministic_and_reset_starts_over():
    frames, poses = crossing_scene()
    a, b = PoseTracker("mpii16"), PoseTracker("mpii16")
    first = [[(p.track_id, p.keypoints.tolist(), p.box.tolist()) for p in a.update(fp)] for fp in poses[:1]]
    assert run(a, frames, poses) == run(b, frames, poses)
    a.reset()
    assert [[(p.track_id, p.keypoints.tolist(), p.box.tolist()) for p in a.update(fp)] for fp in poses[:1]] == first


def test_smoothing_is_off_by_default_and_steadies_a_jittering_person_when_on():
    image, kp = messi_640()
    rng = np.random.default_rng(1)
    noisy = [kp + rng.normal(0, 2.0, kp.shape) for _ in range(30)]
    plain, smooth = PoseTracker(), PoseTracker(smooth=True, min_cutoff=1.0)
    assert not plain.smooth
    out_plain, out_smooth = [], []
    for i, k in enumerate(noisy):
        for tracker, out in ((plain, out_plain), (smooth, out_smooth)):
            tracker.propagate(image)
            out.append(tracker.update([confident(k)], t=i / 30)[0].keypoints)
    assert all(np.array_equal(o, k) for o, k in zip(out_plain, noisy))
    jitter = lambda seq: np.abs(np.diff(np.array(seq), axis=0)).mean()  # noqa: E731
    assert jitter(out_smooth[5:]) < 0.5 * jitter(out_plain[5:])


def test_bad_tracker_settings_and_poses_are_input_errors():
    for kwargs, match in (({"similarity": "hungarian"}, "oks_flow, oks, iou, order"), ({"flow": "raft"}, "lk"),
                          ({"flow": None}, "needs a flow"), ({"oks_threshold": 2}, "oks_threshold"),
                          ({"queue_len": 0}, "queue_len"), ({"beta": -1}, "beta")):
        with pytest.raises(InputError, match=match):
            PoseTracker(**kwargs)
    with pytest.raises(InputError, match="skeleton"):
        PoseTracker("h36m")
    with pytest.raises(InputError, match="17 joints"):
        PoseTracker().update([confident(np.zeros((17, 2)))])
    tracker = PoseTracker()
    tracker.propagate(np.zeros((36, 64, 3), np.uint8))
    with pytest.raises(InputError, match="64x36 to 64x35"):
        tracker.propagate(np.zeros((35, 64, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        tracker.propagate(np.zeros((36, 64), np.float32))


def test_the_tracker_shows_its_flow_moved_poses_and_the_similarity_it_matches_on():
    from hpe_utils.tracking import PoseTracker

    rng = np.random.default_rng(3)
    frame = (rng.random((120, 160)) * 255).astype(np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 2)
    moved_frame = np.roll(frame, 4, axis=1)  # the whole scene moves 4 px right
    kps = np.stack([np.linspace(40, 80, 16), np.linspace(30, 90, 16)], axis=1)
    tracker = PoseTracker("mpii16", flow="lk")
    tracker.propagate(frame)
    tracker.update([(kps, np.ones(16))])
    tracker.propagate(moved_frame)
    [moved] = tracker.propagated()
    assert moved.track_id == 0 and np.allclose(moved.keypoints, kps + [4, 0], atol=0.5)
    sim = tracker.similarity_to_tracks([(kps + [4, 0], np.ones(16)), (kps + [60, 0], np.ones(16))])
    assert sim.shape == (2, 1) and sim[0, 0] > 0.95 > sim[1, 0]


def test_pose_nms_keeps_the_more_confident_of_two_poses_of_one_person():
    from hpe_utils.tracking import OKS_SIGMAS, pose_nms

    kps = np.stack([np.linspace(40, 80, 16), np.linspace(30, 150, 16)], axis=1)
    same_weaker = (kps + 1.0, np.full(16, 0.5))
    other = (kps + [200, 0], np.full(16, 0.6))
    assert pose_nms([same_weaker, (kps, np.full(16, 0.9)), other], OKS_SIGMAS["mpii16"]) == [1, 2]
    assert pose_nms([(kps, np.ones(16)), other], OKS_SIGMAS["mpii16"]) == [0, 1]  # two people stay two
    assert pose_nms([], OKS_SIGMAS["mpii16"]) == []
