"""End-to-end cost of one prediction with the default model: where the time goes, and what start-up costs.

    python bench/end_to_end.py [--image data/messi_kick.webp] [--calls 30] [--out bench/results_end_to_end.md]

1. In one warm process, per stage (median of --calls calls on one image, whole image as the box, flip
   test on): decode the image file, crop + normalise, the model (both flip halves), decode heatmaps +
   back-project to image pixels; for eager fp32 and for what ``auto`` chose.
2. Whole ``hpe predict`` processes, wall seconds including Python and torch import: one image on a fresh
   install (empty engine cache), again, 60 images, the same with ``--backend torch``, then ``--remeasure``
   (what a large job pays once: auto measures and compiles) and one and 60 images after it. With
   ``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/before <commit>``) each
   row is also timed for that checkout, interleaved with this one, and the ratio is printed.
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

from hpe_utils.predictor import Predictor

REPO = Path(__file__).resolve().parent.parent


def stage_table(image: str, calls: int) -> list[str]:
    rows = ["| engine | decode image ms | crop + normalise ms | model ms | heatmap decode + back-projection ms | "
            "total ms | model share | pre/post-processing share |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for backend in ("torch", "auto"):
        p = Predictor("default", backend=backend, progress=False, expected_images=calls)
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


def _images(n: int) -> list[str]:
    """``n`` real photos: the LSP sample's, repeated as needed (a folder of images is what people pass)."""
    found = sorted(str(p) for p in (REPO / "data" / "lsp_sample" / "images").glob("*.jpg"))
    return [found[i % len(found)] for i in range(n)]


def process_table(image: str, baseline: str | None, quick: bool = False) -> list[str]:
    checkouts = {"this checkout": None, **({"baseline": baseline} if baseline else {})}
    head = "| `hpe predict` process | " + " | ".join(f"{c} wall s" for c in checkouts) + (" | ratio |" if baseline else "")
    rows = [head, "|---|" + "---:|" * (len(checkouts) + bool(baseline))]
    n = 3 if quick else 60
    many = _images(n)
    steps = [("1 image, fresh install (empty engine cache)", [image], []),
             ("1 image again", [image], []),
             (f"{n} images", many, []),
             (f"{n} images, --backend torch", many, ["--backend", "torch"]),
             ("1 image, --remeasure (measure + compile: what a large job pays once)", [image], ["--remeasure"]),
             ("1 image after measuring", [image], []),
             (f"{n} images after measuring", many, [])]
    if quick:  # the script's own test: no minute of compiling
        steps = steps[:4]
    with tempfile.TemporaryDirectory() as tmp:
        envs = {}
        for i, (label, root) in enumerate(checkouts.items()):
            env = {**os.environ, "HPE_CACHE_DIR": str(Path(tmp) / f"cache{i}")}
            env.pop("HPE_BACKEND", None)
            if root:
                env["PYTHONPATH"] = root  # the other checkout's hpe_utils, data/ and weights/
            envs[label] = env
        out = str(Path(tmp) / "out.json")
        for label, images, extra in steps:
            secs = []
            for c in checkouts:
                cmd = [sys.executable, "-m", "hpe_utils.cli", "predict", *images, "--json", out, "--overwrite", "-q"]
                t0 = time.perf_counter()
                # run from the checkout's own folder: `python -m` puts the working directory first on sys.path
                subprocess.run(cmd + extra, env=envs[c], cwd=checkouts[c] or REPO, check=True, capture_output=True)
                secs.append(time.perf_counter() - t0)
            ratio = f" {secs[1] / secs[0]:.2f}x |" if baseline else ""
            rows.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in secs) + " |" + ratio)
            print(rows[-1], flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, hpe_utils.predictor"], env=envs["this checkout"], check=True)
        rows.append(f"| (just `import torch, hpe_utils.predictor`) | {time.perf_counter() - t0:.1f} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(REPO / "data" / "messi_kick.webp"))
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--out")
    ap.add_argument("--baseline", help="a checkout of another commit to time beside this one (process table)")
    ap.add_argument("--skip-stages", action="store_true", help="only the process table")
    ap.add_argument("--quick", action="store_true", help="3 images instead of 60 and no --remeasure rows (its test)")
    args = ap.parse_args()
    stages = [] if args.skip_stages else stage_table(args.image, args.calls) + [""]
    report = "\n".join(stages + process_table(args.image, args.baseline, args.quick))
    print("\n" + report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
