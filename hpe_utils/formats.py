"""Exported model files: TorchScript, ONNX and int8 ONNX — writing, reading and the metadata they carry.

The files carry their own metadata (skeleton, input size, colour order, box padding) so a predictor can run
from the file alone. ``onnx`` and ``onnxruntime`` are optional (the ``export`` extra): imported where used.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

META_KEY = "hpe_meta"  # ONNX metadata_props key / TorchScript extra file holding the JSON metadata
ONNX_OPSET = 17
FILE_KINDS = {".onnx": "onnx", ".torchscript": "torchscript", ".jit": "torchscript"}  # suffix -> runtime
EXPORT_BATCH_MAX = 256  # the largest batch torch.export's dynamic dimension admits
# torch's tracers (torch.fx's symbolic trace inside engines' BatchNorm fusion, torch.jit.trace, torch.onnx.export,
# torch.export) patch process-wide state such as nn.Module.__call__ while they run: two at once in different
# threads (a server measuring its engines in the background while the notebook exports) break each other with
# "module is not installed as a submodule". Every trace in the package holds this lock.
TRACE_LOCK = threading.RLock()


def file_kind(path: Any) -> str | None:
    """'onnx' or 'torchscript' when ``path`` names an exported model file (by its suffix), else None."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    return FILE_KINDS.get(Path(str(path)).suffix.lower())


def metadata(loaded: Any) -> dict[str, Any]:
    """What a runtime needs to use an exported file: skeleton, input size, colour order, box padding, architecture."""
    return {"skeleton": loaded.skeleton.name, "input_size": list(loaded.input_size), "color_order": loaded.color_order,
            "box_padding": loaded.box_padding, "sigma": loaded.sigma, "config": loaded.config.to_dict(),
            "source": str(loaded.source)}


# ------------------------------------------------------------------ TorchScript

def trace_torchscript(model: torch.nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """The course's path: ``torch.jit.trace`` then ``torch.jit.freeze`` (TorchScript is deprecated; see export_program)."""
    model = model.eval()
    with TRACE_LOCK, torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)
        return torch.jit.freeze(traced)


def save_torchscript(module: torch.jit.ScriptModule, path: str | os.PathLike, meta: dict[str, Any]) -> None:
    """A TorchScript file with our metadata as an extra file."""
    torch.jit.save(module, str(path), _extra_files={META_KEY: json.dumps(meta)})


def load_torchscript(path: str | os.PathLike) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """A saved TorchScript model and its metadata (map_location cpu)."""
    extra = {META_KEY: ""}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, json.loads(extra[META_KEY] or "{}")


def export_program(model: torch.nn.Module, example: torch.Tensor) -> Any:
    """The current path: ``torch.export`` with a dynamic batch dimension (PyTorch >= 2.11 recommends it)."""
    batch = torch.export.Dim("batch", min=1, max=EXPORT_BATCH_MAX)
    if example.shape[0] == 1:  # a batch-1 example would be specialised to a constant batch size
        example = torch.cat([example, example])
    with TRACE_LOCK:
        return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


# ------------------------------------------------------------------ ONNX

def export_onnx_model(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict[str, Any],
                      opset: int = ONNX_OPSET) -> None:
    """ONNX with a dynamic batch axis and our metadata in ``metadata_props``."""
    with TRACE_LOCK:
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
    """Our metadata stored in an ONNX file ({} when it has none: exported by someone else)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    for p in m.metadata_props:
        if p.key == META_KEY:
            return dict(json.loads(p.value))
    return {}


def onnx_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session (``threads`` intra-op threads; default: ONNX Runtime's choice)."""
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


__all__ = ["EXPORT_BATCH_MAX", "FILE_KINDS", "META_KEY", "ONNX_OPSET", "TRACE_LOCK", "export_onnx_model", "export_program",
           "file_kind", "load_torchscript", "metadata", "onnx_metadata", "onnx_session", "quantize_onnx_int8",
           "save_torchscript", "set_onnx_metadata", "trace_torchscript"]
