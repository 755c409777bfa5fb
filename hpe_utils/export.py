"""Export a PoseResNet to TorchScript, ONNX and int8 ONNX, each verified against PyTorch before it is written.

The exported files carry their own metadata (skeleton, input size, colour order) so a predictor can run
from the file alone, sharing the numpy pre- and post-processing of :mod:`hpe_utils.predictor`.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .codec import HeatmapCodec
from .download import write_atomic

META_KEY = "hpe_meta"  # ONNX metadata_props key / TorchScript extra file holding the JSON metadata


@dataclass
class ParityReport:
    """How far an exported model's heatmaps are from PyTorch's on the same real inputs."""

    backend: str
    max_abs_diff: float
    moved_share: float  # share of joints whose decoded position moved by more than 1 heatmap pixel
    joints: int
    tolerance_abs: float
    tolerance_moved: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance_abs and self.moved_share <= self.tolerance_moved

    def __str__(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (f"{self.backend}: max |heatmap diff| {self.max_abs_diff:.2e} (limit {self.tolerance_abs:g}), "
                f"joints moved > 1 heatmap px: {self.moved_share:.1%} of {self.joints} (limit "
                f"{self.tolerance_moved:.0%}) -> {verdict}")


def compare_heatmaps(reference: np.ndarray, candidate: np.ndarray, backend: str, tolerance_abs: float,
                     tolerance_moved: float) -> ParityReport:
    """Parity of two heatmap batches (N, K, h, w): max abs difference and decoded-joint movement."""
    if reference.shape != candidate.shape:
        raise ValueError(f"{backend}: heatmap shapes differ: {reference.shape} vs {candidate.shape}")
    codec = HeatmapCodec((reference.shape[3] * 4, reference.shape[2] * 4))
    a, _ = codec.decode(reference)
    b, _ = codec.decode(candidate)
    moved = np.linalg.norm(a - b, axis=-1) > 1.0
    return ParityReport(backend, float(np.abs(reference - candidate).max()), float(moved.mean()), int(moved.size),
                        tolerance_abs, tolerance_moved)


def metadata(loaded: Any) -> dict[str, Any]:
    """What a runtime needs to use an exported file: skeleton, input size, colour order, box padding, architecture."""
    return {"skeleton": loaded.skeleton.name, "input_size": list(loaded.input_size), "color_order": loaded.color_order,
            "box_padding": loaded.box_padding, "config": loaded.config.to_dict(), "source": str(loaded.source)}


def _write_atomic(path: Path, writer: Callable[[Path], None], overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    write_atomic(path, writer)


# ------------------------------------------------------------------ TorchScript

def trace_torchscript(model: torch.nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """The course's path: ``torch.jit.trace`` then ``torch.jit.freeze`` (TorchScript is deprecated; see export_program)."""
    model = model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)
    return torch.jit.freeze(traced)


def export_program(model: torch.nn.Module, example: torch.Tensor) -> Any:
    """The current path: ``torch.export`` with a dynamic batch dimension (PyTorch >= 2.11 recommends it)."""
    batch = torch.export.Dim("batch", min=1, max=256)
    if example.shape[0] == 1:  # a batch-1 example would be specialised to a constant batch size
        example = torch.cat([example, example])
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


def load_torchscript(path: str | os.PathLike) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """A saved TorchScript model and its metadata (map_location cpu)."""
    extra = {META_KEY: ""}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra[META_KEY] or "{}")


# ------------------------------------------------------------------ ONNX

def export_onnx_model(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict[str, Any], opset: int = 17) -> None:
    """ONNX with a dynamic batch axis and our metadata in ``metadata_props``."""
    import onnx

    torch.onnx.export(model.eval(), (example,), str(path), input_names=["images"], output_names=["heatmaps"],
                      dynamic_axes={"images": {0: "batch"}, "heatmaps": {0: "batch"}}, opset_version=opset,
                      dynamo=False)
    set_onnx_metadata(path, meta)


def set_onnx_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Store our metadata in the file, replacing any earlier copy (quantization carries the fp32 one over)."""
    import onnx

    m = onnx.load(str(path))
    keep = [p for p in m.metadata_props if p.key != META_KEY]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    entry = m.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.save(m, str(path))


def onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    for p in m.metadata_props:
        if p.key == META_KEY:
            return json.loads(p.value)
    return {}


def onnx_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def quantize_onnx_int8(fp32_path: Path, out_path: Path, calibration: np.ndarray) -> None:
    """Static int8 quantization (QDQ, per-channel weights) calibrated on real, normalised crops."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, data: np.ndarray) -> None:
            self.items = iter([{"images": data[i:i + 1]} for i in range(len(data))])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out_path), Reader(calibration.astype(np.float32)), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


# ------------------------------------------------------------------ the verified export

TOLERANCES: dict[str, tuple[float, float]] = {
    # (max abs heatmap difference, share of joints allowed to move > 1 heatmap pixel)
    "torchscript": (1e-4, 0.0),
    "onnx": (1e-3, 0.0),
    "onnx-int8": (0.25, 0.10),
}


def calibration_crops(images: Sequence[Any], predictor: Any) -> np.ndarray:
    """Normalised whole-image crops of real images (and their mirrors) as ``predictor`` sees them."""
    from .accel import real_crops

    return real_crops(predictor.input_size, predictor.color_order, images)


def export(weights: str | os.PathLike | Any, fmt: str, out: str | os.PathLike, images: Sequence[Any], *,
           overwrite: bool = False, log: Callable[[str], None] = print) -> ParityReport:
    """Export ``weights`` to ``fmt`` at ``out`` after checking parity with PyTorch on ``images``.

    An export that fails its tolerance is not written and raises ``RuntimeError`` with the report.
    """
    from .predictor import Predictor

    if fmt not in TOLERANCES:
        raise ValueError(f"format must be one of {sorted(TOLERANCES)}, got {fmt!r}")
    if not images:
        raise ValueError("export needs at least one real image to verify against")
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    pred = Predictor(weights, flip=False, backend="torch")  # the fp32 reference every format is checked against
    model = pred.model.eval()
    meta = metadata(pred.weights)
    x = calibration_crops(images, pred)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    example = torch.from_numpy(x[:1])
    tol_abs, tol_moved = TOLERANCES[fmt]

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / ("model" + out.suffix)
        if fmt == "torchscript":
            ts = trace_torchscript(model, example)
            torch.jit.save(ts, str(candidate), _extra_files={META_KEY: json.dumps(meta)})
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
        report = compare_heatmaps(ref, got, fmt, tol_abs, tol_moved)
        log(str(report))
        if not report.ok:
            raise RuntimeError(f"export not written, parity check failed: {report}")
        data = candidate.read_bytes()
        _write_atomic(out, lambda p: p.write_bytes(data), overwrite)
    return report
