"""Engines that turn normalised crops (N, 3, H, W) into heatmaps (N, K, h, w).

The predictor does everything else (reading, cropping, flip test, decoding) in numpy, so every engine
shares exactly the same pre- and post-processing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

EXPORTED_SUFFIXES = {".onnx": "onnx", ".torchscript": "torchscript", ".jit": "torchscript"}


class Backend(Protocol):
    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """Plain PyTorch on any device (CPU, CUDA)."""

    def __init__(self, model: torch.nn.Module, device: torch.device, name: str = "torch") -> None:
        self.model, self.device, self.name = model.eval(), device, name

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class TorchScriptBackend:
    """A traced + frozen TorchScript file (the course's deployment format)."""

    name = "torchscript"

    def __init__(self, path: str | os.PathLike, device: torch.device) -> None:
        from .export import load_torchscript

        self.module, self.meta = load_torchscript(path)
        self.device = device
        self.module.to(device)

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.module(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class OnnxBackend:
    """ONNX Runtime on the CPU (fp32 or int8 files)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        from .export import onnx_metadata, onnx_session

        self.meta = onnx_metadata(path)
        self.session = onnx_session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.name = "onnx-int8" if self.meta.get("quantized") else "onnx"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0]


def exported_kind(path: Any, backend: str | None = None) -> str | None:
    """'onnx' or 'torchscript' when ``path`` is an exported model file (by its suffix), else None.

    An exported file runs only in its own runtime: asking for another engine is a mistake worth a clear error.
    (A checkpoint runs with every backend; the predictor converts it and caches the result.)
    """
    kind = EXPORTED_SUFFIXES.get(Path(str(path)).suffix.lower()) if isinstance(path, (str, os.PathLike)) else None
    if kind is None or backend in (None, "auto"):
        return kind
    fits = {"onnx": ("onnx", "onnx-int8"), "torchscript": ("torchscript",)}[kind]
    if backend not in fits:
        raise ValueError(f"{path} is an exported {kind} file: it runs with backend {' or '.join(fits)} (or auto), "
                         f"not {backend!r}; pass the checkpoint to use {backend!r}")
    return kind


def open_exported(path: str | os.PathLike, kind: str, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """Open an exported file -> (backend, metadata written at export time)."""
    if not Path(path).exists():
        from .download import WeightsError

        raise WeightsError(f"{path}: no such exported model file")
    b: Any = OnnxBackend(path) if kind == "onnx" else TorchScriptBackend(path, device)
    if not b.meta:
        from .download import WeightsError

        raise WeightsError(f"{path}: has no hpe metadata (skeleton, input size); export it with `hpe export`")
    return b, b.meta
