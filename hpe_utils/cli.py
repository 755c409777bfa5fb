"""The ``hpe`` command: predict, track, weights, train, eval, export, serve — a thin layer over the library.

Choices (engines, datasets, export formats, decoders) are read from the library's registries, so a new entry
there is a new choice here. Mistakes the user can fix print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from .codec import REFINEMENTS
from .datasets import DATASETS, dataset_samples
from .centernet import MAX_PEOPLE
from .detect import DEFAULT_DETECTOR, DETECTOR_SPECS, load_detector
from .engines import BACKEND_CHOICES, ENGINES
from .errors import DatasetError, InputError, WeightsError
from .evaluate import coco_results, predict_dataset, score_pck, score_pckh
from .export import EXPORT_FORMATS, export
from .files import shipped_images
from .flip import check_flip_shift
from .images import read_image, write_image
from .metrics import coco_oks_ap
from .predictor import Predictor
from .serve import Limits, serve
from .track import check_outputs, read_first_boxes, track
from .tracking import FLOWS, PoseTracker
from .train import TrainConfig, train
from .transforms import check_scales
from .video import open_frames
from .viz import SCORE_THRESHOLD, draw_boxes, draw_people, plot_per_joint
from .web import ORT_WEB_VERSION, WebExportError, export_web
from .weights import average_checkpoints, describe_weights_table, download_weights, load_weights, set_box_padding


def _parse_size(text: str) -> tuple[int, int]:
    """'256x192' (height x width, as model names say) -> (width, height)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"input size must look like 256x192 (height x width), got {text!r}") from None
    return w, h


def _err(msg: str) -> None:
    print(f"hpe: {msg}", file=sys.stderr)


# ------------------------------------------------------------------ predict

def cmd_predict(args: argparse.Namespace) -> int:
    boxes_by_image: dict[str, Any] = {}
    if args.boxes:
        try:
            boxes_by_image = json.loads(Path(args.boxes).read_text())
            if not isinstance(boxes_by_image, dict):
                raise ValueError("it must map image paths to lists of [x, y, w, h]")
        except (OSError, ValueError) as e:
            _err(f"cannot read boxes file {args.boxes}: {e}")
            return 2
    if args.json and Path(args.json).exists() and not args.overwrite:
        _err(f"{args.json} exists; pass --overwrite to replace it")
        return 2
    try:
        predictor = Predictor(args.weights, device=args.device, flip=not args.no_flip, input_size=args.input_size,
                              color_order=args.color_order, box_padding=args.box_padding, backend=args.backend,
                              progress=not args.quiet, log=_err if args.verbose else None, remeasure=args.remeasure,
                              scales=args.scales, expected_images=len(args.images),
                              detector=None if args.detector == "none" else args.detector, max_people=args.max_people)
        if any(path not in boxes_by_image for path in args.images):
            predictor.detector  # load (and verify) it now: a missing or altered file stops before any image
    except (WeightsError, InputError, FileNotFoundError) as e:
        _err(str(e))
        return 2
    if args.verbose:
        if predictor.decision is not None:
            _err("auto's measurements (batch of %d, ms median):\n%s" % (predictor.decision.batch, predictor.decision.table()))
        else:
            _err(f"engine: {predictor.backend.name}")
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    records, failed = [], 0
    for path in args.images:
        try:
            t0 = time.perf_counter()
            rgb = read_image(path)  # read once: the prediction and the overlay share it
            t_read = (time.perf_counter() - t0) * 1000
            result = predictor(rgb, boxes_by_image.get(path))
        except (InputError, OSError) as e:  # an unreadable image or a bad box: this image fails, the others run
            _err(f"{path}: {e}" if path not in str(e) else str(e))
            failed += 1
            continue
        result.image = path
        records.append(result.to_json())
        if result.detector is not None and not result.people:
            _err(f"{path}: the {result.detector} detector found nobody (people: []); pass boxes with --boxes, or "
                 "--detector none to pose the whole image as one person")
        elif result.detected is not None and result.detected > args.max_people:
            _err(f"{path}: {result.detected} people found; posed the {args.max_people} most confident "
                 "(raise --max-people for more)")
        if args.verbose:
            t = {"decode image": t_read, **{k: v for k, v in predictor.last_timings.items() if k != "read"}}
            t["total"] = sum(v for k, v in t.items() if k != "total")
            _err(f"{path}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in t.items()) +
                 f" (engine {predictor.backend.name}; the model is {t['model'] / t['total']:.0%} of the total)")
        if out_dir:
            drawn = draw_people(rgb, [(p.keypoints, p.scores) for p in result.people], predictor.skeleton, args.threshold)
            if result.detector is not None or path in boxes_by_image:
                drawn = draw_boxes(drawn, [p.box for p in result.people], [p.box_score for p in result.people],
                                   copy=False)
            target = out_dir / (Path(path).stem + "_pose.png")
            if target.exists() and not args.overwrite:
                _err(f"{target} exists; pass --overwrite to replace it")
                failed += 1
                continue
            write_image(target, drawn)
            if not args.quiet:
                print(f"{path}: {len(result.people)} person(s) -> {target}")
        elif not args.quiet and not args.json:
            print(json.dumps(result.to_json()))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
        if not args.quiet:
            print(f"wrote {len(records)} record(s) to {args.json}")
    return 1 if failed else 0


# ------------------------------------------------------------------ track

def _warn_above_bar(msg: str) -> None:
    """A warning printed above the progress bar instead of through it."""
    tqdm.write(f"hpe: {msg}", file=sys.stderr)


def cmd_track(args: argparse.Namespace) -> int:
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own complaints: we say what matters in one line
    source = None
    try:  # everything that can fail fast, before the weights load
        if args.detect_every < 1:
            raise InputError(f"--detect-every must be 1 or more, got {args.detect_every}")
        if args.max_frames is not None and args.max_frames < 1:
            raise InputError(f"--max-frames must be 1 or more, got {args.max_frames}")
        check_outputs(args.out, args.json, args.overwrite)
        first_boxes = read_first_boxes(args.boxes) if args.boxes else None
        source = open_frames(args.source, fps=args.fps, log=_warn_above_bar)  # skipped frames: always reported
        if not args.quiet:
            _err(source.describe())
        detector = load_detector(args.detector, device=args.device, progress=not args.quiet)
        predictor = Predictor(args.weights, device=args.device, flip=not args.no_flip, backend=args.backend,
                              progress=not args.quiet, log=_err if args.verbose else None,
                              expected_images=source.frame_count or np.inf)
        flow = None if args.flow == "none" else args.flow
        # --smooth: One-Euro with beta 0.05, which bench/tracking.py measured to cut jitter 43 % at unchanged PCK
        # (beta 0, the filter's textbook default, lags moving people by ~0.16 s and halves PCK)
        tracker = PoseTracker(predictor.skeleton.name, flow=flow, similarity="oks_flow" if flow else "oks",
                              smooth=args.smooth, beta=SMOOTH_BETA)  # frame 0: the detector's own threshold
    except (InputError, WeightsError, FileExistsError) as e:
        if source is not None:
            source.close()
        _err(str(e))
        return 2
    print_records = not args.out and not args.json
    try:
        summary = track(source, predictor, tracker, detector=detector, detect_every=args.detect_every,
                        first_boxes=first_boxes, out_mp4=args.out, out_json=args.json, overwrite=args.overwrite,
                        threshold=args.threshold, min_joints=args.min_joints, max_frames=args.max_frames,
                        progress=not args.quiet, log=_warn_above_bar,
                        on_frame=(lambda tf: print(json.dumps(tf.record()), flush=True)) if print_records else None)
    except (InputError, WeightsError, FileExistsError) as e:
        _err(str(e))
        return 2
    except OSError as e:  # a full disk, a vanished folder: nothing was left half-written
        _err(f"stopped, nothing written: {e}")
        return 1
    except KeyboardInterrupt:
        _err("interrupted: nothing written")
        return 130
    if not args.quiet:
        outs = [str(p) for p in (summary.out_mp4, summary.out_json) if p is not None]
        _err(("stopped (Ctrl-C); " if summary.interrupted else "") + summary.describe()
             + f" (engine {summary.engine}" + (", no flip test" if args.no_flip else "") + ")"
             + (f"\nwrote {' and '.join(outs)}" if outs else ""))
    return 1 if summary.skipped or summary.missing_at_end else 0


# ------------------------------------------------------------------ weights

def cmd_weights(args: argparse.Namespace) -> int:
    if args.action == "list":
        print(describe_weights_table())
        return 0
    try:
        if args.action == "average":
            if not args.out:
                raise WeightsError("average needs --out FILE")
            path = average_checkpoints(args.name, args.out, box_padding=args.box_padding, overwrite=args.overwrite)
        elif args.action == "set":
            if len(args.name) != 1 or not args.out or args.box_padding is None:
                raise WeightsError("set takes one checkpoint, --box-padding P and --out FILE")
            path = set_box_padding(args.name[0], args.out, args.box_padding, overwrite=args.overwrite)
        else:
            if len(args.name) != 1:
                raise WeightsError("download takes one registry name")
            path = download_weights(args.name[0], progress=not args.quiet)
    except (WeightsError, KeyError, FileExistsError, ValueError) as e:
        _err(str(e))
        return 2
    print(path)
    return 0


# ------------------------------------------------------------------ train

def _add_config_flags(p: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction)
        elif isinstance(default, tuple) or f.name in ("train_range", "val_range", "lr_steps", "deconv_filters",
                                                         "input_size", "scale_range"):
            p.add_argument(flag, dest=f.name, default=None, type=float if f.name in ("scale_range",) else int, nargs="+")
        else:
            typ: Any = type(default) if default is not None else str
            if f.name in ("sigma",):
                typ = float
            if f.name in ("threads", "max_steps_per_epoch"):
                typ = int
            p.add_argument(flag, dest=f.name, default=None, type=typ)


def cmd_train(args: argparse.Namespace) -> int:
    base: dict[str, Any] = {}
    if args.config:
        base = json.loads(Path(args.config).read_text())
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            base[f.name] = v
    try:
        cfg = TrainConfig.from_dict(base)
    except ValueError as e:  # unknown or conflicting options
        _err(str(e))
        return 2
    try:
        row = train(cfg)
    except (DatasetError, WeightsError) as e:  # bad data or starting weights: raised before any training or writing
        _err(str(e))
        return 2
    print(json.dumps({k: v for k, v in row.items() if not k.startswith("pck_")}))
    return 0


# ------------------------------------------------------------------ eval

def cmd_eval(args: argparse.Namespace) -> int:
    try:  # options first: nothing loads for a typo
        if args.flip_shift is not None:
            check_flip_shift(args.flip_shift)
        check_scales(args.scales)
        if args.predictions and Path(args.predictions).exists() and not args.overwrite:
            raise InputError(f"{args.predictions} exists; pass --overwrite to replace it")
        lw = load_weights(args.weights, input_size=args.input_size, box_padding=args.box_padding,
                          progress=not args.quiet)
        predictor = Predictor(lw, device=args.device, flip=not args.no_flip, flip_shift=args.flip_shift,
                              refine=args.refine, scales=args.scales, backend=args.backend, batch_size=args.batch_size,
                              expected_images=len(range(*args.range)) if args.range else np.inf,
                              log=None if args.quiet else _err)
        samples = dataset_samples(args.dataset, args.data, predictor.skeleton, lw.input_size[0] / lw.input_size[1],
                                  predictor.box_padding, range(*args.range) if args.range else None, args.images)
    except (InputError, WeightsError) as e:
        _err(str(e))
        return 2
    if not samples:
        _err("no samples to evaluate")
        return 2
    sk = predictor.skeleton
    preds = predict_dataset(predictor, samples, progress=not args.quiet)
    report: dict[str, Any] = {"weights": str(args.weights), "dataset": args.dataset, "data": args.data,
                              "samples": len(samples), "box_padding": predictor.box_padding, "refine": args.refine,
                              "flip_shift": preds.flip_shift, "scales": list(preds.scales), "backend": preds.backend}
    results = [score_pck(preds, sk, args.alpha)]
    heads = [s.extra.get("head_box") for s in samples]
    scores = DATASETS[args.dataset].scores
    if "pckh" in scores and all(h is not None for h in heads):
        results.append(score_pckh(preds, np.stack(heads), sk))
    for r in results:
        print(r.table())
        print()
        report[f"{r.name}@{r.alpha:g}"] = r.to_dict()
    if "coco_oks" in scores:
        try:
            ap = coco_oks_ap(coco_results(preds, samples), args.data)
            report["coco"] = ap
            print("COCO OKS (ground-truth boxes): " + ", ".join(f"{k} {v:.3f}" for k, v in ap.items()))
        except ImportError as e:
            _err(str(e))
    if args.plot:
        fig = plot_per_joint(results[0], title=f"{results[0].name}@{results[0].alpha:g} per joint — {Path(str(args.weights)).name}")
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.predictions:
        Path(args.predictions).write_text(json.dumps(preds.records(samples), indent=1))
    return 0


SMOOTH_BETA = 0.05  # hpe track --smooth's One-Euro beta (bench/tracking.py, row v')


# ------------------------------------------------------------------ export

def cmd_export(args: argparse.Namespace) -> int:
    images = args.images or shipped_images()
    if not images:
        _err("no calibration images: pass --images IMG ...")
        return 2
    if (args.out is None) == (args.target is None):
        _err("give the output once: hpe export --format FMT OUT (or --out OUT)")
        return 2
    out = args.out or args.target
    if args.ort_dist and args.format != "web":
        _err("--ort-dist is for --format web")
        return 2
    log = (lambda _m: None) if args.quiet else print
    try:
        if args.format == "web":
            site = export_web(args.weights, out, images, ort=args.ort_dist, overwrite=args.overwrite, log=log)
            ok = site.parity.ok
        else:
            ok = export(args.weights, args.format, out, images, overwrite=args.overwrite, log=log).ok
    except (WeightsError, FileExistsError, InputError, WebExportError) as e:
        _err(str(e))
        return 2
    except RuntimeError as e:
        _err(str(e))
        return 1
    if not args.quiet:
        print(f"wrote {out}" + (f"; serve it with: python -m http.server -d {out}" if args.format == "web" else ""))
    return 0 if ok else 1


# ------------------------------------------------------------------ serve

def cmd_serve(args: argparse.Namespace) -> int:
    try:
        serve(args.host, args.port, weights=args.weights, backend=args.backend, device=args.device,
              limits=Limits(int(args.max_upload_mb * 1024 * 1024), int(args.max_megapixels * 1e6)), concurrency=args.concurrency,
              web_site=None if args.no_browser else (args.web_site or "auto"),
              detector=None if args.detector == "none" else args.detector)
    except (WeightsError, InputError) as e:
        _err(str(e))
        return 2
    return 0


# ------------------------------------------------------------------ main

BACKEND_HELP = ("engine: auto (default, or $HPE_BACKEND: the fastest that matches fp32 here, measured when the work "
                "repays it and cached) or one of " + ", ".join(ENGINES))
SCALES_HELP = ("test scales: crop S times the padded box and average the heatmaps, e.g. --scales 1 1.2 "
               "(each costs one more pass; default: 1)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpe", description="Simple Baselines human pose estimation.")
    sub = p.add_subparsers(dest="command", required=True)

    pr = sub.add_parser("predict", help="predict keypoints on images and draw the skeleton")
    pr.add_argument("images", nargs="+", help="image files (JPEG, PNG, WebP, …)")
    pr.add_argument("--weights", default="default", help="registry name, checkpoint path or URL (default: %(default)s)")
    pr.add_argument("--boxes", help="JSON mapping each image path (as given) to a list of [x, y, w, h] person boxes "
                    "(each yields one person; images not in it go to the detector)")
    pr.add_argument("--detector", default="default", metavar="NAME",
                    help=f"finds the people of images without boxes: {DETECTOR_SPECS}; none poses the whole image "
                         f"as one person (default: %(default)s, the shipped {DEFAULT_DETECTOR})")
    pr.add_argument("--max-people", type=int, default=MAX_PEOPLE, metavar="N",
                    help="pose at most the N most confident people a detector finds (default: %(default)s)")
    pr.add_argument("--no-flip", action="store_true", help="skip the flip test (faster, slightly less accurate)")
    pr.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S", help=SCALES_HELP)
    pr.add_argument("--threshold", type=float, default=SCORE_THRESHOLD,
                    help="hide joints scoring below this when drawing (default: %(default)s)")
    pr.add_argument("--json", help="write one record per image to this file")
    pr.add_argument("--out", help="write overlay images (<name>_pose.png) to this folder")
    pr.add_argument("--input-size", type=_parse_size, help="network input as HxW, e.g. 256x192 (bare checkpoints)")
    pr.add_argument("--color-order", choices=["rgb", "bgr"], help="input colour order of a bare checkpoint (default: rgb)")
    pr.add_argument("--box-padding", type=float,
                    help="crop = person box (or whole image) x this (default: the weights' own; 1.25 for bare checkpoints)")
    pr.add_argument("--backend", choices=BACKEND_CHOICES, metavar="ENGINE",
                    help=BACKEND_HELP + "; exported files (.onnx, .torchscript) run in their own runtime")
    pr.add_argument("--remeasure", action="store_true",
                    help="auto: measure the engines now, even for a few images (e.g. after a hardware change)")
    pr.add_argument("-v", "--verbose", action="store_true", help="say which engine runs, auto's table, and per-stage times")
    pr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default: %(default)s)")
    pr.add_argument("--overwrite", action="store_true", help="replace existing output files")
    pr.add_argument("-q", "--quiet", action="store_true")
    pr.set_defaults(func=cmd_predict)

    tr = sub.add_parser("track", help="track people through a video: an annotated MP4 and one JSON record per frame")
    tr.add_argument("source", metavar="VIDEO|FOLDER|CAMERA",
                    help="a video file (anything FFmpeg reads), a folder of images (in name order) or a camera index (0)")
    tr.add_argument("--weights", default="default", help="registry name, checkpoint path or URL (default: %(default)s)")
    tr.add_argument("--backend", choices=BACKEND_CHOICES, metavar="ENGINE", help=BACKEND_HELP)
    from .track import DETECT_EVERY  # here, not at the top: the module's imports are shared

    tr.add_argument("--boxes", metavar="FIRST.json",
                    help="the first frame's people as a JSON list of [x, y, w, h]: each one is a person in frame 0, "
                         "however weak its pose, beside the detector's (a detector box on one of them is that person "
                         "again and is dropped); with --detector none, optical flow alone carries them on (default: "
                         "the detector's people; with --detector none, the whole frame as one person)")
    tr.add_argument("--detector", default="default", metavar="NAME",
                    help=f"finds the people: {DETECTOR_SPECS} (default: %(default)s, the shipped "
                         f"{DEFAULT_DETECTOR}: offline, ~25 ms a frame on 2 cores). torchvision[:NAME] is a Faster "
                         "R-CNN downloaded on first use, module:function your own (frame -> (boxes [x, y, w, h] "
                         "(N, 4), scores (N,))); none: only --boxes or the whole first frame, then optical flow. "
                         "Frame 0 keeps the people from the detector's own score threshold (CenterNet's), later "
                         "frames from 0.5 (the paper's)")
    tr.add_argument("--detect-every", type=int, default=DETECT_EVERY, metavar="N",
                    help="run the detector on every N-th frame (the first included); the previous poses' boxes, "
                         "moved by optical flow, are added in every frame, as in the paper. Default %(default)s: of "
                         "1, 2, 3, 5, 10 the fastest within 0.01 MOTA and 0.02 IDF1 of the best (bench/tracking.py: "
                         "MOTA 0.18 at 1, 0.12 at 2, 0.11 at 3, 0.06 at 10, as people the flow loses wait for the "
                         "next detection); 3 is 1.7x faster (bench/results_tracking.md)")
    tr.add_argument("--flow", choices=[*FLOWS, "none"], default="lk",
                    help="optical flow that carries poses to the next frame (none: match by OKS without flow; "
                         "default: %(default)s)")
    tr.add_argument("--smooth", action="store_true", help="One-Euro filter each track's keypoints (less jitter; "
                    f"beta {SMOOTH_BETA})")
    tr.add_argument("--no-flip", action="store_true", help="skip the flip test (faster, slightly less accurate)")
    tr.add_argument("--out", metavar="annotated.mp4", help="write the video with each track's skeleton and id")
    tr.add_argument("--json", metavar="tracks.json", help="write the tracks: a header and one record per frame")
    tr.add_argument("--overwrite", action="store_true", help="replace existing output files")
    tr.add_argument("--threshold", type=float, default=SCORE_THRESHOLD,
                    help="hide joints scoring below this when drawing (default: %(default)s)")
    tr.add_argument("--min-joints", type=int, default=2, metavar="K",
                    help="a pose counts as a person with K joints at the tracker's joint threshold (default: %(default)s)")
    tr.add_argument("--fps", type=float, help="frame rate of a folder of images (default 25) or a camera")
    tr.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (a camera: or press Ctrl-C)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default: %(default)s)")
    tr.add_argument("-v", "--verbose", action="store_true", help="say which engine runs and why")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=cmd_track)

    w = sub.add_parser("weights", help="list, download, average checkpoints or set their box padding")
    w.add_argument("action", choices=["list", "download", "average", "set"])
    w.add_argument("name", nargs="*", help="download: a registry name; average: two or more checkpoints; set: one")
    w.add_argument("--out", help="average, set: the checkpoint to write")
    w.add_argument("--overwrite", action="store_true", help="average, set: replace --out if it exists")
    w.add_argument("--box-padding", type=float,
                   help="average: store this box padding (default: the first file's); set: the padding to store")
    w.add_argument("-q", "--quiet", action="store_true")
    w.set_defaults(func=cmd_weights)

    t = sub.add_parser("train", help="train a model (resumes from OUT_DIR/last.pt)")
    t.add_argument("--config", help="JSON file with training options; flags override it")
    _add_config_flags(t)
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export", help="export to " + " / ".join([*EXPORT_FORMATS, "web"]) +
                       ", verified against PyTorch first")
    x.add_argument("--format", required=True, choices=[*EXPORT_FORMATS, "web"],
                   help="; ".join(f"{f.name}: {f.summary}" for f in EXPORT_FORMATS.values()) +
                   "; web: a static site (OUT is a folder) running the model in the browser with ONNX Runtime Web")
    x.add_argument("target", nargs="?", metavar="OUT", help="output file (.torchscript or .onnx), or folder for web")
    x.add_argument("--weights", default="default")
    x.add_argument("--out", help="the same as OUT")
    x.add_argument("--ort-dist", metavar="DIR", help=f"onnxruntime-web {ORT_WEB_VERSION}'s dist/ folder (default: "
                   "fetched once with npm pack, checked by SHA-256, cached)")
    x.add_argument("--images", nargs="+", help="real images for calibration and the parity check (default: data/)")
    x.add_argument("--overwrite", action="store_true")
    x.add_argument("-q", "--quiet", action="store_true")
    x.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="REST API + web page (FastAPI/uvicorn)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--weights", default="default")
    sv.add_argument("--backend", choices=BACKEND_CHOICES, metavar="ENGINE",
                    help=BACKEND_HELP + " (auto: starts on torch and measures in the background)")
    sv.add_argument("--device", default="cpu")
    sv.add_argument("--max-upload-mb", type=float, default=10.0)
    sv.add_argument("--max-megapixels", type=float, default=40.0)
    sv.add_argument("--concurrency", type=int, default=2, help="inferences running at once")
    sv.add_argument("--detector", default="default", metavar="NAME",
                    help=f"finds the people of requests without boxes: {DETECTOR_SPECS}; none poses the whole image "
                         "(default: %(default)s)")
    sv.add_argument("--web-site", metavar="DIR", help="a site from hpe export --format web for the page's in-browser "
                    "mode (default: built for the weights on first use, cached)")
    sv.add_argument("--no-browser", action="store_true", help="the page runs the model on this server only")
    sv.set_defaults(func=cmd_serve)

    e = sub.add_parser("eval", help="evaluate weights on a dataset (PCK, PCKh, COCO AP)")
    e.add_argument("--weights", default="default")
    e.add_argument("--dataset", choices=list(DATASETS), default="lsp",
                   help="; ".join(f"{d.name}: {d.summary}" for d in DATASETS.values()) + " (default: %(default)s)")
    e.add_argument("--data", required=True, help="; ".join(f"{d.name}: {d.data}" for d in DATASETS.values()))
    e.add_argument("--images", help="image folder of a json dataset (default: found beside the json)")
    e.add_argument("--range", type=int, nargs=2, metavar=("START", "STOP"),
                   help=f"{', '.join(n for n, d in DATASETS.items() if d.takes_range)}: 0-based image index range")
    e.add_argument("--alpha", type=float, default=0.2, help="PCK threshold as a share of torso size")
    e.add_argument("--no-flip", action="store_true")
    e.add_argument("--flip-shift", type=float, metavar="PX",
                   help="move flipped-back heatmaps this many heatmap pixels right (default: the exact 1 - w/W, "
                        "0.75 at stride 4; the original code used 1)")
    e.add_argument("--refine", choices=list(REFINEMENTS), default="dark",
                   help="sub-pixel step after the argmax (default dark; the original used quarter)")
    e.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S", help=SCALES_HELP)
    e.add_argument("--input-size", type=_parse_size)
    e.add_argument("--box-padding", type=float,
                   help="crop = person box x this (default: the checkpoint's; 1.25 in the original recipe)")
    e.add_argument("--backend", choices=BACKEND_CHOICES, default="torch", metavar="ENGINE",
                   help="engine, as for predict (default: %(default)s, the fp32 reference, so reports compare across "
                        "machines)")
    e.add_argument("--batch-size", type=int, default=32, help="people per engine call (default: %(default)s)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", help="write the report here")
    e.add_argument("--predictions", help="write each sample's keypoints here (the records of hpe predict --json)")
    e.add_argument("--overwrite", action="store_true", help="replace --predictions if it exists")
    e.add_argument("--plot", help="write a per-joint bar chart (PNG) here")
    e.add_argument("-q", "--quiet", action="store_true")
    e.set_defaults(func=cmd_eval)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "weights" and args.action == "download" and not args.name:
        _err("weights download needs a NAME (see 'hpe weights list')")
        return 2
    return int(args.func(args))


__all__ = ["build_parser", "main"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
