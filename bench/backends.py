"""Inference speed of every engine, side by side in one run, with the machine's matmul peaks for scale.

    python bench/backends.py                                   # R18 and R50, 256x192 and 256x256, batch 1 and 8
    python bench/backends.py --depths 50 --sizes 256x192 --batches 1 --out bench/results.md

The engines are the registry's (``hpe_utils.engines.ENGINES``, what ``Predictor(backend=...)`` runs), built cold into a temporary
cache. For each model, input size and batch: median ms over interleaved rounds (every engine timed in
each round, so load elsewhere hits all alike), the ratio to eager fp32 from the same rounds, achieved
GFLOP/s (2 x multiply-accumulates / time) and its share of the fp32 and bf16 matmul peaks measured in
this run, and agreement with eager fp32: the share of joints decoded within 1 heatmap pixel on the real
images in data/. R18 rows run the embedded default weights (trained; the network is fully convolutional,
so any input size gives real heatmaps). No trained R50 is available offline: R50 rows use random
weights, whose flat heatmaps make argmax agreement meaningless, so it shows "n/a" there. The last column
is what ``auto`` picked for that model and size (at the predictor's batch, one person + flip = 2).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hpe_utils import auto
from hpe_utils.engines import build_engine, engine_spec, engines_for, machine_signature
from hpe_utils.model import PoseResNet, count_macs
from hpe_utils.parity import compare_heatmaps, real_crops
from hpe_utils.timing import median_ms, side_by_side_ms
from hpe_utils.weights import load_weights

CPU_ENGINES = engines_for("cpu")  # the registry's, in its order


def matmul_peak(dtype: torch.dtype, n: int = 4096) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on this machine, now."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / median_ms(lambda: a @ b, 5, 1) * 1000 / 1e9


def model_for(depth: int) -> tuple[str, torch.nn.Module, bool]:
    if depth == 18:
        return "R18 (default weights)", load_weights("default").model, True
    torch.manual_seed(0)
    return f"R{depth} (random weights)", PoseResNet(depth=depth, num_joints=16), False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", type=int, nargs="+", default=[18, 50])
    ap.add_argument("--sizes", nargs="+", default=["256x192", "256x256"], help="HxW")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--engines", nargs="+", default=CPU_ENGINES, choices=CPU_ENGINES)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", help="also write the Markdown report here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    fp32_peak, bf16_peak = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    cpu = machine_signature(torch.device("cpu"))
    head = [f"CPU: {cpu['cpu']} ({cpu['isa']}), {torch.get_num_threads()} threads, torch {torch.__version__}, "
            f"onnxruntime {cpu['onnxruntime']}.",
            f"Matmul peaks measured in this run (4096x4096): fp32 {fp32_peak:.0f} GFLOP/s, bf16 {bf16_peak:.0f} GFLOP/s "
            f"(bf16/fp32 {bf16_peak / fp32_peak:.2f}).", ""]
    table = ["| model | input HxW | batch | engine | median ms | vs eager fp32 | GFLOP/s | % fp32 peak | % bf16 peak "
             "| joints within 1 px of fp32 | first build s | load from cache s |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    autos = ["", "| model | input HxW | auto chose | its ms (batch 2) | eager fp32 ms | speed-up |", "|---|---|---|---:|---:|---:|"]
    for depth in args.depths:
        label, model, trained = model_for(depth)
        model.eval()
        for s in args.sizes:
            h, w = (int(v) for v in s.lower().split("x"))
            macs = count_macs(model, (w, h))
            real = real_crops((w, h), "rgb")
            with tempfile.TemporaryDirectory() as tmp:
                spec = engine_spec(model, torch.device("cpu"), (w, h), lambda: real, Path(tmp))
                engines: dict[str, Any] = {}
                build_s: dict[str, float] = {}
                load_s: dict[str, str] = {}
                for name in args.engines:
                    t0 = time.perf_counter()
                    try:
                        engines[name] = build_engine(name, spec)
                    except Exception as e:  # report and go on: one engine missing here must not stop the table
                        print(f"{label} {s}: {name} unavailable: {type(e).__name__}: {e}", file=sys.stderr)
                        continue
                    build_s[name] = time.perf_counter() - t0
                    if name.startswith(("compiled", "onnx")):  # these load from the cache in later processes
                        t0 = time.perf_counter()
                        build_engine(name, spec)
                        load_s[name] = f"{time.perf_counter() - t0:.2f}"
                with torch.no_grad():
                    ref_real = model(torch.from_numpy(real)).numpy()
                agree = {n: 1 - compare_heatmaps(ref_real, e(real), (w, h), n).moved_share for n, e in engines.items()}
                for batch in args.batches:
                    x = np.ascontiguousarray(real[np.arange(batch) % len(real)])
                    ms = side_by_side_ms({n: (lambda e=e: e(x)) for n, e in engines.items()}, rounds=args.rounds)
                    base = ms["torch"]
                    for n in engines:
                        gflops = 2 * macs * batch / (ms[n] / 1000) / 1e9
                        a = f"{agree[n]:.1%}" if trained else "n/a"
                        table.append(f"| {label} | {h}x{w} | {batch} | {n} | {ms[n]:.1f} | {base / ms[n]:.2f}x | "
                                     f"{gflops:.0f} | {gflops / fp32_peak:.0%} | {gflops / bf16_peak:.0%} | {a} | "
                                     f"{build_s[n]:.1f} | {load_s.get(n, '-')} |")
                    print("\n".join(table[-len(engines):]), flush=True)
                # what auto would pick here, measured the way the predictor does (its own candidates, batch 2)
                _, d = auto.measure(spec, batch=2)
                chosen = next(m for m in d.measurements if m.backend == d.backend)
                eager = next(m for m in d.measurements if m.backend == "torch")
                autos.append(f"| {label} | {h}x{w} | {d.backend} | {chosen.ms:.1f} | {eager.ms:.1f} | "
                             f"{eager.ms / chosen.ms:.2f}x |")
                print(autos[-1], flush=True)
    report = "\n".join(head + table + autos)
    print("\n" + report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
