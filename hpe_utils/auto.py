"""``backend="auto"``: the fastest engine that gives fp32's answers here — when measuring it pays for itself.

Measuring means building each candidate of :data:`~hpe_utils.engines.ENGINES` that ``auto`` may pick on this
device, checking parity with eager fp32 on the real images shipped in ``data/`` (at most 1% of joints decoded
more than 1 heatmap pixel away), timing the survivors side by side at the predictor's usual batch (one person
+ flip test) and keeping the fastest. The decision and every compiled artefact are cached on disk, keyed by
the weights, input size, device, CPU and library versions, so only the first process on a machine pays.

That first payment is 20 s to over a minute on 2 cores (exporting ONNX, compiling AOTInductor packages), while
the best engine saves tens of milliseconds per image. So ``auto`` weighs the expected work:

1. a decision cached by an earlier process is used whenever its engine loads without compiling;
2. otherwise, below :data:`MEASURE_MIN_IMAGES` images, eager PyTorch runs at once and nothing is measured;
3. from that many images on (``hpe predict`` on a folder, ``hpe eval``, a video), ``auto`` measures first;
4. a server (``background=True``) starts on eager PyTorch and measures in a background thread, switching
   engines when the measurement is done.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .engines import (AUTO, ENGINES, Backend, EngineNotReady, EngineSpec, TorchBackend, build_engine,
                      machine_signature)
from .files import write_atomic
from .parity import MAX_MOVED, compare_heatmaps, run_batched
from .timing import bf16_matmul_speedup, side_by_side_ms

Log = Callable[[str], None]
BACKEND_ENV = "HPE_BACKEND"  # default backend when none is passed (e.g. "torch" to never measure)
DECISION_VERSION = 1
# Measuring costs 20-30 s on 2 cores without bf16 matrix units and ~55 s with AMX (ONNX export, AOTInductor
# packages, parity, timing); the engine it finds saves 5-10 ms per image there and ~65 ms with AMX. It repays
# itself after ~3,000 and ~800 images (docs/speed.md, bench/results_end_to_end.md); below this, it cannot.
MEASURE_MIN_IMAGES = 2000
BF16_MIN_SPEEDUP = 1.2  # bf16 candidates are measured only where a bf16 matmul beats fp32 by this much


def default_backend() -> str:
    """The engine to use when none is named: ``$HPE_BACKEND`` or ``auto``."""
    return os.environ.get(BACKEND_ENV) or AUTO


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
    note: str = ""  # why nothing was measured, when nothing was

    @property
    def measured(self) -> bool:
        return any(m.ms is not None for m in self.measurements)

    def table(self) -> str:
        """A small text table of the candidates (for ``hpe predict --verbose``)."""
        if not self.measurements:
            return f"(nothing measured: {self.note})"
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
        src = "cached decision" if self.cached else ("measured now" if self.measured else self.note)
        return f"backend auto -> {self.backend}{speed} [{src}, {self.seconds:.1f} s]"

    def to_json(self) -> dict[str, Any]:
        return {"version": DECISION_VERSION, "backend": self.backend, "batch": self.batch, "machine": self.machine,
                "measurements": [asdict(m) for m in self.measurements]}


def auto_candidates(device: torch.device) -> tuple[list[str], dict[str, str]]:
    """Engines worth measuring on this device (from the registry), and why the others are skipped."""
    names, skipped = [], {}
    speedup: float | None = None
    for name, info in ENGINES.items():
        if device.type not in info.auto_on:
            continue
        why = info.missing()
        if why is None and info.precision == "bf16" and device.type == "cpu":
            speedup = bf16_matmul_speedup() if speedup is None else speedup
            if speedup < BF16_MIN_SPEEDUP:
                why = f"bf16 matmul runs at {speedup:.2f}x fp32 on this CPU (no bf16 matrix units)"
        if why:
            skipped[name] = f"skipped: {why}"
        else:
            names.append(name)
    return names, skipped


def decision_file(spec: EngineSpec) -> Path:
    """Where auto's decision for these weights, this input size and this machine is cached."""
    return spec.cache / f"{spec.key}-auto.json"


def choose_backend(spec: EngineSpec, *, batch: int = 2, expected_images: float = 1, remeasure: bool = False,
                   log: Log = lambda s: None) -> tuple[Backend, AutoDecision]:
    """The engine auto runs for ``expected_images`` images, built, and the decision (see the module's policy)."""
    t_start = time.perf_counter()
    large = remeasure or expected_images >= MEASURE_MIN_IMAGES
    cached = None if remeasure else _read_decision(decision_file(spec))
    if cached is not None:
        try:
            engine = build_engine(cached.backend, spec, log, compile_ok=large)
            cached.cached, cached.seconds = True, time.perf_counter() - t_start
            return engine, cached
        except EngineNotReady:  # its compiled package was deleted: not worth a compile for a small job
            log(f"cached choice {cached.backend} is not compiled here any more")
        except Exception as e:  # a broken artefact or a lost dependency: measure again (when worth it)
            log(f"cached choice {cached.backend} failed to load ({e})")
    if not large:
        n = "an unknown number of" if math.isnan(expected_images) else f"{expected_images:g}"
        note = (f"not measured: {n} image(s) would not repay measuring; auto measures from "
                f"{MEASURE_MIN_IMAGES} images, in a server, or with remeasure")
        return TorchBackend(spec.model, spec.device), AutoDecision(
            "torch", batch, [], machine_signature(spec.device), False, time.perf_counter() - t_start, note)
    engine, decision = measure(spec, batch=batch, log=log)
    decision.seconds = time.perf_counter() - t_start
    return engine, decision


def measure(spec: EngineSpec, *, batch: int = 2, log: Log = lambda s: None) -> tuple[Backend, AutoDecision]:
    """Build, check and time every candidate now; cache and return the fastest that keeps fp32's answers."""
    log("backend auto: measuring the engines once for this machine and these weights (cached afterwards)")
    machine = machine_signature(spec.device)
    try:
        x_all = spec.calibration()
    except FileNotFoundError as e:  # a bare install without data/: nothing real to check parity on
        log(f"backend auto: {e}; running eager PyTorch")
        why = Measurement("torch", error="chosen without measuring: no real images for the parity check")
        return TorchBackend(spec.model, spec.device), AutoDecision("torch", batch, [why], machine, False)
    names, skipped = auto_candidates(spec.device)
    ref_engine = TorchBackend(spec.model, spec.device)
    ref = run_batched(ref_engine, x_all)
    x = np.ascontiguousarray(x_all[:batch]) if len(x_all) >= batch else np.repeat(x_all[:1], batch, axis=0)
    measurements: list[Measurement] = []
    engines: dict[str, Backend] = {}
    for name in names:
        m = Measurement(name)
        try:
            t0 = time.perf_counter()
            engine = ref_engine if name == "torch" else build_engine(name, spec, log)
            m.build_s = round(time.perf_counter() - t0, 2)
            r = compare_heatmaps(ref, run_batched(engine, x_all), spec.input_size, name)
            m.moved, m.max_abs_diff = r.moved_share, r.max_abs_diff
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
    best = min(passing, key=lambda m: m.ms or math.inf).backend if passing else "torch"  # non-finite: nothing wins
    decision = AutoDecision(best, batch, measurements, machine, False)
    _write_decision(decision_file(spec), decision)
    return engines.get(best, ref_engine), decision


def _read_decision(path: Path) -> AutoDecision | None:
    try:
        d = json.loads(path.read_text())
        if d.get("version") != DECISION_VERSION or d["backend"] not in ENGINES:
            return None
        ms = [Measurement(**m) for m in d["measurements"]]
        return AutoDecision(d["backend"], int(d["batch"]), ms, d.get("machine", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_decision(path: Path, decision: AutoDecision) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(decision.to_json(), indent=1)))


__all__ = ["AutoDecision", "BACKEND_ENV", "BF16_MIN_SPEEDUP", "MEASURE_MIN_IMAGES", "Measurement", "auto_candidates",
           "choose_backend", "decision_file", "default_backend", "measure"]
