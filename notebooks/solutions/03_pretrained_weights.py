"""Worked answers to notebook 03's exercises: try them yourself first."""
from __future__ import annotations

import numpy as np
import torch

PREFIXES = ("module.", "backbone.", "keypoint_head.", "head.")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # ImageNet, RGB order
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
RESNETS = {  # depth -> (bottleneck blocks?, blocks per stage layer1..layer4)
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}


def convert_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors under our names: DataParallel and mmpose prefixes removed from the start of each key."""
    out = {}
    for key, tensor in state_dict.items():
        stripped = True
        while stripped:  # 'module.backbone.conv1.weight' carries two prefixes
            stripped = False
            for prefix in PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key.removeprefix(prefix), True
        out[key] = tensor
    return out


def to_network_input(image_rgb: np.ndarray, color_order: str) -> torch.Tensor:
    """A uint8 RGB image (H, W, 3) as the float32 (1, 3, H, W) batch that weights of this colour order expect."""
    x = image_rgb[..., ::-1] if color_order == "bgr" else image_rgb  # BGR weights: reverse the channels
    # MSRA applied the RGB-ordered statistics to its BGR images, so mean/std stay in RGB order either way
    x = (x.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]  # channels first, batch axis


def infer_architecture(state_dict: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(ResNet depth, number of joints) of a PoseResNet state dict in our layout, from its keys and shapes."""
    num_joints = state_dict["final_layer.weight"].shape[0]  # (out = joints, in, 1, 1)
    blocks = []
    for stage in range(1, 5):
        indices = {int(k.split(".")[1]) for k in state_dict if k.startswith(f"layer{stage}.")}
        blocks.append(max(indices) + 1)  # block indices start at 0
    bottleneck = "layer1.0.conv3.weight" in state_dict  # 34 and 50 share (3, 4, 6, 3): only the block type differs
    depth = next(d for d, spec in RESNETS.items() if spec == (bottleneck, tuple(blocks)))
    return depth, int(num_joints)
