"""End-to-end cost of one prediction with the default model: where the time goes, and what start-up costs.

    python bench/end_to_end.py [--image data/messi_kick.webp] [--calls 30] [--out bench/results_end_to_end.md]

1. In one warm process, per stage (median of --calls calls on one image, whole image as the box, flip
   test on): decode the image file, crop + normalise, the model (both flip halves), decode heatmaps +
   back-project to image pixels; for eager fp32 and for what ``auto`` chose.
2. Whole ``hpe predict`` processes: a cold start (empty engine cache: auto measures and compiles), a warm
   start (cache filled), and ``--backend torch`` for comparison; wall seconds, including Python and
   torch import.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def stage_table(image: str, calls: int) -> list[str]:
    from hpe_utils.predictor import Predictor

    rows = ["| engine | decode image ms | crop + normalise ms | model ms | heatmap decode + back-projection ms | "
            "total ms | model share | pre/post-processing share |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for backend in ("torch", "auto"):
        p = Predictor("default", backend=backend, progress=False)
        p(image)  # warm-up: first call initialises the image decoders and the engine
        t = {k: [] for k in ("read", "preprocess", "model", "postprocess", "total")}
        for _ in range(calls):
            p(image)
            for k in t:
                t[k].append(p.last_timings[k])
        m = {k: float(np.median(v)) for k, v in t.items()}
        name = p.backend.name if backend == "torch" else f"auto -> {p.backend.name}"
        rows.append(f"| {name} | {m['read']:.1f} | {m['preprocess']:.1f} | {m['model']:.1f} | {m['postprocess']:.1f} | "
                    f"{m['total']:.1f} | {m['model'] / m['total']:.0%} | "
                    f"{(m['preprocess'] + m['postprocess']) / m['total']:.0%} |")
        print(rows[-1], flush=True)
    return rows


def process_table(image: str) -> list[str]:
    rows = ["| `hpe predict` process | wall s |", "|---|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HPE_CACHE_DIR": tmp}
        env.pop("HPE_BACKEND", None)
        out = str(Path(tmp) / "out.json")
        cmd = [sys.executable, "-m", "hpe_utils.cli", "predict", image, "--json", out, "--overwrite", "-q"]
        for label, extra in (("auto, cold (empty cache: measure + compile)", []), ("auto, warm (cached choice)", []),
                             ("auto, warm again", []), ("--backend torch", ["--backend", "torch"])):
            t0 = time.perf_counter()
            subprocess.run(cmd + extra, env=env, check=True, capture_output=True)
            rows.append(f"| {label} | {time.perf_counter() - t0:.1f} |")
            print(rows[-1], flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, hpe_utils.predictor"], env=env, check=True)
        rows.append(f"| (just `import torch, hpe_utils.predictor`) | {time.perf_counter() - t0:.1f} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(REPO / "data" / "messi_kick.webp"))
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--out")
    args = ap.parse_args()
    report = "\n".join(stage_table(args.image, args.calls) + [""] + process_table(args.image))
    print("\n" + report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
