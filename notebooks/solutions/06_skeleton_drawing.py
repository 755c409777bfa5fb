"""Worked answers to notebook 07's exercises: try them yourself first."""
import numpy as np


def limbs_to_draw(keypoints, scores, limbs, threshold=0.3):
    """The (a, b) limbs whose two joints are both drawn, in the order of `limbs`."""
    keypoints, scores = np.asarray(keypoints, dtype=float), np.asarray(scores, dtype=float)
    shown = np.isfinite(keypoints).all(axis=1) & (scores >= threshold)  # one flag per joint; >=: the threshold is shown
    return [(a, b) for a, b in limbs if shown[a] and shown[b]]  # a limb needs both its ends


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
