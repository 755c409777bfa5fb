"""Worked answers to notebook 10's exercises: try them yourself first."""
import numpy as np


def pose_similarity(kps_a, kps_b, visible, area, sigmas):
    """COCO's OKS of two poses (K, 2), over the visible joints."""
    d2 = ((np.asarray(kps_a) - np.asarray(kps_b)) ** 2).sum(axis=1)  # squared distance per joint
    k = 2 * np.asarray(sigmas)  # COCO's per-joint constant
    per_joint = np.exp(-d2 / (2 * area * k**2))
    keep = np.asarray(visible) > 0
    return float(per_joint[keep].mean()) if keep.any() else 0.0


def greedy_assign(similarity, threshold):
    """(row, column) pairs: the most similar pair first, each row and column used once, only above the threshold."""
    sim = np.asarray(similarity, dtype=float)
    pairs, rows, cols = [], set(), set()
    for flat in np.argsort(-sim, axis=None, kind="stable"):
        r, c = divmod(int(flat), sim.shape[1])
        if sim[r, c] <= threshold:
            break  # everything after is lower still
        if r not in rows and c not in cols:
            pairs.append((r, c))
            rows.add(r)
            cols.add(c)
    return pairs
