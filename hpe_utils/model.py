"""PoseResNet: the Simple Baselines network (ResNet backbone, stride-2 deconvolutions, 1x1 joint conv).

The ``state_dict`` names are those of the original MSRA release (``conv1``, ``bn1``, ``layer1``…``layer4``,
``deconv_layers.{0,1,3,4,6,7}``, ``final_layer``), so an original checkpoint loads with ``strict=True``.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torchvision
from torch import nn

RESNET_BLOCKS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def deconv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 transposed conv exactly double the size."""
    if kernel == 4:
        return 1, 0
    if kernel == 3:
        return 1, 1
    if kernel == 2:
        return 0, 0
    raise ValueError(f"deconvolution kernel must be 2, 3 or 4, got {kernel}")


@dataclass(frozen=True)
class PoseResNetConfig:
    """Architecture hyper-parameters; stored inside our checkpoints so they rebuild themselves."""

    depth: int = 50
    num_joints: int = 17
    deconv_filters: tuple[int, ...] = (256, 256, 256)
    deconv_kernels: tuple[int, ...] = (4, 4, 4)
    final_kernel: int = 1

    def __post_init__(self) -> None:
        if self.depth not in RESNET_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(RESNET_BLOCKS)}, got {self.depth}")
        if len(self.deconv_filters) != len(self.deconv_kernels):
            raise ValueError("deconv_filters and deconv_kernels must have the same length")
        for k in self.deconv_kernels:
            deconv_padding(k)
        if self.final_kernel not in (1, 3):
            raise ValueError(f"final_kernel must be 1 or 3, got {self.final_kernel}")
        if self.num_joints < 1:
            raise ValueError("num_joints must be positive")

    @property
    def stride(self) -> int:
        """Output stride: 32 from the backbone, halved by every deconvolution (4 with three)."""
        return 32 // (2 ** len(self.deconv_kernels))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["deconv_filters"] = list(self.deconv_filters)
        d["deconv_kernels"] = list(self.deconv_kernels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PoseResNetConfig":
        return cls(
            depth=int(d["depth"]),
            num_joints=int(d["num_joints"]),
            deconv_filters=tuple(int(v) for v in d.get("deconv_filters", (256, 256, 256))),
            deconv_kernels=tuple(int(v) for v in d.get("deconv_kernels", (4, 4, 4))),
            final_kernel=int(d.get("final_kernel", 1)),
        )


class PoseResNet(nn.Module):
    """ResNet C5 features -> N x (ConvTranspose2d, BN, ReLU) -> conv to one heatmap per joint."""

    def __init__(self, config: PoseResNetConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        if config is None:
            config = PoseResNetConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either a config or keyword arguments, not both")
        self.config = config
        # torchvision's ResNet has the same module names as the original backbone; we keep its stem and
        # stages and drop avgpool/fc, so parameter names stay conv1, bn1, layer1..layer4.
        resnet = getattr(torchvision.models, f"resnet{config.depth}")(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        inplanes = resnet.fc.in_features  # 512 for BasicBlock ResNets, 2048 for Bottleneck ones

        layers: list[nn.Module] = []
        for planes, kernel in zip(config.deconv_filters, config.deconv_kernels):
            padding, output_padding = deconv_padding(kernel)
            layers += [
                nn.ConvTranspose2d(inplanes, planes, kernel, stride=2, padding=padding,
                                   output_padding=output_padding, bias=False),
                nn.BatchNorm2d(planes, momentum=0.1),
                nn.ReLU(inplace=True),
            ]
            inplanes = planes
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(inplanes, config.num_joints, kernel_size=config.final_kernel,
                                     stride=1, padding=1 if config.final_kernel == 3 else 0)
        self.init_head_weights()

    def init_head_weights(self) -> None:
        """Paper initialisation of the head: deconv and final conv weights ~ N(0, 0.001), BN = identity."""
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """ResNet features at stride 32 (C5)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, H, W) normalised -> heatmaps (N, joints, H/stride, W/stride)."""
        return self.final_layer(self.deconv_layers(self.backbone(x)))


def stage_shapes(model: PoseResNet, input_size: tuple[int, int]) -> list[tuple[str, tuple[int, ...]]]:
    """Output shape after every stage of one forward pass at (width, height), for teaching and debugging."""
    x = torch.zeros(1, 3, input_size[1], input_size[0], device=_device_of(model))
    out: list[tuple[str, tuple[int, ...]]] = [("input", tuple(x.shape))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        out.append(("stem (conv1 + maxpool)", tuple(x.shape)))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(model, name)(x)
            out.append((name, tuple(x.shape)))
        for i in range(0, len(model.deconv_layers), 3):
            x = model.deconv_layers[i + 2](model.deconv_layers[i + 1](model.deconv_layers[i](x)))
            out.append((f"deconv {i // 3 + 1}", tuple(x.shape)))
        out.append(("final_layer (heatmaps)", tuple(model.final_layer(x).shape)))
    model.train(was_training)
    return out


def _device_of(model: nn.Module) -> torch.device:
    """Where the model's weights are (CPU or a GPU): inputs made for it must be there too."""
    return next(model.parameters()).device


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: tuple[int, int]) -> int:
    """Multiply-accumulates of one forward pass at (width, height), counted on conv/deconv/linear layers."""
    total = 0

    def conv_hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.ConvTranspose2d):
            # each input pixel is multiplied by the whole kernel once
            total += inp[0].numel() // inp[0].shape[0] * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
        else:
            total += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size[1], input_size[0], device=_device_of(model)))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return total


def fold_deconv_batchnorm(model: PoseResNet) -> nn.Module:
    """Copy of the model for inference with each deconv-head BatchNorm folded into its transposed conv.

    A transposed-conv weight is (in, out, kh, kw), so the BN scale applies along dim 1, not dim 0.
    """
    m = copy.deepcopy(model).eval()
    layers = list(m.deconv_layers)
    new: list[nn.Module] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, nn.ConvTranspose2d) and i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d):
            bn = layers[i + 1]
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                       layer.padding, layer.output_padding, bias=True)
            fused.weight.data = layer.weight.detach() * scale.view(1, -1, 1, 1)
            fused.bias.data = bn.bias.detach() - bn.running_mean * scale
            new.append(fused)
            i += 2
        else:
            new.append(layer)
            i += 1
    m.deconv_layers = nn.Sequential(*new)
    return m


__all__ = [
    "PoseResNet", "PoseResNetConfig", "RESNET_BLOCKS", "count_macs", "count_parameters",
    "deconv_padding", "fold_deconv_batchnorm", "stage_shapes",
]
