"""Plausible wrong answers to notebook 03's exercises, each with the diagnosis its check must give."""
from __future__ import annotations

import numpy as np
import torch

PREFIXES = ("module.", "backbone.", "keypoint_head.", "head.")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def convert_with_lstrip(state_dict):
    out = {}
    for k, v in state_dict.items():
        for p in PREFIXES:
            if k.startswith(p):
                k = k.lstrip(p)
        out[k] = v
    return out


def convert_with_replace(state_dict):
    out = {}
    for k, v in state_dict.items():
        for p in ("module.", "backbone.", "head.", "keypoint_head."):
            k = k.replace(p, "")
        out[k] = v
    return out


def convert_one_prefix(state_dict):
    out = {}
    for k, v in state_dict.items():
        for p in PREFIXES:
            if k.startswith(p):
                k = k[len(p):]
                break
        out[k] = v
    return out


def convert_only_prefixed(state_dict):
    out = {}
    for k, v in state_dict.items():
        for p in PREFIXES:
            if k.startswith(p):
                out[k[len(p):]] = v
    return out


def convert_forgets_module(state_dict):
    out = {}
    for k, v in state_dict.items():
        for p in ("backbone.", "keypoint_head.", "head."):
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def input_ignores_color_order(image_rgb, color_order):
    x = (image_rgb.astype(np.float32) / 255 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def input_reverses_statistics(image_rgb, color_order):
    mean, std = (MEAN[::-1], STD[::-1]) if color_order == "bgr" else (MEAN, STD)
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb
    x = (x.astype(np.float32) / 255 - mean) / std
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def input_without_255(image_rgb, color_order):
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb
    x = (x.astype(np.float32) - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def input_channels_last(image_rgb, color_order):
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb
    return torch.from_numpy(((x.astype(np.float32) / 255 - MEAN) / STD).copy())[None]


def input_reshaped(image_rgb, color_order):
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb
    x = (x.astype(np.float32) / 255 - MEAN) / STD
    return torch.from_numpy(x.copy()).reshape(1, 3, *x.shape[:2])


def input_negative_strides(image_rgb, color_order):
    x = image_rgb.astype(np.float32)
    if color_order == "bgr":
        x = x[..., ::-1]
    return torch.from_numpy((x / 255 - MEAN) / STD if color_order == "rgb" else x).permute(2, 0, 1)[None]


def input_no_batch(image_rgb, color_order):
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb
    x = (x.astype(np.float32) / 255 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


RESNETS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _blocks(state_dict):
    return tuple(max(int(k.split(".")[1]) for k in state_dict if k.startswith(f"layer{i}.")) + 1 for i in range(1, 5))


def arch_blocks_only(state_dict):
    depth = next(d for d, b in RESNETS.items() if b == _blocks(state_dict))
    return depth, state_dict["final_layer.weight"].shape[0]


def arch_joints_from_input_channels(state_dict):
    depth = next(d for d, b in RESNETS.items() if b == _blocks(state_dict)
                 and (d >= 50) == ("layer1.0.conv3.weight" in state_dict))
    return depth, state_dict["final_layer.weight"].shape[1]


MISTAKES = [
    ("ex03_convert_keys", convert_with_lstrip, "str.lstrip / str.strip remove any of the given *characters*"),
    ("ex03_convert_keys", convert_with_replace, "remove a prefix only at the *start* of the key"),
    ("ex03_convert_keys", convert_one_prefix, "you removed only its first prefix"),
    ("ex03_convert_keys", convert_only_prefixed, "a key without any prefix is already in our layout"),
    ("ex03_convert_keys", convert_forgets_module, "still has its 'module.' prefix"),
    ("ex03_bgr_trap", input_ignores_color_order, "the channels are in the wrong order for these weights"),
    ("ex03_bgr_trap", input_reverses_statistics, "for 'bgr' you reversed the mean and std too"),
    ("ex03_bgr_trap", input_without_255, "divide the uint8 values by 255"),
    ("ex03_bgr_trap", input_channels_last, "channels must come first"),
    ("ex03_bgr_trap", input_reshaped, "reshape keeps the memory order"),
    ("ex03_bgr_trap", input_negative_strides, "torch.from_numpy cannot take a reversed view"),
    ("ex03_bgr_trap", input_no_batch, "add the batch axis in front"),
    ("ex03_infer_arch", arch_blocks_only, "ResNet-34 and ResNet-50 have the same blocks"),
    ("ex03_infer_arch", arch_joints_from_input_channels, "the final conv's *input* channels"),
]
