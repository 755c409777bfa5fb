"""Worked answers to notebook 04's exercises: try them yourself first."""
import numpy as np


def pose_similarity(kps_true, kps_pred, visible, area, sigmas):
    """COCO's OKS of a prediction (K, 2) against the truth (K, 2), over the labelled joints (COCO's v > 0)."""
    d2 = ((np.asarray(kps_true) - np.asarray(kps_pred)) ** 2).sum(axis=1)  # squared distance per joint
    k = 2 * np.asarray(sigmas)  # COCO's per-joint constant
    per_joint = np.exp(-d2 / (2 * area * k**2))
    keep = np.asarray(visible) > 0  # v = 1 (hidden) and v = 2 (visible) are both labelled
    return float(per_joint[keep].mean()) if keep.any() else 0.0


def interpolated_ap(scores, oks, num_gt, threshold=0.5):
    """COCO's AP at one OKS threshold: the precision envelope read at 101 recall points."""
    scores, oks = np.asarray(scores, dtype=float), np.asarray(oks, dtype=float)
    if len(scores) == 0:
        return 0.0  # nothing found: precision 0 at every recall point
    order = np.argsort(-scores, kind="stable")  # highest score first; ties keep their given order
    hit = oks[order] >= threshold  # >=: an OKS equal to the threshold is a match
    tp = np.cumsum(hit)
    recall = tp / num_gt
    precision = tp / np.arange(1, len(hit) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope: best precision at this recall or more
    readings = []
    for r in np.linspace(0, 1, 101):
        i = np.searchsorted(recall, r, side="left")  # the first detection whose recall reaches r
        readings.append(precision[i] if i < len(precision) else 0.0)  # never reached: 0
    return float(np.mean(readings))


def pck_per_joint(pred, gt, visible, norm, alpha=0.2):
    """Per-joint share of labelled joints within alpha x norm pixels of the truth (NaN where never labelled)."""
    pred, gt, norm = np.asarray(pred, float), np.asarray(gt, float), np.asarray(norm, float)
    good_norm = np.isfinite(norm) & (norm > 0)  # a person of unknown size cannot be scored: skip them
    labelled = (np.asarray(visible) > 0) & good_norm[:, None]  # (N, K): the samples that count
    dist = np.linalg.norm(pred - gt, axis=2)  # (N, K) pixels
    with np.errstate(invalid="ignore"):
        hit = (dist <= alpha * np.where(good_norm, norm, 0.0)[:, None]) & labelled  # <=: exactly at the threshold is a hit
    count = labelled.sum(axis=0)
    return np.where(count > 0, hit.sum(axis=0) / np.maximum(count, 1), np.nan)  # 0 / 0 is undefined: NaN
