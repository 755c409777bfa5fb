"""Worked answers to notebook 06's exercises: try them yourself first."""
import numpy as np


def limbs_to_draw(keypoints, scores, limbs, threshold=0.3):
    """The (a, b) limbs whose two joints are both drawn, in the order of `limbs`."""
    keypoints, scores = np.asarray(keypoints, dtype=float), np.asarray(scores, dtype=float)
    shown = np.isfinite(keypoints).all(axis=1) & (scores >= threshold)  # one flag per joint; >=: the threshold is shown
    return [(a, b) for a, b in limbs if shown[a] and shown[b]]  # a limb needs both its ends


def flip_pairs(joints):
    """(a, b) index pairs of the joints that swap under a mirror image, derived from their names."""
    index = {name: i for i, name in enumerate(joints)}
    pairs = []
    for i, name in enumerate(joints):
        for left, right in (("l_", "r_"), ("left_", "right_")):  # MPII/LSP spell the sides l_/r_, COCO left_/right_
            partner = right + name[len(left):]
            if name.startswith(left) and partner in index:  # a left joint without its right one stays unpaired
                pairs.append((i, index[partner]))
    return pairs
