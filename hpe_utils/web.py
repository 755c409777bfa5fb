"""The browser deployment: a static site that runs the model client-side with ONNX Runtime Web.

``hpe export --format web OUT_DIR`` writes ``index.html``, ``app.js`` and ``pose.js`` (the page and its
pipeline, from ``hpe_utils/static/web/``, the same files ``hpe serve`` serves), ``meta.json`` (what the
pipeline needs to know about the weights and the detector), ``model.onnx`` (fp32, verified against PyTorch like
every export) and, where it keeps parity, ``model.fp16.onnx``, ``detector.onnx`` (the shipped CenterNet person
detector, checked by SHA-256, so the page poses every person in a photo as Predictor does; ``detector=False``
leaves it out and the page poses the whole image), plus ONNX Runtime Web's runtime under ``ort/``, taken from
the npm registry's ``onnxruntime-web`` package at a pinned version and checked by SHA-256 (or from a folder the
user gives), so the site needs no CDN and works offline once loaded.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import inspect
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import centernet
from .errors import InputError
from .download import sha256_file
from .export import export, reference_heatmaps
from .files import cache_dir, shipped_images
from .flip import mirror_shift
from .formats import onnx_session
from .images import DEFAULT_MAX_PIXELS
from .parity import ParityReport, compare_heatmaps
from .predictor import MIN_JOINTS, POSE_NMS_OKS
from .skeletons import Skeleton
from .tracking import OKS_SIGMAS, pose_nms
from .transforms import IMAGENET_MEAN, IMAGENET_STD, PIXEL_STD
from .viz import SCORE_THRESHOLD
from .weights import LoadedWeights, load_weights

ORT_WEB_VERSION = "1.30.0"  # onnxruntime-web on the npm registry; bump together with its hash
ORT_WEB_SHA256 = "d2228df7e4616bc3348bf504ee888f3bec43789a273f0a63f3e68d203ce3bf71"  # of `npm pack`'s tarball
# the wasm backend only: the UMD script (global `ort`), its loader module and the SIMD+threads binary
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "app.js", "pose.js")  # hpe_utils/static/web/: the page, shared with hpe serve
FP16_MAX_MOVED = 0.01  # the fp16 model ships only if at most 1% of joints move > 1 heatmap pixel vs PyTorch
META_FORMAT = "hpe-web/1"
DETECTOR_FILE = "detector.onnx"  # the shipped person detector (centernet.CENTERNET) under the site's name for it
# webcam: the detector runs on the first frame, whenever tracking from the previous poses lost everyone, and every
# this many frames (new people enter; a tracked box that slid onto a part of someone is replaced): 10 frames cost
# about one detector run per second of video at the page's frame rates, a tenth of what it would cost every frame
REDETECT_EVERY = 10
# what a host sends so the page is cross-origin isolated, which WebAssembly threads need (deploy/static-site.md)
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


class WebExportError(RuntimeError):
    """The site cannot be built (no runtime to bundle, a tampered download): the message says what to do."""


@dataclass
class WebSite:
    """What ``export_web`` wrote and measured."""

    out_dir: Path
    parity: ParityReport
    fp16: ParityReport | None
    files: dict[str, int] = field(default_factory=dict)  # relative path -> bytes

    def __str__(self) -> str:
        lines = [f"wrote {self.out_dir}: {sum(self.files.values()) / 1e6:.1f} MB in {len(self.files)} files",
                 f"  fp32: {self.parity}"]
        if self.fp16 is not None:
            lines.append(f"  fp16: {self.fp16} -> {'shipped' if 'model.fp16.onnx' in self.files else 'not shipped'}")
        lines += [f"  {name:36s} {size / 1e6:7.2f} MB" for name, size in sorted(self.files.items())]
        return "\n".join(lines)


def page_files() -> dict[str, str]:
    """The page's own files (name -> text), as the package ships them."""
    root = resources.files("hpe_utils").joinpath("static/web")
    return {name: root.joinpath(name).read_text(encoding="utf-8") for name in PAGE_FILES}


def _check_dist(folder: Path) -> Path:
    """``folder`` (or its ``dist/``) when it holds every runtime file the site needs."""
    for candidate in (folder, folder / "dist", folder / "package" / "dist"):
        if all((candidate / f).is_file() for f in ORT_FILES):
            return candidate
    missing = [f for f in ORT_FILES if not (folder / f).is_file()]
    raise WebExportError(f"{folder} is not onnxruntime-web's dist/ folder: it lacks {', '.join(missing)}")


def _ort_cache() -> Path:
    return cache_dir() / f"onnxruntime-web-{ORT_WEB_VERSION}"


def ort_cached() -> Path | None:
    """The cached runtime folder, or None when it has not been fetched yet (offline runs check this first)."""
    cached = _ort_cache()
    return cached if all((cached / f).is_file() for f in ORT_FILES) else None


def ort_dist(given: str | os.PathLike | None = None, *, log: Callable[[str], None] = print) -> Path:
    """The folder holding ONNX Runtime Web's files: ``given``, else the cache, else fetched with ``npm pack``.

    The tarball is checked against :data:`ORT_WEB_SHA256` before anything is unpacked; the cache is filled
    atomically (a half-unpacked folder is never left under the cache's name).
    """
    if given is not None:
        return _check_dist(Path(given).expanduser())
    cached = ort_cached()
    if cached is not None:
        return cached
    cached = _ort_cache()
    npm = shutil.which("npm")
    how = (f"pass --ort-dist DIR with the dist/ folder of onnxruntime-web {ORT_WEB_VERSION} (from `npm pack "
           f"onnxruntime-web@{ORT_WEB_VERSION}` on a machine that reaches the npm registry)")
    if npm is None:
        raise WebExportError(f"npm is not installed, so onnxruntime-web cannot be fetched: install Node.js, or {how}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".ort-web-") as tmp:
        log(f"fetching onnxruntime-web {ORT_WEB_VERSION} with npm (about 33 MB, once; cached in {cached.parent})")
        try:
            done = subprocess.run([npm, "pack", f"onnxruntime-web@{ORT_WEB_VERSION}", "--silent", "--pack-destination",
                                   tmp], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise WebExportError(f"npm pack timed out after 10 minutes: {how}") from None
        tarball = Path(tmp) / f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
        if done.returncode != 0 or not tarball.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise WebExportError(f"npm could not fetch onnxruntime-web {ORT_WEB_VERSION} ({last}): {how}")
        digest = sha256_file(tarball)
        if digest != ORT_WEB_SHA256:
            raise WebExportError(f"onnxruntime-web {ORT_WEB_VERSION}'s tarball has SHA-256 {digest}, expected "
                                 f"{ORT_WEB_SHA256}: refusing a changed or tampered package")
        staged = Path(tmp) / "dist"
        staged.mkdir()
        with tarfile.open(tarball) as tar:
            for name in ORT_FILES:
                member = tar.extractfile(f"package/dist/{name}")
                if member is None:
                    raise WebExportError(f"onnxruntime-web {ORT_WEB_VERSION} has no dist/{name}")
                (staged / name).write_bytes(member.read())
        try:
            staged.rename(cached)
        except OSError:  # another process filled the cache first: use theirs
            if not all((cached / f).is_file() for f in ORT_FILES):
                raise
    return cached


def is_site(folder: Path) -> bool:
    """True for a folder this exporter wrote (so --overwrite may replace it, and nothing else)."""
    try:
        return json.loads((folder / "meta.json").read_text()).get("format") == META_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def skeleton_record(sk: Skeleton) -> dict[str, Any]:
    """meta.json's skeleton: joint names, limbs, and their colours as CSS hex (what the page draws with)."""
    def hexes(colours: Sequence[tuple[int, int, int]]) -> list[str]:
        return ["#%02x%02x%02x" % c for c in colours]

    return {"name": sk.name, "joints": list(sk.joints), "limbs": [list(limb) for limb in sk.limbs],
            "colors": hexes(sk.limb_colours()), "joint_colors": hexes(sk.joint_colours())}


def _tensor_names(path: Path) -> tuple[str, str]:
    """The detector graph's (input, output) tensor names, read from the file so the page never guesses them."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return graph.input[0].name, graph.output[0].name


def detector_metadata(model: centernet.ShippedModel | None = None) -> dict[str, Any]:
    """meta.json's ``detector``: the file and centernet.py's own constants, so the page decodes as Python does."""
    model = model or centernet.CENTERNET
    path = centernet.check_model_file(model)
    inp, out = _tensor_names(path)
    return {"model": DETECTOR_FILE, "name": model.name, "sha256": model.sha256,
            "input": {"name": inp, "size": centernet.INPUT_SIZE},  # (1, size, size, 3) RGB 0..255, letterboxed
            "output": {"name": out},  # (1, 100, 6): [x1, y1, x2, y2, score, class] in input pixels
            "person_class": centernet.PERSON_CLASS, "score_threshold": centernet.SCORE_THRESHOLD,
            "nms_iou": centernet.NMS_IOU, "max_people": centernet.MAX_PEOPLE, "redetect_every": REDETECT_EVERY}


def pose_nms_metadata(sk: Skeleton) -> dict[str, Any] | None:
    """meta.json's ``pose_nms``: Predictor's duplicate removal among detected people (None: no OKS sigmas)."""
    if sk.name not in OKS_SIGMAS:
        return None
    joint = inspect.signature(pose_nms).parameters["joint_threshold"].default  # what Predictor calls it with
    return {"oks": float(POSE_NMS_OKS), "joint_threshold": float(joint),
            "sigmas": [float(v) for v in OKS_SIGMAS[sk.name]]}


def web_metadata(lw: LoadedWeights, *, fp16: bool, detector: bool = True) -> dict[str, Any]:
    """meta.json: everything the page's pipeline must know to do what Predictor does."""
    w, h = lw.input_size
    hw, hh = w // 4, h // 4
    return {
        "format": META_FORMAT, "model": "model.onnx", "model_fp16": "model.fp16.onnx" if fp16 else None,
        "input": {"name": "images", "width": w, "height": h, "color_order": lw.color_order,
                  "mean": [float(v) for v in IMAGENET_MEAN], "std": [float(v) for v in IMAGENET_STD]},
        "output": {"name": "heatmaps", "width": hw, "height": hh},
        "sigma": float(lw.sigma), "refine": "dark", "box_padding": float(lw.box_padding), "pixel_std": PIXEL_STD,
        "flip": {"permutation": [int(i) for i in lw.skeleton.flip_permutation()], "shift": mirror_shift(w, hw)},
        "skeleton": skeleton_record(lw.skeleton),
        "score_threshold": SCORE_THRESHOLD, "max_image_pixels": DEFAULT_MAX_PIXELS, "ort_version": ORT_WEB_VERSION,
        "min_joints": MIN_JOINTS, "detector": detector_metadata() if detector else None,
        "pose_nms": pose_nms_metadata(lw.skeleton), "source": str(lw.source),
    }


def _fp16_candidate(fp32: Path, out: Path, lw: LoadedWeights, x: np.ndarray, ref: np.ndarray) -> ParityReport:
    """Convert to fp16 (float32 inputs and outputs kept) and measure it against PyTorch on the real crops."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    onnx.save(model, str(out))
    got = onnx_session(out).run(None, {"images": x})[0]
    return compare_heatmaps(ref, got, lw.input_size, "onnx-fp16 (web)", float("inf"), FP16_MAX_MOVED)


def export_web(weights: str | os.PathLike | LoadedWeights, out_dir: str | os.PathLike, images: Sequence[Any], *,
               ort: str | os.PathLike | None = None, overwrite: bool = False, fp16: bool = True,
               detector: bool = True, log: Callable[[str], None] = print) -> WebSite:
    """Write the static site for ``weights`` to ``out_dir`` (verified on ``images``); atomic, never half-written.

    ``detector`` ships the person detector (8.1 MB) so the page poses everyone; False: the whole image, one person.
    """
    out = Path(out_dir)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace it")
        if not is_site(out):
            raise FileExistsError(f"{out} is not a site written by hpe export (no {META_FORMAT} meta.json): not "
                                  "replacing it, choose another folder")
    if not images:
        raise InputError("the web export needs at least one real image to verify against")
    dist = ort_dist(ort, log=log)  # first: fail before minutes of exporting when the runtime is missing
    detector_meta = detector_metadata() if detector else None  # checks its SHA-256, also before any export work
    lw = weights if isinstance(weights, LoadedWeights) else load_weights(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        site = Path(tmp) / "site"
        (site / "ort").mkdir(parents=True)
        x, ref = reference_heatmaps(lw, images)  # once, for the fp32 and the fp16 checks
        parity = export(lw, "onnx", site / "model.onnx", images, log=log, reference=(x, ref))
        fp16_report = None
        if fp16:
            fp16_report = _fp16_candidate(site / "model.onnx", site / "model.fp16.onnx", lw, x, ref)
            log(str(fp16_report))
            if not fp16_report.ok:
                (site / "model.fp16.onnx").unlink()
        shipped16 = (site / "model.fp16.onnx").exists()
        meta = web_metadata(lw, fp16=shipped16, detector=False)
        if detector_meta is not None:  # the copy is checked, not only its source: what the page loads is the shipped file
            shutil.copyfile(centernet.CENTERNET.file(), site / DETECTOR_FILE)
            if sha256_file(site / DETECTOR_FILE) != detector_meta["sha256"]:
                raise WebExportError(f"the copy of the person detector in {site} differs from the shipped file")
            meta["detector"] = detector_meta
        (site / "meta.json").write_text(json.dumps(meta, indent=1))
        for name, text in page_files().items():
            (site / name).write_text(text, encoding="utf-8")
        for name in ORT_FILES:
            shutil.copyfile(dist / name, site / "ort" / name)
        files = {str(p.relative_to(site)): p.stat().st_size for p in sorted(site.rglob("*")) if p.is_file()}
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        site.rename(out)
    report = WebSite(out, parity, fp16_report, files)
    log(str(report))
    return report


@contextmanager
def serve_site(folder: str | os.PathLike, *, isolate: bool = True, port: int = 0) -> Iterator[str]:
    """Serve a site folder on 127.0.0.1 in a thread (its URL while the block runs), quietly.

    ``isolate`` sends the cross-origin isolation headers, which give the page WebAssembly threads (without them
    it is what ``python -m http.server`` does: one thread).
    """
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            if isolate:
                for key, value in ISOLATION_HEADERS.items():
                    self.send_header(key, value)
            super().end_headers()

        def log_message(self, *args: Any) -> None:  # no line per request
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True, name="hpe-site").start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def weights_key(lw: LoadedWeights) -> str:
    """A short hash of everything the site depends on: the tensors and the settings meta.json records."""
    h = hashlib.sha256(json.dumps(web_metadata(lw, fp16=False), sort_keys=True, default=str).encode())
    for name, tensor in sorted(lw.model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class BrowserSite:
    """The in-browser site ``hpe serve`` hands its page: a folder given, or one built for its weights on first use.

    Built lazily (the first request for the model starts it, in a background thread; until it is done reads
    raise LookupError with the state) in the download cache, keyed by the weights' hash and the runtime's
    version, so a restart reuses it. ``site=None`` turns in-browser inference off.
    """

    def __init__(self, site: str | os.PathLike | None, weights: Any, *, log: Callable[[str], None] = print) -> None:
        self._log, self._weights = log, weights
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._dir: Path | None = None
        self._state, self._reason = "off", "in-browser inference is off on this server"
        if site is None:
            return
        if site != "auto":
            folder = Path(site)
            if not is_site(folder):
                raise InputError(f"{folder} is not a site written by hpe export --format web")
            self._dir, self._state, self._reason = folder, "ready", f"serving {folder}"
        elif weights is None:
            self._reason = "in-browser inference is off: this server was given a predictor, not weights"
        else:
            self._state, self._reason = "not built", "the in-browser model is built on first use (about a minute, once)"

    def status(self) -> dict[str, Any]:
        """For /health: whether the page can run the model in the browser, and if not, why."""
        with self._lock:
            return {"available": self._state in ("ready", "not built", "building"), "state": self._state,
                    "reason": self._reason}

    def read(self, name: str) -> bytes:
        """A file of the site (``meta.json``, ``model.onnx``, ``ort/…``); LookupError while it is not ready."""
        with self._lock:
            if self._state == "not built":
                self._state, self._reason = "building", "building the in-browser model (about a minute, once)"
                self._thread = threading.Thread(target=self._build, daemon=True, name="hpe-web-site")
                self._thread.start()
            if self._state == "off":
                raise FileNotFoundError(self._reason)
            if self._state != "ready" or self._dir is None:
                raise LookupError(self._reason)
            path = self._dir / name
        if not path.is_file():
            raise FileNotFoundError(f"the site has no {name}")
        return path.read_bytes()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a build started by :meth:`read` ends; True when the site is ready."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status()["state"] == "ready"

    def _build(self) -> None:
        try:
            lw = load_weights(self._weights)
            target = cache_dir() / "web" / f"{weights_key(lw)}-ort{ORT_WEB_VERSION}"
            if not is_site(target):
                try:
                    export_web(lw, target, shipped_images(), log=lambda _m: None)
                except FileExistsError:  # another server built it meanwhile
                    if not is_site(target):
                        raise
            self._log(f"in-browser site ready: {target}")
            with self._lock:
                self._dir, self._state, self._reason = target, "ready", f"serving {target}"
        except Exception as e:  # any failure is reported to the page, not raised in a thread nobody joins
            with self._lock:
                self._state, self._reason = "failed", f"the in-browser model could not be built: {e}"


__all__ = ["DETECTOR_FILE", "REDETECT_EVERY", "BrowserSite", "FP16_MAX_MOVED", "ISOLATION_HEADERS", "ORT_FILES",
           "ORT_WEB_SHA256", "ORT_WEB_VERSION", "PAGE_FILES", "WebExportError", "WebSite", "detector_metadata",
           "export_web", "is_site", "ort_cached", "ort_dist", "page_files", "pose_nms_metadata", "serve_site",
           "skeleton_record", "web_metadata", "weights_key"]
