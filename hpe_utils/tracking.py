"""Multi-person pose tracking as in Xiao et al. 2018, §3: flow-propagated poses, OKS similarity, greedy matching.

One :class:`PoseTracker` per video. Per frame, call :meth:`PoseTracker.propagate` with the frame *before* the pose
step (it moves every track's recent poses by optical flow and returns their boxes, which the pose step can use next
to a detector's), then :meth:`PoseTracker.update` with the frame's poses (it gives each one a track id)::

    tracker = PoseTracker("mpii16")
    for frame in frames:
        tracker.propagate(frame)                              # the boxes of the tracks, carried to this frame
        boxes = tracker.merge_boxes(*detector(frame))         # ... and the detector's, merged by NMS
        keypoints, scores = estimate_poses(frame, boxes)       # (P, K, 2), (P, K)
        people = tracker.update(list(zip(keypoints, scores)))  # TrackedPose per pose, in the same order

Everything here is deterministic: the same frames and poses give the same ids, run after run.

``OKS_SIGMAS`` (per skeleton, the per-joint spread of OKS): ``coco17`` is COCO's published ``kpt_oks_sigmas``
(pycocotools ``cocoeval.py``: nose .026, eyes .025, ears .035, shoulders .079, elbows .072, wrists .062, hips .107,
knees .087, ankles .089). ``mpii16`` and ``lsp14`` take COCO's sigma of the same body joint (ankle, knee, hip,
wrist, elbow, shoulder); for the joints COCO lacks the values are our choice: pelvis = the hips' .107 (it is their
mid-point), thorax = the shoulders' .079 (their mid-point), upper_neck (LSP: neck) = the shoulders' .079 (a trunk
point, annotated about as loosely), head_top = .029, the mean of COCO's five head sigmas (nose, eyes, ears).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .errors import InputError
from .skeletons import COCO17, LSP14, MPII16, get_skeleton

Pose = tuple[np.ndarray, np.ndarray]  # keypoints (K, 2) in pixels, scores (K,)


def _coco_sigmas() -> dict[str, float]:
    """COCO's per-keypoint OKS sigmas by joint name (cocoeval.py, ``COCOeval.Params.kpt_oks_sigmas``)."""
    values = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
    return dict(zip(COCO17.joints, values.tolist()))


def _body_sigmas() -> dict[str, float]:
    """MPII/LSP joint name -> sigma: COCO's value for the same body joint, and a stated choice for the rest."""
    coco = _coco_sigmas()
    head = float(np.mean([coco[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]))
    out = {}
    for side, s in (("r", "right"), ("l", "left")):
        for joint in ("ankle", "knee", "hip", "wrist", "elbow", "shoulder"):
            out[f"{side}_{joint}"] = coco[f"{s}_{joint}"]
    out["pelvis"] = coco["left_hip"]  # the hips' mid-point: as uncertain as the hips
    out["thorax"] = coco["left_shoulder"]  # the shoulders' mid-point: as uncertain as the shoulders
    out["upper_neck"] = out["neck"] = coco["left_shoulder"]  # a trunk point on the shoulders' line of the body
    out["head_top"] = head  # a head point: the mean of COCO's five head sigmas (nose, eyes, ears)
    return out


# Per-keypoint OKS sigmas by skeleton name; where each value comes from: the module docstring.
OKS_SIGMAS: dict[str, np.ndarray] = {
    s.name: np.array([(_coco_sigmas() if s is COCO17 else _body_sigmas())[n] for n in s.joints])
    for s in (COCO17, MPII16, LSP14)
}
for _s in OKS_SIGMAS.values():
    _s.flags.writeable = False  # shared constants


def _pose(kps: np.ndarray, scores: np.ndarray, what: str = "pose") -> Pose:
    kps = np.asarray(kps, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if kps.ndim != 2 or kps.shape[1] != 2 or scores.shape != kps.shape[:1]:
        raise InputError(f"{what}: expected keypoints (K, 2) and scores (K,), got {kps.shape} and {scores.shape}")
    return kps, scores


def oks(kps_a, scores_a, kps_b, scores_b, area: float, sigmas, joint_threshold: float = 0.4) -> float:
    """COCO's object keypoint similarity of two poses, over the joints both score at least ``joint_threshold``.

    ``mean_j exp(-d_j² / (2 · area · (2σ_j)²))`` as in cocoeval's ``computeOks``; 0 when no joint counts.
    """
    a, sa = _pose(kps_a, scores_a, "pose a")
    b, sb = _pose(kps_b, scores_b, "pose b")
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if a.shape != b.shape or sigmas.shape != sa.shape:
        raise InputError(f"OKS needs poses and sigmas of one joint count, got {len(a)}, {len(b)} and {len(sigmas)}")
    keep = (sa >= joint_threshold) & (sb >= joint_threshold)
    if not keep.any():
        return 0.0
    d2 = ((a - b) ** 2).sum(1)
    e = d2 / (2.0 * (2.0 * sigmas) ** 2 * (float(area) + np.spacing(1)))
    return float(np.exp(-e)[keep].mean())


def oks_matrix(current: Sequence[Pose], previous: Sequence[Pose], sigmas, joint_threshold: float = 0.4) -> np.ndarray:
    """(N, M) OKS of each current pose against each previous one; the area is that of the previous pose's tight box.

    The tight box spans the previous pose's joints scoring at least ``joint_threshold`` (COCO uses the person's
    segment area, which is of the same order); a previous pose with fewer than two such joints scores 0.
    """
    sigmas = np.asarray(sigmas, dtype=np.float64)
    n, m = len(current), len(previous)
    out = np.zeros((n, m))
    if n == 0 or m == 0:
        return out
    cur = [_pose(k, s, f"current pose {i}") for i, (k, s) in enumerate(current)]
    prev = [_pose(k, s, f"previous pose {j}") for j, (k, s) in enumerate(previous)]
    if any(len(k) != len(sigmas) for k, _ in (*cur, *prev)):
        raise InputError(f"every pose must have {len(sigmas)} joints, like the sigmas")
    ca, cs = np.stack([k for k, _ in cur]), np.stack([s for _, s in cur])  # (N, K, 2), (N, K)
    pa, ps = np.stack([k for k, _ in prev]), np.stack([s for _, s in prev])
    areas = np.zeros(m)
    for j, (k, s) in enumerate(prev):
        box = box_from_joints(k, s, joint_threshold, enlarge=0.0)
        areas[j] = 0.0 if box is None else box[2] * box[3]
    d2 = ((ca[:, None] - pa[None]) ** 2).sum(-1)  # (N, M, K)
    e = d2 / (2.0 * (2.0 * sigmas) ** 2 * (areas[None, :, None] + np.spacing(1)))
    keep = (cs[:, None] >= joint_threshold) & (ps[None] >= joint_threshold)
    count = keep.sum(-1)
    total = np.where(keep, np.exp(-e), 0.0).sum(-1)
    out = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    out[:, areas <= 0] = 0.0
    return out


def _boxes(boxes, what: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if len(boxes) else np.zeros((0, 4))
    if not np.isfinite(b).all():
        raise InputError(f"{what}: boxes must be finite [x, y, w, h]")
    return b


def iou_matrix(boxes_a, boxes_b) -> np.ndarray:
    """(N, M) intersection over union of [x, y, w, h] boxes; 0 where a box has no area."""
    a, b = _boxes(boxes_a, "boxes_a"), _boxes(boxes_b, "boxes_b")
    ax1, ay1, ax2, ay2 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(ax1[:, None], bx1[None]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(ay1[:, None], by1[None]), 0, None)
    inter = iw * ih
    union = (np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None))[:, None] \
        + (np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None))[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def box_from_joints(kps, scores, joint_threshold: float = 0.4, enlarge: float = 0.15,
                    image_size: tuple[int, int] | None = None) -> np.ndarray | None:
    """[x, y, w, h] around the joints scoring at least ``joint_threshold``, each side grown by ``enlarge``/2.

    The paper's propagated box: width and height × (1 + ``enlarge``) about the centre, then clipped to
    ``image_size`` (width, height) when given. None with fewer than two such joints or nothing left inside.
    """
    kps, scores = _pose(kps, scores)
    pts = kps[(scores >= joint_threshold) & np.isfinite(kps).all(1)]
    if len(pts) < 2:
        return None
    (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = (x2 - x1) * (1 + enlarge), (y2 - y1) * (1 + enlarge)
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if image_size is not None:
        iw, ih = image_size
        x1, x2 = min(max(x1, 0.0), iw), min(max(x2, 0.0), iw)
        y1, y2 = min(max(y1, 0.0), ih), min(max(y2, 0.0), ih)
        if x2 <= x1 or y2 <= y1:
            return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def nms(boxes, scores, iou_threshold: float = 0.5) -> list[int]:
    """Greedy non-maximum suppression: indices kept, highest score first (ties: lower index first)."""
    b = _boxes(boxes, "nms")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(b):
        raise InputError(f"nms: {len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable").tolist()
    iou = iou_matrix(b, b)
    keep: list[int] = []
    for i in order:
        if all(iou[i, k] <= iou_threshold for k in keep):
            keep.append(i)
    return keep


def pose_nms(poses: Sequence[Pose], sigmas, threshold: float = 0.5, joint_threshold: float = 0.4,
             fixed: Sequence[int] = ()) -> list[int]:
    """Indices of the poses to keep: of two with OKS above ``threshold``, only the more confident one (its mean
    score over joints >= ``joint_threshold``), in input order.

    Two boxes around one person (a hidden person's box often returns the pose of the one in front) give two
    poses that then trade identities; ``bench/tracking.py`` measured this step halving identity switches.
    ``fixed`` (the poses of boxes a user gave) are always kept and never compared with each other; they
    suppress any other pose that repeats one of them, however confident.
    """
    n = len(poses)
    pinned = sorted({int(i) for i in fixed})
    if any(not 0 <= i < n for i in pinned):
        raise InputError(f"pose_nms: fixed indices {pinned} outside the {n} poses")
    if n < 2 or len(pinned) == n:
        return list(range(n))
    sim = oks_matrix(poses, poses, sigmas, joint_threshold)
    sim = np.maximum(sim, sim.T)
    confidence = [float(s[s >= joint_threshold].mean()) if (np.asarray(s) >= joint_threshold).any() else 0.0
                  for _, s in poses]
    kept: list[int] = list(pinned)
    for i in np.argsort(confidence, kind="stable")[::-1]:
        if int(i) not in pinned and all(sim[i, k] <= threshold for k in kept):
            kept.append(int(i))
    return sorted(kept)


def greedy_match(similarity, threshold: float) -> list[tuple[int, int]]:
    """The paper's greedy assignment: repeatedly take the most similar (current, previous) pair above ``threshold``.

    Each pair removes its row and column. Not the Hungarian optimum: the globally best pair always wins. Ties go to
    the lower current index, then the lower previous index.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise InputError(f"greedy_match needs an (N, M) matrix, got shape {sim.shape}")
    flat = np.argsort(-sim, axis=None, kind="stable")  # row-major order breaks ties
    used_r, used_c, pairs = set(), set(), []
    for f in flat:
        r, c = divmod(int(f), sim.shape[1])
        if not sim[r, c] > threshold:
            break
        if r in used_r or c in used_c:
            continue
        pairs.append((r, c))
        used_r.add(r)
        used_c.add(c)
    return pairs


FLOWS = ("dis", "farneback", "lk")


class Flow:
    """Optical flow at given points from one grey frame to the next: ``Flow("lk")(prev_gray, gray, points)``.

    Pyramidal Lucas–Kanade at the joints is the default because it is as accurate as the best dense flow here and
    cheaper (at 31 points 8x less than DIS FAST, 80x less than Farneback; at 240 points 2x and 20x): it solves for
    the few points tracking needs, not for every pixel, so its cost grows with the points (people x joints x
    ``queue_len``), not with the frame (1.6 ms at 1280x720, where DIS FAST takes 18). Measured on
    data/messi_kick.webp resized to 640x360, warped by known motions (cv2.warpAffine, reflected borders), flow read
    at 31 joint-like points (the 16 of data/messi_kick_manual_keypoints.json and the 15 limb mid-points; dense flow
    sampled bilinearly). Endpoint error in px, mean/max; ms per call, median, one OpenCV thread on the 2-core CI
    machine (OpenCV 5.0):

    ==============  =======  =======  =======  =======  =======  =======  =========  ========  ======  =======  =======
    flow            3,2 px   12,-7    30,15    rot 3°   rot 10°  zoom 5%  12,-7 +    person    ms, 31  ms, 240  ms, 31
                                                                          noise σ3   10,4 on   points  points   points
                                                                          +JPEG q50  bg -6,0                    1280x720
    ==============  =======  =======  =======  =======  =======  =======  =========  ========  ======  =======  =======
    lk (15 px, 4    .00/.0   .01/.2   .00/.0   .19/.4   .70/1.7  .24/.7   .09/.3     .00/.0    0.5     1.9      1.6
    levels)
    LK 21 px        .00/.0   .01/.1   .00/.0   .24/.6   .95/2.2  .31/1.6  .07/.4     .00/.0    0.5     2.3      1.3
    dis (FAST)      .07/.2   .07/.2   .09/.2   .19/.7   .53/2.0  .22/.5   .07/.2     .10/.5    3.9     3.7      18.3
    DIS ULTRAFAST   .19/.7   .11/.4   .19/.6   .37/1.2  1.36/3.7 .36/.8   .10/.4     .13/.6    2.0     2.0      9.7
    DIS MEDIUM      .03/.1   .04/.1   .03/.1   .13/.4   .37/1.4  .11/.3   .06/.2     .03/.9    21.6    20.4     83.6
    farneback (31   .01/.1   .05/.4   .14/1.3  .37/.9   1.29/3.6 .34/.9   .07/.4     .08/1.0   41.6    43.4     202
    px, 4 levels)
    Farneback 15    .17/3.4  .76/13.7 1.81/25  .45/4.0  1.86/19  .49/3.8  .76/13.4   .64/10.6  38.8    38.2     183
    px, 3 levels
    ==============  =======  =======  =======  =======  =======  =======  =========  ========  ======  =======  =======

    "person 10,4 on bg -6,0": the person's box moves (10, 4) px over a background moving (-6, 0). "240 points": 3
    people x 16 joints x 5 queued poses. DIS FAST is the dense choice (as accurate within 0.2 px, better on a 10°
    turn in one frame, a constant cost that grows with the frame); Farneback needs a 31-px window to stop missing
    flat regions by 10-25 px (OpenCV's sample settings, 15 px) and is then the slowest by 10x. A forward-backward
    check on LK (a second pass to flag occluded joints) doubled its cost and, on the 10° turn, flagged good points
    whose fallback motion was worse (max 28 px), so LK trusts OpenCV's status alone. Points a method cannot follow
    (LK's status 0, dense flow outside the frame) come back from :meth:`track` unmoved and flagged; ``__call__``
    moves them by the median motion of the others.
    """

    def __init__(self, method: str = "lk") -> None:
        if method not in FLOWS:
            raise InputError(f"unknown flow {method!r}; choose one of {', '.join(FLOWS)}")
        self.method = method
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST) if method == "dis" else None

    def __repr__(self) -> str:
        return f"Flow({self.method!r})"

    def track(self, prev_gray: np.ndarray, gray: np.ndarray, points) -> tuple[np.ndarray, np.ndarray]:
        """Moved points (N, 2) and whether each was followed (N,) bool; failed points come back unmoved."""
        _check_pair(prev_gray, gray)
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        if len(pts) == 0:
            return np.zeros((0, 2)), np.zeros(0, bool)
        finite = np.isfinite(pts).all(1)
        pts = np.where(finite[:, None], pts, 0.0).astype(np.float32)
        if self.method == "lk":
            moved, ok = _lk(prev_gray, gray, pts)
        else:
            if self.method == "dis":
                flow = self._dis.calc(prev_gray, gray, None)
            else:
                flow = cv2.calcOpticalFlowFarneback(prev_gray, gray, None, 0.5, 4, 31, 3, 7, 1.5, 0)
            d = cv2.remap(flow, pts[:, :1], pts[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            moved = pts + d.reshape(-1, 2)
            h, w = gray.shape
            ok = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
        ok &= finite & np.isfinite(moved).all(1)
        moved = np.where(ok[:, None], moved, np.asarray(points, dtype=np.float64).reshape(-1, 2))
        return moved.astype(np.float64), ok

    def __call__(self, prev_gray: np.ndarray, gray: np.ndarray, points) -> np.ndarray:
        """Points (N, 2) moved by the flow; points it could not follow move by the median of those it could."""
        moved, ok = self.track(prev_gray, gray, points)
        return _fill_failed(np.asarray(points, dtype=np.float64).reshape(-1, 2), moved, ok)


def _check_pair(prev_gray: np.ndarray, gray: np.ndarray) -> None:
    for name, g in (("prev_gray", prev_gray), ("gray", gray)):
        if not isinstance(g, np.ndarray) or g.ndim != 2 or g.dtype != np.uint8:
            raise InputError(f"{name} must be a grey uint8 image (H, W), got "
                             f"{getattr(g, 'shape', type(g).__name__)} {getattr(g, 'dtype', '')}".rstrip())
    if prev_gray.shape != gray.shape:
        raise InputError(f"frames differ in size: {prev_gray.shape[::-1]} then {gray.shape[::-1]}")


def _lk(prev_gray: np.ndarray, gray: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas–Kanade, 15x15 windows on 4 levels (motions up to ~60 px); ok where OpenCV found the point."""
    params = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, pts.reshape(-1, 1, 2), None, **params)
    return moved.reshape(-1, 2).astype(np.float64), status.ravel() == 1


def _fill_failed(points: np.ndarray, moved: np.ndarray, ok: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Failed points move by the median motion of the good ones (else by ``fallback``, else not at all)."""
    if ok.all():
        return moved
    if ok.any():
        shift = np.median(moved[ok] - points[ok], axis=0)
    else:
        shift = np.zeros(2) if fallback is None else fallback
    return np.where(ok[:, None], moved, points + shift)


class OneEuroFilter:
    """The 1€ filter (Casiez, Roussel & Vogel, CHI 2012): less jitter when still, little lag when moving.

    A low-pass filter whose cutoff rises with speed: ``cutoff = min_cutoff + beta · |dx/dt|`` (Hz), where the
    speed itself is low-passed at ``d_cutoff``. Works element-wise on arrays of any fixed shape.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise InputError(f"One-Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, got {min_cutoff}, "
                             f"{d_cutoff} and {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @staticmethod
    def _alpha(dt: float, cutoff) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff, dtype=np.float64))
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The filtered value of ``x`` at time ``t`` (seconds); a repeated or earlier ``t`` returns the last value."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        if x.shape != self._x.shape:
            raise InputError(f"One-Euro filter got shape {x.shape} after {self._x.shape}")
        dt = float(t) - self._t
        if dt <= 0:
            return self._x.copy()
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(dt, self.d_cutoff) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(dt, cutoff) * (x - self._x)
        self._t = float(t)
        return self._x.copy()


@dataclass
class TrackedPose:
    """One person in one frame: the track id, keypoints (K, 2) (One-Euro filtered when the tracker smooths),
    scores (K,) and box [x, y, w, h] (around the confident joints, enlarged by ``box_enlarge``, clipped to the frame).
    """

    track_id: int
    keypoints: np.ndarray
    scores: np.ndarray
    box: np.ndarray


SIMILARITIES = ("oks_flow", "oks", "iou", "order")


@dataclass
class _Track:
    track_id: int
    queue: deque  # the last queue_len observed poses (keypoints, scores), each carried to the current frame by flow
    last: Pose  # the last observed pose, as observed (no flow)
    missed: int = 0
    smoother: OneEuroFilter | None = None


def _gray(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3) \
            or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)) or min(frame.shape[:2]) < 1:
        raise InputError(f"a frame must be a uint8 image (H, W) or (H, W, 1|3|4), got "
                         f"{getattr(frame, 'shape', type(frame).__name__)} {getattr(frame, 'dtype', '')}".rstrip())
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.shape[2] == 1:
        return np.ascontiguousarray(frame[..., 0])
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


class PoseTracker:
    """Give the poses of a video stable person ids (the paper's flow + OKS + greedy tracker, or a baseline).

    ``similarity``: ``"oks_flow"`` (the paper: OKS against each track's last ``queue_len`` poses carried to this
    frame by ``flow``, the best of them), ``"oks"`` (OKS against the track's last pose, no flow), ``"iou"`` (IoU of
    the pose boxes against the track's last box) or ``"order"`` (no tracking: ids 0, 1, … by left-to-right order).
    A pair matches when its similarity is above ``oks_threshold`` (an IoU with ``"iou"``). Joints scoring below
    ``joint_threshold`` are ignored. A track unmatched for more than ``max_age`` frames is dropped; a person seen
    again after that gets a new id. ``det_threshold`` is the detector score :meth:`merge_boxes` keeps (the paper's
    0.5). ``smooth`` filters each track's keypoints with :class:`OneEuroFilter` (``min_cutoff``, ``beta``,
    ``d_cutoff``); matching always uses the unfiltered poses. ``flow=None`` propagates nothing (boxes stay put).
    """

    def __init__(self, skeleton: str = "mpii16", *, flow: str | None = "lk", box_enlarge: float = 0.15,
                 oks_threshold: float = 0.3, queue_len: int = 5, max_age: int = 5, det_threshold: float = 0.5,
                 joint_threshold: float = 0.4, similarity: str = "oks_flow", smooth: bool = False,
                 min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        try:
            self.skeleton = get_skeleton(skeleton)
        except KeyError as e:
            raise InputError(e.args[0]) from None
        if similarity not in SIMILARITIES:
            raise InputError(f"unknown similarity {similarity!r}; choose one of {', '.join(SIMILARITIES)}")
        if similarity == "oks_flow" and flow is None:
            raise InputError("similarity 'oks_flow' needs a flow; use similarity='oks' to track without one")
        for name, v in (("oks_threshold", oks_threshold), ("det_threshold", det_threshold),
                        ("joint_threshold", joint_threshold)):
            if not 0 <= v <= 1:
                raise InputError(f"{name} must be in [0, 1], got {v}")
        if box_enlarge < 0:
            raise InputError(f"box_enlarge must be >= 0, got {box_enlarge}")
        if int(queue_len) != queue_len or queue_len < 1 or int(max_age) != max_age or max_age < 0:
            raise InputError(f"queue_len must be an integer >= 1 and max_age one >= 0, got {queue_len} and {max_age}")
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # checks its parameters now, not at the first frame
        self.flow = None if flow is None else Flow(flow)
        self.sigmas = OKS_SIGMAS[self.skeleton.name]
        self.box_enlarge, self.oks_threshold, self.queue_len = float(box_enlarge), float(oks_threshold), int(queue_len)
        self.max_age, self.det_threshold, self.joint_threshold = int(max_age), float(det_threshold), float(joint_threshold)
        self.similarity, self.smooth = similarity, bool(smooth)
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget every track and frame: the next frame is a first frame and ids start again at 0."""
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._prev_gray: np.ndarray | None = None
        self._image_size: tuple[int, int] | None = None
        self._propagated: list[tuple[np.ndarray, float]] = []  # (box, score) from the last propagate()
        self._updates = 0

    @property
    def num_tracks(self) -> int:
        """Tracks alive now (matched within the last ``max_age`` frames)."""
        return len(self._tracks)

    def _box(self, kps: np.ndarray, scores: np.ndarray) -> np.ndarray:
        box = box_from_joints(kps, scores, self.joint_threshold, self.box_enlarge, self._image_size)
        if box is None:  # too few confident joints: the box around all of them, so every pose has one
            box = box_from_joints(kps, scores, -np.inf, self.box_enlarge, self._image_size)
        if box is None:  # all joints outside the image
            box = box_from_joints(kps, scores, -np.inf, self.box_enlarge)
        return box

    def propagate(self, frame: np.ndarray) -> list[np.ndarray]:
        """Move every track's recent poses by the flow from the previous frame to ``frame``; their boxes (enlarged).

        Call once per frame, before the pose step. The frame is uint8 grey, BGR or RGB (the same order every frame).
        Returns one [x, y, w, h] box per live track with enough confident joints (the newest pose's); [] on the first
        frame.
        """
        gray = _gray(frame)
        size = (gray.shape[1], gray.shape[0])
        if self._image_size is not None and size != self._image_size:
            raise InputError(f"frame size changed from {self._image_size[0]}x{self._image_size[1]} to "
                             f"{size[0]}x{size[1]}; use one tracker per video (or reset() it)")
        prev, self._prev_gray, self._image_size = self._prev_gray, gray, size
        self._propagated = []
        if prev is None:
            return []
        if self.flow is not None and self._tracks:
            entries = [(t, i) for t in self._tracks for i in range(len(t.queue))]
            points = np.concatenate([t.queue[i][0] for t, i in entries])
            moved, ok = self.flow.track(prev, gray, points)
            k = self.skeleton.num_joints
            for n, (t, i) in enumerate(entries):  # a joint the flow lost moves with the rest of its pose
                kps, scores = t.queue[i]
                sl = slice(n * k, (n + 1) * k)
                if ok[sl].all():
                    t.queue[i] = (moved[sl], scores)
                    continue
                good = ok[sl] & (scores >= self.joint_threshold)
                source = good if good.any() else ok[sl]
                if source.any():
                    shift = np.median(moved[sl][source] - kps[source], axis=0)
                else:  # the whole pose is lost: it moves with the frame
                    shift = np.median(moved[ok] - points[ok], axis=0) if ok.any() else np.zeros(2)
                t.queue[i] = (np.where(ok[sl][:, None], moved[sl], kps + shift), scores)
        for t in self._tracks:
            kps, scores = t.queue[-1]
            box = box_from_joints(kps, scores, self.joint_threshold, self.box_enlarge, self._image_size)
            if box is not None:
                confident = scores[scores >= self.joint_threshold]
                self._propagated.append((box, float(confident.mean())))
        return [b for b, _ in self._propagated]

    def propagated(self) -> list[TrackedPose]:
        """Each live track's newest pose as the last :meth:`propagate` moved it: what new poses are compared with."""
        return [TrackedPose(t.track_id, t.queue[-1][0].copy(), t.queue[-1][1].copy(), self._box(*t.queue[-1]))
                for t in self._tracks]

    def similarity_to_tracks(self, poses: Sequence[Pose]) -> np.ndarray:
        """(new poses x live tracks): the similarity :meth:`update` matches on (for oks_flow, the best over the queue)."""
        checked = [_pose(k, s, f"pose {i}") for i, (k, s) in enumerate(poses)]
        return self._similarity(checked, [self._box(*p) for p in checked])

    def merge_boxes(self, det_boxes=(), det_scores=(), iou_threshold: float = 0.5,
                    det_threshold: float | None = None) -> list[np.ndarray]:
        """The paper's box sources unified: detector boxes scoring >= ``det_threshold`` and propagated ones, by NMS.

        The propagated boxes are those of the last :meth:`propagate`, each competing with the mean confident-joint
        score of the pose it came from. Kept boxes come highest score first. ``det_threshold`` overrides the
        tracker's for this call (``hpe track``'s first frame keeps the shipped detector's people from its own).
        """
        det = _boxes(det_boxes, "detector boxes")
        ds = np.asarray(det_scores, dtype=np.float64).reshape(-1)
        if len(ds) != len(det):
            raise InputError(f"detector gave {len(det)} boxes but {len(ds)} scores")
        keep = ds >= (self.det_threshold if det_threshold is None else float(det_threshold))
        boxes = np.concatenate([det[keep], _boxes([b for b, _ in self._propagated], "propagated boxes")])
        scores = np.concatenate([ds[keep], [s for _, s in self._propagated]])
        return [boxes[i].copy() for i in nms(boxes, scores, iou_threshold)]

    def _similarity(self, poses: list[Pose], boxes: list[np.ndarray]) -> np.ndarray:
        if self.similarity == "iou":
            last = [self._box(*t.last) for t in self._tracks]
            return iou_matrix(boxes, last)
        if self.similarity == "oks":
            return oks_matrix(poses, [t.last for t in self._tracks], self.sigmas, self.joint_threshold)
        sim = np.zeros((len(poses), len(self._tracks)))
        for j, t in enumerate(self._tracks):  # multi-frame: the best over the track's queued, propagated poses
            sim[:, j] = oks_matrix(poses, list(t.queue), self.sigmas, self.joint_threshold).max(1)
        return sim

    def update(self, poses: Sequence[Pose], t: float | None = None) -> list[TrackedPose]:
        """Track ids for this frame's poses (keypoints (K, 2), scores (K,)): one TrackedPose each, in input order.

        ``t`` is the frame's time in seconds for One-Euro smoothing (None: frames counted at 30 frames/s).
        """
        k = self.skeleton.num_joints
        checked = []
        for i, (kps, scores) in enumerate(poses):
            kps, scores = _pose(kps, scores, f"pose {i}")
            if len(kps) != k:
                raise InputError(f"pose {i} has {len(kps)} joints; the tracker's skeleton {self.skeleton.name} has {k}")
            if not (np.isfinite(kps).all() and np.isfinite(scores).all()):
                raise InputError(f"pose {i} has keypoints or scores that are not finite numbers")
            checked.append((kps.copy(), scores.copy()))
        time = self._updates / 30.0 if t is None else float(t)
        self._updates += 1
        boxes = [self._box(*p) for p in checked]
        tracks = self._assign(checked, boxes)
        out = []
        for i, (kps, scores) in enumerate(checked):
            tr = tracks[i]
            shown = kps
            if self.smooth:
                if tr.smoother is None:
                    tr.smoother = OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff)
                shown = tr.smoother(kps, time)
            out.append(TrackedPose(tr.track_id, shown.copy(), scores.copy(), boxes[i].copy()))
        return out

    def _new_track(self, track_id: int, pose: Pose) -> _Track:
        return _Track(track_id, deque([pose], maxlen=self.queue_len), pose)

    def _assign(self, poses: list[Pose], boxes: list[np.ndarray]) -> list[_Track]:
        """The track of each pose (matched, or new), with the live tracks updated and the stale ones dropped."""
        if self.similarity == "order":  # no tracking: a fresh track per pose, its id its left-to-right rank
            smoothers = {tr.track_id: tr.smoother for tr in self._tracks}
            order = sorted(range(len(poses)), key=lambda i: (boxes[i][0] + boxes[i][2] / 2, i))
            tracks = [None] * len(poses)
            for rank, i in enumerate(order):
                tracks[i] = self._new_track(rank, poses[i])
                tracks[i].smoother = smoothers.get(rank)
            self._tracks = [tracks[i] for i in order]
            return tracks
        matched = dict(greedy_match(self._similarity(poses, boxes), self.oks_threshold))  # pose -> track index
        tracks, taken = [], set(matched.values())
        for i, p in enumerate(poses):
            if i in matched:
                tr = self._tracks[matched[i]]
                tr.queue.append(p)
                tr.last, tr.missed = p, 0
            else:
                tr = self._new_track(self._next_id, p)
                self._next_id += 1
            tracks.append(tr)
        for j, tr in enumerate(self._tracks):
            if j not in taken:
                tr.missed += 1
        kept = [tr for j, tr in enumerate(self._tracks) if j in taken or tr.missed <= self.max_age]
        self._tracks = kept + [tr for i, tr in enumerate(tracks) if i not in matched]
        return tracks


__all__ = ["pose_nms", "FLOWS", "OKS_SIGMAS", "SIMILARITIES", "Flow", "OneEuroFilter", "PoseTracker", "TrackedPose", "box_from_joints",
           "greedy_match", "iou_matrix", "nms", "oks", "oks_matrix"]
