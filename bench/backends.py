"""Inference speed of every backend, side by side in one run, with the machine's matmul peaks for scale.

    python bench/backends.py                       # R18 and R50, 256x192 and 256x256, batch 1 and 8
    python bench/backends.py --depths 50 --sizes 256x192 --batches 1 --out bench/results.md

For each model and input: median milliseconds over repeated runs, the ratio to eager fp32 measured in the
same run, achieved GFLOP/s (2 x multiply-accumulates / time) and its share of the fp32 and bf16 matmul peaks
measured in the same run, and agreement with eager fp32 (share of joints decoded within 1 heatmap pixel) on
the real images in data/. Random-weight models have flat heatmaps whose argmax is noise, so agreement is
reported for trained weights only (the default checkpoint's row) and "n/a" otherwise.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent

from hpe_utils.cli import default_calibration_images
from hpe_utils.codec import HeatmapCodec
from hpe_utils.model import PoseResNet, count_macs, fold_deconv_batchnorm


def median_seconds(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def matmul_peak(dtype: torch.dtype, n: int = 4096) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on this machine, now."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / median_seconds(lambda: a @ b, 5, 1) / 1e9


def make_backends(model: torch.nn.Module, example: torch.Tensor, with_compile: bool, tmp: Path) -> dict[str, Callable[[torch.Tensor], np.ndarray]]:
    """name -> function(input tensor) -> heatmaps, for every backend this machine can run."""
    from hpe_utils import export as ex
    from hpe_utils.backends import OnnxBackend

    out: dict[str, Callable[[torch.Tensor], np.ndarray]] = {}
    model = model.eval()

    def eager(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return model(x).numpy()

    out["eager fp32"] = eager
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def eager_bf16(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return cl(x.contiguous(memory_format=torch.channels_last)).float().numpy()

    out["eager bf16 (channels_last)"] = eager_bf16
    ts = ex.trace_torchscript(model, example[:1])

    def torchscript(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return ts(x).numpy()

    out["TorchScript fp32"] = torchscript
    onnx_path = tmp / f"m{id(model)}.onnx"
    ex.export_onnx_model(model, example[:1], onnx_path, {})
    ort = OnnxBackend(onnx_path)
    out["ONNX Runtime fp32"] = lambda x: ort(x.numpy())
    if with_compile:
        import torch._inductor.config as inductor_config

        folded = fold_deconv_batchnorm(model).to(memory_format=torch.channels_last)
        with inductor_config.patch(freezing=True):
            compiled = torch.compile(folded)

            def comp(x: torch.Tensor) -> np.ndarray:
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16), inductor_config.patch(freezing=True):
                    return compiled(x.contiguous(memory_format=torch.channels_last)).float().numpy()

        out["torch.compile bf16 (BN folded)"] = comp
    return out


def agreement(ref: np.ndarray, got: np.ndarray) -> float:
    """Share of joints whose decoded position is within 1 heatmap pixel of the reference's."""
    codec = HeatmapCodec((ref.shape[3] * 4, ref.shape[2] * 4))
    a, _ = codec.decode(ref)
    b, _ = codec.decode(got.astype(np.float32))
    return float((np.linalg.norm(a - b, axis=-1) <= 1.0).mean())


def real_inputs(size: tuple[int, int], n: int) -> torch.Tensor:
    """Whole-image crops of the shipped real images at (w, h), normalised, n of them (repeating)."""
    from hpe_utils.images import read_image
    from hpe_utils.transforms import box_to_center_scale, crop, normalize

    crops = []
    for p in default_calibration_images():
        img = read_image(p)
        c, s = box_to_center_scale([0, 0, img.shape[1], img.shape[0]], size[0] / size[1])
        crops.append(crop(img, c, s, size))
    x = normalize(np.stack([crops[i % len(crops)] for i in range(n)]), "rgb")
    return torch.from_numpy(x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", type=int, nargs="+", default=[18, 50])
    ap.add_argument("--sizes", nargs="+", default=["256x192", "256x256"], help="HxW")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (it takes tens of seconds cold)")
    ap.add_argument("--default", action="store_true", help="also benchmark the embedded default weights (agreement is meaningful)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    fp32_peak, bf16_peak = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    lines = [f"Matmul peaks measured in this run (4096x4096, {torch.get_num_threads()} threads): fp32 {fp32_peak:.0f} GFLOP/s, "
             f"bf16 {bf16_peak:.0f} GFLOP/s.", "",
             "| model | input HxW | batch | backend | median ms | ratio to eager fp32 | GFLOP/s | % fp32 peak | % bf16 peak | joints within 1 px of fp32 |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    jobs: list[tuple[str, torch.nn.Module, tuple[int, int], bool]] = []
    for d in args.depths:
        for s in args.sizes:
            h, w = (int(v) for v in s.lower().split("x"))
            torch.manual_seed(0)
            jobs.append((f"R{d} (random)", PoseResNet(depth=d, num_joints=17), (w, h), False))
    if args.default:
        from hpe_utils.weights import load_weights

        lw = load_weights("default")
        jobs.append(("default R18 (trained)", lw.model, tuple(lw.input_size), True))
    with tempfile.TemporaryDirectory() as tmp:
        for label, model, size, trained in jobs:
            macs = count_macs(model, size)
            x_all = real_inputs(size, max(args.batches))
            backends = make_backends(model, x_all[:2], not args.no_compile, Path(tmp))
            for batch in args.batches:
                x = x_all[:batch].contiguous()
                ref = backends["eager fp32"](x)
                base = None
                for name, fn in backends.items():
                    sec = median_seconds(lambda: fn(x), args.repeat)
                    base = base or sec
                    gflops = 2 * macs * batch / sec / 1e9
                    agree = f"{agreement(ref, fn(x)):.1%}" if trained else "n/a"
                    lines.append(f"| {label} | {size[1]}x{size[0]} | {batch} | {name} | {sec * 1000:.1f} | {base / sec:.2f} | "
                                 f"{gflops:.0f} | {gflops / fp32_peak:.0%} | {gflops / bf16_peak:.0%} | {agree} |")
                print("\n".join(lines[-len(backends):]), flush=True)
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
