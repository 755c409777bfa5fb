"""Plausible wrong answers to notebook 06's exercises, each with the diagnosis its check must give."""
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


def flip_pairs_mpii_spelling_only(joints):
    index = {name: i for i, name in enumerate(joints)}
    return [(i, index["r_" + n[2:]]) for i, n in enumerate(joints) if n.startswith("l_") and "r_" + n[2:] in index]


def flip_pairs_by_position(joints):
    lefts = [i for i, n in enumerate(joints) if n.startswith(("l_", "left_"))]
    rights = [i for i, n in enumerate(joints) if n.startswith(("r_", "right_"))]
    return list(zip(lefts, rights))


def flip_pairs_both_ways(joints):
    index = {name: i for i, name in enumerate(joints)}
    pairs = []
    for i, n in enumerate(joints):
        for a, b in (("l_", "r_"), ("r_", "l_"), ("left_", "right_"), ("right_", "left_")):
            if n.startswith(a) and b + n[len(a):] in index:
                pairs.append((i, index[b + n[len(a):]]))
    return pairs


def flip_pairs_with_centre_joints(joints):
    index = {name: i for i, name in enumerate(joints)}
    pairs = []
    for i, n in enumerate(joints):
        for a, b in (("l_", "r_"), ("left_", "right_")):
            if n.startswith(a) and b + n[len(a):] in index:
                pairs.append((i, index[b + n[len(a):]]))
        if not n.startswith(("l_", "r_", "left_", "right_")):
            pairs.append((i, i))  # a centre joint "swaps" with itself
    return pairs


def flip_pairs_as_names(joints):
    return [(n, "r_" + n[2:]) for n in joints if n.startswith("l_") and "r_" + n[2:] in joints]


def flip_pairs_assuming_every_left_has_a_right(joints):
    index = {name: i for i, name in enumerate(joints)}
    pairs = []
    for i, n in enumerate(joints):
        for a, b in (("l_", "r_"), ("left_", "right_")):
            if n.startswith(a):
                pairs.append((i, index[b + n[len(a):]]))
    return pairs


MISTAKES = [
    ("ex06_limbs", limbs_strictly_above, "use >=, not >"),
    ("ex06_limbs", limbs_with_one_end, "`and`, not `or`"),
    ("ex06_limbs", limbs_ignoring_nan, "coordinates are NaN"),
    ("ex06_limbs", limbs_as_mask, "return the limbs themselves"),
    ("ex06_flip_pairs", flip_pairs_mpii_spelling_only, "handle both prefixes"),
    ("ex06_flip_pairs", flip_pairs_by_position, "not by position in the list"),
    ("ex06_flip_pairs", flip_pairs_both_ways, "list each left/right pair once"),
    ("ex06_flip_pairs", flip_pairs_with_centre_joints, "is in no pair"),
    ("ex06_flip_pairs", flip_pairs_as_names, "return their indices"),
    ("ex06_flip_pairs", flip_pairs_assuming_every_left_has_a_right, "your function raised KeyError"),
]
