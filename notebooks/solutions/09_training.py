"""Worked answers to notebook 10's exercises: try them yourself first."""
import numpy as np
import torch


def learning_rate(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    """The learning rate epoch ``epoch`` (counted from 0) trains at under a step schedule."""
    reached = sum(1 for m in milestones if epoch >= m)  # milestones already passed, the one at this epoch included
    return base_lr * gamma**reached  # one factor gamma per milestone


def flip_sample(image, keypoints, visible, flip_pairs):
    """The sample mirrored left-right: (image, keypoints (K, 2), visible (K,)) with left and right joints swapped."""
    width = image.shape[1]
    mirrored = image[:, ::-1].copy()  # reverse the columns (axis 1); a copy, so the caller's image is untouched
    kp = np.array(keypoints, dtype=np.float32)  # np.array copies
    kp[:, 0] = width - 1 - kp[:, 0]  # pixel centres 0 … W-1: column 0 <-> column W-1
    perm = np.arange(len(kp))
    for a, b in flip_pairs:  # the person's left side is now where the right was: relabel
        perm[a], perm[b] = b, a
    return mirrored, kp[perm], np.asarray(visible)[perm]  # fancy indexing makes new arrays


def joints_mse(output, target, target_weight):
    """0.5 x mean squared error over batch, joints and pixels, each joint's maps weighted by its target weight."""
    w = target_weight[:, :, None, None]  # (N, K) -> (N, K, 1, 1): one weight per joint, broadcast over pixels
    return 0.5 * ((output * w - target * w) ** 2).mean()  # unlabelled joints (w = 0) add exactly 0
