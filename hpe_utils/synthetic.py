"""Video clips with known ground truth, made from real annotated photos: a virtual camera over moving pasted people.

Tracking needs videos whose every joint and identity is known, and no such video ships (PoseTrack's terms forbid
it). :func:`make_clip` builds one from a still photo with annotated people: a virtual camera pans across it, zooms
in and out, turns a few degrees and shakes for a stretch, while copies of annotated people (cut out of the same or
another photo with a soft mask, maybe mirrored) walk on straight paths across the scene, crossing the real people
and each other. Every frame is the photo and the copies warped by known affine maps, so the ground truth follows
exactly: each person's COCO-17 keypoints and box in every frame, each joint's visibility (labelled visible in the
photo, inside the frame and not covered by anyone in front of it) and its identity (person ``p`` is ``p`` in every
frame). Deterministic: the same inputs and ``seed`` give the same frames, bit for bit.

The default weights predict MPII-16: :func:`coco_to_mpii` maps COCO's ground truth to it (ankles, knees, hips,
wrists, elbows, shoulders; pelvis and thorax as mid-points); ``upper_neck`` and ``head_top`` have no COCO
counterpart and are never evaluated (:data:`MPII_EVALUATED`).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from .errors import InputError
from .skeletons import COCO17, MPII16

# MPII-16 joint index -> COCO-17 joint index, for the joints COCO annotates directly
COCO_FOR_MPII: dict[int, int] = {
    MPII16.index(m): COCO17.index(c) for m, c in (
        ("r_ankle", "right_ankle"), ("r_knee", "right_knee"), ("r_hip", "right_hip"), ("l_hip", "left_hip"),
        ("l_knee", "left_knee"), ("l_ankle", "left_ankle"), ("r_wrist", "right_wrist"), ("r_elbow", "right_elbow"),
        ("r_shoulder", "right_shoulder"), ("l_shoulder", "left_shoulder"), ("l_elbow", "left_elbow"),
        ("l_wrist", "left_wrist"))}
# MPII-16 joints that are the mid-point of two COCO-17 joints
COCO_MIDPOINTS: dict[int, tuple[int, int]] = {
    MPII16.index("pelvis"): (COCO17.index("left_hip"), COCO17.index("right_hip")),
    MPII16.index("thorax"): (COCO17.index("left_shoulder"), COCO17.index("right_shoulder")),
}
# which MPII-16 joints COCO ground truth can score (all but upper_neck and head_top)
MPII_EVALUATED: np.ndarray = np.array([j in COCO_FOR_MPII or j in COCO_MIDPOINTS for j in range(MPII16.num_joints)])
MPII_EVALUATED.flags.writeable = False

_L_SH, _R_SH = COCO17.index("left_shoulder"), COCO17.index("right_shoulder")
_L_HIP, _R_HIP = COCO17.index("left_hip"), COCO17.index("right_hip")
_HEAD = [COCO17.index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]


def coco_to_mpii(keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 keypoints (..., 17, 2) and visibility (..., 17) -> MPII-16 (..., 16, 2) and (..., 16) bool.

    Pelvis (thorax) is the mid-point of the hips (shoulders), visible only when both are; upper_neck and head_top
    have no COCO counterpart: coordinates NaN, never visible.
    """
    kps = np.asarray(keypoints, dtype=np.float64)
    vis = np.asarray(visible, dtype=bool)
    if kps.shape[-2:] != (COCO17.num_joints, 2) or vis.shape != kps.shape[:-1]:
        raise InputError(f"coco_to_mpii needs keypoints (..., 17, 2) and visibility (..., 17), got {kps.shape} "
                         f"and {vis.shape}")
    out = np.full(kps.shape[:-2] + (MPII16.num_joints, 2), np.nan)
    ov = np.zeros(kps.shape[:-2] + (MPII16.num_joints,), dtype=bool)
    for m, c in COCO_FOR_MPII.items():
        out[..., m, :], ov[..., m] = kps[..., c, :], vis[..., c]
    for m, (a, b) in COCO_MIDPOINTS.items():
        out[..., m, :], ov[..., m] = (kps[..., a, :] + kps[..., b, :]) / 2, vis[..., a] & vis[..., b]
    return out, ov


@dataclass(frozen=True)
class AnnotatedPerson:
    """One annotated person of a photo: COCO-17 keypoints (17, 3) as x, y, v (v: 0 unlabelled, 1 labelled but
    hidden, 2 visible), and optionally COCO's box [x, y, w, h] and segmentation polygons (each (N, 2))."""

    keypoints: np.ndarray
    box: np.ndarray | None = None
    polygons: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        k = np.asarray(self.keypoints, dtype=np.float64)
        if k.shape != (COCO17.num_joints, 3) or not np.isfinite(k).all():
            raise InputError(f"a person needs finite COCO-17 keypoints (17, 3) as x, y, v; got shape {k.shape}")
        object.__setattr__(self, "keypoints", k)
        if self.box is not None:
            b = np.asarray(self.box, dtype=np.float64).reshape(-1)
            if b.shape != (4,) or not np.isfinite(b).all() or (b[2:] <= 0).any():
                raise InputError(f"a person's box must be [x, y, w, h] with a positive size, got {self.box}")
            object.__setattr__(self, "box", b)
        polygons = tuple(np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in self.polygons)
        object.__setattr__(self, "polygons", polygons)

    @property
    def labelled(self) -> np.ndarray:
        return self.keypoints[:, 2] > 0

    def torso(self) -> float:
        """Torso diameter (left shoulder to right hip, else right shoulder to left hip); NaN without either."""
        k, lab = self.keypoints, self.labelled
        for a, b in ((_L_SH, _R_HIP), (_R_SH, _L_HIP)):
            if lab[a] and lab[b]:
                return float(np.hypot(*(k[a, :2] - k[b, :2])))
        return math.nan

    def extent(self) -> np.ndarray:
        """[x, y, w, h] around the person: COCO's box, else the labelled joints' box grown by 15 %."""
        if self.box is not None:
            return self.box.copy()
        pts = self.keypoints[self.labelled, :2]
        if len(pts) < 2:
            raise InputError("a person needs a box or at least two labelled keypoints")
        (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
        w, h = max(x2 - x1, 1.0) * 1.15, max(y2 - y1, 1.0) * 1.15
        return np.array([(x1 + x2 - w) / 2, (y1 + y2 - h) / 2, w, h])


def coco_people(annotations: Mapping[str, Any] | str | os.PathLike, file_name: str, *, min_keypoints: int = 8,
                need_torso: bool = True) -> list[AnnotatedPerson]:
    """The annotated people of one image of a COCO keypoints json (a dict or a path), largest first.

    Crowd annotations and people with fewer than ``min_keypoints`` labelled joints are left out, and with
    ``need_torso`` those without a labelled shoulder-hip diagonal (the evaluation's scale).
    """
    data = annotations
    if not isinstance(data, Mapping):
        with open(data, encoding="utf-8") as f:
            data = json.load(f)
    images = [im for im in data.get("images", []) if os.path.basename(im.get("file_name", "")) == file_name]
    if not images:
        raise InputError(f"no image {file_name!r} in the annotations")
    image_id = images[0]["id"]
    out = []
    for a in data.get("annotations", []):
        if a.get("image_id") != image_id or a.get("iscrowd", 0) or a.get("num_keypoints", 0) < min_keypoints:
            continue
        seg = a.get("segmentation")
        polys = tuple(np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in seg) if isinstance(seg, list) else ()
        person = AnnotatedPerson(np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3), a.get("bbox"), polys)
        if need_torso and not np.isfinite(person.torso()):
            continue
        out.append(person)
    return sorted(out, key=lambda p: -float(p.extent()[2] * p.extent()[3]))


@dataclass(frozen=True)
class Extra:
    """A person to paste into a clip: an annotated person and the RGB photo it is cut out of."""

    image: np.ndarray
    person: AnnotatedPerson


@dataclass
class Clip:
    """A made clip: RGB frames and, per frame and person, the ground truth that follows from the known transforms.

    Person ``p`` (the photo's people first, then the pasted ones) is identity ``p`` in every frame.
    """

    frames: list[np.ndarray]  # T frames, RGB uint8 (H, W, 3)
    keypoints: np.ndarray  # (T, P, 17, 2) COCO-17 in frame pixels (labelled joints; unlabelled ones NaN)
    visible: np.ndarray  # (T, P, 17) bool: labelled visible, inside the frame, not covered by anyone in front
    boxes: np.ndarray  # (T, P, 4) [x, y, w, h]: the person's box carried to the frame, clipped to it (0 size: outside)
    torso: np.ndarray  # (T, P) torso diameter in frame pixels (the evaluation's scale)
    pasted: np.ndarray  # (P,) bool: a pasted copy (True) or one of the photo's people
    cameras: np.ndarray  # (T, 3, 3) scene (photo pixels) -> frame pixels
    fps: float = 30.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        """The identity of each person: its index."""
        return np.arange(self.keypoints.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        h, w = self.frames[0].shape[:2]
        return w, h

    def __len__(self) -> int:
        return len(self.frames)

    def mpii(self) -> tuple[np.ndarray, np.ndarray]:
        """The ground truth on the MPII-16 skeleton: keypoints (T, P, 16, 2) and visibility (T, P, 16)."""
        return coco_to_mpii(self.keypoints, self.visible)


# ------------------------------------------------------------------ affine helpers (3x3 homogeneous)

def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])


def _rotate_scale(deg: float, s: float) -> np.ndarray:
    c, n = math.cos(math.radians(deg)) * s, math.sin(math.radians(deg)) * s
    return np.array([[c, -n, 0], [n, c, 0], [0, 0, 1.0]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:2, :2].T + m[:2, 2]


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
            or min(image.shape[:2]) < 16:
        raise InputError(f"{what} must be an RGB uint8 image (H, W, 3) of at least 16x16 pixels, got "
                         f"{getattr(image, 'shape', type(image).__name__)} {getattr(image, 'dtype', '')}".rstrip())
    return image


# ------------------------------------------------------------------ cutting people out

def person_mask(person: AnnotatedPerson, shape: tuple[int, int], feather: float | None = None) -> np.ndarray:
    """A soft mask (H, W) float32 in [0, 1] of one person: COCO's polygons when given, else a body drawn from the
    skeleton (limbs as thick lines, the torso filled, a disc for the head), with edges blurred by ``feather`` px."""
    h, w = shape
    ext = person.extent()
    size = max(ext[2], ext[3])
    hard = np.zeros((h, w), np.uint8)
    if person.polygons:
        cv2.fillPoly(hard, [np.round(p).astype(np.int32) for p in person.polygons if len(p) >= 3], 1)
    if not hard.any():
        k, lab = person.keypoints[:, :2], person.labelled
        width = max(3, int(round(0.09 * size)))
        for a, b in COCO17.limbs:
            if lab[a] and lab[b] and a not in _HEAD[1:] and b not in _HEAD[1:]:
                cv2.line(hard, tuple(np.round(k[a]).astype(int)), tuple(np.round(k[b]).astype(int)), 1, width,
                         cv2.LINE_8)
        torso = [j for j in (_L_SH, _R_SH, _R_HIP, _L_HIP) if lab[j]]
        if len(torso) >= 3:
            cv2.fillConvexPoly(hard, np.round(k[torso]).astype(np.int32), 1)
        head = [j for j in _HEAD if lab[j]]
        if head:
            centre = k[head].mean(0)
            spread = float(np.max(np.linalg.norm(k[head] - centre, axis=1))) if len(head) > 1 else 0.0
            radius = max(spread * 1.6, 0.08 * size)
            cv2.circle(hard, tuple(np.round(centre).astype(int)), int(round(radius)), 1, -1)
            if lab[_L_SH] and lab[_R_SH]:
                neck = (k[_L_SH] + k[_R_SH]) / 2
                cv2.line(hard, tuple(np.round(centre).astype(int)), tuple(np.round(neck).astype(int)), 1,
                         int(round(radius)), cv2.LINE_8)
        for j in np.flatnonzero(lab):  # every labelled joint lies on the person's pixels
            cv2.circle(hard, tuple(np.round(k[j]).astype(int)), max(2, width // 2), 1, -1)
    f = max(1.0, 0.012 * size) if feather is None else float(feather)
    inside = hard.astype(np.float32)
    if f <= 0:
        return inside
    soft = cv2.GaussianBlur(inside, (0, 0), f)
    # opaque inside (the blur's 0.5 at the edge doubled), fading over ``feather`` px outside
    return np.clip(np.where(hard > 0, 2.0 * soft, soft), 0.0, 1.0).astype(np.float32)


@dataclass
class _Sprite:
    """A pasted person: the crop around them, its mask, their annotation in crop pixels and where the crop goes."""

    patch: np.ndarray  # RGB float32 crop of the source photo
    alpha: np.ndarray  # (h, w) float32
    person: AnnotatedPerson  # in crop pixels, possibly mirrored (left/right labels swapped)
    to_scene: list[np.ndarray]  # per frame: crop pixels -> scene pixels


def _cut_out(extra: Extra, mirror: bool) -> tuple[np.ndarray, np.ndarray, AnnotatedPerson]:
    """The crop around an extra person (RGB float32), its soft mask, and the person in crop pixels, maybe mirrored."""
    img = _check_image(extra.image, "an extra person's image")
    person = extra.person
    ih, iw = img.shape[:2]
    ext = person.extent()
    pad = 0.15 * max(ext[2], ext[3])
    x1, y1 = int(max(0, math.floor(ext[0] - pad))), int(max(0, math.floor(ext[1] - pad)))
    x2, y2 = int(min(iw, math.ceil(ext[0] + ext[2] + pad))), int(min(ih, math.ceil(ext[1] + ext[3] + pad)))
    if x2 - x1 < 4 or y2 - y1 < 4:
        raise InputError("an extra person lies outside its image")
    box = None if person.box is None else person.box - [x1, y1, 0, 0]
    shifted = AnnotatedPerson(person.keypoints - [x1, y1, 0], box, tuple(p - [x1, y1] for p in person.polygons))
    patch = img[y1:y2, x1:x2].astype(np.float32)
    alpha = person_mask(shifted, (y2 - y1, x2 - x1))
    if mirror:  # mirror the crop: x -> (w - 1) - x, and left and right joints trade labels
        w = x2 - x1
        patch, alpha = patch[:, ::-1].copy(), alpha[:, ::-1].copy()
        k = shifted.keypoints.copy()
        k[:, 0] = (w - 1) - k[:, 0]
        k = k[COCO17.flip_permutation()]
        k[k[:, 2] == 0, :2] = 0.0
        box = None if shifted.box is None else np.array([w - shifted.box[0] - shifted.box[2], *shifted.box[1:]])
        polys = tuple(np.column_stack([(w - 1) - p[:, 0], p[:, 1]]) for p in shifted.polygons)
        shifted = AnnotatedPerson(k, box, polys)
    return patch, alpha, shifted


# ------------------------------------------------------------------ the clip

def _pan_range(lo: float, hi: float, want_lo: float, want_hi: float, min_share: float = 0.3) -> tuple[float, float]:
    """The centres, within [lo, hi] (where the view stays inside the photo), that keep [want_lo, want_hi] (the
    people) in view; when none does, those nearest the people's middle; at least ``min_share`` of [lo, hi] wide."""
    if want_lo <= want_hi:
        a, b = max(lo, want_lo), min(hi, want_hi)
        if a > b:
            a = b = float(np.clip((want_lo + want_hi) / 2, lo, hi))
    else:
        a = b = float(np.clip((want_lo + want_hi) / 2, lo, hi))
    need = min_share * (hi - lo) - (b - a)
    if need > 0:  # room to pan: widen around the middle, inside [lo, hi]
        a, b = a - need / 2, b + need / 2
        a, b = (lo, lo + (b - a)) if a < lo else ((hi - (b - a), hi) if b > hi else (a, b))
    return a, b


def _camera_path(iw: int, ih: int, size: tuple[int, int], n: int, rng: np.random.Generator, zoom: float,
                 zoom_swing: float, pan: float, rotate: float, shake: float, shake_span: tuple[float, float],
                 frame_box: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame scene -> frame maps (T, 3, 3), and the scene rectangle [x1, y1, x2, y2] seen in every frame."""
    w, h = size
    th = math.radians(abs(rotate))
    fit = max((w * math.cos(th) + h * math.sin(th)) / iw, (w * math.sin(th) + h * math.cos(th)) / ih)
    s0 = fit * zoom  # the widest view: the rotated frame fits inside the photo with room to pan
    s1 = s0 * (1 + zoom_swing)  # the closest view
    hx = (w / 2 * math.cos(th) + h / 2 * math.sin(th)) / s0
    hy = (w / 2 * math.sin(th) + h / 2 * math.cos(th)) / s0
    rx, ry = max(0.0, iw / 2 - hx), max(0.0, ih / 2 - hy)  # how far the centre may move from the photo's centre
    vx, vy = (w / 2 - h / 2 * math.sin(th)) / s1, (h / 2 - w / 2 * math.sin(th)) / s1  # seen at the closest view
    if frame_box is None:
        frame_box = np.array([iw / 2, ih / 2, 0.0, 0.0])
    bx1, by1, bw, bh = frame_box
    x_lo, x_hi = _pan_range(iw / 2 - rx, iw / 2 + rx, bx1 + bw - vx, bx1 + vx)
    y_lo, y_hi = _pan_range(ih / 2 - ry, ih / 2 + ry, by1 + bh - vy, by1 + vy)
    sign_x, sign_y = rng.choice([-1.0, 1.0], 2)
    u = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    cx = (x_lo + x_hi) / 2 + sign_x * pan * (x_hi - x_lo) / 2 * (2 * u - 1)  # constant velocity
    cy = (y_lo + y_hi) / 2 + sign_y * 0.5 * pan * (y_hi - y_lo) / 2 * (2 * u - 1)
    scale = s0 * (1 + zoom_swing * (1 - np.cos(2 * np.pi * u)) / 2)  # in and back out
    angle = rotate * np.sin(2 * np.pi * u + rng.uniform(0, 2 * np.pi))
    lo, hi = (int(round(shake_span[0] * n)), int(round(shake_span[1] * n)))
    jolt = np.zeros((n, 2))
    if shake > 0 and hi > lo:
        jolt[lo:hi] = rng.normal(0.0, shake, (hi - lo, 2))  # a hand-held stretch: independent jolts
    cams = np.stack([_translate(w / 2 + jolt[t, 0], h / 2 + jolt[t, 1]) @ _rotate_scale(angle[t], scale[t])
                     @ _translate(-cx[t], -cy[t]) for t in range(n)])
    # the part of the scene inside every frame (conservatively: the most zoomed-in view, unrotated part)
    vx, vy = vx - np.abs(jolt[:, 0]).max() / s0, vy - np.abs(jolt[:, 1]).max() / s0
    seen = np.array([cx.max() - vx, cy.max() - vy, cx.min() + vx, cy.min() + vy])
    return cams, seen


def make_clip(image: np.ndarray, people: Sequence[AnnotatedPerson], n_frames: int, size: tuple[int, int] = (640, 360),
              seed: int = 0, *, extras: Sequence[Extra] = (), fps: float = 30.0, zoom: float = 1.15,
              zoom_swing: float = 0.12, pan: float = 0.8, rotate: float = 2.0, shake: float = 2.5,
              shake_span: tuple[float, float] = (0.55, 0.75), mirror: bool | None = None,
              occlusion: float = 0.5) -> Clip:
    """A clip of ``n_frames`` frames of ``size`` (w, h) over an RGB photo whose annotated ``people`` stay put, with
    the ``extras`` pasted in front of it, walking across; ground truth for all of them (:class:`Clip`).

    Camera: starts ``zoom`` x closer than the widest view that fits the photo (the slack is room to pan), pans at
    constant speed over ``pan`` of that room, zooms in by ``zoom_swing`` and back out, turns up to ``rotate``
    degrees and back, and shakes (independent jolts of ``shake`` px, standard deviation) over the ``shake_span``
    fractions of the clip. Extras: scaled to the photo's people's height (±10 %), mirrored when ``mirror`` (None:
    a coin toss each), each starting where the first frame shows it farthest from everyone else and walking at
    constant speed on a straight line to the far side of the part of the scene every frame sees, so it crosses the
    photo's people and the other walkers; later extras pass in front of earlier ones. A joint is hidden where a
    person in front covers it with mask ``>= occlusion``.
    """
    img = _check_image(image, "the clip's image")
    people = list(people)
    extras = list(extras)
    if not all(isinstance(p, AnnotatedPerson) for p in people) or not all(isinstance(e, Extra) for e in extras):
        raise InputError("people must be AnnotatedPerson and extras Extra objects (see coco_people)")
    if not people and not extras:
        raise InputError("a clip needs at least one person (people or extras)")
    if int(n_frames) != n_frames or n_frames < 1:
        raise InputError(f"n_frames must be an integer >= 1, got {n_frames}")
    w, h = (int(v) for v in size)
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise InputError(f"size must be (width, height) between 16 and 4096 pixels, got {size}")
    if zoom < 1 or zoom_swing < 0 or not 0 <= pan <= 1 or shake < 0 or not 0 < occlusion <= 1 or not fps > 0 \
            or not 0 <= shake_span[0] <= shake_span[1] <= 1 or not abs(rotate) < 45:
        raise InputError("make_clip needs zoom >= 1, zoom_swing >= 0, 0 <= pan <= 1, shake >= 0, 0 <= shake_span[0] "
                         "<= shake_span[1] <= 1, |rotate| < 45, 0 < occlusion <= 1 and fps > 0")
    n = int(n_frames)
    rng = np.random.default_rng(seed)
    ih, iw = img.shape[:2]
    frame_box = None
    if people:  # the camera keeps the photo's people in view where it can
        ext = np.array([p.extent() for p in people])
        x1, y1 = ext[:, :2].min(0)
        x2, y2 = (ext[:, :2] + ext[:, 2:]).max(0)
        frame_box = np.array([x1, y1, x2 - x1, y2 - y1])
    cams, seen = _camera_path(iw, ih, (w, h), n, rng, zoom, zoom_swing, pan, rotate, shake, shake_span, frame_box)

    # extras: where they walk in the scene
    heights = [p.extent()[3] for p in people]
    ref_h = float(np.median(heights)) if heights else 0.6 * (seen[3] - seen[1])
    feet = [p.extent()[1] + p.extent()[3] for p in people]
    feet_y = float(np.median(feet)) if feet else seen[3] - 0.05 * (seen[3] - seen[1])
    sprites: list[_Sprite] = []
    first_dir = rng.choice([-1.0, 1.0])
    taken = [float(e[0] + e[2] / 2) for e in (p.extent() for p in people)]  # scene x of everyone in frame 0
    for k, extra in enumerate(extras):
        flip = bool(rng.random() < 0.5) if mirror is None else bool(mirror)
        patch, alpha, person = _cut_out(extra, flip)
        ext = person.extent()
        sigma = ref_h * rng.uniform(0.9, 1.1) / ext[3]
        half_w = sigma * ext[2] / 2
        lo_x, hi_x = seen[0] + half_w, seen[2] - half_w
        if hi_x <= lo_x:
            lo_x = hi_x = (seen[0] + seen[2]) / 2
        span = hi_x - lo_x
        # start where the first frame shows the walker apart from everyone else (a user can box it), then walk
        # to the far side: across the others
        starts = np.linspace(lo_x, hi_x, 9) + span * rng.uniform(-0.02, 0.02, 9)
        gap = np.array([min((abs(x - c) for c in taken), default=0.0) for x in starts])
        x0 = float(np.clip(starts[int(np.argmax(gap))], lo_x, hi_x)) if taken else \
            (lo_x if first_dir > 0 else hi_x) + first_dir * span * rng.uniform(0.0, 0.1)
        x1 = hi_x - span * rng.uniform(0.0, 0.1) if x0 < (lo_x + hi_x) / 2 else lo_x + span * rng.uniform(0.0, 0.1)
        taken.append(x0)
        y_feet = feet_y + ref_h * rng.uniform(-0.08, 0.08)
        y_feet = float(np.clip(y_feet, seen[1] + sigma * ext[3], max(seen[3], seen[1] + sigma * ext[3])))
        anchor = np.array([ext[0] + ext[2] / 2, ext[1] + ext[3]])  # the feet: bottom centre of the box
        u = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        to_scene = [_translate(x0 + (x1 - x0) * u[t], y_feet) @ _rotate_scale(0.0, sigma) @ _translate(*-anchor)
                    for t in range(n)]  # crop pixels -> scene pixels
        sprites.append(_Sprite(patch, alpha, person, to_scene))

    n_people = len(people) + len(sprites)
    kps = np.full((n, n_people, COCO17.num_joints, 2), np.nan)
    vis = np.zeros((n, n_people, COCO17.num_joints), bool)
    boxes = np.zeros((n, n_people, 4))
    torso = np.full((n, n_people), np.nan)
    frames = []
    sources = [(p, None) for p in people] + [(s.person, s) for s in sprites]
    for t in range(n):
        cam = cams[t]
        frame = cv2.warpAffine(img, cam[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        acc = frame.astype(np.float32)
        alphas = []
        for s in sprites:  # back to front
            m = (cam @ s.to_scene[t])[:2]  # crop pixels -> frame pixels (to_scene works in crop pixels)
            a = cv2.warpAffine(s.alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
            rgb = cv2.warpAffine(s.patch, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            acc = acc * (1 - a[..., None]) + rgb * a[..., None]
            alphas.append(a)
        frames.append(np.clip(np.round(acc), 0, 255).astype(np.uint8))
        for p, (person, s) in enumerate(sources):
            m = cam if s is None else cam @ s.to_scene[t]
            lab = person.labelled
            pts = _apply(m, person.keypoints[:, :2])
            kps[t, p][lab] = pts[lab]
            inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)
            v = (person.keypoints[:, 2] == 2) & inside
            xi = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
            yi = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
            k = None if s is None else p - len(people)
            if k is not None:  # a pasted joint is seen only where its own mask shows it
                v &= alphas[k][yi, xi] >= occlusion
            for front in range(0 if k is None else k + 1, len(sprites)):
                v &= alphas[front][yi, xi] < occlusion
            vis[t, p] = v
            ext = person.extent()
            corners = _apply(m, np.array([[ext[0], ext[1]], [ext[0] + ext[2], ext[1]], [ext[0], ext[1] + ext[3]],
                                          [ext[0] + ext[2], ext[1] + ext[3]]]))
            x1, y1 = np.clip(corners.min(0), 0, [w, h])
            x2, y2 = np.clip(corners.max(0), 0, [w, h])
            boxes[t, p] = [x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1)]
            torso[t, p] = person.torso() * math.sqrt(abs(np.linalg.det(m[:2, :2])))
    return Clip(frames, kps, vis, boxes, torso, np.array([False] * len(people) + [True] * len(sprites)), cams,
                float(fps), {"seed": seed, "size": (w, h), "people": len(people), "extras": len(sprites)})


__all__ = ["COCO_FOR_MPII", "COCO_MIDPOINTS", "MPII_EVALUATED", "AnnotatedPerson", "Clip", "Extra", "coco_people",
           "coco_to_mpii", "make_clip", "person_mask"]
