"""Worked answers to notebook 01's exercises: try them yourself first."""
from __future__ import annotations

import math

from torch import nn


def deconv_output_size(size: int, kernel: int = 4, stride: int = 2, padding: int = 1, output_padding: int = 0) -> int:
    """The side length after one nn.ConvTranspose2d with these settings."""
    # each input pixel stamps the kernel onto the output, `stride` apart: (size - 1) * stride + kernel pixels;
    # the padding then crops that many from both sides, and output_padding adds pixels at the far end
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def heatmap_size(input_w: int, input_h: int) -> tuple[int, int]:
    """The (width, height) of PoseResNet's heatmaps for an input of that size."""
    # five padded stride-2 layers in the backbone: each rounds up, ceil(ceil(n / 2) / 2)… = ceil(n / 32)
    # then three deconvolutions, each exactly doubling: x 8
    return math.ceil(input_w / 32) * 8, math.ceil(input_h / 32) * 8


def make_head(in_channels: int, num_joints: int, deconv_channels: int = 256) -> nn.Module:
    """Simple Baselines' head: three (deconv 4x4 stride 2, BN, ReLU) blocks, then a 1x1 conv to heatmaps."""
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(3):
        layers += [
            # kernel 4, stride 2, padding 1 exactly doubles the size; no bias, the BatchNorm shifts anyway
            nn.ConvTranspose2d(channels, deconv_channels, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(deconv_channels),
            nn.ReLU(inplace=True),
        ]
        channels = deconv_channels
    layers.append(nn.Conv2d(channels, num_joints, kernel_size=1))  # one 1x1 filter (plus bias) per joint
    return nn.Sequential(*layers)
