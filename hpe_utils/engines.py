"""Inference engines, all in one registry: each turns normalised crops (N, 3, H, W) into heatmaps (N, K, h, w).

The predictor does everything else (reading, cropping, flip test, decoding) in numpy, so every engine shares
exactly the same pre- and post-processing. :data:`ENGINES` is the only list of engines: the CLI's choices,
``auto``'s candidates, the table in docs/engines.md and every error message read it.

Compiled engines are AOTInductor packages (``torch._inductor.aoti_compile_and_package``): compiled once
(seconds to a minute), then loaded by later processes in a fraction of a second. All BatchNorms are folded
into their convolutions first, by us, in fp32: inductor's own freezing folded a BatchNorm that follows a
``ConvTranspose2d`` wrongly in earlier PyTorch releases. Artefacts are cached on disk, keyed by the weights,
input size, device, CPU and library versions (:func:`engine_spec`).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import numpy as np
import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from .errors import InputError, WeightsError
from .files import cache_dir, write_atomic
from .formats import (TRACE_LOCK, export_onnx_model, file_kind, load_torchscript, onnx_metadata, onnx_session,
                      quantize_onnx_int8, trace_torchscript)
from .model import fold_deconv_batchnorm

Log = Callable[[str], None]
COMPILED_BATCH = 2  # one person + its mirror: the predictor's usual call, and the static shape compiled first


def _quiet(_msg: str) -> None:
    """The default log: say nothing."""


class Backend(Protocol):
    """What every engine is: a name and a call from crops to heatmaps (float32 numpy both ways)."""

    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


# ------------------------------------------------------------------ the engines

class TorchBackend:
    """Plain PyTorch on any device (CPU, CUDA)."""

    def __init__(self, model: nn.Module, device: torch.device, name: str = "torch") -> None:
        self.model, self.device, self.name = model.eval(), device, name

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class AutocastBackend:
    """Eager PyTorch with reduced-precision matmuls: bf16 autocast + channels_last on CPU, bf16/fp16 weights on CUDA."""

    def __init__(self, model: nn.Module, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self.name = "torch-bf16" if dtype == torch.bfloat16 else "torch-fp16"
        if device.type == "cuda":
            self.model = copy.deepcopy(model).to(device).eval().to(dtype)
        else:
            self.model = copy.deepcopy(model).to(device).eval().to(memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(x).to(self.device)
        if self.device.type == "cuda":
            return self.model(t.to(self.dtype)).float().cpu().numpy()
        with torch.autocast("cpu", dtype=self.dtype):
            return self.model(t.contiguous(memory_format=torch.channels_last)).float().numpy()


class CompiledBackend:
    """AOTInductor packages for batches of 2 (one person + its mirror) and 1: native code for this CPU.

    Static shapes run ~1.25x faster than one dynamic-batch package here (ResNet-50 256x192: 84 vs 105 ms
    for a batch of 2), so larger batches run in chunks of 2. Each package is compiled on first use and
    then loaded from the cache in well under a second.
    """

    def __init__(self, package: Callable[[int], Path], dtype: torch.dtype) -> None:
        self.name = "compiled-bf16" if dtype == torch.bfloat16 else "compiled"
        self._package = package  # batch -> path of its package, compiling it when missing
        self._runners: dict[int, Any] = {}
        self._lock = threading.Lock()  # one runner per batch: serve's worker threads take turns
        self._runner(COMPILED_BATCH)

    def _runner(self, batch: int) -> Any:
        if batch not in self._runners:
            path = self._package(batch)
            with _quiet_cpp_extension():  # loading imports the C++ build helpers, which warn on CPU-only machines
                self._runners[batch] = torch._inductor.aoti_load_package(str(path))
        return self._runners[batch]

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out, i = [], 0
        with self._lock:
            while i < len(x):
                b = COMPILED_BATCH if len(x) - i >= COMPILED_BATCH else 1
                out.append(self._runner(b)(torch.from_numpy(x[i:i + b])).numpy())
                i += b
        return np.concatenate(out)


class TracedBackend(TorchBackend):
    """``torch.jit.trace`` + freeze of a checkpoint in memory (the course's deployment path)."""

    def __init__(self, model: nn.Module, example: torch.Tensor, device: torch.device) -> None:
        # TorchBackend's call runs it; its __init__ is skipped: a frozen module needs no .eval()
        self.model = trace_torchscript(copy.deepcopy(model).to(device).eval(), example.to(device))
        self.device, self.name = device, "torchscript"


class TorchScriptBackend(TorchBackend):
    """A traced + frozen TorchScript file (the course's deployment format)."""

    def __init__(self, path: str | os.PathLike, device: torch.device) -> None:
        module, self.meta = load_torchscript(path)
        self.model, self.device, self.name = module.to(device), device, "torchscript"


class OnnxBackend:
    """ONNX Runtime on the CPU (fp32 or int8 files)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        self.meta = onnx_metadata(path)
        self.session = onnx_session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.name = "onnx-int8" if self.meta.get("quantized") else "onnx"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0])


class _CastWrapper(nn.Module):
    """float32 in, float32 out around a model stored in ``dtype``, so every engine has the same signature."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype)).float()


def fold_batchnorms(model: nn.Module) -> nn.Module:
    """Inference copy with every BatchNorm folded into the preceding (transposed) convolution, in fp32."""
    folded = fold_deconv_batchnorm(model) if hasattr(model, "deconv_layers") else copy.deepcopy(model).eval()
    with TRACE_LOCK:  # fuse() symbolic-traces: not while another thread traces (formats.TRACE_LOCK)
        return fuse(folded.float().eval())


def compile_package(model: nn.Module, example: torch.Tensor, dtype: torch.dtype, path: Path) -> None:
    """AOT-compile ``model`` (BatchNorms folded, weights cast to ``dtype``) for ``example``'s shape, atomically."""
    wrapped = _CastWrapper(fold_batchnorms(model).to(dtype), dtype).eval()
    with TRACE_LOCK, torch.no_grad():
        program = torch.export.export(wrapped, (example.float(),))
    with _quiet_cpp_extension():
        write_atomic(path, lambda part: torch._inductor.aoti_compile_and_package(
            program, package_path=str(part), inductor_configs={"freezing": True}))


@contextlib.contextmanager
def _quiet_cpp_extension() -> Iterator[None]:
    """Hide torch's "No CUDA runtime is found, using CUDA_HOME=..." warning: noise for a CPU package.

    ``torch.utils.cpp_extension`` logs it once, when it is first imported, on every machine without a CUDA
    runtime; compiling and loading an AOTInductor package both import it, and the line on stderr broke
    nbval's checks on CPUs where ``auto`` picks a compiled engine. Its errors still show.
    """
    log = logging.getLogger("torch.utils.cpp_extension")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


# ------------------------------------------------------------------ identity of what we cache

def weights_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the model's state (names, shapes, values): compiled artefacts are only reused for these weights."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def machine_signature(device: torch.device) -> dict[str, Any]:
    """What makes a speed decision or a compiled file valid: CPU/GPU model, ISA, threads, library versions."""
    sig: dict[str, Any] = {"torch": torch.__version__, "machine": platform.machine(),
                           "cpu": _cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(),
                           "threads": torch.get_num_threads(), "device": device.type}
    if device.type == "cuda":
        sig["gpu"] = torch.cuda.get_device_name(device)
    try:  # the installed version, read without importing onnxruntime (0.3 s)
        sig["onnxruntime"] = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        sig["onnxruntime"] = None
    return sig


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def digest(obj: Any) -> str:
    """Short stable hash of a JSON-able value: names cache files."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


@dataclass
class EngineSpec:
    """What an engine needs beyond its name: the fp32 model, an example input and where to cache artefacts."""

    model: nn.Module
    device: torch.device
    input_size: tuple[int, int]  # (width, height)
    cache: Path
    key_fn: Callable[[], str]  # weights + input size + machine: names this model's artefacts in the cache
    calibration: Callable[[], np.ndarray]  # real crops, for parity checks and int8 calibration

    @functools.cached_property
    def key(self) -> str:
        """Computed on first use: hashing the weights costs ~0.1 s, wasted on plain eager PyTorch."""
        return self.key_fn()

    def example(self, batch: int = COMPILED_BATCH) -> torch.Tensor:
        w, h = self.input_size
        return torch.zeros(batch, 3, h, w)


def engine_spec(model: nn.Module, device: torch.device, input_size: tuple[int, int],
                calibration: Callable[[], np.ndarray], cache: Path | None = None) -> EngineSpec:
    """Spec with the cache key derived from the weights, the input size and this machine."""
    def key() -> str:
        return digest({"weights": weights_fingerprint(model), "input": list(input_size),
                       "machine": machine_signature(device)})

    return EngineSpec(model.eval(), device, input_size, cache or engine_cache(), key, calibration)


def engine_cache() -> Path:
    """cache_dir()/engines, or a temp folder where that is read-only (a container image, a Lambda task)."""
    try:
        d = cache_dir() / "engines"
        d.mkdir(parents=True, exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    d = Path(tempfile.gettempdir()) / "hpe_utils_engines"
    d.mkdir(parents=True, exist_ok=True)
    return d


# ------------------------------------------------------------------ the registry

class EngineNotReady(RuntimeError):
    """An engine that would have to compile first, asked for with ``compile_ok=False``."""


Builder = Callable[[EngineSpec, Log, bool], Backend]


@dataclass(frozen=True)
class EngineInfo:
    """One engine: its name, where it runs, what it needs, whether ``auto`` considers it, and how to build it."""

    name: str
    summary: str
    devices: tuple[str, ...]  # device types it runs on: "cpu", "cuda"
    build: Builder  # (spec, log, compile_ok) -> engine
    requires: tuple[str, ...] = ()  # importable modules it needs beyond the base install
    extra: str | None = None  # the pip extra that installs them
    compiles: bool = False  # builds native code on first use (a C++ compiler; seconds to a minute)
    precision: str = "fp32"  # fp32 | bf16 | fp16 | int8: reduced ones are tried by auto only where they are fast
    auto_on: tuple[str, ...] = ()  # devices where auto measures it (int8 moves joints: never chosen silently)
    runs_files: tuple[str, ...] = ()  # exported file kinds (formats.FILE_KINDS) it runs

    def missing(self) -> str | None:
        """Why this engine cannot be built here (a module or the compiler is missing), or None."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed (pip install 'hpe-workbook[{self.extra}]')"
        if self.compiles and not (shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")):
            return "no C++ compiler for AOTInductor"
        return None


def _build_torch(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
    return TorchBackend(spec.model, spec.device)


def _build_autocast(dtype: torch.dtype) -> Builder:
    def build(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
        return AutocastBackend(spec.model, spec.device, dtype)

    return build


def _build_traced(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
    return TracedBackend(spec.model, spec.example(), spec.device)


def _build_compiled(name: str, dtype: torch.dtype) -> Builder:
    def build(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
        def package(batch: int) -> Path:
            path = spec.cache / f"{spec.key}-{name}-b{batch}.pt2"
            if not path.exists():
                if not compile_ok:
                    raise EngineNotReady(f"{name} is not compiled for this machine yet")
                log(f"compiling {name} for batch {batch} once for this machine -> {path} (later runs load it)")
                t0 = time.perf_counter()
                compile_package(spec.model, spec.example(batch), dtype, path)
                log(f"compiled {name} (batch {batch}) in {time.perf_counter() - t0:.1f} s")
            return path

        return CompiledBackend(package, dtype)

    return build


def _onnx_fp32(spec: EngineSpec, log: Log) -> Path:
    """The checkpoint exported to ONNX once into the cache (seconds)."""
    fp32 = spec.cache / f"{spec.key}-onnx.onnx"
    if not fp32.exists():
        log(f"exporting ONNX once -> {fp32}")
        write_atomic(fp32, lambda p: export_onnx_model(spec.model.eval(), spec.example(1), p, {}))
    return fp32


def _build_onnx(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
    return OnnxBackend(_onnx_fp32(spec, log))


def _build_onnx_int8(spec: EngineSpec, log: Log, compile_ok: bool) -> Backend:
    fp32 = _onnx_fp32(spec, log)
    int8 = spec.cache / f"{spec.key}-onnx-int8.onnx"
    if not int8.exists():
        log(f"quantizing ONNX to int8 once (calibrated on the shipped images) -> {int8}")
        write_atomic(int8, lambda p: quantize_onnx_int8(fp32, p, spec.calibration()))
    backend = OnnxBackend(int8)
    backend.name = "onnx-int8"
    return backend


_ORT = ("onnxruntime", "onnx")
ENGINES: Mapping[str, EngineInfo] = {e.name: e for e in (
    EngineInfo("torch", "eager PyTorch fp32: the reference every other engine is checked against",
               ("cpu", "cuda"), _build_torch, auto_on=("cpu", "cuda")),
    EngineInfo("torch-bf16", "eager PyTorch, bf16 autocast + channels_last (fast with AMX)",
               ("cpu", "cuda"), _build_autocast(torch.bfloat16), precision="bf16", auto_on=("cpu",)),
    EngineInfo("torch-fp16", "eager PyTorch with fp16 weights", ("cuda",), _build_autocast(torch.float16),
               precision="fp16", auto_on=("cuda",)),
    EngineInfo("compiled", "AOTInductor package, BatchNorms folded, compiled for this CPU",
               ("cpu",), _build_compiled("compiled", torch.float32), compiles=True, auto_on=("cpu",)),
    EngineInfo("compiled-bf16", "AOTInductor package in bf16 (fast with AMX)", ("cpu",),
               _build_compiled("compiled-bf16", torch.bfloat16), compiles=True, precision="bf16", auto_on=("cpu",)),
    EngineInfo("onnx", "ONNX Runtime fp32 (exported once into the cache)", ("cpu",), _build_onnx,
               requires=_ORT, extra="export", auto_on=("cpu",), runs_files=("onnx",)),
    EngineInfo("onnx-int8", "ONNX Runtime, static int8 calibrated on the shipped images (moves a few joints)",
               ("cpu",), _build_onnx_int8, requires=_ORT, extra="export", precision="int8", runs_files=("onnx",)),
    EngineInfo("torchscript", "torch.jit.trace + freeze (the course's deployment format)", ("cpu", "cuda"),
               _build_traced, runs_files=("torchscript",)),
)}
AUTO = "auto"
BACKEND_CHOICES = (AUTO, *ENGINES)  # what --backend / backend= accept


def engines_for(device: str | torch.device) -> list[str]:
    """Names of the engines that run on ``device`` ("cpu", "cuda" or a torch device)."""
    kind = torch.device(device).type
    return [n for n, e in ENGINES.items() if kind in e.devices]


def check_backend(name: str, device: str | torch.device) -> EngineInfo:
    """The registry entry for ``name`` on ``device``, or an :class:`InputError` listing what runs there."""
    kind = torch.device(device).type
    allowed = ", ".join(engines_for(kind))
    if name not in ENGINES:
        raise InputError(f"unknown backend {name!r}; choose one of {allowed} or {AUTO!r}")
    if kind not in ENGINES[name].devices:
        raise InputError(f"backend {name!r} does not run on {kind}; choose one of {allowed} or {AUTO!r}")
    return ENGINES[name]


def build_engine(name: str, spec: EngineSpec, log: Log = _quiet, compile_ok: bool = True) -> Backend:
    """One engine by name, compiling or exporting into the cache the first time it is asked for.

    With ``compile_ok=False`` an engine whose native code is not in the cache raises :class:`EngineNotReady`
    instead of compiling (``auto`` on small jobs: a minute of compiling to save milliseconds is a bad trade).
    """
    info = check_backend(name, spec.device)
    why = info.missing()
    if why:
        raise InputError(f"backend {name!r} cannot run here: {why}")
    return info.build(spec, log, compile_ok)


def open_exported(path: str | os.PathLike, device: torch.device, backend: str | None = None) -> Backend:
    """An exported file (``.onnx``, ``.torchscript``) opened in its own runtime, with its metadata as ``.meta``.

    An exported file runs only in its own runtime: asking for another engine is a mistake worth a clear error
    (a checkpoint runs with every engine; the predictor converts it and caches the result).
    """
    kind = file_kind(path)
    if kind is None:
        raise InputError(f"{path}: not an exported model file (suffix one of .onnx, .torchscript, .jit)")
    fits = [n for n, e in ENGINES.items() if kind in e.runs_files]
    if backend not in (None, AUTO) and backend not in fits:
        raise InputError(f"{path} is an exported {kind} file: it runs with backend {' or '.join(fits)} (or auto), "
                         f"not {backend!r}; pass the checkpoint to use {backend!r}")
    if not Path(path).exists():
        raise WeightsError(f"{path}: no such exported model file")
    why = ENGINES[fits[0]].missing()
    if why:
        raise WeightsError(f"{path}: cannot open a {kind} file here: {why}")
    b: Any = OnnxBackend(path) if kind == "onnx" else TorchScriptBackend(path, device)
    if not b.meta:
        raise WeightsError(f"{path}: has no hpe metadata (skeleton, input size); export it with `hpe export`")
    return b  # type: ignore[no-any-return]


def describe_engines_table() -> str:
    """The registry as a Markdown table (docs/engines.md, ``hpe predict --help``'s source of truth)."""
    rows = ["| engine | runs on | `auto` tries it on | needs | what it is |", "|---|---|---|---|---|"]
    for e in ENGINES.values():
        needs = ", ".join([f"`[{e.extra}]` extra"] * bool(e.extra) + ["a C++ compiler"] * e.compiles) or "—"
        auto_on = ", ".join(e.auto_on) or "never"
        if e.precision == "bf16" and "cpu" in e.auto_on:
            auto_on += " (where bf16 is fast)"
        rows.append(f"| `{e.name}` | {', '.join(e.devices)} | {auto_on} | {needs} | {e.summary} |")
    return "\n".join(rows)


__all__ = [
    "AUTO", "AutocastBackend", "BACKEND_CHOICES", "Backend", "COMPILED_BATCH", "CompiledBackend", "ENGINES",
    "EngineInfo", "EngineNotReady", "EngineSpec", "OnnxBackend", "TorchBackend", "TorchScriptBackend", "TracedBackend",
    "build_engine", "check_backend", "compile_package", "describe_engines_table", "digest", "engine_cache",
    "engine_spec", "engines_for", "fold_batchnorms", "machine_signature", "open_exported", "weights_fingerprint",
]
