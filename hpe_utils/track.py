"""Pose tracking over a video, end to end: frames -> person boxes -> poses -> track ids -> annotated MP4 and JSON.

This is ``hpe track``, the paper's second half wired together. Per frame: the tracker moves the previous poses by
optical flow (:meth:`~hpe_utils.tracking.PoseTracker.propagate`); the detector's boxes (when one runs on this frame)
and the propagated ones are merged by NMS; :meth:`~hpe_utils.predictor.Predictor.predict_regions` estimates a pose
in every box; the tracker gives each pose an id; the frame is drawn (one colour per id, the id at the head) and
written. ``hpe track`` runs the shipped detector every :data:`DETECT_EVERY` frames by default. Boxes a user gives
for the first frame (``first_boxes``) each yield a person there, however weak, and no other box removes them.
Without a detector, the first frame's boxes come from ``first_boxes`` (or the whole frame: one person) and
propagation carries them on. Each stage's time is added up, so a run says where its time went.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
from tqdm.auto import tqdm

from .errors import BoxError, InputError
from .predictor import Predictor, keypoint_records
from .skeletons import Skeleton, get_skeleton
from .tracking import PoseTracker, TrackedPose, iou_matrix, pose_nms
from .transforms import whole_image_box
from .video import Frame, FrameSource, VideoWriter, open_frames
from .viz import SCORE_THRESHOLD, draw_skeleton, shown_joints

STAGES = ("decode", "propagate", "detect", "pose", "match", "draw", "write")  # where a frame's time goes
POSE_NMS_OKS = 0.5  # two poses this alike are one person seen twice (bench/tracking.py: switches 20 -> 9)
DETECT_EVERY = 1  # hpe track's --detect-every: bench/tracking.py, MOTA 0.18 at 1, 0.12 at 2, 0.11 at 3, 0.06 at 10
BOX_NMS_IOU = 0.5  # a detector or propagated box overlapping a given one more than this is that person again
PAPER_DET_THRESHOLD = 0.5  # the detector score the paper keeps, for detectors that return every candidate
# one colour per track id (RGB), cycling: distinct hues, all readable on a photo with a white outline
TRACK_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
    (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (255, 225, 25),
)
Detections = tuple[np.ndarray, np.ndarray]


def track_colour(track_id: int) -> tuple[int, int, int]:
    """The drawing colour of a track (RGB): fixed per id, so a person keeps one colour through the video."""
    return TRACK_PALETTE[int(track_id) % len(TRACK_PALETTE)]


def draw_tracks(image_rgb: np.ndarray, people: Sequence[TrackedPose], skeleton: Skeleton | str,
                threshold: float = SCORE_THRESHOLD, *, copy: bool = True) -> np.ndarray:
    """Each person's skeleton in its track's colour and its id above the highest joint shown (the head when seen)."""
    sk = get_skeleton(skeleton)
    img = image_rgb.copy() if copy else image_rgb
    h, w = img.shape[:2]
    t = max(2, round(min(h, w) / 150))
    r = max(3, round(t * 1.5))
    scale = max(0.5, min(h, w) / 600)
    for p in people:
        colour = track_colour(p.track_id)
        draw_skeleton(img, p.keypoints, p.scores, sk, threshold, thickness=t, radius=r, copy=False, colour=colour)
        ok = shown_joints(np.asarray(p.keypoints, dtype=np.float64), p.scores, threshold)
        shown = [(int(round(x)), int(round(y))) for (x, y), v in zip(p.keypoints, ok) if v]
        if shown:
            x, y = min(shown, key=lambda q: q[1])
        else:  # nothing confident: label the box
            x, y = int(p.box[0] + p.box[2] / 2), int(p.box[1])
        label = str(p.track_id)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, t)
        org = (int(np.clip(x - tw // 2, 0, max(0, w - tw))), int(np.clip(y - 2 * r - base, th, h - base)))
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), t + 2, cv2.LINE_AA)
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, t, cv2.LINE_AA)
    return img


def read_first_boxes(path: str | os.PathLike) -> np.ndarray:
    """``--boxes FIRST.json``: the first frame's people as a list of [x, y, w, h] (or {"boxes": [...]}) -> (N, 4)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise BoxError(f"cannot read boxes file {path}: {e}") from None
    if isinstance(data, dict):
        data = data.get("boxes")
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros((0,))
    if arr.ndim == 1 and arr.shape == (4,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4 or len(arr) == 0:
        raise BoxError(f"{path}: expected a list of [x, y, w, h] boxes for the first frame, e.g. [[100, 50, 80, 200]]")
    if not np.isfinite(arr).all() or (arr[:, 2:] <= 0).any():
        raise BoxError(f"{path}: every box needs finite x, y and a positive width and height")
    return arr


@dataclass
class TrackedFrame:
    """One frame's result: where it is in the source, the frame (RGB, not drawn on) and its tracked people."""

    index: int
    time: float
    image: np.ndarray
    people: list[TrackedPose]
    boxes: np.ndarray  # (N, 4): the boxes poses were estimated in (detected and propagated, after NMS)

    def record(self) -> dict[str, Any]:
        """The frame's JSON record (``hpe track --json``)."""
        return {"frame": int(self.index), "time": round(float(self.time), 4),
                "people": [{"track_id": int(p.track_id), "box": [round(float(v), 2) for v in p.box],
                            "keypoints": keypoint_records(p.keypoints, p.scores)} for p in self.people]}


def detector_threshold(detector: Callable[[np.ndarray], Detections] | None,
                       default: float = PAPER_DET_THRESHOLD) -> float:
    """A detector's own score threshold when it applies one itself (the shipped CenterNet's), else ``default``.

    The first frame keeps the detector's people from it: CenterNet scores lower than the paper's Faster R-CNN, and
    at the paper's 0.5 frame 0 of bench/tracking.py's clips loses 4 of its 14 people. A detector returning every
    candidate (torchvision's) has none and gets ``default``.
    """
    inner = getattr(detector, "detector", detector)  # a CheckedDetector wraps the detector itself
    own = getattr(inner, "threshold", None)
    return float(own) if isinstance(own, (int, float)) and 0 <= own <= 1 else float(default)


def _add_given(given: np.ndarray, boxes: np.ndarray, iou: float = BOX_NMS_IOU) -> np.ndarray:
    """The given boxes first, all of them, then those of ``boxes`` that are none of the given people again."""
    if not len(boxes):
        return given.copy()
    dup = (iou_matrix(boxes, given) > iou).any(axis=1)
    return np.concatenate([given, boxes[~dup]])


def track_frames(frames: Iterable[Frame], predictor: Predictor, tracker: PoseTracker, *,
                 detector: Callable[[np.ndarray], Detections] | None = None, detect_every: int = DETECT_EVERY,
                 first_boxes: np.ndarray | Sequence[Sequence[float]] | None = None, min_joints: int = 2,
                 pose_nms_oks: float | None = POSE_NMS_OKS, first_det_threshold: float | None = None,
                 times: dict[str, float] | None = None) -> Iterator[TrackedFrame]:
    """The pipeline one frame at a time (a generator: nothing is held); ``times`` accumulates ms per stage.

    Boxes per frame: the detector's scoring at least ``tracker.det_threshold`` (on every ``detect_every``-th frame,
    the first included) and the tracker's propagated ones, merged by NMS. In the first frame, where nobody is
    tracked yet, the detector's boxes count from ``first_det_threshold`` instead (None: the detector's own
    threshold, :func:`detector_threshold`, when lower): everyone is found there, and later low-scoring boxes,
    mostly parts and repeats of people already tracked, are left out (bench/tracking.py: MOTA 0.04 with the
    shipped detector's 0.25 in every frame, 0.18 with it in the first frame and 0.5 after). On the first frame
    every one of ``first_boxes`` is posed and kept, however weak its pose (a user said someone is there), and a
    detector box overlapping one (IoU > 0.5) is dropped as that person again; with neither a detector nor
    ``first_boxes``, the whole frame is one person's box, and stays the fallback: whenever no propagated box yields
    a pose, the whole frame is posed again (one person, found anew). Other poses count as people with at least
    ``min_joints`` joints at or above the tracker's ``joint_threshold`` (a box whose person has left yields only
    weak joints). Of two poses with OKS above ``pose_nms_oks`` only the more confident is kept (None: all), except
    that a given box's pose is never removed and never compared with another given one.
    """
    if int(detect_every) != detect_every or detect_every < 1:
        raise ValueError(f"detect_every must be an integer >= 1, got {detect_every}")
    first = None if first_boxes is None else np.asarray(first_boxes, dtype=np.float64).reshape(-1, 4)
    if first_det_threshold is None:
        first_det_threshold = min(detector_threshold(detector, tracker.det_threshold), tracker.det_threshold)
    t = times if times is not None else {}
    for s in STAGES:
        t.setdefault(s, 0.0)
    it = iter(frames)
    k = 0
    while True:
        t0 = time.perf_counter()
        try:
            index, when, frame = next(it)
        except StopIteration:
            return
        t1 = time.perf_counter()
        tracker.propagate(frame)
        t2 = time.perf_counter()
        det_boxes, det_scores = np.zeros((0, 4)), np.zeros(0)
        if detector is not None and k % detect_every == 0:
            det_boxes, det_scores = detector(frame)
        merged = tracker.merge_boxes(det_boxes, det_scores, det_threshold=first_det_threshold if k == 0 else None)
        boxes = np.asarray(merged, dtype=np.float64).reshape(-1, 4)
        given = first if k == 0 and first is not None else np.zeros((0, 4))
        if len(given):
            boxes = _add_given(given, boxes)
        whole = whole_image_box(frame.shape[1], frame.shape[0]).astype(np.float64)[None]
        one_person = detector is None and first is None  # no detector, no boxes given: the frame shows one person
        if not len(boxes) and detector is None and (k == 0 or one_person):
            boxes = whole
        t3 = time.perf_counter()
        poses, posed = _poses(predictor, frame, boxes, tracker.joint_threshold, min_joints, len(given))
        if not poses and one_person and len(boxes) and not np.array_equal(boxes, whole):
            poses, posed = _poses(predictor, frame, whole, tracker.joint_threshold, min_joints)  # lost: look again
        if pose_nms_oks is not None and len(poses) > 1:
            keep = pose_nms(poses, tracker.sigmas, pose_nms_oks, tracker.joint_threshold, fixed=range(len(given)))
            poses, posed = [poses[i] for i in keep], posed[keep]
        t4 = time.perf_counter()
        people = tracker.update(poses, t=when)
        t5 = time.perf_counter()
        for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            t[stage] += dt * 1e3
        k += 1
        yield TrackedFrame(index, when, frame, people, posed)


def _poses(predictor: Predictor, frame: np.ndarray, boxes: np.ndarray, joint_threshold: float, min_joints: int,
           n_given: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """A pose in every box; the first ``n_given`` (given boxes) always, the rest with ``min_joints`` joints at
    ``joint_threshold``; and their boxes."""
    if not len(boxes):
        return [], boxes
    centers, scales = predictor.regions(boxes)
    kps, scores, _ = predictor.predict_regions([frame] * len(boxes), centers, scales)
    strong = (scores >= joint_threshold).sum(axis=1) >= min_joints
    keep = np.flatnonzero(strong | (np.arange(len(boxes)) < n_given))
    return [(kps[i], scores[i]) for i in keep], boxes[keep]


@dataclass
class TrackSummary:
    """What a :func:`track` run did: frames, people, outputs, and the time of each stage (ms, summed)."""

    source: str
    frames: int
    skipped: int
    missing_at_end: int
    seconds: float
    times_ms: dict[str, float]
    tracks: int  # distinct track ids
    people: int  # poses over all frames
    out_mp4: Path | None = None
    out_json: Path | None = None
    interrupted: bool = False
    fps_in: float = 0.0
    engine: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second end to end (decode to write)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def per_frame_ms(self) -> dict[str, float]:
        """Mean ms per frame of each stage."""
        return {k: v / max(self.frames, 1) for k, v in self.times_ms.items()}

    def describe(self) -> str:
        """Two lines for the terminal: what was done, and where the time went."""
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.per_frame_ms().items())
        lost = f", {self.skipped} skipped" if self.skipped else ""
        lost += f", {self.missing_at_end} missing at the end" if self.missing_at_end else ""
        return (f"{self.frames} frames{lost}, {self.tracks} track(s), {self.people} poses in {self.seconds:.1f} s "
                f"({self.fps:.1f} frames/s)\nms per frame: {stages}")


class _JsonStream:
    """The tracks file, written record by record into a temporary file beside it and renamed into place at the end."""

    def __init__(self, path: Path, header: dict[str, Any], overwrite: bool) -> None:
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.part-", dir=path.parent)
        self._tmp = Path(name)
        self._f = os.fdopen(fd, "w")
        self._f.write(json.dumps(header)[:-1] + ', "frames": [')
        self._n = 0

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(("\n" if self._n == 0 else ",\n") + json.dumps(record))
        self._n += 1

    def close(self, tail: dict[str, Any]) -> Path:
        self._f.write("\n], " + json.dumps(tail)[1:] + "\n")
        self._f.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._f.close()
        self._tmp.unlink(missing_ok=True)


def check_outputs(out_mp4: str | os.PathLike | None, out_json: str | os.PathLike | None, overwrite: bool) -> None:
    """Refuse existing outputs before any work starts (a user's file is never lost, and no minute is wasted)."""
    if out_mp4 is not None:
        VideoWriter(out_mp4, 25.0, overwrite=True)  # checks it is no folder and the suffix; creates nothing
    if out_json is not None and Path(out_json).is_dir():
        raise InputError(f"{out_json}: is a folder; name the JSON file (e.g. {Path(out_json) / 'tracks.json'})")
    for p in (out_mp4, out_json):
        if p is not None and Path(p).exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass --overwrite to replace it")


def track(source: str | os.PathLike | int | FrameSource, predictor: Predictor, tracker: PoseTracker, *,
          detector: Callable[[np.ndarray], Detections] | None = None, detect_every: int = DETECT_EVERY,
          first_boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
          out_mp4: str | os.PathLike | None = None, out_json: str | os.PathLike | None = None,
          overwrite: bool = False, threshold: float = SCORE_THRESHOLD, min_joints: int = 2,
          first_det_threshold: float | None = None,
          max_frames: int | None = None, fps: float | None = None, progress: bool = False,
          log: Callable[[str], None] | None = None,
          on_frame: Callable[[TrackedFrame], None] | None = None) -> TrackSummary:
    """Track the people of a video file, image folder or camera; write the annotated MP4 and/or the JSON.

    Both outputs appear only when the run finishes (written under temporary names, then renamed); an error, or
    Ctrl-C on a file, leaves neither. Ctrl-C on a camera ends the recording and keeps what was tracked. ``threshold``
    hides weak joints in the drawing only; ``on_frame`` sees every :class:`TrackedFrame`. See :func:`track_frames`
    for the boxes, ``min_joints`` and ``first_det_threshold``.
    """
    check_outputs(out_mp4, out_json, overwrite)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    src = open_frames(source, fps=fps, log=log)
    sk = predictor.skeleton
    times = {s: 0.0 for s in STAGES}
    writer = VideoWriter(out_mp4, src.fps, overwrite=overwrite) if out_mp4 is not None else None
    stream = None
    n = people = 0
    ids: set[int] = set()
    interrupted = False
    t_start = time.perf_counter()
    total = src.frame_count if max_frames is None else min(src.frame_count or max_frames, max_frames)
    bar = tqdm(total=total, unit="frame", desc=Path(str(src.source)).name[:30], disable=not progress)
    try:
        if out_json is not None:
            stream = _JsonStream(Path(out_json), {"skeleton": sk.name, "joints": list(sk.joints), "fps": src.fps,
                                                  "source": src.source, "width": src.width, "height": src.height},
                                 overwrite)
        frames = track_frames(src, predictor, tracker, detector=detector, detect_every=detect_every,
                              first_boxes=first_boxes, min_joints=min_joints,
                              first_det_threshold=first_det_threshold, times=times)
        try:
            for tf in frames:
                if writer is not None:
                    t0 = time.perf_counter()
                    drawn = draw_tracks(tf.image, tf.people, sk, threshold)
                    t1 = time.perf_counter()
                    writer.write(drawn)
                    times["draw"] += (t1 - t0) * 1e3
                    times["write"] += (time.perf_counter() - t1) * 1e3
                if stream is not None:
                    t0 = time.perf_counter()
                    stream.write(tf.record())
                    times["write"] += (time.perf_counter() - t0) * 1e3
                if on_frame is not None:
                    on_frame(tf)
                n += 1
                people += len(tf.people)
                ids.update(p.track_id for p in tf.people)
                bar.update(1)
                if max_frames is not None and n >= max_frames:
                    break
        except KeyboardInterrupt:
            if src.kind != "camera":
                raise
            interrupted = True  # a camera has no end: Ctrl-C is how a recording stops
        summary = TrackSummary(src.source, n, src.skipped, src.missing_at_end, time.perf_counter() - t_start, times,
                               len(ids), people, interrupted=interrupted, fps_in=src.fps,
                               engine=getattr(predictor.backend, "name", ""))
        if writer is not None:
            summary.out_mp4 = writer.close()
        if stream is not None:
            summary.out_json = stream.close({"skipped": src.skipped, "missing_at_end": src.missing_at_end})
        return summary
    except BaseException:
        if writer is not None:
            writer.abort()
        if stream is not None:
            stream.abort()
        raise
    finally:
        bar.close()
        src.close()


__all__ = ["BOX_NMS_IOU", "DETECT_EVERY", "PAPER_DET_THRESHOLD", "POSE_NMS_OKS", "STAGES", "TRACK_PALETTE",
           "TrackSummary", "TrackedFrame", "check_outputs", "detector_threshold", "draw_tracks", "read_first_boxes",
           "track", "track_colour", "track_frames"]
