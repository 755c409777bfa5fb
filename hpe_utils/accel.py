"""Fast inference engines for a checkpoint, and ``auto``: the fastest one that gives fp32's answers here.

Every engine maps normalised crops (N, 3, H, W) float32 -> heatmaps (N, K, h, w) float32, so the
predictor's numpy pre- and post-processing is shared. ``choose_backend`` builds each candidate, checks
parity with eager fp32 on the real images shipped in ``data/`` (at least 99% of joints decoded within
1 heatmap pixel), times it at the predictor's usual batch (one person + flip test) and keeps the fastest.
The decision and every compiled artefact are cached on disk, keyed by the weights, input size, device,
CPU and library versions, so only the first process on a machine pays for compiling and measuring.

Compiled engines are AOTInductor packages (``torch._inductor.aoti_compile_and_package``): compiled once
(seconds to a minute), then loaded by later processes in a fraction of a second. All BatchNorms are
folded into their convolutions first, by us, in fp32: inductor's own freezing folded a BatchNorm that
follows a ``ConvTranspose2d`` wrongly in earlier PyTorch releases.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .backends import OnnxBackend, TorchBackend
from .download import write_atomic
from .model import fold_deconv_batchnorm

DECISION_VERSION = 1
MAX_MOVED = 0.01  # auto's bar: at most 1% of joints decoded more than 1 heatmap pixel from eager fp32
CPU_BACKENDS = ("torch", "torch-bf16", "compiled", "compiled-bf16", "onnx", "onnx-int8", "torchscript")
CUDA_BACKENDS = ("torch", "torch-fp16", "torchscript")
AUTO_CPU = ("torch", "onnx", "compiled", "torch-bf16", "compiled-bf16")  # int8 moves joints: never chosen silently
AUTO_CUDA = ("torch", "torch-fp16")
BACKEND_ENV = "HPE_BACKEND"  # default backend when none is passed (e.g. "torch" to skip auto's first measurement)


# ------------------------------------------------------------------ engines

class AutocastBackend:
    """Eager PyTorch with reduced-precision matmuls: bf16 autocast + channels_last on CPU, fp16 weights on CUDA."""

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
        self._runner(2)

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
                b = 2 if len(x) - i >= 2 else 1
                out.append(self._runner(b)(torch.from_numpy(x[i:i + b])).numpy())
                i += b
        return np.concatenate(out)


class TracedBackend:
    """``torch.jit.trace`` + freeze of a checkpoint in memory (the course's deployment path)."""

    name = "torchscript"

    def __init__(self, model: nn.Module, example: torch.Tensor, device: torch.device) -> None:
        from .export import trace_torchscript

        self.device = device
        self.module = trace_torchscript(copy.deepcopy(model).to(device).eval(), example.to(device))

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.module(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


class _CastWrapper(nn.Module):
    """float32 in, float32 out around a model stored in ``dtype``, so every engine has the same signature."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype)).float()


def fold_batchnorms(model: nn.Module) -> nn.Module:
    """Inference copy with every BatchNorm folded into the preceding (transposed) convolution, in fp32."""
    from torch.fx.experimental.optimization import fuse

    folded = fold_deconv_batchnorm(model) if hasattr(model, "deconv_layers") else copy.deepcopy(model).eval()
    return fuse(folded.float().eval())


def compile_package(model: nn.Module, example: torch.Tensor, dtype: torch.dtype, path: Path) -> None:
    """AOT-compile ``model`` (BatchNorms folded, weights cast to ``dtype``) for ``example``'s shape, atomically."""
    wrapped = _CastWrapper(fold_batchnorms(model).to(dtype), dtype).eval()
    with torch.no_grad():
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
    try:
        import onnxruntime

        sig["onnxruntime"] = onnxruntime.__version__
    except ImportError:
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


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


# ------------------------------------------------------------------ building one engine

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

    def example(self, batch: int = 2) -> torch.Tensor:
        w, h = self.input_size
        return torch.zeros(batch, 3, h, w)


def build_engine(name: str, spec: EngineSpec, log: Callable[[str], None] = lambda s: None) -> Any:
    """One engine by name, compiling or exporting into the cache the first time it is asked for."""
    dev = spec.device
    allowed = CUDA_BACKENDS if dev.type == "cuda" else CPU_BACKENDS
    if name not in allowed:
        raise ValueError(f"backend {name!r} does not run on {dev.type}; choose one of {', '.join(allowed)} or 'auto'")
    if name == "torch":
        return TorchBackend(spec.model, dev)
    if name == "torch-bf16":
        return AutocastBackend(spec.model, dev, torch.bfloat16)
    if name == "torch-fp16":
        return AutocastBackend(spec.model, dev, torch.float16)
    if name == "torchscript":
        return TracedBackend(spec.model, spec.example(), dev)
    if name in ("compiled", "compiled-bf16"):
        dtype = torch.bfloat16 if name == "compiled-bf16" else torch.float32

        def package(batch: int) -> Path:
            path = spec.cache / f"{spec.key}-{name}-b{batch}.pt2"
            if not path.exists():
                log(f"compiling {name} for batch {batch} once for this machine -> {path} (later runs load it)")
                t0 = time.perf_counter()
                compile_package(spec.model, spec.example(batch), dtype, path)
                log(f"compiled {name} (batch {batch}) in {time.perf_counter() - t0:.1f} s")
            return path

        return CompiledBackend(package, dtype)
    # ONNX Runtime: export (and for int8 quantize on real crops) once into the cache
    from .export import export_onnx_model, quantize_onnx_int8

    fp32 = spec.cache / f"{spec.key}-onnx.onnx"
    if not fp32.exists():
        log(f"exporting ONNX once -> {fp32}")
        write_atomic(fp32, lambda p: export_onnx_model(spec.model.eval(), spec.example(1), p, {}))
    if name == "onnx":
        return OnnxBackend(fp32)
    int8 = spec.cache / f"{spec.key}-onnx-int8.onnx"
    if not int8.exists():
        log(f"quantizing ONNX to int8 once (calibrated on the shipped images) -> {int8}")
        write_atomic(int8, lambda p: quantize_onnx_int8(fp32, p, spec.calibration()))
    backend = OnnxBackend(int8)
    backend.name = "onnx-int8"
    return backend


# ------------------------------------------------------------------ auto

@dataclass
class Measurement:
    """One candidate as auto saw it."""

    backend: str
    ms: float | None = None  # median at the predictor's batch
    moved: float | None = None  # share of joints > 1 heatmap px from eager fp32
    max_abs_diff: float | None = None
    build_s: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.moved is not None and self.moved <= MAX_MOVED


@dataclass
class AutoDecision:
    """Which engine auto chose, what it measured, and whether that came from the cache."""

    backend: str
    batch: int
    measurements: list[Measurement] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    seconds: float = 0.0  # time auto took in this process (building, checking, timing or loading)

    def table(self) -> str:
        """A small text table of the candidates (for ``hpe predict --verbose``)."""
        rows = [f"{'backend':<14} {'ms':>8} {'vs torch':>8} {'joints moved':>12}  note"]
        base = next((m.ms for m in self.measurements if m.backend == "torch" and m.ms), None)
        for m in self.measurements:
            ms = f"{m.ms:8.1f}" if m.ms else f"{'-':>8}"
            ratio = f"{base / m.ms:7.2f}x" if (base and m.ms) else f"{'-':>8}"
            moved = f"{m.moved:12.1%}" if m.moved is not None else f"{'-':>12}"
            note = m.error or ("chosen" if m.backend == self.backend else ("fails parity" if not m.ok else ""))
            rows.append(f"{m.backend:<14} {ms} {ratio} {moved}  {note}")
        return "\n".join(rows)

    def summary(self) -> str:
        chosen = next((m for m in self.measurements if m.backend == self.backend), None)
        speed = ""
        base = next((m.ms for m in self.measurements if m.backend == "torch" and m.ms), None)
        if chosen and chosen.ms and base:
            speed = f", {chosen.ms:.1f} ms per batch of {self.batch} ({base / chosen.ms:.2f}x eager fp32)"
        src = "cached decision" if self.cached else "measured now"
        return f"backend auto -> {self.backend}{speed} [{src}, {self.seconds:.1f} s]"

    def to_json(self) -> dict[str, Any]:
        return {"version": DECISION_VERSION, "backend": self.backend, "batch": self.batch, "machine": self.machine,
                "measurements": [asdict(m) for m in self.measurements]}


def median_ms(fn: Callable[[], Any], repeat: int = 5, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds after a warm-up (first calls allocate and pick kernels)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1000


def side_by_side_ms(fns: dict[str, Callable[[], Any]], rounds: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median ms of each function, timed in interleaved rounds (a noisy machine slows all of them alike).

    Each timed call follows an untimed call of the same function: ONNX Runtime's worker threads keep spinning
    after a run returns, and measured here they made the next eager PyTorch call 1.7x slower (85 vs 51 ms), so
    without it whichever engine comes after ONNX Runtime in a round pays for it.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {n: [] for n in fns}
    for _ in range(rounds):
        for n, fn in fns.items():
            fn()  # settle: the previous engine's lingering threads slow this call, not the timed one
            t0 = time.perf_counter()
            fn()
            times[n].append(time.perf_counter() - t0)
    return {n: float(np.median(t)) * 1000 for n, t in times.items()}


def bf16_matmul_speedup(n: int = 1024) -> float:
    """bf16 / fp32 matmul throughput on this CPU now: > 1 only with bf16 matrix units (AMX) or fast AVX512-BF16."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a16, b16 = a.bfloat16(), b.bfloat16()
    fp32 = median_ms(lambda: a @ b, 5, 1)
    bf16 = median_ms(lambda: a16 @ b16, 5, 1)
    return fp32 / bf16


def auto_candidates(device: torch.device) -> tuple[list[str], dict[str, str]]:
    """Candidates worth measuring on this device, and why the others are skipped."""
    if device.type == "cuda":
        return list(AUTO_CUDA), {}
    names, skipped = [], {}
    speedup = bf16_matmul_speedup()
    for name in AUTO_CPU:
        if name.endswith("bf16") and speedup < 1.2:
            skipped[name] = f"skipped: bf16 matmul runs at {speedup:.2f}x fp32 on this CPU (no bf16 matrix units)"
        elif name.startswith("onnx") and not _has("onnxruntime"):
            skipped[name] = "skipped: onnxruntime is not installed (pip install 'hpe-workbook[export]')"
        elif name.startswith("compiled") and not shutil.which(os.environ.get("CXX", "g++")) and not shutil.which("c++"):
            skipped[name] = "skipped: no C++ compiler for AOTInductor"
        else:
            names.append(name)
    return names, skipped


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def choose_backend(spec: EngineSpec, reference_inputs: Callable[[], np.ndarray], *, batch: int = 2,
                   log: Callable[[str], None] = lambda s: None, remeasure: bool = False) -> tuple[Any, AutoDecision]:
    """The fastest engine that matches eager fp32 on real crops, built; the decision is cached on disk."""
    t_start = time.perf_counter()
    machine = machine_signature(spec.device)
    decision_file = spec.cache / f"{spec.key}-auto.json"
    cached = None if remeasure else _read_decision(decision_file)
    if cached is not None:
        try:
            engine = build_engine(cached.backend, spec, log)
            cached.cached, cached.seconds = True, time.perf_counter() - t_start
            return engine, cached
        except Exception as e:  # a deleted or broken artefact: measure again
            log(f"cached choice {cached.backend} failed to load ({e}); measuring again")
    log("backend auto: measuring the engines once for this machine and these weights (cached afterwards)")
    try:
        x_all = reference_inputs()
    except FileNotFoundError as e:  # a bare install without data/: nothing real to check parity on
        log(f"backend auto: {e}; running eager PyTorch")
        why = Measurement("torch", error="chosen without measuring: no real images for the parity check")
        return TorchBackend(spec.model, spec.device), AutoDecision("torch", batch, [why], machine, False,
                                                                    time.perf_counter() - t_start)
    names, skipped = auto_candidates(spec.device)
    ref_engine = TorchBackend(spec.model, spec.device)
    ref = np.concatenate([ref_engine(x_all[i:i + 8]) for i in range(0, len(x_all), 8)])
    x = np.ascontiguousarray(x_all[:batch]) if len(x_all) >= batch else np.repeat(x_all[:1], batch, axis=0)
    measurements: list[Measurement] = []
    engines: dict[str, Any] = {}
    for name in names:
        m = Measurement(name)
        try:
            t0 = time.perf_counter()
            engine = ref_engine if name == "torch" else build_engine(name, spec, log)
            m.build_s = round(time.perf_counter() - t0, 2)
            got = np.concatenate([engine(x_all[i:i + 8]) for i in range(0, len(x_all), 8)])
            m.moved, m.max_abs_diff = _parity(ref, got)
            if m.ok:
                engines[name] = engine
            else:
                log(f"  {name}: fails parity ({m.moved:.1%} of joints moved > 1 heatmap px)")
        except Exception as e:  # a candidate that cannot be built here is skipped, not fatal
            m.error = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            log(f"  {name}: {m.error}")
        measurements.append(m)
    # time the survivors side by side, round-robin, so a burst of load elsewhere hits them all alike
    times = side_by_side_ms({n: (lambda e=e: e(x)) for n, e in engines.items()})
    for m in measurements:
        if m.backend in times:
            m.ms = round(times[m.backend], 3)
            log(f"  {m.backend}: {m.ms:.1f} ms, {m.moved:.1%} of joints moved")
    measurements += [Measurement(n, error=why) for n, why in skipped.items()]
    passing = [m for m in measurements if m.ok and m.ms is not None]
    best = min(passing, key=lambda m: m.ms).backend if passing else "torch"  # non-finite output: nothing to win
    decision = AutoDecision(best, batch, measurements, machine, False)
    _write_decision(decision_file, decision)
    decision.seconds = time.perf_counter() - t_start
    return engines.get(best, ref_engine), decision


def _parity(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    from .export import compare_heatmaps

    if not np.isfinite(got).all():
        return 1.0, float("inf")
    r = compare_heatmaps(ref, got.astype(np.float32), "auto", 0.0, 0.0)
    return r.moved_share, r.max_abs_diff


def _read_decision(path: Path) -> AutoDecision | None:
    try:
        d = json.loads(path.read_text())
        if d.get("version") != DECISION_VERSION:
            return None
        ms = [Measurement(**m) for m in d["measurements"]]
        return AutoDecision(d["backend"], int(d["batch"]), ms, d.get("machine", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_decision(path: Path, decision: AutoDecision) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(decision.to_json(), indent=1)))


def engine_spec(model: nn.Module, device: torch.device, input_size: tuple[int, int],
                calibration: Callable[[], np.ndarray], cache: Path | None = None) -> EngineSpec:
    """Spec with the cache key derived from the weights, the input size and this machine."""
    def key() -> str:
        return _digest({"weights": weights_fingerprint(model), "input": list(input_size),
                        "machine": machine_signature(device)})

    return EngineSpec(model.eval(), device, input_size, cache or _writable_cache(), key, calibration)


def _writable_cache() -> Path:
    """cache_dir()/engines, or a temp folder where that is read-only (a container image, a Lambda task)."""
    from .download import cache_dir

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


def real_crops(input_size: tuple[int, int], color_order: str, images: Sequence[Any] | None = None) -> np.ndarray:
    """Normalised whole-image crops (and mirrors) of the real images shipped in data/, for parity and calibration."""
    from .images import read_image, shipped_images
    from .transforms import box_to_center_scale, crop, normalize, whole_image_box

    out = []
    for img in images if images is not None else shipped_images():
        rgb = read_image(img)
        c, s = box_to_center_scale(whole_image_box(rgb.shape[1], rgb.shape[0]), input_size[0] / input_size[1])
        x = crop(rgb, c, s, input_size)
        out += [x, np.ascontiguousarray(x[:, ::-1])]
    if not out:
        raise FileNotFoundError("no real images to check parity on (data/ is missing; set HPE_ROOT to a checkout)")
    return normalize(np.stack(out), color_order)


__all__ = [
    "AUTO_CPU", "AUTO_CUDA", "AutoDecision", "AutocastBackend", "BACKEND_ENV", "CPU_BACKENDS", "CUDA_BACKENDS",
    "CompiledBackend", "EngineSpec", "MAX_MOVED", "Measurement", "TracedBackend", "bf16_matmul_speedup",
    "build_engine", "choose_backend", "compile_package", "engine_spec", "fold_batchnorms", "machine_signature",
    "median_ms", "real_crops", "side_by_side_ms", "weights_fingerprint",
]
