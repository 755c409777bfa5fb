"""Accuracy metrics: PCK (torso-normalised, LSP), PCKh (head-normalised, MPII) and COCO OKS AP."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass
class PCKResult:
    """Per-joint and mean accuracy; joints with no labelled sample get NaN and are left out of the mean."""

    joints: list[str]
    per_joint: np.ndarray  # (K,)
    counts: np.ndarray  # (K,) labelled samples per joint
    mean: float
    alpha: float
    name: str = "PCK"

    def table(self) -> str:
        """Markdown table: joint, accuracy, count."""
        rows = [f"| joint | {self.name}@{self.alpha:g} | n |", "|---|---:|---:|"]
        for j, a, n in zip(self.joints, self.per_joint, self.counts):
            rows.append(f"| {j} | {'—' if np.isnan(a) else f'{a:.3f}'} | {int(n)} |")
        rows.append(f"| **mean** | **{self.mean:.3f}** | {int(self.counts.sum())} |")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.name, "alpha": self.alpha, "mean": self.mean,
                "per_joint": {j: (None if np.isnan(a) else float(a)) for j, a in zip(self.joints, self.per_joint)},
                "counts": {j: int(n) for j, n in zip(self.joints, self.counts)}}


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, norm: np.ndarray, alpha: float = 0.2,
        joints: Sequence[str] | None = None, name: str = "PCK") -> PCKResult:
    """Share of labelled joints whose prediction lies within ``alpha * norm`` pixels of the truth.

    pred, gt (N, K, 2); visible (N, K); norm (N,) the per-sample reference length (torso or head size).
    Samples with a non-positive or non-finite norm are skipped.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    vis = np.asarray(visible) > 0
    norm = np.asarray(norm, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or vis.shape != pred.shape[:2] or norm.shape != pred.shape[:1]:
        raise ValueError(f"shapes differ: pred {pred.shape}, gt {gt.shape}, visible {vis.shape}, norm {norm.shape}")
    ok_norm = np.isfinite(norm) & (norm > 0)
    vis = vis & ok_norm[:, None]
    dist = np.linalg.norm(pred - gt, axis=2) / np.where(ok_norm, norm, 1.0)[:, None]
    hit = (dist <= alpha) & vis
    counts = vis.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(counts > 0, hit.sum(axis=0) / np.maximum(counts, 1), np.nan)
    total = counts.sum()
    mean = float(hit.sum() / total) if total else float("nan")
    names = list(joints) if joints is not None else [str(i) for i in range(pred.shape[1])]
    return PCKResult(names, per_joint, counts, mean, alpha, name)


def torso_diameter(gt: np.ndarray, visible: np.ndarray, left_shoulder: int, right_hip: int) -> np.ndarray:
    """LSP's reference length: distance from left shoulder to right hip (NaN when either is unlabelled)."""
    d = np.linalg.norm(gt[:, left_shoulder] - gt[:, right_hip], axis=1)
    ok = (visible[:, left_shoulder] > 0) & (visible[:, right_hip] > 0)
    return np.where(ok, d, np.nan)


def head_size(head_boxes: np.ndarray) -> np.ndarray:
    """MPII's reference length: 0.6 x the diagonal of the head box ((N, 2, 2) corners or (N, 4) x1 y1 x2 y2)."""
    hb = np.asarray(head_boxes, dtype=np.float64).reshape(-1, 4)
    return 0.6 * np.linalg.norm(hb[:, 2:] - hb[:, :2], axis=1)


# COCO's recall thresholds 0, 0.01, ..., 1, built as pycocotools builds them (``COCOeval.Params.recThrs``)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def average_precision(scores: Sequence[float] | np.ndarray, hits: Sequence[bool] | np.ndarray, num_gt: int,
                      recall_thresholds: np.ndarray = COCO_RECALL_THRESHOLDS) -> float:
    """COCO's interpolated AP of ranked detections at one OKS threshold, as pycocotools accumulates it.

    ``hits[i]`` is True where detection i matched a ground truth at that threshold; ``num_gt`` counts the ground
    truths (>= 1). Detections are ranked by score, highest first, by a stable sort (ties keep their given order);
    precision after each detection is made non-increasing from the right (its envelope) and read at every recall
    threshold (COCO's 101 points), 0 where recall never reaches it; AP is the mean of those readings.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    hits = np.asarray(hits, dtype=bool).reshape(-1)
    if scores.shape != hits.shape:
        raise ValueError(f"one hit flag per score: got {scores.shape[0]} scores and {hits.shape[0]} flags")
    if int(num_gt) != num_gt or num_gt < 1:
        raise ValueError(f"AP needs at least one ground truth, got num_gt={num_gt}")
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order]).astype(np.float64)
    fp = np.cumsum(~hits[order]).astype(np.float64)
    recall = tp / num_gt
    precision = tp / (tp + fp + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope: best precision at this recall or more
    at = np.searchsorted(recall, recall_thresholds, side="left")  # the first detection reaching each recall
    reached = at < len(precision)
    readings = np.zeros(len(recall_thresholds))
    readings[reached] = precision[at[reached]]
    return float(readings.mean())


def coco_oks_ap(predictions: list[dict[str, Any]], ann_file: str) -> dict[str, float]:
    """COCO keypoint AP/AR through pycocotools; ``predictions`` use the COCO results format."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("COCO OKS AP needs pycocotools: pip install 'hpe-workbook[eval]'") from e
    if not predictions:
        raise ValueError("no predictions to evaluate")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        dt = gt.loadRes(predictions)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.imgIds = sorted({p["image_id"] for p in predictions})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    names = ["AP", "AP50", "AP75", "AP_M", "AP_L", "AR", "AR50", "AR75", "AR_M", "AR_L"]
    return {n: float(v) for n, v in zip(names, ev.stats)}


__all__ = ["COCO_RECALL_THRESHOLDS", "PCKResult", "average_precision", "coco_oks_ap", "head_size", "pck", "torso_diameter"]
