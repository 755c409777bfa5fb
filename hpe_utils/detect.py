"""Person detectors: a protocol (``frame -> (boxes, scores)``), one registry, and a loader for ``--detector``.

Simple Baselines is top-down: it needs person boxes. In a photo they come from a detector; in a video, also from
the previous frame's poses moved by optical flow (:mod:`hpe_utils.tracking`). A detector is any callable taking an
RGB uint8 frame (H, W, 3) and returning ``(boxes, scores)``: boxes (N, 4) as [x, y, w, h] in frame pixels, scores
(N,). :data:`DETECTORS` holds the named ones: the shipped CenterNet (the default, offline, :mod:`hpe_utils.centernet`)
and torchvision's Faster R-CNNs (downloaded on first use). :func:`load_detector` turns ``--detector`` into one:
"default", "none", a registry name, "torchvision[:NAME]" or "module:function" (a module on the path or a ``.py``
file), and wraps it so an exception or a malformed answer becomes a :class:`DetectorError` naming it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import torch

from .centernet import CENTERNET, CenterNetDetector, ShippedModel
from .download import download
from .errors import ChecksumError, DetectorError, WeightsError
from .files import cache_dir

PERSON = 1  # COCO category id of "person" in torchvision's 91-entry label list


class Detector(Protocol):
    """Finds people: RGB uint8 (H, W, 3) -> (boxes (N, 4) [x, y, w, h] in pixels, scores (N,))."""

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class DetectorEntry:
    """A torchvision detection model: where its COCO weights are, their SHA-256 prefix, and how to build it."""

    name: str
    url: str
    sha256: str  # torchvision's files carry the first 8 hex digits of their SHA-256 in the name (torch.hub checks it)
    build: Callable[[], torch.nn.Module]
    summary: str
    kind = "torchvision"

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def load(self, *, device: str | torch.device = "cpu", download: bool = True, progress: bool = True) -> Any:
        return TorchvisionDetector(self, device=device, download=download, progress=progress)


@dataclass(frozen=True)
class ShippedDetectorEntry:
    """A detector whose ONNX file ships in ``weights/`` (checked by SHA-256 on load): works offline, no download."""

    name: str
    model: ShippedModel
    summary: str
    kind = "shipped"

    def load(self, *, device: str | torch.device = "cpu", download: bool = True, progress: bool = True) -> Any:
        return CenterNetDetector(self.model)  # ONNX Runtime on the CPU: 20 ms a photo, whatever the pose device


def _mobilenet_fpn() -> torch.nn.Module:
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    return fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=91)


def _mobilenet_320_fpn() -> torch.nn.Module:
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    return fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=91)


_TV = "https://download.pytorch.org/models/"
# URLs and hashes as torchvision 0.29 publishes them (FasterRCNN_MobileNet_V3_Large_*FPN_Weights.COCO_V1.url);
# the 8 hex digits in each name are the start of the file's SHA-256, the check torch.hub itself makes.
DETECTORS: Mapping[str, DetectorEntry | ShippedDetectorEntry] = {e.name: e for e in (
    ShippedDetectorEntry("centernet", CENTERNET,
                         "CenterNet, MobileNetV3, 512 px letterbox, ONNX (shipped, 8.1 MB, offline): person box AP "
                         "0.35, AP50 0.65 on coco_sample, 20 ms a photo on 2 cores"),
    DetectorEntry("fasterrcnn_mobilenet_v3_large_fpn", _TV + "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
                  "fb6a3cc7", _mobilenet_fpn,
                  "Faster R-CNN, MobileNetV3-Large FPN, frames resized to 800 px: COCO box mAP 32.8, 74 MB"),
    DetectorEntry("fasterrcnn_mobilenet_v3_large_320_fpn", _TV + "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth",
                  "907ea3f9", _mobilenet_320_fpn,
                  "the same at 320 px: 6x fewer operations, COCO box mAP 22.8 (misses small people)"),
)}
DEFAULT_DETECTOR = "centernet"  # shipped and offline; chosen by measurement (bench/detectors.py, docs/detector.md)
TORCHVISION_DEFAULT = "fasterrcnn_mobilenet_v3_large_fpn"  # the smallest torchvision detector that finds people far off
DETECTOR_SPECS = "default, none, " + ", ".join(DETECTORS) + ", torchvision[:NAME] or module:function"


def _fetch(entry: DetectorEntry, *, download_ok: bool, progress: bool) -> Path:
    """The entry's weights in the cache, downloaded and hash-checked on first use."""
    dest = cache_dir() / entry.filename
    hint = ("Put the file there by hand (from a machine with internet), or track without a detector: "
            "--detector none, with --boxes FIRST.json or one person filling the frame")
    if not download_ok and not dest.exists():
        raise WeightsError(f"the {entry.name} detector's weights are not in {dest}. {hint}")
    try:
        return download(entry.url, dest, sha256=entry.sha256, progress=progress)
    except ChecksumError:
        raise
    except WeightsError as e:
        cause = e.__context__  # download() names the URL itself; here only its reason is wanted
        reason = str(getattr(cause, "reason", cause)) if cause is not None else str(e)
        raise WeightsError(f"cannot fetch the {entry.name} detector's weights from {entry.url} into {dest} "
                           f"({reason}). {hint}") from None


def _load_state(model: torch.nn.Module, path: Path, label: str) -> None:
    """Load torchvision's state dict: weights only, strictly, except the BatchNorm step counters its frozen layers lack."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise WeightsError(f"{path}: not a loadable state dict for {label} ({type(e).__name__}: {e})") from None
    if not isinstance(sd, Mapping):
        raise WeightsError(f"{path}: holds a {type(sd).__name__}, not the state dict of {label}")
    try:
        result = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shapes that do not fit
        raise WeightsError(f"{path}: does not fit {label}: {str(e).splitlines()[0]}") from None
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise WeightsError(f"{path}: does not fit {label} (missing {missing[:5]}, unexpected "
                           f"{list(result.unexpected_keys)[:5]})")


class TorchvisionDetector:
    """torchvision's Faster R-CNN, COCO weights, people only: ``detector(frame) -> (boxes xywh (N, 4), scores (N,))``.

    The weights download on first use into the project's cache (``$HPE_CACHE_DIR``, else ``weights/cache``),
    checked against the SHA-256 prefix torchvision publishes; offline, put the file there by hand. ``entry`` is a
    name of :data:`DETECTORS` or a :class:`DetectorEntry`. Every person the model reports is returned, with its
    score: the tracker keeps those at or above its ``det_threshold``.
    """

    def __init__(self, entry: str | DetectorEntry = TORCHVISION_DEFAULT, *, device: str | torch.device = "cpu",
                 download: bool = True, progress: bool = True) -> None:
        if isinstance(entry, str):
            known = [n for n, e in DETECTORS.items() if e.kind == "torchvision"]
            if entry not in known:
                raise DetectorError(f"unknown torchvision detector {entry!r}; known: {', '.join(known)}")
            entry = DETECTORS[entry]  # type: ignore[assignment]
        assert isinstance(entry, DetectorEntry)
        self.entry = entry
        self.name = f"torchvision {entry.name}"
        self.device = torch.device(device)
        path = _fetch(entry, download_ok=download, progress=progress)
        model = entry.build()
        _load_state(model, path, entry.name)
        self.model = model.to(self.device).eval()

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).float().div_(255)
        out = self.model([x])[0]
        keep = out["labels"] == PERSON
        xyxy = out["boxes"][keep].float().cpu().numpy().reshape(-1, 4)
        scores = out["scores"][keep].float().cpu().numpy().reshape(-1)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return boxes.astype(np.float32), scores.astype(np.float32)

    def __repr__(self) -> str:
        return f"TorchvisionDetector({self.entry.name!r}, device={str(self.device)!r})"


def check_detections(out: Any, name: str, frame_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A detector's answer as float32 (boxes (N, 4), scores (N,)), or a :class:`DetectorError` saying what is wrong."""
    where = f"detector {name}"
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise DetectorError(f"{where} returned a {type(out).__name__}; it must return (boxes, scores): boxes (N, 4) "
                            "as [x, y, w, h], scores (N,)")
    try:
        boxes = np.asarray(out[0], dtype=np.float32)
        scores = np.asarray(out[1], dtype=np.float32)
    except (TypeError, ValueError):
        raise DetectorError(f"{where} returned boxes or scores that are not arrays of numbers") from None
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DetectorError(f"{where} returned boxes of shape {boxes.shape}; they must be (N, 4) [x, y, w, h]")
    scores = scores.reshape(-1) if scores.ndim <= 1 or scores.size == len(boxes) else scores
    if scores.shape != (len(boxes),):
        raise DetectorError(f"{where} returned {len(boxes)} boxes but scores of shape {scores.shape}")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise DetectorError(f"{where} returned NaN or infinite boxes or scores")
    if (boxes[:, 2:] <= 0).any():
        raise DetectorError(f"{where} returned a box with a width or height <= 0: boxes are [x, y, w, h], "
                            "not [x1, y1, x2, y2] in the wrong order")
    if frame_shape is not None:
        h, w = frame_shape[:2]
        outside = (boxes[:, 0] >= w) | (boxes[:, 1] >= h) | (boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 1] + boxes[:, 3] <= 0)
        if outside.any():
            raise DetectorError(f"{where} returned a box outside the {w}x{h} frame: "
                                f"{[round(float(v), 1) for v in boxes[outside][0]]}")
    return boxes, scores


class CheckedDetector:
    """A detector whose errors and malformed answers become one-line :class:`DetectorError`s naming it."""

    def __init__(self, detector: Callable[[np.ndarray], Any], name: str) -> None:
        self.detector, self.name = detector, name

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            out = self.detector(frame)
        except (DetectorError, KeyboardInterrupt):
            raise
        except Exception as e:
            raise DetectorError(f"detector {self.name} raised {type(e).__name__}: {e}") from e
        return check_detections(out, self.name, frame.shape)

    def __repr__(self) -> str:
        return f"CheckedDetector({self.name})"


def _exec_file(path: Path) -> Any:
    """Import a .py file as a module of its own (registered, as an import would: dataclasses need that)."""
    name = f"hpe_user_detector_{path.stem}"
    mod_spec = importlib.util.spec_from_file_location(name, path)
    assert mod_spec is not None and mod_spec.loader is not None
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = module
    mod_spec.loader.exec_module(module)
    return module


def _import_callable(spec: str) -> Callable[..., Any]:
    """"package.module:function", "path/to/file.py:function", or "file:function" for ./file.py -> the function."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise DetectorError(f"--detector {spec!r}: use {DETECTOR_SPECS} (e.g. mydet:detect)")
    local = Path(module_name.replace(".", os.sep) + ".py")  # `hpe track --detector mydet:fn` run from mydet.py's folder
    try:
        if module_name.endswith(".py"):
            if not Path(module_name).is_file():
                raise DetectorError(f"detector {spec}: no file {module_name}")
            module = _exec_file(Path(module_name))
        else:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as e:
                if e.name != module_name.split(".")[0] or not local.is_file():
                    raise
                module = _exec_file(local)
    except DetectorError:
        raise
    except ModuleNotFoundError as e:
        raise DetectorError(f"detector {spec}: no module named {e.name!r} (run from its folder, or give a .py path)") from None
    except Exception as e:  # the user's module failed while importing
        raise DetectorError(f"detector {spec}: importing {module_name} raised {type(e).__name__}: {e}") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise DetectorError(f"detector {spec}: {module_name} has no {attr!r}")
    if not callable(fn):
        raise DetectorError(f"detector {spec}: {attr} is a {type(fn).__name__}, not a function")
    return fn


def load_detector(spec: str | Callable[[np.ndarray], Any] | None = "default", *, device: str | torch.device = "cpu",
                  download: bool = True, progress: bool = True) -> CheckedDetector | None:
    """``--detector``: "default" -> the shipped :data:`DEFAULT_DETECTOR`; "none" (or None) -> None; a name of
    :data:`DETECTORS`; "torchvision[:NAME]" -> :class:`TorchvisionDetector`; "module:function" or a callable -> that
    callable. Each comes wrapped in a :class:`CheckedDetector`."""
    if spec is None or spec == "none":
        return None
    if isinstance(spec, CheckedDetector):
        return spec
    if callable(spec):
        return CheckedDetector(spec, getattr(spec, "name", None) or getattr(spec, "__name__", repr(spec)))
    if spec == "default":
        spec = DEFAULT_DETECTOR
    if spec == "torchvision":
        spec = TORCHVISION_DEFAULT
    elif spec.startswith("torchvision:") and spec.split(":", 1)[1] in DETECTORS:
        spec = spec.split(":", 1)[1]
    if spec in DETECTORS:
        det = DETECTORS[spec].load(device=device, download=download, progress=progress)
        return CheckedDetector(det, det.name)
    return CheckedDetector(_import_callable(spec), spec)


__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "DETECTOR_SPECS", "TORCHVISION_DEFAULT", "CheckedDetector", "Detector",
           "DetectorEntry", "DetectorError", "PERSON", "ShippedDetectorEntry", "TorchvisionDetector", "check_detections",
           "load_detector"]
