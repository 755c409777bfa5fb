"""Run the predictor over a dataset and score it: the code behind ``hpe eval`` and the validation of ``hpe train``.

There is no second inference pipeline here: :func:`predict_dataset` feeds each annotated person's region to
:meth:`Predictor.predict_regions <hpe_utils.predictor.Predictor.predict_regions>`, the code ``hpe predict``
and the REST API run, with the same engines, flip test, test scales and decoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .datasets import PoseSample, TopDownDataset
from .errors import InputError
from .images import read_image
from .metrics import PCKResult, head_size, pck, torso_diameter
from .predictor import Predictor, keypoint_records
from .skeletons import Skeleton

# (left shoulder, right hip) per skeleton: the torso diameter LSP's PCK normalises by.
TORSO_PAIRS: dict[str, tuple[int, int]] = {"mpii16": (13, 2), "lsp14": (9, 2), "coco17": (5, 12)}
# Joints that PCK reports; MPII's pelvis/thorax are derived for LSP data, so LSP-style PCK leaves them out.
DERIVED_JOINTS: dict[str, tuple[int, ...]] = {"mpii16": (6, 7)}


@dataclass
class DatasetPredictions:
    """Predicted keypoints in image pixels for every sample, with the ground truth they are scored against."""

    keypoints: np.ndarray  # (N, K, 2)
    scores: np.ndarray  # (N, K)
    gt: np.ndarray  # (N, K, 2)
    visible: np.ndarray  # (N, K)
    flip_shift: float | None = None  # heatmap pixels the flip test moved the mirrored branch (None: no flip test)
    scales: tuple[float, ...] = (1.0,)  # test scales whose heatmaps were averaged
    backend: str = "torch"  # the engine that ran

    def records(self, samples: Sequence[PoseSample]) -> list[dict[str, Any]]:
        """One record per sample (image, keypoints [x, y, score]), rounded as ``hpe predict --json`` rounds."""
        return [{"image": s.image, "keypoints": keypoint_records(kp, sc)}
                for s, kp, sc in zip(samples, self.keypoints, self.scores)]


def predict_dataset(predictor: Predictor, dataset: TopDownDataset | Sequence[PoseSample], *,
                    progress: bool = False) -> DatasetPredictions:
    """Predict every sample (its annotated centre and scale) with ``predictor``'s own pipeline, in batches.

    A :class:`~hpe_utils.datasets.TopDownDataset` must be un-augmented; its image cache (``preload``) is used.
    """
    load_image: Callable[[str], np.ndarray]  # the dataset's cache when it has one
    if isinstance(dataset, TopDownDataset):
        if dataset.augment is not None:
            raise InputError("evaluate on a dataset without augmentation")
        samples, load_image = dataset.samples, dataset.load_image
    else:
        samples, load_image = list(dataset), read_image
    n, step = len(samples), max(1, predictor.batch_size)
    kps, scs = [], []
    with tqdm(total=n, desc="evaluating", disable=not progress, unit="img") as bar:
        for i in range(0, n, step):
            chunk = samples[i:i + step]
            images = [load_image(s.image) for s in chunk]  # read once, cropped at every test scale
            centers = np.stack([np.asarray(s.center, dtype=np.float32) for s in chunk])
            scales = np.stack([np.asarray(s.scale, dtype=np.float32) for s in chunk])
            k, sc, _ = predictor.predict_regions(images, centers, scales)
            kps.append(k)
            scs.append(sc)
            bar.update(len(chunk))
    k_all = np.concatenate(kps) if kps else np.zeros((0, predictor.skeleton.num_joints, 2), np.float32)
    s_all = np.concatenate(scs) if scs else np.zeros((0, predictor.skeleton.num_joints), np.float32)
    gt = np.stack([s.keypoints for s in samples]).astype(np.float32)
    vis = np.stack([s.visible for s in samples]).astype(np.float32)
    return DatasetPredictions(k_all, s_all, gt, vis, predictor.applied_flip_shift, predictor.scales,
                              predictor.backend.name)


def score_pck(preds: DatasetPredictions, skeleton: Skeleton, alpha: float = 0.2,
              exclude: Sequence[int] | None = None) -> PCKResult:
    """Torso-normalised PCK@alpha over the skeleton's joints (derived joints left out by default)."""
    if skeleton.name not in TORSO_PAIRS:
        raise ValueError(f"no torso definition for skeleton {skeleton.name}")
    ls, rh = TORSO_PAIRS[skeleton.name]
    norm = torso_diameter(preds.gt, preds.visible, ls, rh)
    drop = set(DERIVED_JOINTS.get(skeleton.name, ()) if exclude is None else exclude)
    keep = [j for j in range(skeleton.num_joints) if j not in drop]
    return pck(preds.keypoints[:, keep], preds.gt[:, keep], preds.visible[:, keep], norm, alpha,
               [skeleton.joints[j] for j in keep], name="PCK")


def score_pckh(preds: DatasetPredictions, head_boxes: np.ndarray, skeleton: Skeleton, alpha: float = 0.5) -> PCKResult:
    """MPII PCKh@alpha: distances normalised by 0.6 x head-box diagonal."""
    return pck(preds.keypoints, preds.gt, preds.visible, head_size(head_boxes), alpha, list(skeleton.joints), name="PCKh")


def coco_results(preds: DatasetPredictions, samples: Sequence[PoseSample]) -> list[dict[str, Any]]:
    """Predictions in the COCO results format (score = mean joint confidence), for OKS AP."""
    out = []
    for kp, sc, s in zip(preds.keypoints, preds.scores, samples):
        flat = np.concatenate([kp, sc[:, None]], axis=1).reshape(-1)
        out.append({"image_id": s.extra["image_id"], "category_id": 1, "keypoints": [float(v) for v in flat],
                    "score": float(np.clip(sc, 0, None).mean())})
    return out


__all__ = ["DERIVED_JOINTS", "DatasetPredictions", "TORSO_PAIRS", "coco_results", "predict_dataset", "score_pck",
           "score_pckh"]
