"""Plausible wrong answers to notebook 10's exercises, each with the diagnosis its check must give."""
import numpy as np


def lr_drop_late(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    return base_lr * gamma ** sum(epoch > m for m in milestones)


def lr_counted_from_one(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    return base_lr * gamma ** sum(epoch + 1 >= m for m in milestones)


def lr_drops_once(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    return base_lr * gamma if any(epoch >= m for m in milestones) else base_lr


def lr_gamma_times_n(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    n = sum(epoch >= m for m in milestones)
    return base_lr * gamma * n if n else base_lr


def _perm(k, flip_pairs):
    perm = np.arange(k)
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


def flip_image_only(image, keypoints, visible, flip_pairs):
    return image[:, ::-1], keypoints.copy(), visible.copy()


def flip_one_pixel_off(image, keypoints, visible, flip_pairs):
    kp = keypoints.copy()
    kp[:, 0] = image.shape[1] - kp[:, 0]
    perm = _perm(len(kp), flip_pairs)
    return image[:, ::-1], kp[perm], visible[perm]


def flip_without_swap(image, keypoints, visible, flip_pairs):
    kp = keypoints.copy()
    kp[:, 0] = image.shape[1] - 1 - kp[:, 0]
    return image[:, ::-1], kp, visible.copy()


def flip_visibility_left_behind(image, keypoints, visible, flip_pairs):
    kp = keypoints.copy()
    kp[:, 0] = image.shape[1] - 1 - kp[:, 0]
    return image[:, ::-1], kp[_perm(len(kp), flip_pairs)], visible.copy()


def flip_swapping_views(image, keypoints, visible, flip_pairs):
    kp, vis = keypoints.copy(), visible.copy()
    kp[:, 0] = image.shape[1] - 1 - kp[:, 0]
    for a, b in flip_pairs:
        kp[a], kp[b] = kp[b], kp[a]
        vis[a], vis[b] = vis[b], vis[a]
    return image[:, ::-1], kp, vis


def flip_in_place(image, keypoints, visible, flip_pairs):
    keypoints[:, 0] = image.shape[1] - 1 - keypoints[:, 0]
    perm = _perm(len(keypoints), flip_pairs)
    return image[:, ::-1], keypoints[perm], visible[perm]


def flip_upside_down(image, keypoints, visible, flip_pairs):
    kp = keypoints.copy()
    kp[:, 0] = image.shape[1] - 1 - kp[:, 0]
    perm = _perm(len(kp), flip_pairs)
    return image[::-1], kp[perm], visible[perm]


def mse_without_half(output, target, target_weight):
    w = target_weight[:, :, None, None]
    return ((output * w - target * w) ** 2).mean()


def mse_ignoring_weights(output, target, target_weight):
    return 0.5 * ((output - target) ** 2).mean()


def mse_over_labelled_only(output, target, target_weight):
    w = target_weight[:, :, None, None]
    per_pixel = (output * w - target * w) ** 2
    return 0.5 * per_pixel.sum() / (target_weight.sum().clamp(min=1) * output.shape[2] * output.shape[3])


def mse_as_float(output, target, target_weight):
    w = target_weight[:, :, None, None]
    return (0.5 * ((output * w - target * w) ** 2).mean()).item()


MISTAKES = [
    ("ex09_lr_schedule", lr_drop_late, "the drop comes one epoch late: epoch 90 is a milestone"),
    ("ex09_lr_schedule", lr_counted_from_one, "the drop comes one epoch early"),
    ("ex09_lr_schedule", lr_drops_once, "multiplied by gamma at every milestone passed"),
    ("ex09_lr_schedule", lr_gamma_times_n, "not base_lr * gamma * n"),
    ("ex09_flip_augment", flip_image_only, "you mirrored the image but not the keypoints"),
    ("ex09_flip_augment", flip_one_pixel_off, "x -> W - 1 - x, not W - x"),
    ("ex09_flip_augment", flip_without_swap, "left and right were not swapped"),
    ("ex09_flip_augment", flip_visibility_left_behind, "the visibility flags did not follow their joints"),
    ("ex09_flip_augment", flip_swapping_views, "copies one over the other"),
    ("ex09_flip_augment", flip_in_place, "your function changed the keypoints passed in"),
    ("ex09_flip_augment", flip_upside_down, "you flipped the image upside down"),
    ("ex09_joints_mse", mse_without_half, "the original halves the mean squared error"),
    ("ex09_joints_mse", mse_ignoring_weights, "your loss counts the unlabelled joints (weight 0): multiply"),
    ("ex09_joints_mse", mse_over_labelled_only, "you averaged over the labelled joints only"),
    ("ex09_joints_mse", mse_as_float, "return a torch tensor"),
]
