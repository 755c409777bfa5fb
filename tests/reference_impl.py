"""An independent, minimal Simple Baselines network written from the paper, for checkpoint-compatibility tests.

It imports neither torchvision nor hpe_utils: if our PoseResNet loads its state dict strictly and gives the
same heatmaps, our key layout and forward pass match the original design.
"""
from __future__ import annotations

import torch
from torch import nn


class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + skip)


class Bottle(nn.Module):
    expansion = 4

    def __init__(self, cin: int, cout: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv3 = nn.Conv2d(cout, cout * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + skip)


class ReferencePoseNet(nn.Module):
    """ResNet (original names) + 3 x [ConvTranspose2d(k4, s2, p1), BN, ReLU] + 1x1 conv."""

    def __init__(self, block: type, layers: tuple[int, int, int, int], joints: int) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._stage(block, 64, layers[0], 1)
        self.layer2 = self._stage(block, 128, layers[1], 2)
        self.layer3 = self._stage(block, 256, layers[2], 2)
        self.layer4 = self._stage(block, 512, layers[3], 2)
        mods: list[nn.Module] = []
        for _ in range(3):
            mods += [nn.ConvTranspose2d(self.inplanes, 256, 4, 2, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
            self.inplanes = 256
        self.deconv_layers = nn.Sequential(*mods)
        self.final_layer = nn.Conv2d(256, joints, 1, 1, 0)

    def _stage(self, block: type, planes: int, n: int, stride: int) -> nn.Sequential:
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.final_layer(self.deconv_layers(x))


def reference_model(depth: int = 18, joints: int = 16, seed: int = 0) -> ReferencePoseNet:
    """A randomly initialised reference network with randomised BN statistics, in eval mode."""
    spec = {18: (Basic, (2, 2, 2, 2)), 50: (Bottle, (3, 4, 6, 3))}[depth]
    torch.manual_seed(seed)
    m = ReferencePoseNet(spec[0], spec[1], joints)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
        if isinstance(mod, (nn.ConvTranspose2d,)):
            mod.weight.data.normal_(0, 0.05)
    return m.eval()
