"""Detector + poses, end to end: a photo with 3 people, and ``hpe track`` on a 640x360 clip with 3 people, per stage.

    python bench/detector_pipeline.py [--frames 90] [--calls 20] [--out bench/results_detector_pipeline.md]

Everything below is measured in one run, on this machine, so the ratios compare like with like:

1. **A photo with 3 people** (what ``hpe predict photo.jpg`` does without ``--boxes``): the first frame of
   bench/tracking.py's first clip (:func:`hpe_utils.synthetic.make_clip` over the shipped photo
   ``data/samples/coco_000000234748.jpg``, its man plus two people of two other shipped photos pasted in),
   640x360, saved as a JPEG (quality 95) and read back. ``../shared/data/coco_sample`` has no photo with exactly
   three annotated people of a size to pose (000000100667 is three faces filling the frame: the detector finds
   nobody; 000000060623's third person is 150x48 px), so a synthetic frame with known people it is. Stages: read
   (decode the file), detect (the shipped CenterNet: letterbox, ONNX Runtime, decoding; its own split beside),
   crops (affine crops + normalisation of the detected boxes), model (the pose network, both flip halves),
   decode (heatmaps -> image pixels), total (wall time of the whole call). Median of ``--calls`` calls.
2. **``hpe track``** on that clip written as an MP4 (``--frames`` frames at 30 frames/s), built as ``hpe track``
   builds it (:func:`hpe_utils.track.track` with the CLI's tracker), writing the annotated MP4
   and the JSON: default flags first, then one knob changed per row, and one whole ``hpe track`` process (Python
   start, imports, loading included). ms per frame of each stage, frames/s end to end, and the ratio to the
   default row.

A knob the CLI does not have is measured too: ONNX Runtime's worker threads spin for a while after each call by
default, which on 2 cores takes CPU from the pose step that follows the detector, so the shipped detector turns
it off (``session.intra_op.allow_spinning = 0``); the "spinning" rows open the same detector file with ONNX
Runtime's default (spinning on), to show what that costs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from anywhere: this checkout's hpe_utils
sys.path.insert(0, str(REPO / "bench"))

from tracking import build_clip, clip_specs, cpu_name  # noqa: E402

from hpe_utils.centernet import CENTERNET, CenterNetDetector, check_model_file, decode_detections, letterbox  # noqa: E402
from hpe_utils.detect import CheckedDetector, load_detector  # noqa: E402
from hpe_utils.images import read_image  # noqa: E402
from hpe_utils.predictor import Predictor  # noqa: E402
from hpe_utils.track import DETECT_EVERY, STAGES, track  # noqa: E402
from hpe_utils.tracking import PoseTracker  # noqa: E402
from hpe_utils.video import VideoWriter  # noqa: E402


def spinning_detector() -> CheckedDetector:
    """The shipped detector with ONNX Runtime's default thread spinning back on (the "spinning" rows' knob)."""
    import onnxruntime as ort

    det = CenterNetDetector()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    det.session = ort.InferenceSession(str(check_model_file(CENTERNET)), opts, providers=["CPUExecutionProvider"])
    return CheckedDetector(det, det.name + " (spinning)")


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.median([r[k] for r in rows])) for k in rows[0]}


# ------------------------------------------------------------------ 1. a photo

def photo_call(path: Path, predictor: Predictor, detector: Callable[[np.ndarray], Any]) -> tuple[dict[str, float], int]:
    """One photo, stage by stage as hpe predict runs it: ms per stage and the people posed."""
    t0 = time.perf_counter()
    rgb = read_image(path)
    t1 = time.perf_counter()
    boxes, _ = detector(rgb)
    t2 = time.perf_counter()
    if len(boxes):
        centers, scales = predictor.regions(np.asarray(boxes, dtype=np.float64))
        predictor.predict_regions([rgb] * len(boxes), centers, scales)
        lt = predictor.last_timings
    else:
        lt = {"preprocess": 0.0, "model": 0.0, "postprocess": 0.0}
    t3 = time.perf_counter()
    return {"read": (t1 - t0) * 1e3, "detect": (t2 - t1) * 1e3, "crops": lt["preprocess"], "model": lt["model"],
            "decode": lt["postprocess"], "total": (t3 - t0) * 1e3}, len(boxes)


def detector_split(path: Path, calls: int) -> str:
    """The shipped detector's own stages on the photo: letterbox warp, ONNX Runtime, decoding (median ms)."""
    det = CenterNetDetector()
    rgb = read_image(path)
    rows = []
    for _ in range(calls + 1):
        t0 = time.perf_counter()
        x, m = letterbox(rgb)
        t1 = time.perf_counter()
        raw = np.asarray(det.session.run(None, {det.input_name: x})[0]).reshape(-1, 6)
        t2 = time.perf_counter()
        decode_detections(raw, m, rgb.shape[1], rgb.shape[0])
        t3 = time.perf_counter()
        rows.append({"letterbox": (t1 - t0) * 1e3, "onnx": (t2 - t1) * 1e3, "decode": (t3 - t2) * 1e3})
    m = _median(rows[1:])
    return (f"The detector's own split on this photo (median of {calls}): letterbox into 512x512 {m['letterbox']:.1f} ms, "
            f"ONNX Runtime {m['onnx']:.1f} ms, decoding {m['decode']:.2f} ms. Its input is fixed at 512x512 (the "
            "graph's): a 640x360 frame fills 512x288 of it, and a larger photo costs only the warp more.")


def photo_table(path: Path, calls: int, configs: Sequence[tuple[str, dict[str, Any], bool]]) -> list[str]:
    rows = ["| configuration | engine | people | read | detect | crops | model | decode | total ms | vs default |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = None
    dets = {False: load_detector("default"), True: spinning_detector()}
    for label, kw, spinning in configs:
        predictor = Predictor("default", progress=False, expected_images=calls, **kw)
        det = dets[spinning]
        photo_call(path, predictor, det)  # warm-up: decoders, engines, ONNX Runtime's first run
        ms, people = _median([photo_call(path, predictor, det)[0] for _ in range(calls)]), photo_call(path, predictor, det)[1]
        base = base or ms["total"]
        rows.append(f"| {label} | {predictor.backend.name} | {people} | " + " | ".join(
            f"{ms[k]:.1f}" for k in ("read", "detect", "crops", "model", "decode", "total"))
            + f" | {ms['total'] / base:.2f}x |")
        print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------ 2. hpe track

def track_row(video: Path, out: Path, *, backend: str | None = None, flip: bool = True, detect_every: int = DETECT_EVERY,
              detector: Any = "default", first_boxes: np.ndarray | None = None, frames: int) -> tuple[Any, str]:
    """One ``track()`` run set up as ``hpe track`` sets it up; (summary, engine name)."""
    det = load_detector(detector) if isinstance(detector, str) else detector
    predictor = Predictor("default", backend=backend, flip=flip, progress=False, expected_images=frames)
    tracker = PoseTracker(predictor.skeleton.name, flow="lk", similarity="oks_flow")  # as cmd_track, default flags
    summary = track(video, predictor, tracker, detector=det, detect_every=detect_every, first_boxes=first_boxes,
                    out_mp4=out / "tracked.mp4", out_json=out / "tracks.json", overwrite=True)
    return summary, predictor.backend.name


def track_table(video: Path, first: np.ndarray, frames: int, quick: bool) -> list[str]:
    rows = ["| `hpe track` flags | engine | poses/frame | " + " | ".join(STAGES) + " | ms/frame | frames/s | vs default |",
            "|---|---|---:|" + "---:|" * len(STAGES) + "---:|---:|---:|"]
    runs: list[tuple[str, dict[str, Any]]] = [(f"(defaults: --detect-every {DETECT_EVERY})", {})]
    runs += [(f"--detect-every {n}", {"detect_every": n}) for n in (1, 2, 3, 5, 10) if n != DETECT_EVERY]
    runs += [("--no-flip", {"flip": False}),
             (f"--no-flip --detect-every {max(DETECT_EVERY, 5)}", {"flip": False, "detect_every": max(DETECT_EVERY, 5)}),
             ("--backend torch", {"backend": "torch"}),
             ("--backend torch-bf16", {"backend": "torch-bf16"}),
             ("--backend torch-bf16 --no-flip", {"backend": "torch-bf16", "flip": False}),
             ("--backend onnx", {"backend": "onnx"}),
             ("detector with ONNX Runtime's thread spinning on (its default; not a flag)", {"detector": spinning_detector()}),
             ("--detector none --boxes FIRST.json (propagation alone)", {"detector": "none", "first_boxes": first})]
    if quick:
        runs = runs[:1] + runs[-1:]
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for label, kw in runs:
            summary, engine = track_row(video, Path(tmp), frames=frames, **kw)
            per = summary.per_frame_ms()
            base = base or summary.fps
            rows.append(f"| {label} | {engine} | {summary.people / max(summary.frames, 1):.2f} | "
                        + " | ".join(f"{per[s]:.1f}" for s in STAGES)
                        + f" | {1000 / max(summary.fps, 1e-9):.0f} | {summary.fps:.1f} | {summary.fps / base:.2f}x |")
            print(rows[-1], flush=True)
    return rows


def process_row(video: Path, frames: int) -> str:
    """A whole ``hpe track`` process at default flags: wall seconds, and frames/s counting its start-up."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "hpe_utils.cli", "track", str(video), "--out", str(Path(tmp) / "t.mp4"),
               "--json", str(Path(tmp) / "t.json"), "-q"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hpe_utils.cli"], cwd=REPO, check=True, capture_output=True)
        start = time.perf_counter() - t0
    return (f"A whole `hpe track clip.mp4 --out t.mp4 --json t.json` process at default flags: {wall:.1f} s wall for "
            f"{frames} frames ({frames / wall:.1f} frames/s counting start-up; `python -c 'import hpe_utils.cli'` alone "
            f"takes {start:.1f} s).")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=90, help="frames of the clip (default 90: 3 s at 30 frames/s)")
    ap.add_argument("--calls", type=int, default=20, help="photo: calls per configuration (median; default 20)")
    ap.add_argument("--quick", action="store_true", help="two configurations each, no process row (its test)")
    ap.add_argument("--out", help="also write the report (markdown) to this file")
    args = ap.parse_args(argv)
    import onnxruntime
    import torch

    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    spec = clip_specs()[0]
    clip = build_clip(spec, args.frames)
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `python bench/detector_pipeline.py"
             f"{' --frames ' + str(args.frames) if args.frames != 90 else ''}` on {cpu_name()}, "
             f"{torch.get_num_threads()} torch threads, ONNX Runtime {onnxruntime.__version__} (the detector: 2 "
             f"threads), OpenCV {cv2.__version__}; default weights; `auto` is the engine cached for this machine "
             "(or the one it picks for this much work).", ""]
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "three_people.jpg"
        cv2.imwrite(str(photo), cv2.cvtColor(clip.frames[0], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        configs: list[tuple[str, dict[str, Any], bool]] = [
            ("defaults (auto, flip test)", {}, False), ("--no-flip", {"flip": False}, False),
            ("--backend torch", {"backend": "torch"}, False), ("--backend torch --no-flip", {"backend": "torch", "flip": False}, False),
            ("--backend torch-bf16", {"backend": "torch-bf16"}, False),
            ("defaults, detector with thread spinning on", {}, True)]
        if args.quick:
            configs = configs[:2]
        lines += [f"### 1. A photo with 3 people: detector and poses ({spec.name}, frame 0, 640x360 JPEG)", "",
                  f"ms per stage, median of {args.calls} calls; `people`: boxes the detector returned and the pose "
                  "step posed:", ""]
        lines += photo_table(photo, args.calls, configs)
        lines += ["", detector_split(photo, args.calls)]
        video = Path(tmp) / "clip.mp4"
        with VideoWriter(video, clip.fps) as w:
            for f in clip.frames:
                w.write(f)
        seen = (clip.visible[0].sum(1) >= 4) & (clip.boxes[0, :, 2] > 1)
        lines += ["", f"### 2. `hpe track` on a 640x360 clip with 3 people ({spec.name}, {args.frames} frames, MP4)", "",
                  "Writing the annotated MP4 and the JSON; ms per frame of each stage (decode: reading the MP4; "
                  "propagate: optical flow; detect: the detector where it runs + box merge; pose: crops + model + "
                  "decoding + pose NMS; match: track ids; draw and write: the outputs); `poses/frame`: people posed "
                  "per frame:", ""]
        lines += track_table(video, clip.boxes[0][seen], args.frames, args.quick)
        if not args.quick:
            lines += ["", process_row(video, args.frames)]
    lines += ["", f"Whole run: {time.perf_counter() - t_start:.0f} s; 1-minute load average {load_start:.2f} at its "
                  "start (above ~0.5 on 2 cores something else was running, and the numbers are not this code's)."]
    report = "\n".join(lines) + "\n"
    print("\n" + report, flush=True)
    if args.out:
        Path(args.out).write_text(report)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
