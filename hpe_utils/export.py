"""``hpe export``: write a checkpoint as TorchScript, ONNX or int8 ONNX — only after it matches PyTorch on real images.

The file formats themselves live in :mod:`hpe_utils.formats`; the parity check in :mod:`hpe_utils.parity`.
:data:`EXPORT_FORMATS` is the one list of formats (the CLI's choices read it).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .errors import InputError
from .files import write_new
from .formats import (export_onnx_model, load_torchscript, metadata, onnx_session, quantize_onnx_int8,
                      save_torchscript, set_onnx_metadata, trace_torchscript)
from .parity import ParityReport, compare_heatmaps, real_crops
from .weights import LoadedWeights, load_weights


@dataclass(frozen=True)
class ExportFormat:
    """One format ``hpe export`` writes, with the parity it must keep to be written at all."""

    name: str
    suffix: str
    tolerance_abs: float  # max abs heatmap difference to eager fp32
    tolerance_moved: float  # share of joints allowed to move > 1 heatmap pixel
    summary: str


EXPORT_FORMATS: Mapping[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("torchscript", ".torchscript", 1e-4, 0.0, "torch.jit.trace + freeze (the course's path)"),
    ExportFormat("onnx", ".onnx", 1e-3, 0.0, "ONNX, dynamic batch, fp32"),
    ExportFormat("onnx-int8", ".onnx", 0.25, 0.10, "static int8 ONNX calibrated on real crops"),
)}


def reference_heatmaps(lw: LoadedWeights, images: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The real crops of ``images`` and eager fp32's heatmaps on them: what every exported file is checked against."""
    x = real_crops(lw.input_size, lw.color_order, images)
    with torch.no_grad():
        return x, lw.model.eval()(torch.from_numpy(x)).numpy()


def export(weights: str | os.PathLike | LoadedWeights, fmt: str, out: str | os.PathLike, images: Sequence[Any], *,
           overwrite: bool = False, log: Callable[[str], None] = print,
           reference: tuple[np.ndarray, np.ndarray] | None = None) -> ParityReport:
    """Export ``weights`` to ``fmt`` at ``out`` after checking parity with PyTorch on ``images``.

    ``reference`` is :func:`reference_heatmaps` of the same weights and images when the caller already has it.
    An export that fails its tolerance is not written and raises ``RuntimeError`` with the report.
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if not images:
        raise InputError("export needs at least one real image to verify against")
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    lw = weights if isinstance(weights, LoadedWeights) else load_weights(weights)
    model = lw.model.eval()  # the fp32 reference every format is checked against
    meta = metadata(lw)
    x, ref = reference if reference is not None else reference_heatmaps(lw, images)
    example = torch.from_numpy(x[:1])
    spec = EXPORT_FORMATS[fmt]

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / ("model" + out.suffix)
        got: np.ndarray
        if fmt == "torchscript":
            save_torchscript(trace_torchscript(model, example), candidate, meta)
            loaded, _ = load_torchscript(candidate)
            with torch.no_grad():
                got = loaded(torch.from_numpy(x)).numpy()
        else:
            fp32 = Path(tmp) / "fp32.onnx"
            export_onnx_model(model, example, fp32, meta)
            if fmt == "onnx":
                candidate = fp32
            else:
                quantize_onnx_int8(fp32, candidate, x)
                set_onnx_metadata(candidate, {**meta, "quantized": "int8 static QDQ"})
            got = onnx_session(candidate).run(None, {"images": x})[0]
        report = compare_heatmaps(ref, got, lw.input_size, fmt, spec.tolerance_abs, spec.tolerance_moved)
        log(str(report))
        if not report.ok:
            raise RuntimeError(f"export not written, parity check failed: {report}")
        data = candidate.read_bytes()
        write_new(out, lambda p: p.write_bytes(data), overwrite)
    return report


__all__ = ["EXPORT_FORMATS", "ExportFormat", "export", "reference_heatmaps"]
