"""Plausible wrong answers to notebook 01's exercises, each with the diagnosis its check must give."""
from __future__ import annotations

import math

from torch import nn


def conv_formula(size, kernel=4, stride=2, padding=1, output_padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def no_output_padding(size, kernel=4, stride=2, padding=1, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel


def times_stride(size, kernel=4, stride=2, padding=1, output_padding=0):
    return size * stride


def float_division(size, kernel=4, stride=2, padding=1, output_padding=0):
    return float((size - 1) * stride - 2 * padding + kernel + output_padding)


def backbone_only(input_w, input_h):
    return math.ceil(input_w / 32), math.ceil(input_h / 32)


def height_first(input_w, input_h):
    return math.ceil(input_h / 32) * 8, math.ceil(input_w / 32) * 8


def divide_by_four(input_w, input_h):
    return input_w // 4, input_h // 4


def floor_backbone(input_w, input_h):
    return input_w // 32 * 8, input_h // 32 * 8


def true_division(input_w, input_h):
    return input_w / 4, input_h / 4


def _head(in_channels, num_joints, deconv_channels, *, bias=False, bn=True, relu=True, kernel=4, final=True):
    layers = []
    c = in_channels
    for _ in range(3):
        layers.append(nn.ConvTranspose2d(c, deconv_channels, kernel, stride=2, padding=1, bias=bias))
        layers += [nn.BatchNorm2d(deconv_channels)] if bn else []
        layers += [nn.ReLU()] if relu else []
        c = deconv_channels
    if final:
        layers.append(nn.Conv2d(c, num_joints, 1))
    return nn.Sequential(*layers)


def head_with_bias(in_channels, num_joints, deconv_channels=256):
    return _head(in_channels, num_joints, deconv_channels, bias=True)


def head_without_relu(in_channels, num_joints, deconv_channels=256):
    return _head(in_channels, num_joints, deconv_channels, relu=False)


def head_without_batchnorm(in_channels, num_joints, deconv_channels=256):
    return _head(in_channels, num_joints, deconv_channels, bn=False)


def head_kernel_3(in_channels, num_joints, deconv_channels=256):
    return _head(in_channels, num_joints, deconv_channels, kernel=3)


def head_without_final_conv(in_channels, num_joints, deconv_channels=256):
    return _head(in_channels, num_joints, deconv_channels, final=False)


class HeadReluFirst(nn.Module):
    """ReLU before BatchNorm: same layers and parameters, different function."""

    def __init__(self, in_channels, num_joints, deconv_channels):
        super().__init__()
        self.deconvs = nn.ModuleList()
        self.bns = nn.ModuleList()
        c = in_channels
        for _ in range(3):
            self.deconvs.append(nn.ConvTranspose2d(c, deconv_channels, 4, 2, 1, bias=False))
            self.bns.append(nn.BatchNorm2d(deconv_channels))
            c = deconv_channels
        self.final = nn.Conv2d(c, num_joints, 1)

    def forward(self, x):
        for deconv, bn in zip(self.deconvs, self.bns):
            x = bn(nn.functional.relu(deconv(x)))
        return self.final(x)


def head_relu_before_bn(in_channels, num_joints, deconv_channels=256):
    return HeadReluFirst(in_channels, num_joints, deconv_channels)


def head_in_channels_everywhere(in_channels, num_joints, deconv_channels=256):
    layers = []
    for _ in range(3):
        layers += [nn.ConvTranspose2d(in_channels, deconv_channels, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(deconv_channels), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(deconv_channels, num_joints, 1))


MISTAKES = [
    ("ex01_deconv_size", conv_formula, "size rule of an ordinary (strided) convolution"),
    ("ex01_deconv_size", no_output_padding, "you forgot output_padding"),
    ("ex01_deconv_size", times_stride, "you returned size × stride"),
    ("ex01_deconv_size", float_division, "return an int, not a float"),
    ("ex01_heatmap_size", backbone_only, "you returned the backbone's output (stride 32)"),
    ("ex01_heatmap_size", height_first, "width and height are swapped"),
    ("ex01_heatmap_size", divide_by_four, "you divided the input by 4 directly"),
    ("ex01_heatmap_size", floor_backbone, "the backbone rounds *up*, not down"),
    ("ex01_heatmap_size", true_division, "return ints, not floats"),
    ("ex01_head", head_with_bias, "pass bias=False"),
    ("ex01_head", head_without_relu, "your head is linear: there is no ReLU"),
    ("ex01_head", head_without_batchnorm, "0 nn.BatchNorm2d layers"),
    ("ex01_head", head_kernel_3, "each deconvolution must exactly double the size"),
    ("ex01_head", head_without_final_conv, "the head ends with a 1x1 convolution"),
    ("ex01_head", head_relu_before_bn, "ConvTranspose2d → BatchNorm2d → ReLU"),
    ("ex01_head", head_in_channels_everywhere, "the other two and the final conv take deconv_channels"),
]

