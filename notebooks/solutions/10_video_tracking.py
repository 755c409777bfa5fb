"""Worked answers to notebook 10's exercises: try them yourself first."""
import numpy as np


def mota(gt, misses, false_positives, id_switches):
    """MOTA of a clip from per-frame counts: 1 - (misses + false positives + identity switches) / ground truths."""
    total = float(np.sum(gt))  # every frame's people, summed first: a crowded frame weighs more
    if total == 0:
        return float("nan")  # nobody to track: 0 / 0
    errors = np.sum(misses) + np.sum(false_positives) + np.sum(id_switches)
    return 1.0 - float(errors) / total  # not clipped: more errors than people gives a MOTA below 0


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
