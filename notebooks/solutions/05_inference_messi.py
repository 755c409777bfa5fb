"""Worked answers to notebook 06's exercises: try them yourself first."""
import cv2
import numpy as np


def crop_matrix(center, box_size, output_size):
    """2x3 affine matrix taking image pixels to crop pixels."""
    s = output_size[0] / box_size[0]  # the box's width fills the crop's width
    tx = output_size[0] / 2 - s * center[0]  # and its centre lands on the crop's centre
    ty = output_size[1] / 2 - s * center[1]
    return np.array([[s, 0.0, tx], [0.0, s, ty]])


def heatmap_to_image_points(coords, center, box_size, heatmap_size):
    """(K, 2) heatmap pixels -> (K, 2) image pixels."""
    m = cv2.invertAffineTransform(crop_matrix(center, box_size, heatmap_size))  # built for the heatmap's size
    coords = np.asarray(coords, dtype=np.float64)
    return coords @ m[:, :2].T + m[:, 2]


def flip_back(heatmaps, flip_pairs):
    """(K, h, w) heatmaps of a mirrored crop -> heatmaps of the original crop."""
    perm = list(range(heatmaps.shape[0]))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return heatmaps[perm][:, :, ::-1]  # swap left and right, mirror the width
