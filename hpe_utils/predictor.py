"""A small CPU-first inference API: ``Predictor(weights)(image, boxes=None)``; the detector finds people when no box is given.

This is the one inference pipeline of the project: regions (centre, scale) of RGB images -> affine crops ->
normalisation -> an engine -> flip test -> multi-scale averaging -> decoding -> image pixels. ``hpe predict``,
``hpe serve``, ``hpe eval`` and the validation of ``hpe train`` all run it (:meth:`Predictor.predict_regions`).
Simple Baselines is top-down: where no boxes are given, a person detector (the shipped CenterNet by default,
:mod:`hpe_utils.detect`) gives them; ``detector=None`` poses the whole image as one person instead.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .auto import AutoDecision, choose_backend, default_backend, measure
from .centernet import MAX_PEOPLE
from .codec import OUTPUT_STRIDE, HeatmapCodec
from .detect import CheckedDetector, load_detector
from .engines import AUTO, Backend, build_engine, engine_spec, open_exported
from .errors import BoxError, InputError
from .flip import check_flip_shift, flip_back_numpy, mirror_shift
from .formats import file_kind
from .images import read_image
from .model import PoseResNet, PoseResNetConfig
from .parity import real_crops, run_batched
from .skeletons import Skeleton, get_skeleton
from .tracking import OKS_SIGMAS, pose_nms
from .transforms import (BOX_PADDING, box_to_center_scale, check_box_padding, check_scales, crop, heatmap_to_image,
                         normalize, whole_image_box, zoom_heatmaps)
from .viz import SCORE_THRESHOLD
from .weights import LoadedWeights, load_weights

ImageLike = Any  # path, bytes, numpy array or PIL image: anything images.read_image accepts
DEFAULT_BATCH = 16  # people per engine call (twice that with the flip test): bounded memory on any image
MIN_JOINTS = 2  # a pose with fewer joints at SCORE_THRESHOLD is "weak": kept and marked, never dropped
POSE_NMS_OKS = 0.5  # two detected people whose poses are this alike are one person found twice
DetectorSpec = Any  # "default", "none", a registry name, "module:function", a callable, or None


def keypoint_records(keypoints: np.ndarray, scores: np.ndarray) -> list[list[float]]:
    """Joints as [x, y, score] rounded for JSON (0.01 px, 4 digits of score): hpe predict's and hpe eval's records."""
    return [[round(float(x), 2), round(float(y), 2), round(float(s), 4)] for (x, y), s in zip(keypoints, scores)]


@dataclass
class Person:
    """One person's prediction in image pixels; ``box_score`` is the detector's confidence (None: a given box)."""

    box: np.ndarray  # (4,) x, y, w, h that was cropped
    keypoints: np.ndarray  # (K, 2)
    scores: np.ndarray  # (K,)
    box_score: float | None = None

    @property
    def weak(self) -> bool:
        """Fewer than MIN_JOINTS joints at the drawing threshold: likely nobody, or somebody mostly hidden."""
        return int((np.asarray(self.scores) >= SCORE_THRESHOLD).sum()) < MIN_JOINTS

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(float(v), 2) for v in self.box],
                "box_score": None if self.box_score is None else round(float(self.box_score), 4),
                "weak": self.weak, "keypoints": keypoint_records(self.keypoints, self.scores)}


@dataclass
class PoseResult:
    """Everything predicted for one image: its size, the skeleton and one entry per person."""

    width: int
    height: int
    skeleton: Skeleton
    people: list[Person] = field(default_factory=list)
    image: str | None = None
    heatmaps: np.ndarray | None = None  # (P, K, h, w) when requested
    detector: str | None = None  # the detector that found the people; None: boxes given, or the whole image
    detected: int | None = None  # people the detector found, before the max_people cap and duplicate removal

    @property
    def capped(self) -> bool:
        """More people were detected than ``max_people`` allowed: the most confident were kept."""
        return self.detected is not None and self.detected > len(self.people)

    def to_json(self) -> dict[str, Any]:
        """The record ``hpe predict --json`` and the REST API return."""
        return {"image": self.image, "width": self.width, "height": self.height, "skeleton": self.skeleton.name,
                "joints": list(self.skeleton.joints), "detector": self.detector, "detected": self.detected,
                "people": [p.to_json() for p in self.people]}


def _as_boxes(boxes: Sequence[Sequence[float]] | np.ndarray, width: int, height: int) -> np.ndarray:
    if len(boxes) == 0:
        return whole_image_box(width, height)[None]
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):  # ragged lists, strings: the caller's mistake, not ours
        raise BoxError("boxes must be a list of [x, y, w, h] numbers") from None
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise BoxError(f"boxes must be a list of [x, y, w, h], got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr[:, 2:] <= 0).any():
        raise BoxError("every box needs finite x, y and a positive width and height")
    return arr.astype(np.float32)


class Predictor:
    """Loads weights once and predicts keypoints for any image and optional person boxes.

    ``weights`` is a registry name, a checkpoint path or URL, a :class:`~hpe_utils.weights.LoadedWeights`,
    or an exported model (``.onnx``, ``.torchscript``), which runs in its own runtime. ``backend`` names an
    engine of :data:`~hpe_utils.engines.ENGINES` or "auto" (the default, or ``$HPE_BACKEND`` when set): see
    :mod:`hpe_utils.auto`; ``expected_images`` tells it how much work is coming (it measures and compiles only
    when that repays the cost) and ``background=True`` (a server) measures in a thread and switches engines
    when done. ``self.backend.name`` says which engine runs; ``self.decision`` holds auto's measurements.
    ``box_padding`` (crop = box x padding) defaults to the one stored with the weights (1.25 when none is).
    ``refine`` is the codec's sub-pixel step ("dark", or the original's "quarter"); the flip test moves the
    mirrored branch by ``flip_shift`` heatmap pixels (default: the exact :func:`~hpe_utils.flip.mirror_shift`).
    ``scales`` (default 1 only) are test scales: crops that many times the padded box around the same centre,
    whose heatmaps are zoomed back and averaged before decoding (each scale costs one more pass). ``sigma``
    is the training Gaussian's, which DARK decoding blurs with (default: the one stored with the weights, else
    the input size's usual one). ``detector`` finds the people of a call without boxes (see
    :func:`~hpe_utils.detect.load_detector`; default: the shipped CenterNet, loaded on first use; None: the whole
    image is one person); at most ``max_people`` of the most confident are posed.
    """

    def __init__(self, weights: str | os.PathLike | LoadedWeights = "default", *, device: str | torch.device = "cpu",
                 flip: bool = True, batch_size: int = DEFAULT_BATCH, input_size: tuple[int, int] | None = None,
                 skeleton: str | None = None, color_order: str | None = None, box_padding: float | None = None,
                 backend: str | None = None, progress: bool = True, log: Callable[[str], None] | None = None,
                 remeasure: bool = False, refine: str = "dark", scales: Sequence[float] = (1.0,),
                 flip_shift: float | None = None, sigma: float | None = None, expected_images: float = 1,
                 background: bool = False, detector: DetectorSpec = "default", max_people: int = MAX_PEOPLE) -> None:
        self.scales = check_scales(scales)  # before any loading, so a bad value fails fast
        if int(max_people) != max_people or max_people < 1:
            raise InputError(f"max_people must be a whole number >= 1, got {max_people}")
        self.max_people = int(max_people)
        self._detector_spec: DetectorSpec = detector
        self._detector: CheckedDetector | None = None
        self._detector_lock = threading.Lock()
        self.flip_shift = None if flip_shift is None else check_flip_shift(flip_shift)
        say = log or (lambda _m: None)
        self.device = torch.device(device)
        self.weights: LoadedWeights | None = None
        self.model: torch.nn.Module | None = None
        self.decision: AutoDecision | None = None
        self._measuring: threading.Thread | None = None
        if not isinstance(weights, LoadedWeights) and file_kind(weights) is not None:
            # $HPE_BACKEND is a default for checkpoints; an exported file always runs in its own runtime
            self.backend: Backend = open_exported(weights, self.device, backend)  # type: ignore[arg-type]
            meta = self.backend.meta  # type: ignore[attr-defined]
            sk_name, size, order = meta["skeleton"], meta["input_size"], meta["color_order"]
            padding = meta.get("box_padding", BOX_PADDING)  # files exported before the padding was stored
            stride = PoseResNetConfig.from_dict(meta["config"]).stride if "config" in meta else OUTPUT_STRIDE
            trained_sigma = meta.get("sigma")  # None in files exported before it was stored: the default
        else:
            loaded = weights if isinstance(weights, LoadedWeights) else load_weights(
                weights, device=self.device, input_size=input_size, skeleton=skeleton, color_order=color_order,
                progress=progress)
            self.weights = loaded
            self.model = loaded.model.to(self.device).eval()
            sk_name, size, order, padding = loaded.skeleton.name, loaded.input_size, loaded.color_order, loaded.box_padding
            stride = loaded.config.stride if loaded.config is not None else OUTPUT_STRIDE
            trained_sigma = loaded.sigma
            in_size: tuple[int, int] = tuple(int(v) for v in (input_size or size))  # type: ignore[assignment]
            crops_order = color_order or order
            spec = engine_spec(self.model, self.device, in_size, lambda: real_crops(in_size, crops_order))
            backend = backend or default_backend()
            if backend == AUTO:
                batch = 2 if flip else 1  # the predictor's usual engine call: one person, and its mirror image
                # in the background, the first engine is whatever loads at once (a cached choice, or eager)
                self.backend, self.decision = choose_backend(
                    spec, batch=batch, expected_images=1 if background else expected_images,
                    remeasure=remeasure and not background, log=say)
                say(self.decision.summary())
                if background and (remeasure or not (self.decision.cached or self.decision.measured)):
                    self._measuring = threading.Thread(target=self._measure_and_switch, args=(spec, batch, say),
                                                       name="hpe-auto-measure", daemon=True)
                    self._measuring.start()
            else:
                self.backend = build_engine(backend, spec, say)
        self.skeleton: Skeleton = get_skeleton(skeleton or sk_name)
        self.input_size: tuple[int, int] = tuple(int(v) for v in (input_size or size))  # type: ignore[assignment]
        self.color_order: str = color_order or order
        self.box_padding: float = check_box_padding(padding if box_padding is None else box_padding)
        self.flip = flip
        self.batch_size = batch_size
        w, h = self.input_size
        self.codec = HeatmapCodec(self.input_size, (w // stride, h // stride), refine=refine,
                                  sigma=trained_sigma if sigma is None else sigma)
        self._flip_perm = self.skeleton.flip_permutation()
        self.last_timings: dict[str, float] = {}  # ms per stage of the last call: read, preprocess, model, postprocess

    @classmethod
    def from_model(cls, model: PoseResNet, *, skeleton: str, input_size: tuple[int, int], color_order: str = "rgb",
                   box_padding: float = BOX_PADDING, sigma: float | None = None, backend: str = "torch",
                   **kwargs: Any) -> Predictor:
        """A predictor around a model in memory (a training run's), sharing its weights: the same pipeline as a file's."""
        sk = get_skeleton(skeleton)
        loaded = LoadedWeights(model, getattr(model, "config", None), sk, (int(input_size[0]), int(input_size[1])),
                               color_order, "in-memory", "in-memory model", None, {}, check_box_padding(box_padding), sigma)
        return cls(loaded, backend=backend, **kwargs)

    @property
    def detector(self) -> CheckedDetector | None:
        """The person detector for calls without boxes, loaded (and its file verified) on first use; None: none."""
        if self._detector is None and self._detector_spec not in (None, "none"):
            with self._detector_lock:
                if self._detector is None:
                    self._detector = load_detector(self._detector_spec, device=self.device)
        return self._detector

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """People in an RGB image -> (boxes (N, 4), scores (N,)) of the ``max_people`` most confident, and N found."""
        det = self.detector
        if det is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0
        boxes, scores = det(rgb)
        order = np.argsort(-scores, kind="stable")[: self.max_people]
        return boxes[order], scores[order], len(boxes)

    def _measure_and_switch(self, spec: Any, batch: int, say: Callable[[str], None]) -> None:
        """Measure the engines in the background and switch to the winner (running calls finish on the old one)."""
        try:
            t0 = time.perf_counter()
            engine, decision = measure(spec, batch=batch, log=say)
            decision.seconds = time.perf_counter() - t0
            self.backend, self.decision = engine, decision
            say(decision.summary())
        except Exception as e:  # measuring is an optimisation: the server keeps running on eager PyTorch
            say(f"backend auto: background measurement failed ({type(e).__name__}: {e}); staying on torch")

    def wait_for_backend(self, timeout: float | None = None) -> bool:
        """Block until a background measurement (``background=True``) has finished; True when none is running."""
        if self._measuring is not None:
            self._measuring.join(timeout)
            return not self._measuring.is_alive()
        return True

    # ------------------------------------------------------------------ the pipeline, stage by stage

    def regions(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) -> crop centres (N, 2) and scales (N, 2), widened to the input's aspect and padded."""
        aspect = self.input_size[0] / self.input_size[1]
        cs = [box_to_center_scale(b, aspect, self.box_padding) for b in boxes]
        return np.stack([c for c, _ in cs]), np.stack([s for _, s in cs])

    def crops(self, image: np.ndarray, centers: np.ndarray, scales: np.ndarray, zoom: float = 1.0) -> np.ndarray:
        """Normalised crops (N, 3, H, W) of regions of one RGB image; ``zoom`` crops that many times wider."""
        return normalize(np.stack([crop(image, c, s * zoom, self.input_size) for c, s in zip(centers, scales)]),
                         self.color_order)

    def preprocess(self, image: np.ndarray, boxes: np.ndarray, zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB image + boxes -> (normalised crops (N, 3, H, W), centres (N, 2), scales (N, 2)) of the unit crop."""
        centers, scales = self.regions(boxes)
        return self.crops(image, centers, scales, zoom), centers, scales

    def run_model(self, x: np.ndarray) -> np.ndarray:
        """Normalised crops (N, 3, H, W) -> heatmaps (N, K, h, w), with the flip test when enabled."""
        if not self.flip:
            return self.backend(x)
        n = x.shape[0]
        both = self.backend(np.concatenate([x, np.ascontiguousarray(x[..., ::-1])]))
        return (both[:n] + flip_back_numpy(both[n:], self._flip_perm, self.applied_flip_shift or 0.0)) * 0.5

    @property
    def applied_flip_shift(self) -> float | None:
        """Heatmap pixels the flip test moves the mirrored branch: ``flip_shift`` or the exact mirror offset."""
        if not self.flip:
            return None
        assert self.codec.heatmap_size is not None
        exact = mirror_shift(self.input_size[0], self.codec.heatmap_size[0])
        return exact if self.flip_shift is None else self.flip_shift

    def heatmaps(self, views: Sequence[np.ndarray]) -> np.ndarray:
        """Crops of the same people at each of ``self.scales`` -> heatmaps averaged in the unit crop's frame."""
        return np.mean([zoom_heatmaps(run_batched(self.run_model, x, self.batch_size), z)
                        for z, x in zip(self.scales, views)], axis=0)

    def postprocess(self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps -> keypoints in image pixels (N, K, 2) and scores (N, K)."""
        assert self.codec.heatmap_size is not None
        coords, scores = self.codec.decode(heatmaps)
        kps = np.stack([heatmap_to_image(c, ce, s, self.codec.heatmap_size) for c, ce, s in zip(coords, centers, scales)])
        return kps, scores

    def predict_regions(self, images: Sequence[np.ndarray], centers: np.ndarray,
                        scales: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pipeline: region i of RGB image i -> (keypoints (N, K, 2) in image pixels, scores (N, K), heatmaps).

        ``hpe predict`` passes one image per person box; ``hpe eval`` one annotated person per image.
        """
        t0 = time.perf_counter()
        views = [np.concatenate([self.crops(img, c[None], s[None], z) for img, c, s in zip(images, centers, scales)])
                 for z in self.scales]
        t1 = time.perf_counter()
        hms = self.heatmaps(views)
        t2 = time.perf_counter()
        kps, scores = self.postprocess(hms, centers, scales)
        t3 = time.perf_counter()
        self.last_timings = {"preprocess": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return kps, scores, hms

    def __call__(self, image: ImageLike, boxes: Sequence[Sequence[float]] | np.ndarray | None = None, *,
                 return_heatmaps: bool = False) -> PoseResult:
        """Predict every person in ``boxes`` (x, y, w, h): each given box yields one person, weak or not.

        Without boxes the detector finds the people (none found: no people), and of two detected people whose
        poses have OKS above POSE_NMS_OKS only the more confident is kept; with no detector the whole image is
        one person's box.
        """
        name = str(image) if isinstance(image, (str, os.PathLike)) else None
        t0 = time.perf_counter()
        rgb = read_image(image)
        h, w = rgb.shape[:2]
        t_read = (time.perf_counter() - t0) * 1e3
        given = boxes is not None and len(boxes) > 0
        detector_name, detected, t_detect = None, None, 0.0
        box_scores: list[float | None]
        if given or self.detector is None:
            bxs = _as_boxes(boxes if given else [], w, h)  # type: ignore[arg-type]
            box_scores = [None] * len(bxs)
        else:
            t1 = time.perf_counter()
            bxs, found_scores, detected = self.detect(rgb)
            t_detect = (time.perf_counter() - t1) * 1e3
            detector_name = self.detector.name
            box_scores = [float(v) for v in found_scores]
        if len(bxs):
            centers, scales = self.regions(bxs)
            kps, scores, hms = self.predict_regions([rgb] * len(bxs), centers, scales)
        else:  # nobody in the photo
            k = self.skeleton.num_joints
            kps, scores, hms = np.zeros((0, k, 2)), np.zeros((0, k)), None
            self.last_timings = {"preprocess": 0.0, "model": 0.0, "postprocess": 0.0}
        keep = list(range(len(bxs)))
        if detector_name is not None and len(bxs) > 1 and self.skeleton.name in OKS_SIGMAS:
            keep = sorted(pose_nms(list(zip(kps, scores)), OKS_SIGMAS[self.skeleton.name], POSE_NMS_OKS))
        people = [Person(bxs[i], kps[i], scores[i], box_scores[i]) for i in keep]
        if hms is not None:
            hms = hms[keep]
        self.last_timings = {"read": t_read, **({"detect": t_detect} if detector_name else {}), **self.last_timings,
                             "total": (time.perf_counter() - t0) * 1e3}
        return PoseResult(w, h, self.skeleton, people, name, hms if return_heatmaps else None, detector_name, detected)


def predict(image: ImageLike, boxes: Sequence[Sequence[float]] | None = None, *, weights: str = "default",
            device: str = "cpu", flip: bool = True, scales: Sequence[float] = (1.0,),
            detector: DetectorSpec = "default") -> PoseResult:
    """One call: load the weights, predict, return the result (build a :class:`Predictor` to reuse the model)."""
    return Predictor(weights, device=device, flip=flip, scales=scales, detector=detector)(image, boxes)


__all__ = ["DEFAULT_BATCH", "MIN_JOINTS", "POSE_NMS_OKS", "ImageLike", "Person", "PoseResult", "Predictor",
           "keypoint_records", "predict"]
