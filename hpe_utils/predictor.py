"""A small CPU-first inference API: ``Predictor(weights)(image, boxes=None)``; the whole image when no box is given."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .codec import HeatmapCodec
from .errors import BoxError
from .flip import flip_back_numpy, mirror_shift
from .images import read_image
from .skeletons import Skeleton
from .transforms import (BOX_PADDING, box_to_center_scale, check_box_padding, check_scales, crop, heatmap_to_image,
                         normalize, whole_image_box, zoom_heatmaps)

ImageLike = Any  # path, bytes, numpy array or PIL image: anything images.read_image accepts


@dataclass
class Person:
    """One person's prediction in image pixels."""

    box: np.ndarray  # (4,) x, y, w, h that was cropped
    keypoints: np.ndarray  # (K, 2)
    scores: np.ndarray  # (K,)

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(float(v), 2) for v in self.box],
                "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                              for (x, y), s in zip(self.keypoints, self.scores)]}


@dataclass
class PoseResult:
    """Everything predicted for one image: its size, the skeleton and one entry per person."""

    width: int
    height: int
    skeleton: Skeleton
    people: list[Person] = field(default_factory=list)
    image: str | None = None
    heatmaps: np.ndarray | None = None  # (P, K, h, w) when requested

    def to_json(self) -> dict[str, Any]:
        """The record ``hpe predict --json`` and the REST API return."""
        return {"image": self.image, "width": self.width, "height": self.height, "skeleton": self.skeleton.name,
                "joints": list(self.skeleton.joints), "people": [p.to_json() for p in self.people]}


def _as_boxes(boxes: Sequence[Sequence[float]] | np.ndarray | None, width: int, height: int) -> np.ndarray:
    if boxes is None or len(boxes) == 0:
        return whole_image_box(width, height)[None]
    arr = np.asarray(boxes, dtype=np.float64)
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
    or an exported model (``.onnx``, ``.torchscript``). ``backend`` names the engine: "auto" (the default,
    or ``$HPE_BACKEND`` when set) measures the engines once per machine and weights and keeps the fastest
    that matches eager fp32 (see :mod:`hpe_utils.accel`); or one of "torch", "torch-bf16", "compiled",
    "compiled-bf16", "onnx", "onnx-int8", "torchscript" on CPU, "torch", "torch-fp16", "torchscript" on
    CUDA. An exported file runs in its own runtime. Pre- and post-processing are numpy and shared by all.
    ``self.backend.name`` says which engine runs; ``self.decision`` holds auto's measurements.
    ``box_padding`` (crop = box x padding) defaults to the one stored with the weights (1.25 when none is).
    ``refine`` is the codec's sub-pixel step ("dark", or the original's "quarter"); the flip test moves the
    mirrored branch by the exact :func:`~hpe_utils.flip.mirror_shift`. ``scales`` (default 1 only) are test
    scales: crops that many times the padded box around the same centre, whose heatmaps are zoomed back and
    averaged before decoding (each scale costs one more pass).
    """

    def __init__(self, weights: str | os.PathLike | Any = "default", *, device: str | torch.device = "cpu",
                 flip: bool = True, batch_size: int = 16, input_size: tuple[int, int] | None = None,
                 skeleton: str | None = None, color_order: str | None = None, box_padding: float | None = None,
                 backend: str | None = None, progress: bool = True, log: Callable[[str], None] | None = None,
                 remeasure: bool = False, refine: str = "dark", scales: Sequence[float] = (1.0,)) -> None:
        from .accel import BACKEND_ENV, AutoDecision, build_engine, choose_backend, engine_spec, real_crops
        from .backends import exported_kind, open_exported
        from .skeletons import get_skeleton
        from .weights import LoadedWeights, load_weights

        self.scales = check_scales(scales)  # before any loading, so a bad value fails fast
        explicit = backend  # $HPE_BACKEND is a default for checkpoints; an exported file always runs in its runtime
        backend = backend or os.environ.get(BACKEND_ENV) or "auto"
        say = log or (lambda _m: None)
        self.device = torch.device(device)
        self.weights: LoadedWeights | None = None
        self.model: torch.nn.Module | None = None
        self.decision: AutoDecision | None = None
        kind = None if isinstance(weights, LoadedWeights) else exported_kind(weights, explicit)
        if kind is not None:
            self.backend, meta = open_exported(weights, kind, self.device)
            sk_name, size, order = meta["skeleton"], meta["input_size"], meta["color_order"]
            padding = meta.get("box_padding", BOX_PADDING)  # files exported before the padding was stored
        else:
            loaded = weights if isinstance(weights, LoadedWeights) else load_weights(
                weights, device=self.device, input_size=input_size, skeleton=skeleton, color_order=color_order,
                progress=progress)
            self.weights = loaded
            self.model = loaded.model.to(self.device).eval()
            sk_name, size, order = loaded.skeleton.name, loaded.input_size, loaded.color_order
            padding = loaded.box_padding
            in_size = tuple(int(v) for v in (input_size or size))
            order = color_order or order
            spec = engine_spec(self.model, self.device, in_size,  # type: ignore[arg-type]
                               lambda: real_crops(in_size, order))  # type: ignore[arg-type]
            if backend == "auto":
                self.backend, self.decision = choose_backend(spec, spec.calibration, batch=2 if flip else 1, log=say,
                                                              remeasure=remeasure)
                say(self.decision.summary())
            else:
                self.backend = build_engine(backend, spec, say)
        self.skeleton: Skeleton = get_skeleton(skeleton or sk_name)
        self.input_size: tuple[int, int] = tuple(int(v) for v in (input_size or size))  # type: ignore[assignment]
        self.color_order: str = color_order or order
        self.box_padding: float = check_box_padding(padding if box_padding is None else box_padding)
        self.flip = flip
        self.batch_size = batch_size
        self.codec = HeatmapCodec(self.input_size, refine=refine)
        self._flip_perm = self.skeleton.flip_permutation()
        self.last_timings: dict[str, float] = {}  # ms per stage of the last call: read, preprocess, model, postprocess

    def run_model(self, x: np.ndarray) -> np.ndarray:
        """Normalised crops (N, 3, H, W) -> heatmaps (N, K, h, w), with the flip test when enabled."""
        if not self.flip:
            return self.backend(x)
        n = x.shape[0]
        both = self.backend(np.concatenate([x, np.ascontiguousarray(x[..., ::-1])]))
        shift = mirror_shift(x.shape[3], both.shape[3])
        return (both[:n] + flip_back_numpy(both[n:], self._flip_perm, shift)) * 0.5

    def _heatmaps(self, x: np.ndarray) -> np.ndarray:
        """run_model over crops in batches of ``batch_size``."""
        return np.concatenate([self.run_model(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)])

    def preprocess(self, image: np.ndarray, boxes: np.ndarray, zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB image + boxes -> (normalised crops (N, 3, H, W), centres (N, 2), scales (N, 2)).

        ``zoom`` crops that many times wider (a test scale); the centres and scales returned stay the unit crop's.
        """
        aspect = self.input_size[0] / self.input_size[1]
        cs = [box_to_center_scale(b, aspect, self.box_padding) for b in boxes]
        crops = np.stack([crop(image, c, s * zoom, self.input_size) for c, s in cs])
        return normalize(crops, self.color_order), np.stack([c for c, _ in cs]), np.stack([s for _, s in cs])

    def postprocess(self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps -> keypoints in image pixels (N, K, 2) and scores (N, K)."""
        assert self.codec.heatmap_size is not None
        coords, scores = self.codec.decode(heatmaps)
        kps = np.stack([heatmap_to_image(c, ce, s, self.codec.heatmap_size) for c, ce, s in zip(coords, centers, scales)])
        return kps, scores

    def __call__(self, image: ImageLike, boxes: Sequence[Sequence[float]] | np.ndarray | None = None, *,
                 return_heatmaps: bool = False) -> PoseResult:
        """Predict every person in ``boxes`` (x, y, w, h); the whole image is one box when none are given."""
        name = str(image) if isinstance(image, (str, os.PathLike)) else None
        t0 = time.perf_counter()
        rgb = read_image(image)
        h, w = rgb.shape[:2]
        bxs = _as_boxes(boxes, w, h)
        t1 = time.perf_counter()
        views = [self.preprocess(rgb, bxs, z) for z in self.scales]
        centers, scales = views[0][1], views[0][2]
        t2 = time.perf_counter()
        hms = np.mean([zoom_heatmaps(self._heatmaps(x), z) for z, (x, _, _) in zip(self.scales, views)], axis=0)
        t3 = time.perf_counter()
        kps, scores = self.postprocess(hms, centers, scales)
        people = [Person(b, k, s) for b, k, s in zip(bxs, kps, scores)]
        t4 = time.perf_counter()
        self.last_timings = {"read": (t1 - t0) * 1e3, "preprocess": (t2 - t1) * 1e3, "model": (t3 - t2) * 1e3,
                             "postprocess": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}
        return PoseResult(w, h, self.skeleton, people, name, hms if return_heatmaps else None)


def predict(image: ImageLike, boxes: Sequence[Sequence[float]] | None = None, *, weights: str = "default",
            device: str = "cpu", flip: bool = True, scales: Sequence[float] = (1.0,)) -> PoseResult:
    """One call: load the weights, predict, return the result (build a :class:`Predictor` to reuse the model)."""
    return Predictor(weights, device=device, flip=flip, scales=scales)(image, boxes)
