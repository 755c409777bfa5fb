"""Plausible wrong answers to notebook 06's exercises, each with the diagnosis its check must give."""
import cv2
import numpy as np


def crop_matrix_inverted(center, box_size, output_size):
    s = output_size[0] / box_size[0]
    m = np.array([[s, 0.0, output_size[0] / 2 - s * center[0]], [0.0, s, output_size[1] / 2 - s * center[1]]])
    return cv2.invertAffineTransform(m)


def crop_matrix_scale_upside_down(center, box_size, output_size):
    s = box_size[0] / output_size[0]
    return np.array([[s, 0.0, output_size[0] / 2 - s * center[0]], [0.0, s, output_size[1] / 2 - s * center[1]]])


def crop_matrix_from_the_corner(center, box_size, output_size):
    s = output_size[0] / box_size[0]
    return np.array([[s, 0.0, -s * center[0]], [0.0, s, -s * center[1]]])


def crop_matrix_3x3(center, box_size, output_size):
    s = output_size[0] / box_size[0]
    return np.array([[s, 0, output_size[0] / 2 - s * center[0]], [0, s, output_size[1] / 2 - s * center[1]], [0, 0, 1]])


def _crop(center, box_size, output_size):
    s = output_size[0] / box_size[0]
    return np.array([[s, 0.0, output_size[0] / 2 - s * center[0]], [0.0, s, output_size[1] / 2 - s * center[1]]])


def to_image_with_the_forward_matrix(coords, center, box_size, heatmap_size):
    m = _crop(center, box_size, heatmap_size)
    return coords @ m[:, :2].T + m[:, 2]


def to_image_built_for_the_input_size(coords, center, box_size, heatmap_size):
    m = cv2.invertAffineTransform(_crop(center, box_size, (heatmap_size[0] * 4, heatmap_size[1] * 4)))
    return coords @ m[:, :2].T + m[:, 2]


def flip_back_without_swap(heatmaps, flip_pairs):
    return heatmaps[:, :, ::-1]


def flip_back_without_mirror(heatmaps, flip_pairs):
    perm = list(range(heatmaps.shape[0]))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return heatmaps[perm]


def flip_back_swapping_in_place(heatmaps, flip_pairs):
    out = heatmaps[:, :, ::-1].copy()
    for a, b in flip_pairs:
        out[a] = out[b]
        out[b] = out[a]
    return out


def flip_back_along_the_height(heatmaps, flip_pairs):
    perm = list(range(heatmaps.shape[0]))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return heatmaps[perm][:, ::-1]


MISTAKES = [
    ("ex05_crop_matrix", crop_matrix_inverted, "that is the inverse"),
    ("ex05_crop_matrix", crop_matrix_scale_upside_down, "yours is upside down"),
    ("ex05_crop_matrix", crop_matrix_from_the_corner, "it must land on the crop's centre"),
    ("ex05_crop_matrix", crop_matrix_3x3, "drop the last row"),
    ("ex05_to_image", to_image_with_the_forward_matrix, "with its inverse"),
    ("ex05_to_image", to_image_built_for_the_input_size, "must be built for the heatmap's size"),
    ("ex05_flip_back", flip_back_without_swap, "did not swap left and right"),
    ("ex05_flip_back", flip_back_without_mirror, "did not mirror the maps"),
    ("ex05_flip_back", flip_back_swapping_in_place, "swapping in place overwrote one side"),
    ("ex05_flip_back", flip_back_along_the_height, "you flipped the height"),
]
