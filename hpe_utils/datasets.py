"""Top-down pose datasets (LSP/LSPet, COCO keypoints, MPII json) with the original augmentation recipe.

Every loader produces :class:`PoseSample` records (image path, keypoints, visibility, centre/scale) in a
chosen skeleton; :class:`TopDownDataset` turns them into network inputs and codec targets.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.io import loadmat
from tqdm.auto import tqdm

from .codec import HeatmapCodec
from .download import sha256_file
from .errors import DatasetError
from .images import read_image
from .skeletons import COCO17, LSP14, MPII16, Skeleton, get_skeleton, lsp_to_mpii
from .transforms import (BOX_PADDING, affine_points, box_to_center_scale, check_box_padding, crop,
                         get_affine_transform, normalize, paste_person, photometric_jitter, random_erase)


@dataclass
class PoseSample:
    """One annotated person: where the image is, where the joints are, and the crop that frames them."""

    image: str
    keypoints: np.ndarray  # (K, 2) image pixels, 0-based
    visible: np.ndarray  # (K,) > 0 = labelled, 0 = not; a value below 1 also scales the joint's loss (soft label)
    center: np.ndarray  # (2,)
    scale: np.ndarray  # (2,) in units of PIXEL_STD
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. head box for PCKh, COCO ids, area


# ---------------------------------------------------------------- LSP / LSPet

def load_lsp_joints(mat_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``joints.mat`` in either layout -> keypoints (N, 14, 2) 0-based and labelled flags (N, 14).

    LSPet stores (14, 3, N) with flag 1 = labelled (0 = outside the image); the original 2,000-image
    LSP stores (3, 14, N) with a visibility flag, but labels every joint, so all count as labelled there.
    Coordinates are MATLAB 1-based; we subtract 1.
    """
    j = np.asarray(loadmat(str(mat_path))["joints"], dtype=np.float64)
    if j.ndim != 3:
        raise ValueError(f"{mat_path}: 'joints' must be 3-D, got shape {j.shape}")
    if j.shape[0] == 14 and j.shape[1] == 3:  # LSPet (14, 3, N)
        kp = j[:, :2, :].transpose(2, 0, 1)
        labelled = j[:, 2, :].T > 0
    elif j.shape[0] == 3 and j.shape[1] == 14:  # LSP (3, 14, N)
        kp = j[:2, :, :].transpose(2, 1, 0)
        labelled = np.ones(kp.shape[:2], dtype=bool)
    elif j.shape[0] == 14 and j.shape[1] == 2:  # coordinates only
        kp = j.transpose(2, 0, 1)
        labelled = np.ones(kp.shape[:2], dtype=bool)
    else:
        raise ValueError(f"{mat_path}: expected joints of shape (14, 3, N), (3, 14, N) or (14, 2, N), got {j.shape}")
    kp = kp - 1.0
    labelled &= np.isfinite(kp).all(axis=2)
    kp = np.where(labelled[..., None], kp, 0.0)
    return kp.astype(np.float32), labelled.astype(np.float32)


def box_from_keypoints(keypoints: np.ndarray, visible: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Tight box (x, y, w, h) around the labelled joints, grown by ``margin`` of its size on each side."""
    pts = keypoints[visible > 0]
    if len(pts) == 0:
        raise ValueError("no labelled joints to build a box from")
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return np.array([x0 - margin * w, y0 - margin * h, w * (1 + 2 * margin), h * (1 + 2 * margin)], dtype=np.float32)


LSP_LABELS_FORMAT = "hpe-lsp-labels/1"  # the override file's layout tag (save_lsp_labels / load_lsp_labels)


@dataclass(frozen=True)
class LspLabels:
    """Replacement LSP-14 labels for some images (e.g. teacher-cleaned), tied to the joints.mat they were made from."""

    indices: np.ndarray  # (N,) int, 0-based LSP image indices
    keypoints: np.ndarray  # (N, 14, 2) float32 image pixels, 0-based, LSP-14 order
    weights: np.ndarray  # (N, 14) float32: 0 = unlabelled, 1 = labelled, between = soft target weight
    joints_sha256: str  # SHA-256 of the joints.mat the labels replace, so they never land on other data
    meta: dict[str, Any] = field(default_factory=dict)  # how they were made (free-form, JSON)


def save_lsp_labels(path: str | os.PathLike, labels: LspLabels) -> Path:
    """Write an override file (compressed .npz, float32 coordinates) that ``lsp_samples(labels=...)`` reads back."""
    kp = np.asarray(labels.keypoints, np.float32)
    w = np.asarray(labels.weights, np.float32)
    idx = np.asarray(labels.indices, np.int64)
    if kp.shape != (len(idx), 14, 2) or w.shape != (len(idx), 14):
        raise ValueError(f"labels must be (N, 14, 2) and (N, 14) for N indices, got {kp.shape} and {w.shape}")
    if not ((w >= 0) & (w <= 1)).all() or len(np.unique(idx)) != len(idx):
        raise ValueError("label weights must lie in [0, 1] and indices must be unique")
    meta = {**labels.meta, "format": LSP_LABELS_FORMAT, "joints_sha256": labels.joints_sha256}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, indices=idx, keypoints=kp, weights=w, meta=np.asarray(json.dumps(meta)))
    return path


def load_lsp_labels(path: str | os.PathLike) -> LspLabels:
    """Read an override file written by :func:`save_lsp_labels` (its format tag is checked)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != LSP_LABELS_FORMAT:
            raise ValueError(f"{path} is not an LSP labels file ({LSP_LABELS_FORMAT}): format {meta.get('format')!r}")
        return LspLabels(z["indices"].astype(np.int64), z["keypoints"].astype(np.float32),
                         z["weights"].astype(np.float32), str(meta["joints_sha256"]), meta)


def lsp_samples(root: str | os.PathLike, indices: Sequence[int] | None = None, skeleton: str | Skeleton = "mpii16",
                aspect_ratio: float = 1.0, image_pattern: str = "im{:05d}.jpg",
                padding: float = BOX_PADDING, labels: str | os.PathLike | None = None) -> list[PoseSample]:
    """LSP/LSPet samples (image ``n`` is ``images/im{n+1:05d}.jpg``), converted to ``skeleton``.

    ``indices`` are 0-based image indices; the box is the labelled joints' extent plus 10%, cropped with
    ``padding`` times its size. ``labels`` names an override file (:func:`save_lsp_labels`, e.g. teacher-cleaned
    labels): its images take those joints and weights, while the box stays the one of joints.mat, so the crops
    do not move.
    """
    padding = check_box_padding(padding)
    root = Path(root)
    sk = get_skeleton(skeleton)
    if sk not in (LSP14, MPII16):
        raise ValueError(f"LSP converts to lsp14 or mpii16, not {sk.name}")
    kp_all, lab_all = load_lsp_joints(root / "joints.mat")
    override: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if labels is not None:
        lab = load_lsp_labels(labels)
        if lab.joints_sha256 != sha256_file(root / "joints.mat"):
            raise ValueError(f"{labels} was made for another joints.mat than {root / 'joints.mat'}")
        if len(lab.indices) and (lab.indices.min() < 0 or lab.indices.max() >= len(kp_all)):
            raise ValueError(f"{labels} names images outside 0..{len(kp_all) - 1}")
        override = {int(i): (k, w) for i, k, w in zip(lab.indices, lab.keypoints, lab.weights)}
    idx = range(len(kp_all)) if indices is None else indices
    out = []
    for i in idx:
        kp14, lab14 = kp_all[i], lab_all[i]
        if lab14.sum() < 2:
            continue
        box = box_from_keypoints(kp14, lab14)
        c, s = box_to_center_scale(box, aspect_ratio, padding)
        if int(i) in override:
            kp14, lab14 = override[int(i)]
        kp, vis = (kp14, lab14) if sk is LSP14 else lsp_to_mpii(kp14, lab14)
        out.append(PoseSample(str(root / "images" / image_pattern.format(i + 1)), kp, vis, c, s,
                              {"index": int(i), "box": box, "lsp_keypoints": kp14, "lsp_visible": lab14}))
    return out


# ---------------------------------------------------------------- COCO

def coco_samples(ann_file: str | os.PathLike, image_dir: str | os.PathLike | None = None, aspect_ratio: float = 0.75,
                 min_keypoints: int = 1, padding: float = BOX_PADDING) -> list[PoseSample]:
    """One sample per non-crowd person with at least ``min_keypoints`` labelled joints (COCO-17).

    Without ``image_dir`` the images are looked for where COCO unpacks them: ``<split>/`` beside the json or
    one level up (``annotations/person_keypoints_val2017.json`` -> ``val2017/``), or the json's own folder.
    """
    padding = check_box_padding(padding)
    with open(ann_file, encoding="utf-8") as f:
        coco = json.load(f)
    images = {im["id"]: im for im in coco["images"]}
    if image_dir is None:
        ann = Path(ann_file)
        split = ann.stem.rsplit("_", 1)[-1] if ann.stem.startswith("person_keypoints_") else "train2017"
        image_dir = find_image_dir(ann, next((im["file_name"] for im in coco["images"]), None),
                                   [ann.parent / split, ann.parent.parent / split, ann.parent, ann.parent / "images"])
    out = []
    for ann in coco["annotations"]:
        if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) < min_keypoints:
            continue
        im = images[ann["image_id"]]
        kps = np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
        if kps.shape[0] != COCO17.num_joints:
            raise ValueError(f"{ann_file}: annotation {ann.get('id')} has {kps.shape[0]} keypoints, expected 17")
        x, y, w, h = ann["bbox"]
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(im["width"] - 1.0, x0 + max(0.0, w - 1)), min(im["height"] - 1.0, y0 + max(0.0, h - 1))
        if x1 <= x0 or y1 <= y0:
            continue
        c, s = box_to_center_scale([x0, y0, x1 - x0, y1 - y0], aspect_ratio, padding)
        vis = (kps[:, 2] > 0).astype(np.float32)
        out.append(PoseSample(str(Path(image_dir) / im["file_name"]), kps[:, :2].copy(), vis, c, s,
                              {"image_id": im["id"], "ann_id": ann.get("id"), "area": ann.get("area", w * h),
                               "bbox": [x, y, w, h]}))
    return out


# ---------------------------------------------------------------- MPII (original json layout)

def mpii_samples(json_file: str | os.PathLike, image_dir: str | os.PathLike | None = None,
                 padding: float = BOX_PADDING) -> list[PoseSample]:
    """The original Simple Baselines MPII json: ``{image, center, scale, joints[16][2], joints_vis[16]}``.

    As the original loader does: 1-based MATLAB coordinates become 0-based, the centre moves down by
    15 * scale pixels and the scale grows by ``padding`` (1.25 there; MPII's scale is person height / 200
    without context). Without ``image_dir`` the images are looked for beside the json, in ``images/`` beside
    it, or in ``../images`` (the original ``mpii/annot/*.json`` + ``mpii/images/`` layout).
    """
    padding = check_box_padding(padding)
    with open(json_file, encoding="utf-8") as f:
        records = json.load(f)
    if image_dir is None:
        jf = Path(json_file)
        image_dir = find_image_dir(jf, next((r["image"] for r in records), None),
                                   [jf.parent, jf.parent / "images", jf.parent.parent / "images"])
    out = []
    for r in records:
        raw = np.asarray(r["center"], dtype=np.float32)
        s = float(r["scale"])
        c = raw.copy()
        if raw[0] != -1:  # -1 marks a missing centre in the raw (1-based) annotation: leave it alone
            c[1] += 15 * s
            s *= padding
        c -= 1.0
        kp = np.asarray(r.get("joints", np.zeros((16, 2))), dtype=np.float32).reshape(16, 2) - 1.0
        vis = np.asarray(r.get("joints_vis", np.zeros(16)), dtype=np.float32).reshape(16)
        extra: dict[str, Any] = {}
        if "headboxes_src" in r:
            extra["head_box"] = np.asarray(r["headboxes_src"], dtype=np.float32)
        out.append(PoseSample(str(Path(image_dir) / r["image"]), kp, vis, c, np.array([s, s], dtype=np.float32), extra))
    return out


def find_image_dir(ann_file: Path, first_image: str | None, folders: Sequence[Path]) -> Path:
    """The first of ``folders`` that holds ``first_image``, so users need not pass the folder."""
    if first_image is None:  # no records: nothing to look for
        return folders[0]
    for d in folders:
        if (d / first_image).is_file():
            return d
    raise FileNotFoundError(f"{ann_file}: image {first_image!r} is in none of "
                            f"{', '.join(str(d) for d in folders)}; give the image folder (--images)")


def _lsp(data: str | os.PathLike, sk: Skeleton, aspect: float, padding: float, indices: Sequence[int] | None,
         images: str | os.PathLike | None, labels: str | os.PathLike | None = None) -> list[PoseSample]:
    return lsp_samples(data, indices, sk, aspect, padding=padding, labels=labels)


def _coco(data: str | os.PathLike, sk: Skeleton, aspect: float, padding: float, indices: Sequence[int] | None,
          images: str | os.PathLike | None, labels: str | os.PathLike | None = None) -> list[PoseSample]:
    return coco_samples(data, images, aspect, padding=padding)


def _mpii(data: str | os.PathLike, sk: Skeleton, aspect: float, padding: float, indices: Sequence[int] | None,
          images: str | os.PathLike | None, labels: str | os.PathLike | None = None) -> list[PoseSample]:
    return mpii_samples(data, images, padding=padding)


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset layout: what ``--data`` points at, which skeletons it gives, and its loader."""

    name: str
    summary: str
    data: str  # what --data names
    skeletons: tuple[str, ...]  # skeletons its joints can be given in (the first is its own)
    load: Callable[..., list[PoseSample]]  # (data, skeleton, aspect, padding, indices, images, labels) -> samples
    takes_range: bool = False  # --range picks images (LSP's files are numbered)
    takes_labels: bool = False  # a labels override file can replace its annotations (LSP: teacher-cleaned labels)
    scores: tuple[str, ...] = ()  # its benchmark's own scores beside PCK: "pckh" (head boxes), "coco_oks" (the json)


DATASETS: Mapping[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("lsp", "Leeds Sports Pose / LSP-extended", "folder with joints.mat and images/", ("lsp14", "mpii16"),
                _lsp, takes_range=True, takes_labels=True),
    DatasetInfo("coco", "COCO keypoints", "person_keypoints_*.json (images found beside it or with --images)",
                ("coco17",), _coco, scores=("coco_oks",)),
    DatasetInfo("mpii", "MPII in the original Simple Baselines json", "the json (images found beside it or with --images)",
                ("mpii16",), _mpii, scores=("pckh",)),
)}


def dataset_samples(dataset: str, data: str | os.PathLike, skeleton: str | Skeleton, aspect_ratio: float,
                    padding: float = BOX_PADDING, indices: Sequence[int] | None = None,
                    images: str | os.PathLike | None = None,
                    labels: str | os.PathLike | None = None) -> list[PoseSample]:
    """Samples of any registered dataset: the one entry point ``hpe train`` and ``hpe eval`` share.

    ``indices`` pick images where the dataset numbers them (LSP); other files come whole. ``labels`` is an
    override file for datasets that take one (LSP, :func:`save_lsp_labels`). A skeleton the data cannot give is
    an error here rather than wrong joints later.
    """
    sk = get_skeleton(skeleton)
    if dataset not in DATASETS:
        raise DatasetError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    info = DATASETS[dataset]
    try:
        if indices is not None and not info.takes_range:
            raise ValueError(f"an index range applies to {', '.join(n for n, d in DATASETS.items() if d.takes_range)} "
                             f"only, not {dataset}")
        if labels is not None and not info.takes_labels:
            raise ValueError(f"a labels override applies to {', '.join(n for n, d in DATASETS.items() if d.takes_labels)} "
                             f"only, not {dataset}")
        if sk.name not in info.skeletons:
            raise ValueError(f"{dataset} annotations give {' or '.join(info.skeletons)} joints, but the skeleton is {sk.name}")
        return info.load(data, sk, aspect_ratio, padding, indices, images, labels)
    except (OSError, ValueError, KeyError, IndexError) as e:
        detail = f"a record has no {e} field" if isinstance(e, KeyError) else str(e)
        raise DatasetError(f"cannot read {dataset} data from {data}: {detail}") from e


# ---------------------------------------------------------------- augmentation + dataset

@dataclass(frozen=True)
class AugmentConfig:
    """The original recipe's three augmentations: random scale, rotation part of the time, horizontal flip with
    L/R swap. Unlike the original's clipped normal, the scale is drawn log-uniformly from ``scale_range``.
    Optional pixel-only ones (off by default): colour jitter and random erasing fight over-fitting on small sets, and
    a pasted neighbour (another training person, :func:`~hpe_utils.transforms.paste_person`) teaches crowds."""

    scale_range: tuple[float, float] = (0.7, 1.35)  # crop size multiplier (>1 zooms out), log-uniform
    rotation: float = 30.0  # degrees, normal with this sd clipped at 2 sd
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    color_jitter: float = 0.0  # brightness/contrast/saturation factors in [1-x, 1+x]; 0 = off (the original)
    erase_prob: float = 0.0  # chance of one random-noise rectangle (2-15% of the crop); 0 = off (the original)
    paste_prob: float = 0.0  # chance of another training person blended in beside the centred one; 0 = off


def sample_augmentation(rng: np.random.Generator, cfg: AugmentConfig) -> tuple[float, float, bool]:
    """Draw (scale multiplier, rotation degrees, flip) for one sample."""
    lo, hi = cfg.scale_range
    s = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    r = float(np.clip(rng.normal() * cfg.rotation, -2 * cfg.rotation, 2 * cfg.rotation)) if rng.random() < cfg.rotation_prob else 0.0
    return s, r, bool(rng.random() < cfg.flip_prob)


def warp_sample(image: np.ndarray, sample: PoseSample, input_size: tuple[int, int], scale_mult: float = 1.0,
                rotation: float = 0.0, flip: bool = False, flip_perm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop the person with the given augmentation -> (crop RGB uint8, keypoints in crop pixels, visibility)."""
    scale = sample.scale * scale_mult
    patch = crop(image, sample.center, scale, input_size, rotation)
    m = get_affine_transform(sample.center, scale, rotation, input_size)
    kp = affine_points(sample.keypoints, m)
    vis = sample.visible.copy()
    if flip:
        if flip_perm is None:
            raise ValueError("flip needs the skeleton's flip permutation")
        patch = np.ascontiguousarray(patch[:, ::-1])
        kp[:, 0] = input_size[0] - 1 - kp[:, 0]
        kp, vis = kp[flip_perm], vis[flip_perm]
    return patch, kp, vis


class TopDownDataset(torch.utils.data.Dataset):
    """Samples -> (normalised crop (3, H, W), heatmaps (K, h, w), target weights (K,), meta)."""

    def __init__(self, samples: list[PoseSample], skeleton: str | Skeleton, codec: HeatmapCodec,
                 augment: AugmentConfig | None = None, color_order: str = "rgb", cache_images: bool = False,
                 seed: int = 0) -> None:
        self.samples = samples
        self.skeleton = get_skeleton(skeleton)
        self.codec = codec
        self.augment = augment
        self.color_order = color_order
        self.flip_perm = self.skeleton.flip_permutation()
        self._cache: dict[str, np.ndarray] | None = {} if cache_images else None
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Reseed augmentation per epoch so runs are deterministic yet vary between epochs."""
        self.epoch = epoch

    def load_image(self, path: str) -> np.ndarray:
        if self._cache is not None:
            img = self._cache.get(path)
            if img is None:
                img = self._cache[path] = read_image(path)
            return img
        return read_image(path)

    def preload(self, progress: bool = True) -> None:
        """Decode every image once into memory (LSPet: ~9,000 small images, well under 2 GB)."""
        if self._cache is None:
            self._cache = {}
        for s in tqdm(self.samples, desc="loading images", disable=not progress, unit="img"):
            self.load_image(s.image)

    def _neighbour(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """Another training person's crop at this input size (randomly mirrored), to paste beside sample ``i``."""
        j = int(rng.integers(len(self.samples) - 1))
        other = self.samples[j + (j >= i)]
        patch, _, _ = warp_sample(self.load_image(other.image), other, self.codec.input_size)
        return np.ascontiguousarray(patch[:, ::-1]) if rng.random() < 0.5 else patch

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.samples[i]
        image = self.load_image(sample.image)
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            s, r, f = sample_augmentation(rng, self.augment)
        else:
            s, r, f = 1.0, 0.0, False
        patch, kp, vis = warp_sample(image, sample, self.codec.input_size, s, r, f, self.flip_perm)
        if self.augment is not None:
            patch = photometric_jitter(patch, rng, self.augment.color_jitter)
            if self.augment.erase_prob > 0 and rng.random() < self.augment.erase_prob:
                patch = random_erase(patch, rng)
            if self.augment.paste_prob > 0 and len(self.samples) > 1 and rng.random() < self.augment.paste_prob:
                patch = paste_person(patch, self._neighbour(i, rng), rng)
        target, weight = self.codec.encode(kp, vis)
        weight = weight * np.clip(vis, 0.0, 1.0).astype(np.float32)  # soft labels (0 < vis < 1) weigh their joint less
        x = normalize(patch[None], self.color_order)[0]
        return {
            "image": torch.from_numpy(x),
            "target": torch.from_numpy(target),
            "target_weight": torch.from_numpy(weight),
            "index": i,
            "center": torch.from_numpy(np.asarray(sample.center, dtype=np.float32)),
            "scale": torch.from_numpy(np.asarray(sample.scale * s, dtype=np.float32)),
        }


__all__ = [
    "AugmentConfig", "DATASETS", "DatasetError", "DatasetInfo", "LSP_LABELS_FORMAT", "LspLabels", "PoseSample",
    "TopDownDataset", "box_from_keypoints", "coco_samples", "dataset_samples", "find_image_dir",
    "load_lsp_joints", "load_lsp_labels", "lsp_samples", "mpii_samples", "sample_augmentation", "save_lsp_labels",
    "warp_sample",
]
