"""Training loss of Simple Baselines."""
from __future__ import annotations

import torch
from torch import nn


class JointsMSELoss(nn.Module):
    """Mean squared error between predicted and target heatmaps, each joint weighted by its target weight.

    The original implementation multiplies every joint's MSE by 0.5 (``0.5 * criterion(...)``) before
    averaging over joints; we keep that factor so loss values compare with the original logs.
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, output: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None = None) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
        n, k = output.shape[:2]
        pred = output.reshape(n, k, -1).float()
        gt = target.reshape(n, k, -1).float()
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("use_target_weight=True needs target_weight (N, K) or (N, K, 1)")
            w = target_weight.reshape(n, k, 1).float()
            pred, gt = pred * w, gt * w
        # per joint: 0.5 * mean over batch and pixels; then mean over joints == 0.5 * global mean
        return 0.5 * ((pred - gt) ** 2).mean()


__all__ = ["JointsMSELoss"]
