"""Run a model over a dataset and score it: the code behind ``hpe eval`` and the validation of ``hpe train``."""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch

from .codec import HeatmapCodec
from .datasets import TopDownDataset
from .flip import flip_test, mirror_shift
from .metrics import PCKResult, head_size, pck, torso_diameter
from .skeletons import Skeleton
from .transforms import check_scales, heatmap_to_image, zoom_heatmaps

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


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: TopDownDataset, *, flip: bool = True, batch_size: int = 64,
                    device: str | torch.device = "cpu", autocast_dtype: torch.dtype | None = None,
                    progress: bool = False, flip_shift: float | None = None,
                    scales: Sequence[float] = (1.0,)) -> DatasetPredictions:
    """Predict every sample of an un-augmented dataset and map the joints back to image pixels.

    ``flip_shift`` (heatmap pixels) defaults to the exact :func:`~hpe_utils.flip.mirror_shift`. Each of
    ``scales`` crops that many times the box around the same centre; the heatmaps are zoomed back to scale 1
    and averaged before decoding.
    """
    from tqdm.auto import tqdm

    if dataset.augment is not None:
        raise ValueError("evaluate on a dataset without augmentation")
    codec: HeatmapCodec = dataset.codec
    assert codec.heatmap_size is not None
    was_training = model.training
    model.eval()
    device = torch.device(device)
    scales = check_scales(scales)
    views = [dataset if z == 1 else _zoomed(dataset, z) for z in scales]
    loaders = [torch.utils.data.DataLoader(v, batch_size=batch_size, shuffle=False, num_workers=0) for v in views]
    perm = dataset.skeleton.flip_permutation()
    if flip_shift is None:
        flip_shift = mirror_shift(codec.input_size[0], codec.heatmap_size[0])
    kps, scs = [], []
    for batches in tqdm(zip(*loaders), total=len(loaders[0]), desc="evaluating", disable=not progress, unit="batch"):
        hms = []
        for z, batch in zip(scales, batches):
            x = batch["image"].to(device)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
                hm = flip_test(model, x, perm, flip_shift) if flip else model(x)
            hms.append(zoom_heatmaps(hm.float().cpu().numpy(), z))
        coords, scores = codec.decode(np.mean(hms, axis=0))
        for c, cen, sca in zip(coords, batches[0]["center"].numpy(), batches[0]["scale"].numpy() / scales[0]):
            kps.append(heatmap_to_image(c, cen, sca, codec.heatmap_size))
        scs.append(scores)
    model.train(was_training)
    gt = np.stack([s.keypoints for s in dataset.samples]).astype(np.float32)
    vis = np.stack([s.visible for s in dataset.samples]).astype(np.float32)
    return DatasetPredictions(np.stack(kps), np.concatenate(scs), gt, vis, flip_shift if flip else None, scales)


def _zoomed(dataset: TopDownDataset, factor: float) -> TopDownDataset:
    """The same dataset cropping ``factor`` times wider around each sample's centre (for multi-scale testing)."""
    view = copy.copy(dataset)
    view.samples = [replace(s, scale=np.asarray(s.scale) * factor) for s in dataset.samples]
    return view


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


def coco_results(preds: DatasetPredictions, dataset: TopDownDataset) -> list[dict[str, Any]]:
    """Predictions in the COCO results format (score = mean joint confidence), for OKS AP."""
    out = []
    for kp, sc, s in zip(preds.keypoints, preds.scores, dataset.samples):
        flat = np.concatenate([kp, sc[:, None]], axis=1).reshape(-1)
        out.append({"image_id": s.extra["image_id"], "category_id": 1, "keypoints": [float(v) for v in flat],
                    "score": float(np.clip(sc, 0, None).mean())})
    return out
