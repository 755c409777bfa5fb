"""Plausible wrong answers to notebook 07's exercises, each with the diagnosis its check must give."""
import numpy as np


def limbs_strictly_above(keypoints, scores, limbs, threshold=0.3):
    shown = np.isfinite(keypoints).all(axis=1) & (np.asarray(scores) > threshold)
    return [(a, b) for a, b in limbs if shown[a] and shown[b]]


def limbs_with_one_end(keypoints, scores, limbs, threshold=0.3):
    shown = np.isfinite(keypoints).all(axis=1) & (np.asarray(scores) >= threshold)
    return [(a, b) for a, b in limbs if shown[a] or shown[b]]


def limbs_ignoring_nan(keypoints, scores, limbs, threshold=0.3):
    return [(a, b) for a, b in limbs if scores[a] >= threshold and scores[b] >= threshold]


def limbs_as_mask(keypoints, scores, limbs, threshold=0.3):
    shown = np.isfinite(keypoints).all(axis=1) & (np.asarray(scores) >= threshold)
    return [bool(shown[a] and shown[b]) for a, b in limbs]


def _pck(pred, gt, visible, norm, alpha, *, strict=False, use_visible=True, scale=True, nan=True, skip_bad=True):
    pred, gt, norm = np.asarray(pred, float), np.asarray(gt, float), np.asarray(norm, float)
    vis = np.asarray(visible) > 0 if use_visible else np.ones(pred.shape[:2], bool)
    if skip_bad:
        vis = vis & (np.isfinite(norm) & (norm > 0))[:, None]
    dist = np.linalg.norm(pred - gt, axis=2)
    limit = alpha * norm[:, None] if scale else alpha
    with np.errstate(invalid="ignore"):
        hit = ((dist < limit) if strict else (dist <= limit)) & vis
    count = vis.sum(axis=0)
    if nan:
        return np.where(count > 0, hit.sum(axis=0) / np.maximum(count, 1), np.nan)
    return hit.sum(axis=0) / np.maximum(count, 1)


def pck_strict(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, strict=True)


def pck_counting_unlabelled(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, use_visible=False)


def pck_in_pixels(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, scale=False)


def pck_zero_for_never_labelled(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, nan=False)


def pck_keeping_unknown_torsos(pred, gt, visible, norm, alpha=0.2):
    return _pck(pred, gt, visible, norm, alpha, skip_bad=False)


def pck_one_number(pred, gt, visible, norm, alpha=0.2):
    dist = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2) / np.asarray(norm)[:, None]
    vis = np.asarray(visible) > 0
    return float(((dist <= alpha) & vis).sum() / vis.sum())



def pck_hits_among_unlabelled(pred, gt, visible, norm, alpha=0.2):
    dist = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2)
    hit = dist <= alpha * np.asarray(norm)[:, None]  # every sample's hits, labelled or not
    labelled = np.asarray(visible) > 0
    count = labelled.sum(axis=0)
    return np.where(count > 0, hit.sum(axis=0) / np.maximum(count, 1), np.nan)


def pck_one_norm_for_all(pred, gt, visible, norm, alpha=0.2):
    good = np.isfinite(norm) & (np.asarray(norm) > 0)
    return _pck(pred, gt, visible, np.where(good, np.mean(np.asarray(norm)[good]), norm), alpha)


MISTAKES = [
    ("ex06_limbs", limbs_strictly_above, "use >=, not >"),
    ("ex06_limbs", limbs_with_one_end, "`and`, not `or`"),
    ("ex06_limbs", limbs_ignoring_nan, "coordinates are NaN"),
    ("ex06_limbs", limbs_as_mask, "return the limbs themselves"),
    ("ex06_pck", pck_strict, "use distance <= alpha * norm, not <"),
    ("ex06_pck", pck_counting_unlabelled, "you counted unlabelled joints (visible = 0) too"),
    ("ex06_pck", pck_in_pixels, "scale by each sample's norm"),
    ("ex06_pck", pck_zero_for_never_labelled, "return NaN for it"),
    ("ex06_pck", pck_keeping_unknown_torsos, "skip those samples"),
    ("ex06_pck", pck_one_number, "PCK here is per joint"),
    ("ex06_pck", pck_hits_among_unlabelled, "you counted hits of unlabelled joints"),
    ("ex06_pck", pck_one_norm_for_all, "you used one norm for everybody"),
]
