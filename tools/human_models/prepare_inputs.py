"""The parity check's real inputs, made by the product's own preprocessing (in the project's Python, not the TF venv).

convert.py runs in the TensorFlow venv, which has neither OpenCV nor ``hpe_utils``; it calls this script with the
project's interpreter so the converted graph is checked on exactly the pixels the product feeds it: each image read
by :func:`hpe_utils.images.read_image` and letterboxed by :func:`hpe_utils.centernet.letterbox` (one affine warp).

    python3 tools/human_models/prepare_inputs.py --size 512 --dtype float32 --out DIR IMAGE [IMAGE ...]

writes ``DIR/<id>.in.bin`` (the raw little-endian (1, size, size, 3) tensor) and ``DIR/manifest.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hpe_utils.centernet import letterbox
from hpe_utils.images import read_image

DTYPES = {"float32": "<f4", "int32": "<i4"}


def prepare(images: list[Path], size: int, dtype: str, scale: float, out: Path) -> list[dict[str, object]]:
    """Every image letterboxed to size x size and cast to the graph's input dtype, written as raw files."""
    if dtype not in DTYPES:
        raise SystemExit(f"prepare_inputs: unsupported input dtype {dtype} (known: {', '.join(DTYPES)})")
    out.mkdir(parents=True, exist_ok=True)
    cases: list[dict[str, object]] = []
    for i, path in enumerate(images):
        rgb = read_image(path)
        x, m = letterbox(rgb, size)  # float32 (1, size, size, 3) in 0..255: whole numbers from a uint8 warp
        x = x * np.float32(scale)
        arr = np.rint(x).astype(DTYPES[dtype]) if dtype == "int32" else x.astype(DTYPES[dtype])
        case_id = f"{i:02d}_{path.stem}"
        file = out / f"{case_id}.in.bin"
        arr.tofile(file)
        cases.append({"id": case_id, "image": str(path), "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                      "matrix": m.tolist(), "file": str(file.resolve()), "shape": list(arr.shape), "dtype": dtype})
    (out / "manifest.json").write_text(json.dumps(cases, indent=1) + "\n", encoding="utf-8")
    return cases


def main(argv: list[str] | None = None) -> int:
    """The command line convert.py calls."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--size", type=int, required=True, help="the graph's square input side")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    ap.add_argument("--scale", type=float, default=1.0, help="pixel values are multiplied by this (0..255 at 1)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    cases = prepare(args.images, args.size, args.dtype, args.scale, args.out)
    print(f"prepared {len(cases)} inputs ({args.size}x{args.size} {args.dtype}) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
