"""Pose tracking on real people with known ground truth: MOTA, IDF1, ID switches, PCK, jitter and speed, in one run.

    python bench/tracking.py [--frames 90] [--backend auto] [--detect-every 1,2,3,5,10] [--speed-frames 60]
                             [--out bench/results_tracking.md]

What is measured, on what:

* **Clips** (:func:`hpe_utils.synthetic.make_clip`, 640x360, 30 frames/s): a virtual camera pans, zooms, turns and
  shakes over a real COCO photo with its annotated people, while copies of annotated people (cut out with a soft
  mask, maybe mirrored) walk across it, crossing and hiding each other; every frame's keypoints, visibility and
  identities follow from the known transforms. Two clips come from the photos that ship in ``data/samples/`` (one
  annotated person each: the man of 234748 with the two others pasted, then with two copies of himself); two from
  ``../shared/data/coco_sample/`` (photos with two and three annotated people, plus pasted copies; skipped with a
  message when that folder is absent).
* **Boxes**, four modes (``--boxes``): ``propagate``: the first frame's from ground truth (what ``hpe track
  --boxes ... --detector none`` gets), then propagation alone (the offline mode: no detector); ``truth``: every
  frame's ground-truth boxes as a perfect detector's (score 1), merged with the propagated ones by NMS (the paper's
  box sources); ``truth+posenms``: the same, and a pose repeating a more confident one (OKS > 0.5) is dropped
  (``track_frames(pose_nms_oks=...)``); ``detector``: what ``hpe track`` does by default, flip aside: the shipped
  CenterNet (``load_detector("default")``) on every N-th frame, its people kept from its own score threshold in
  frame 0 (:func:`hpe_utils.track.detector_threshold`) and from the paper's 0.5 after, merged with the propagated
  boxes, pose NMS on. For ``detector``, ``--detect-every`` lists the N to compare (one row each for the paper's
  tracker (iv), plus two at the smallest N with one threshold throughout: the detector's own, the paper's); the
  full variant table is for ``hpe track``'s default N. In every mode the paper's
  tracker (iv) drives the boxes and its poses, one per box, go to every variant, so the variants differ only in how
  they give ids (and (v) in smoothing): the comparison is fair.
* **Variants** (:class:`hpe_utils.tracking.PoseTracker`, default parameters): (i) no tracking (ids by left-to-right
  order), (ii) greedy IoU of the pose boxes, (iii) greedy OKS against each track's last pose (no flow), (iv) the
  paper's OKS against the flow-propagated last ``queue_len`` poses (Lucas-Kanade at the joints), (v) (iv) with
  One-Euro smoothing at the tracker's defaults (min_cutoff 1 Hz, beta 0, d_cutoff 1 Hz: what ``hpe track
  --smooth`` does), (v') the same with beta 0.05 (the cutoff rises with speed, so moving people lag less).
* **Model**: the default weights (MPII-16), ``--backend`` (auto: the engine ``auto`` picks, ONNX Runtime here),
  **flip test off** (video: half the model cost per person).

Metrics (PoseTrack's keypoint-level matching, at the level of people):

* Ground truth: COCO-17 mapped to MPII-16 (ankles, knees, hips, wrists, elbows, shoulders; pelvis and thorax as
  mid-points); upper_neck and head_top have no COCO counterpart and are not evaluated. A person counts in a frame
  with at least ``MIN_JOINTS`` visible evaluated joints; with fewer (hidden behind someone, out of the frame) the
  person is ignored there (a prediction on them is neither a hit nor a false positive).
* A joint is **correct** within ``0.2 x torso`` (the torso diameter: left shoulder to right hip, as the project's
  PCK@0.2 on LSP), predicted with a score >= 0.4 (the tracker's ``joint_threshold``). Why not PCKh@0.5: there are
  no head boxes, and COCO's head keypoints (nose, eyes, ears) are often unlabelled and shrink when a face turns
  away; the torso is labelled on every person we use (we require it), and 0.2 x torso is about 0.5 x the head
  segment PCKh uses (a torso is ~2.5 head segments), so the two thresholds are of one size.
* A person's **distance** to a prediction = the share of its visible evaluated joints that are not correct; a pair
  may match when it is at most 0.5 (half the joints right). ``motmetrics`` matches per frame (Hungarian, keeping
  last frame's pairs while they stay valid) and gives MOTA, IDF1 and ID switches.
* **PCK**: the share of visible evaluated joints of the counted people that their matched prediction gets
  correct (an unmatched person: all wrong).
* **Jitter**: mean |p(t+1) - 2 p(t) + p(t-1)| (px/frame^2) of the matched predictions' keypoints, over the joints
  whose ground truth does not accelerate (|a| <= ``STATIC_ACCEL`` px/frame^2: outside the shaky stretch the camera
  and the walkers move at constant speed) and that are visible and confidently predicted in all three frames.
* **Speed**: ms per frame of each stage: synthesis (making the frame; excluded from frames/s), flow (the
  tracker's propagate: grey conversion + Lucas-Kanade), boxes (the detector where it runs, and the box merge),
  pose (crops + model + decoding, shared by all variants), matching (the tracker's update), drawing (skeletons
  coloured by id; nothing is written). A variant's frames/s = 1000 / (its flow + boxes + pose + its matching +
  drawing). Separately, ``hpe track``'s own pipeline end to end (decode an MP4, flow, detect, pose, match, draw,
  write an MP4) for one and three people, eager PyTorch and auto (bench/detector_pipeline.py: at default flags).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from anywhere: this checkout's hpe_utils

from hpe_utils.synthetic import MPII_EVALUATED, Clip, Extra, coco_people, make_clip  # noqa: E402

SAMPLES = REPO / "data" / "samples"
SHARED = REPO.parent / "shared" / "data" / "coco_sample"
MIN_JOINTS = 3  # visible evaluated joints for a person to count in a frame
PCK_FACTOR = 0.2  # x torso diameter
MAX_DISTANCE = 0.5  # share of a person's joints that may be wrong in a match
JOINT_THRESHOLD = 0.4  # a predicted joint counts from this score (the tracker's joint_threshold)
STATIC_ACCEL = 0.25  # px/frame^2: ground truth this still "does not accelerate"

# (name, tracker keyword arguments); (iv) drives the boxes
VARIANTS: dict[str, dict[str, Any]] = {
    "(i) no tracking (ids by order)": {"similarity": "order", "flow": None},
    "(ii) greedy IoU": {"similarity": "iou", "flow": None},
    "(iii) greedy OKS, no flow": {"similarity": "oks", "flow": None},
    "(iv) flow + OKS (the paper)": {"similarity": "oks_flow", "flow": "lk"},
    "(v) (iv) + One-Euro": {"similarity": "oks_flow", "flow": "lk", "smooth": True},
    "(v') (iv) + One-Euro, beta 0.05": {"similarity": "oks_flow", "flow": "lk", "smooth": True, "beta": 0.05},
}
DRIVER = "(iv) flow + OKS (the paper)"

Prediction = tuple[int, np.ndarray, np.ndarray]  # track id, keypoints (16, 2), scores (16,)


# ------------------------------------------------------------------ the clips

@dataclass(frozen=True)
class ClipSpec:
    name: str
    folder: Path  # holds the images (and the json, unless ann is given)
    ann: Path
    background: str
    extras: tuple[tuple[str, int], ...]  # (image, person index) pasted in
    seed: int
    shipped: bool
    max_people: int | None = None  # the photo's largest annotated people kept (None: all)


def clip_specs() -> list[ClipSpec]:
    shared_mini = SHARED / "coco_mini"
    ann = SAMPLES / "coco_keypoints.json"
    return [
        ClipSpec("street (samples 234748: 1 + 2 pasted)", SAMPLES, ann, "coco_000000234748.jpg",
                 (("coco_000000535506.jpg", 0), ("coco_000000037666.jpg", 0)), 0, True),
        ClipSpec("twins (samples 234748: 1 + 2 copies of him)", SAMPLES, ann, "coco_000000234748.jpg",
                 (("coco_000000234748.jpg", 0), ("coco_000000234748.jpg", 0)), 1, True),
        ClipSpec("forest (COCO 442450: 2 + 2 copies)", shared_mini / "train2017",
                 shared_mini / "person_keypoints_train2017.json", "000000442450.jpg",
                 (("000000442450.jpg", 0), ("000000442450.jpg", 1)), 2, False),
        ClipSpec("surf (COCO 211325: 3 + 1 copy)", shared_mini / "train2017",
                 shared_mini / "person_keypoints_train2017.json", "000000211325.jpg",
                 (("000000211325.jpg", 0),), 3, False, 3),
    ]


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def build_clip(spec: ClipSpec, frames: int, only_background: bool = False) -> Clip:
    data = json.loads(spec.ann.read_text())
    extras = [] if only_background else [Extra(_rgb(spec.folder / f), coco_people(data, f)[i]) for f, i in spec.extras]
    people = coco_people(data, spec.background)[:1 if only_background else spec.max_people]
    return make_clip(_rgb(spec.folder / spec.background), people, frames, seed=spec.seed, extras=extras)


def first_boxes(clip: Clip, t: int = 0, min_visible: int = 4) -> np.ndarray:
    """Frame ``t``'s ground-truth boxes of the people seen in it (frame 0's: what ``hpe track --boxes`` gets)."""
    seen = (clip.visible[t].sum(1) >= min_visible) & (clip.boxes[t, :, 2] > 1) & (clip.boxes[t, :, 3] > 1)
    return clip.boxes[t][seen]


# ------------------------------------------------------------------ metrics

@dataclass
class Truth:
    """A clip's ground truth as the metrics use it: MPII-16 keypoints, evaluated visibility, per-person threshold."""

    keypoints: np.ndarray  # (T, P, 16, 2)
    visible: np.ndarray  # (T, P, 16) bool, only evaluated joints
    threshold: np.ndarray  # (T, P) px
    boxes0: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (P, 4): frame 0's boxes [x, y, w, h]

    @classmethod
    def of(cls, clip: Clip) -> Truth:
        kps, vis = clip.mpii()
        return cls(kps, vis & MPII_EVALUATED, PCK_FACTOR * clip.torso, clip.boxes[0].astype(np.float64))


def correct_joints(gt_kps: np.ndarray, gt_vis: np.ndarray, thr: np.ndarray, kps: np.ndarray,
                   scores: np.ndarray) -> np.ndarray:
    """(P, N, 16) bool: joint j of person p is visible and prediction n has it within ``thr[p]`` at score >= 0.4."""
    d = np.linalg.norm(gt_kps[:, None] - kps[None], axis=-1)  # (P, N, 16); NaN for unmapped joints
    with np.errstate(invalid="ignore"):
        ok = (d <= thr[:, None, None]) & (scores[None] >= JOINT_THRESHOLD)
    return ok & gt_vis[:, None]


def person_distances(gt_kps: np.ndarray, gt_vis: np.ndarray, thr: np.ndarray, kps: np.ndarray,
                     scores: np.ndarray) -> np.ndarray:
    """(P, N): the share of person p's visible evaluated joints that prediction n misses; NaN with none visible."""
    n_vis = gt_vis.sum(-1).astype(float)
    if len(kps) == 0:
        return np.zeros((len(gt_kps), 0))
    hit = correct_joints(gt_kps, gt_vis, thr, kps, scores).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_vis[:, None] > 0, 1.0 - hit / n_vis[:, None], np.nan)


@dataclass
class Scores:
    mota: float
    idf1: float
    switches: int
    false_positives: int
    misses: int
    objects: int  # counted ground-truth people over all frames
    pck: float
    jitter: float
    jitter_samples: int
    joints: int  # visible evaluated joints of the counted people (PCK's denominator)
    accumulator: Any = field(repr=False, default=None)
    first_found: int = 0  # counted people of frame 0 that a prediction matched
    first_counted: int = 0  # counted people of frame 0


def evaluate(truth: Truth, predictions: Sequence[Sequence[Prediction]]) -> Scores:
    """Keypoint-level MOT metrics of one clip's predictions (per frame: (track id, keypoints, scores) each)."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    T, P = truth.visible.shape[:2]
    if len(predictions) != T:
        raise ValueError(f"{len(predictions)} frames of predictions for {T} frames of ground truth")
    counted = truth.visible.sum(-1) >= MIN_JOINTS  # (T, P)
    frames_kps = []
    for t, preds in enumerate(predictions):
        ids = [int(i) for i, _, _ in preds]
        if len(set(ids)) != len(ids):
            raise ValueError(f"frame {t}: track ids repeat ({ids})")
        kps = np.array([k for _, k, _ in preds], dtype=float).reshape(-1, truth.keypoints.shape[2], 2)
        sc = np.array([s for _, _, s in preds], dtype=float).reshape(-1, truth.keypoints.shape[2])
        frames_kps.append((kps, sc, ids))
        d = person_distances(truth.keypoints[t], truth.visible[t], truth.threshold[t], kps, sc)
        allowed = np.where(d <= MAX_DISTANCE, d, np.nan)
        near_ignored = ~np.isnan(allowed[~counted[t]]).all(0) if (~counted[t]).any() else np.zeros(len(ids), bool)
        near_counted = ~np.isnan(allowed[counted[t]]).all(0) if counted[t].any() else np.zeros(len(ids), bool)
        keep = ~(near_ignored & ~near_counted)  # a prediction only on an ignored person: not a false positive
        rows = np.flatnonzero(counted[t])
        acc.update(rows.tolist(), [ids[n] for n in np.flatnonzero(keep)], allowed[rows][:, keep], frameid=t)
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses",
                                       "num_objects"], name="clip")
    row = summary.loc["clip"]

    # which prediction each counted person got, per frame (motmetrics' own matching)
    matched: dict[tuple[int, int], int] = {}
    events = acc.mot_events
    for (t, _), ev in events[events.Type.isin(["MATCH", "SWITCH"])].iterrows():
        ids = frames_kps[int(t)][2]
        matched[(int(t), int(ev.OId))] = ids.index(int(ev.HId))
    hits = total = 0
    for t in range(T):
        kps, sc, _ = frames_kps[t]
        for p in np.flatnonzero(counted[t]):
            total += int(truth.visible[t, p].sum())
            n = matched.get((t, int(p)))
            if n is not None:
                hits += int(correct_joints(truth.keypoints[t, p:p + 1], truth.visible[t, p:p + 1],
                                           truth.threshold[t, p:p + 1], kps[n:n + 1], sc[n:n + 1]).sum())
    accel = []
    gt_acc = truth.keypoints[2:] - 2 * truth.keypoints[1:-1] + truth.keypoints[:-2]  # (T-2, P, 16, 2)
    for t in range(1, T - 1):
        for p in range(P):
            ns = [matched.get((s, p)) for s in (t - 1, t, t + 1)]
            if any(n is None for n in ns):
                continue
            pk = np.stack([frames_kps[s][0][n] for s, n in zip((t - 1, t, t + 1), ns)])
            ps = np.stack([frames_kps[s][1][n] for s, n in zip((t - 1, t, t + 1), ns)])
            with np.errstate(invalid="ignore"):
                still = np.linalg.norm(gt_acc[t - 1, p], axis=-1) <= STATIC_ACCEL
            ok = still & truth.visible[t - 1:t + 2, p].all(0) & (ps >= JOINT_THRESHOLD).all(0)
            if ok.any():
                accel.extend(np.linalg.norm(pk[2] - 2 * pk[1] + pk[0], axis=-1)[ok].tolist())
    return Scores(float(row["mota"]), float(row["idf1"]), int(row["num_switches"]), int(row["num_false_positives"]),
                  int(row["num_misses"]), int(row["num_objects"]), hits / max(total, 1),
                  float(np.mean(accel)) if accel else float("nan"), len(accel), total, acc,
                  sum(1 for (t, _) in matched if t == 0), int(counted[0].sum()) if T else 0)


# ------------------------------------------------------------------ running the variants

@dataclass
class Run:
    predictions: dict[str, list[list[Prediction]]]
    ms: dict[str, float]  # summed over frames: "synthesis", "pose", "draw", and "flow <variant>", "match <variant>"
    frames: int
    first_posed: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # frame 0's posed boxes


BOX_MODES = {
    "propagate": "boxes from ground truth in frame 0, then propagation alone (offline: no detector)",
    "truth": "ground-truth boxes every frame as the detector's (score 1), merged with the propagated ones by NMS",
    "truth+posenms": "as truth, and of two poses with OKS > 0.5 only the more confident is kept (pose NMS)",
    "detector": "the shipped detector (CenterNet) every N-th frame, merged with the propagated ones by NMS, pose NMS "
                "(hpe track's default)",
}


def run_clip(clip: Clip, predictor: Any, boxes: str = "propagate", draw: bool = True, *,
             detector: Any = None, detect_every: int = 1, det_threshold: float | None = None,
             first_threshold: float | None = None) -> Run:
    """Every variant over one clip: the driver's boxes and poses for all, each variant's own flow and matching.

    For the ``detector`` mode: ``detector``, ``detect_every``, ``det_threshold`` (the tracker's, after frame 0;
    default the paper's 0.5) and ``first_threshold`` (frame 0's; default: ``hpe track``'s, the detector's own).
    """
    from hpe_utils.track import POSE_NMS_OKS, draw_tracks, track_frames
    from hpe_utils.tracking import PoseTracker

    trackers = {name: PoseTracker(predictor.skeleton.name, **kw) for name, kw in VARIANTS.items()}
    if boxes == "detector" and det_threshold is not None:  # only the driver merges boxes
        trackers[DRIVER] = PoseTracker(predictor.skeleton.name, det_threshold=det_threshold, **VARIANTS[DRIVER])
    driver = trackers[DRIVER]
    preds: dict[str, list[list[Prediction]]] = {name: [] for name in VARIANTS}
    ms: dict[str, float] = {"pose": 0.0, "draw": 0.0}
    for name in VARIANTS:
        ms[f"flow {name}"] = ms[f"match {name}"] = 0.0
    stages: dict[str, float] = {}
    source = ((i, i / clip.fps, f) for i, f in enumerate(clip.frames))
    pose_nms_oks = None  # propagate and truth measure the paper's pipeline without it
    if boxes == "truth+posenms":  # hpe track's default: of two poses with OKS > 0.5 the more confident
        pose_nms_oks, boxes = POSE_NMS_OKS, "truth"
    if boxes == "truth":
        truth_boxes = iter([first_boxes(clip, t) for t in range(len(clip))])  # called once per frame, in order

        def truth(_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = next(truth_boxes)
            return b, np.ones(len(b))

        frames = track_frames(source, predictor, driver, detector=truth, pose_nms_oks=pose_nms_oks,
                              times=stages)
    elif boxes == "detector":
        if detector is None:
            raise ValueError("the detector mode needs a detector")
        frames = track_frames(source, predictor, driver, detector=detector, detect_every=detect_every,
                              pose_nms_oks=POSE_NMS_OKS, first_det_threshold=first_threshold, times=stages)
    elif boxes == "propagate":
        frames = track_frames(source, predictor, driver, first_boxes=first_boxes(clip), pose_nms_oks=None,
                              times=stages)
    else:
        raise ValueError(f"boxes: one of {', '.join(BOX_MODES)}, got {boxes!r}")
    first_posed = None
    for tf in frames:
        first_posed = tf.boxes if first_posed is None else first_posed
        poses = [(p.keypoints, p.scores) for p in tf.people]
        preds[DRIVER].append([(p.track_id, p.keypoints, p.scores) for p in tf.people])
        for name, tr in trackers.items():
            if tr is driver:
                continue
            t0 = time.perf_counter()
            tr.propagate(tf.image)
            t1 = time.perf_counter()
            people = tr.update(poses, t=tf.time)
            t2 = time.perf_counter()
            ms[f"flow {name}"] += (t1 - t0) * 1e3
            ms[f"match {name}"] += (t2 - t1) * 1e3
            preds[name].append([(p.track_id, p.keypoints, p.scores) for p in people])
        if draw:
            t0 = time.perf_counter()
            draw_tracks(tf.image, tf.people, predictor.skeleton)
            ms["draw"] += (time.perf_counter() - t0) * 1e3
    ms["pose"] = stages.get("pose", 0.0)
    ms[f"flow {DRIVER}"] = stages.get("propagate", 0.0)
    ms[f"match {DRIVER}"] = stages.get("match", 0.0)
    ms["decode"] = stages.get("decode", 0.0)
    ms["detect"] = stages.get("detect", 0.0)
    return Run(preds, ms, len(clip), np.zeros((0, 4)) if first_posed is None else first_posed)


# ------------------------------------------------------------------ speed of hpe track's own pipeline

def speed_rows(specs: list[ClipSpec], frames: int, backends: Sequence[str]) -> list[str]:
    """``hpe_utils.track.track`` end to end on an MP4 (decode .. write), one and three people, per backend.

    One person: its box in frame 0, then propagation. Three people: every frame's ground-truth boxes as a
    (free) detector's, so that all three are posed in every frame (propagation alone loses people here); then the
    shipped detector every ``DETECT_EVERY``-th frame (``hpe track``'s default boxes).
    """
    from hpe_utils.detect import load_detector
    from hpe_utils.predictor import Predictor
    from hpe_utils.track import DETECT_EVERY, track
    from hpe_utils.tracking import PoseTracker
    from hpe_utils.video import VideoWriter

    rows = ["| people in the clip | boxes | engine | poses/frame | frames/s end to end | decode | flow | detect | "
            "pose | match | draw | write | ms/frame |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    detector = load_detector("default")
    with tempfile.TemporaryDirectory() as tmp:
        videos = {}
        for label, clip in (("1", build_clip(specs[0], frames, only_background=True)),
                            ("3", build_clip(specs[0], frames))):
            path = Path(tmp) / f"clip{label}.mp4"
            with VideoWriter(path, clip.fps) as w:
                for f in clip.frames:
                    w.write(f)
            videos[label] = (path, clip)
        runs = (("1", "frame 0, then propagation"), ("3", "ground truth as the detector"),
                ("3", f"shipped detector every {DETECT_EVERY} frames"))
        for backend in backends:
            predictor = Predictor("default", backend=backend, flip=False, progress=False,
                                  expected_images=frames * 4)
            engine = predictor.backend.name if backend != "auto" else f"auto -> {predictor.backend.name}"
            for n, (label, how) in enumerate(runs):
                path, clip = videos[label]
                tracker = PoseTracker(predictor.skeleton.name)
                kw: dict[str, Any] = {"first_boxes": first_boxes(clip)}
                if n == 1:
                    truth_boxes = iter([first_boxes(clip, t) for t in range(len(clip))])
                    kw = {"detector": lambda _f: (lambda b: (b, np.ones(len(b))))(next(truth_boxes))}
                elif n == 2:
                    kw = {"detector": detector, "detect_every": DETECT_EVERY}
                summary = track(path, predictor, tracker, out_mp4=Path(tmp) / f"out{n}.mp4", overwrite=True, **kw)
                per = summary.per_frame_ms()
                rows.append(f"| {label} | {how} | {engine} | {summary.people / max(summary.frames, 1):.2f} | "
                            f"{summary.fps:.1f} | " + " | ".join(
                                f"{per.get(s, 0.0):.1f}" for s in ("decode", "propagate", "detect", "pose", "match",
                                                                   "draw", "write"))
                            + f" | {1000 / max(summary.fps, 1e-9):.0f} |")
                print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------ the report

def cpu_name() -> str:
    """The processor's model name (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(v: float, spec: str = ".3f") -> str:
    return "–" if v != v else format(v, spec)


def variant_tables(results: list[tuple[str, Truth, Run, dict[str, Scores]]], engine: str) -> list[str]:
    """The variant table (all clips together), the per-clip table and the shared stages of one box mode."""
    import motmetrics as mm

    mh = mm.metrics.create()
    totals: dict[str, float] = {}
    for _, _, run, _ in results:
        for k, v in run.ms.items():
            totals[k] = totals.get(k, 0.0) + v
    n_frames = sum(run.frames for _, _, run, _ in results)
    n_poses = sum(len(p) for _, _, run, _ in results for p in run.predictions[DRIVER])
    per = {k: v / max(n_frames, 1) for k, v in totals.items()}
    out = ["| variant | MOTA | IDF1 | ID switches | false positives | misses | PCK@0.2 torso | jitter px/frame² | "
           "flow ms/frame | matching ms/frame | frames/s end to end |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for v in VARIANTS:
        s = mh.compute_many([sc[v].accumulator for _, _, _, sc in results],
                            metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses"],
                            names=[n for n, _, _, _ in results], generate_overall=True).loc["OVERALL"]
        jn = sum(sc[v].jitter_samples for _, _, _, sc in results)
        jw = sum(sc[v].jitter * sc[v].jitter_samples for _, _, _, sc in results if sc[v].jitter_samples)
        pn = sum(sc[v].joints for _, _, _, sc in results)
        pk = sum(sc[v].pck * sc[v].joints for _, _, _, sc in results) / max(pn, 1)
        ms = per[f"flow {v}"] + per.get("detect", 0.0) + per["pose"] + per[f"match {v}"] + per["draw"]
        out.append(f"| {v} | {s['mota']:.3f} | {s['idf1']:.3f} | {int(s['num_switches'])} | "
                   f"{int(s['num_false_positives'])} | {int(s['num_misses'])} | {pk:.3f} | "
                   f"{_fmt(jw / jn if jn else float('nan'), '.2f')} | {per[f'flow {v}']:.1f} | "
                   f"{per[f'match {v}']:.2f} | {1000 / ms:.1f} |")
    out += ["", "Per clip, MOTA / IDF1 / ID switches / jitter:", "",
            "| clip | " + " | ".join(v.split(" ")[0] for v in VARIANTS) + " |", "|---|" + "---:|" * len(VARIANTS)]
    for name, _, _, sc in results:
        out.append(f"| {name} | " + " | ".join(f"{s.mota:.2f} / {s.idf1:.2f} / {s.switches} / {_fmt(s.jitter, '.1f')}"
                                               for s in sc.values()) + " |")
    out += ["", f"Shared stages, ms per frame (mean over {n_frames} frames, {n_poses / max(n_frames, 1):.2f} people "
                f"posed per frame): synthesis {per['synthesis']:.1f} (excluded from frames/s; the frames are made "
                f"in memory, so nothing is decoded), boxes {per.get('detect', 0.0):.1f} (the detector where it "
                f"runs + box merge), pose {per['pose']:.1f} (crops + {engine} + heatmap decoding + pose NMS), "
                f"drawing {per['draw']:.1f}."]
    return out


@dataclass
class SweepRow:
    """One detector setting over all clips: the paper's tracker's scores and its stages."""

    every: int
    first: float  # the detector threshold of frame 0
    threshold: float  # ... and of the frames after it
    scores: dict[str, float]
    first_found: int
    first_counted: int
    first_boxed: int
    per_frame: dict[str, float]  # ms per frame: flow, detect, pose, match, draw
    calls: float  # detector runs per frame

    @property
    def fps(self) -> float:
        return 1000 / max(sum(self.per_frame.values()), 1e-9)


def sweep_row(every: int, first: float, threshold: float,
              results: list[tuple[str, Truth, Run, dict[str, Scores]]]) -> SweepRow:
    """The driver's (iv) scores over all clips of one detector setting, and its ms per frame per stage."""
    import motmetrics as mm

    mh = mm.metrics.create()
    s = mh.compute_many([sc[DRIVER].accumulator for _, _, _, sc in results],
                        metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses"],
                        names=[n for n, _, _, _ in results], generate_overall=True).loc["OVERALL"]
    pn = sum(sc[DRIVER].joints for _, _, _, sc in results)
    pck = sum(sc[DRIVER].pck * sc[DRIVER].joints for _, _, _, sc in results) / max(pn, 1)
    n = sum(run.frames for _, _, run, _ in results)
    tot = {k: sum(run.ms.get(key, 0.0) for _, _, run, _ in results) / max(n, 1)
           for k, key in (("flow", f"flow {DRIVER}"), ("detect", "detect"), ("pose", "pose"),
                          ("match", f"match {DRIVER}"), ("draw", "draw"))}
    calls = sum(-(-run.frames // every) for _, _, run, _ in results) / max(n, 1)
    return SweepRow(every, first, threshold, {"mota": float(s["mota"]), "idf1": float(s["idf1"]),
                                       "switches": int(s["num_switches"]), "fp": int(s["num_false_positives"]),
                                       "misses": int(s["num_misses"]), "pck": pck},
                    sum(sc[DRIVER].first_found for _, _, _, sc in results),
                    sum(sc[DRIVER].first_counted for _, _, _, sc in results),
                    sum(boxed_first(clip_truth, run) for _, clip_truth, run, _ in results), tot, calls)


def boxed_first(truth: Truth, run: Run, iou: float = 0.5) -> int:
    """Counted people of frame 0 whose ground-truth box a posed box overlaps by IoU >= ``iou``."""
    from hpe_utils.tracking import iou_matrix

    counted = truth.visible[0].sum(-1) >= MIN_JOINTS
    if not counted.any() or not len(run.first_posed):
        return 0
    return int((iou_matrix(truth.boxes0[counted], run.first_posed).max(1) >= iou).sum())


MOTA_SLACK = 0.01  # the --detect-every rule: the fastest setting whose MOTA is within this of the best ...
IDF1_SLACK = 0.02  # ... and whose IDF1 is within this of the best (MOTA alone trades misses for false positives)


def choose_every(rows: Sequence[SweepRow], first: float, threshold: float) -> SweepRow:
    """The rule for hpe track's default --detect-every: of the rows at ``hpe track``'s thresholds, those with MOTA
    within MOTA_SLACK and IDF1 within IDF1_SLACK of their best, the one with the most frames/s."""
    mine = [r for r in rows if (r.first, r.threshold) == (first, threshold)]
    best_mota, best_idf1 = max(r.scores["mota"] for r in mine), max(r.scores["idf1"] for r in mine)
    ok = [r for r in mine if r.scores["mota"] >= best_mota - MOTA_SLACK and r.scores["idf1"] >= best_idf1 - IDF1_SLACK]
    return max(ok, key=lambda r: r.fps)


def sweep_table(rows: Sequence[SweepRow], chosen: SweepRow, default_every: int) -> list[str]:
    """The --detect-every table: the paper's tracker (iv) with the shipped detector, one row per setting."""
    out = ["| --detect-every | detector threshold: frame 0 / after | detector runs/frame | MOTA | IDF1 | ID switches | false positives "
           "| misses | PCK@0.2 torso | frame 0: boxed / posed right / people | flow ms | detect ms | pose ms | match ms | draw ms | "
           "frames/s |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = " **(rule)**" if r is chosen else ""
        same = (r.first, r.threshold) == (chosen.first, chosen.threshold)
        mark += " (hpe track's default)" if r.every == default_every and same else ""
        pf = r.per_frame
        out.append(f"| {r.every}{mark} | {r.first:.2f} / {r.threshold:.2f} | {r.calls:.2f} | {r.scores['mota']:.3f} | "
                   f"{r.scores['idf1']:.3f} | {r.scores['switches']} | {r.scores['fp']} | {r.scores['misses']} | "
                   f"{r.scores['pck']:.3f} | {r.first_boxed} / {r.first_found} / {r.first_counted} | {pf['flow']:.1f} | "
                   f"{pf['detect']:.1f} | {pf['pose']:.1f} | {pf['match']:.2f} | {pf['draw']:.1f} | {r.fps:.1f} |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=90, help="frames per clip (default 90: 3 s at 30 frames/s)")
    ap.add_argument("--backend", default="auto", help="engine for the variant tables (default auto)")
    ap.add_argument("--boxes", default=",".join(BOX_MODES),
                    help="box modes, comma-separated: " + "; ".join(f"{k}: {v}" for k, v in BOX_MODES.items()))
    ap.add_argument("--detect-every", default="1,2,3,5,10",
                    help="detector mode: the N to compare, comma-separated (default 1,2,3,5,10)")
    ap.add_argument("--no-threshold-rows", action="store_true",
                    help="detector mode: skip the two rows with one detector threshold throughout (the detector's "
                         "own, the paper's 0.5)")
    ap.add_argument("--speed-frames", type=int, default=60, help="frames of each speed run; 0 skips them")
    ap.add_argument("--speed-backends", default="auto",
                    help="engines of the speed runs, comma-separated (default auto; e.g. torch,auto)")
    ap.add_argument("--clips", type=int, default=4, help="use the first N clips (default all 4)")
    ap.add_argument("--out", help="also write the report (markdown) to this file")
    args = ap.parse_args(argv)
    try:
        import motmetrics
    except ImportError:
        print("bench/tracking.py needs motmetrics: pip install motmetrics (or the eval extra)", file=sys.stderr)
        return 2
    import torch

    from hpe_utils.detect import load_detector
    from hpe_utils.predictor import Predictor
    from hpe_utils.track import DETECT_EVERY, PAPER_DET_THRESHOLD, detector_threshold

    modes = [m for m in args.boxes.split(",") if m]
    everies = [int(v) for v in args.detect_every.split(",") if v]
    if not everies or min(everies) < 1:
        ap.error("--detect-every takes whole numbers >= 1, e.g. 1,2,3,5,10")
    if any(m not in BOX_MODES for m in modes):
        ap.error(f"--boxes takes {', '.join(BOX_MODES)}")
    t_start = time.perf_counter()
    specs = clip_specs()[:args.clips]
    usable = []
    for s in specs:
        if s.shipped or (s.folder / s.background).exists():
            usable.append(s)
        else:
            print(f"skipping clip {s.name!r}: {s.folder} is absent (../shared/data is not here)", flush=True)
    predictor = Predictor("default", backend=args.backend, flip=False, progress=False,
                          expected_images=args.frames * 3 * len(usable) * (len(modes) + len(everies)))
    detector = load_detector("default") if "detector" in modes else None
    engine = predictor.backend.name if args.backend != "auto" else f"auto -> {predictor.backend.name}"
    clips = []
    for spec in usable:
        t0 = time.perf_counter()
        clip = build_clip(spec, args.frames)
        clips.append((spec, clip, (time.perf_counter() - t0) * 1e3))
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `python bench/tracking.py"
             f"{' --frames ' + str(args.frames) if args.frames != 90 else ''}` on "
             f"{cpu_name()}, {torch.get_num_threads()} torch threads, OpenCV "
             f"{cv2.__version__}, motmetrics {motmetrics.__version__}; default weights ({predictor.skeleton.name}, "
             f"{predictor.input_size[0]}x{predictor.input_size[1]}), engine {engine}, flip test off"
             f"{'; detector ' + repr(detector) if detector is not None else ''}. {len(clips)} "
             f"clips, 640x360 at 30 frames/s:", ""]
    for spec, clip, _ in clips:
        counted = int((Truth.of(clip).visible.sum(-1) >= MIN_JOINTS).sum())
        lines.append(f"- {spec.name}: {len(clip)} frames, {clip.keypoints.shape[1]} people "
                     f"({int(clip.pasted.sum())} pasted), {len(first_boxes(clip))} boxed in frame 0, {counted} "
                     "person-frames counted")
    def run_mode(mode: str, **kw: Any) -> list[tuple[str, Truth, Run, dict[str, Scores]]]:
        results = []
        for spec, clip, synth in clips:
            truth = Truth.of(clip)
            run = run_clip(clip, predictor, mode, **kw)
            run.ms["synthesis"] = synth
            scores = {v: evaluate(truth, run.predictions[v]) for v in VARIANTS}
            results.append((spec.name, truth, run, scores))
            label = mode + "".join(f" {k}={v}" for k, v in kw.items() if k != "detector")
            print(f"[{label}] {spec.name}: " + ", ".join(f"{v.split(' ')[0]} MOTA {s.mota:.3f} IDsw {s.switches}"
                                                        for v, s in scores.items()), flush=True)
        return results

    for mode in modes:
        if mode != "detector":
            lines += ["", f"### Boxes: {BOX_MODES[mode]}", ""] + variant_tables(run_mode(mode), engine)
            continue
        own = detector_threshold(detector)
        later = PAPER_DET_THRESHOLD  # hpe track: the tracker's own det_threshold after frame 0
        configs = [(n, own, later) for n in everies]
        if not args.no_threshold_rows:  # why not one threshold throughout: the detector's own, or the paper's
            configs += [(min(everies), own, own), (min(everies), later, later)]
        rows, shown = [], None
        for n, first, thr in configs:
            res = run_mode(mode, detector=detector, detect_every=n, det_threshold=thr, first_threshold=first)
            rows.append(sweep_row(n, first, thr, res))
            if (first, thr) == (own, later) and (shown is None or n == DETECT_EVERY):
                shown = (n, res)
        chosen = choose_every(rows, own, later)
        assert shown is not None
        lines += ["", "### Boxes: the shipped detector (CenterNet) every N-th frame, merged with the propagated ones "
                      "by NMS, pose NMS (hpe track's default)", "",
                  f"The paper's tracker (iv), every clip together; `hpe track` keeps the detector's people from its "
                  f"own threshold ({own:.2f}) in frame 0 and from the paper's {later} after it (the last two rows: one "
                  f"threshold throughout); \"frame 0\": of the counted "
                  "people of the clips' first frames, those a posed box overlaps (IoU >= 0.5) and those whose pose "
                  "matched (at most half its joints wrong); ms per frame per stage (flip test "
                  "off, frames made in memory):", ""] + sweep_table(rows, chosen, DETECT_EVERY)
        lines += ["", f"Rule for the default: of the settings at `hpe track`'s thresholds, those within "
                      f"{MOTA_SLACK} of the best MOTA and {IDF1_SLACK} of the best IDF1, the one with the most "
                      f"frames/s: **--detect-every {chosen.every}** (MOTA {chosen.scores['mota']:.3f}, IDF1 "
                      f"{chosen.scores['idf1']:.3f}, {chosen.fps:.1f} frames/s); `hpe_utils.track.DETECT_EVERY` is "
                      f"{DETECT_EVERY}.",
                  "", f"All variants at --detect-every {shown[0]}:", ""] + variant_tables(shown[1], engine)
        print(f"detect-every rule picks {chosen.every} (DETECT_EVERY = {DETECT_EVERY})", flush=True)
    report = "\n".join(lines)
    print("\n" + report, flush=True)
    if args.speed_frames > 0:
        print("\nhpe track end to end (MP4 in, MP4 out), ms per frame per stage:", flush=True)
        rows = speed_rows(specs, args.speed_frames, [b for b in args.speed_backends.split(",") if b])
        report += ("\n\n### Speed: `hpe_utils.track.track` end to end\n\nOn a 640x360 MP4 of the first clip (its "
                   f"photo's person alone, then with the two pasted people), {args.speed_frames} frames, default "
                   "weights, flip test off, the paper's tracker (iv); decode MP4 -> flow -> detect -> pose -> match "
                   "-> draw -> write MP4, ms per frame per stage (`poses/frame`: people posed per frame, duplicates "
                   "included):\n\n" + "\n".join(rows))
    report += f"\n\nWhole run: {time.perf_counter() - t_start:.0f} s.\n"
    if args.out:
        Path(args.out).write_text(report)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
