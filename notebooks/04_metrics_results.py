# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Metrics, results and limits
#
# How is a pose "right"? The paper reports COCO's **AP**, built on the object keypoint similarity (**OKS**), and
# PoseTrack's mAP and MOTA; MPII and LSP use **PCKh** and **PCK**. This notebook builds each from its formula,
# computes it by hand on the default model's own predictions (and checks the COCO numbers against `pycocotools`),
# sets out the paper's tables, and ends with what the method cannot do: what a top-down method owes its detector,
# what each extra person costs, crowds, and the floor that a stride-4 heatmap puts under the error.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights) and installs the package;
# locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %%
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

from hpe_utils import Predictor, read_image
from hpe_utils.skeletons import COCO17, MPII16
from hpe_utils.tracking import OKS_SIGMAS

# %% [markdown]
# ## OKS: how close is a pose?
# COCO compares a predicted pose with a true one joint by joint. For joint i at distance dᵢ from the truth, the
# similarity is an unnormalised Gaussian,
#
# exp(−dᵢ² / (2 s² kᵢ²)),  with s² = the person's area (COCO's segment area, in px²) and kᵢ = 2σᵢ,
#
# and **OKS is its mean over the joints the truth labels** (COCO's visibility v > 0: v = 1 labelled but hidden,
# v = 2 visible). The area makes OKS independent of the person's size: the same OKS for the same error relative to
# the body. σᵢ makes it fair to each joint: COCO measured it as the spread of independent annotations of that
# joint relative to the person's size, so a joint people agree on precisely must be predicted precisely, and a
# joint that is only vaguely defined is forgiven more. The 17 values are pycocotools' `kpt_oks_sigmas`, which the
# library keeps in `hpe_utils.tracking.OKS_SIGMAS` (the tracker of notebook 10 uses them too):

# %%
# NBVAL_CHECK_OUTPUT
SIGMAS = OKS_SIGMAS["coco17"]  # one per COCO-17 joint, in COCO17.joints order
for name, sigma in sorted(zip(COCO17.joints, SIGMAS), key=lambda p: p[1]):
    print(f"{name:15s} σ = {sigma:.3f}")

# %% [markdown]
# The eyes (0.025) and the nose are the tightest: small, sharp landmarks that every annotator clicks on within a
# pixel or two. The hips (0.107) are the loosest: a point inside the body, under clothing, that annotators place
# far apart. Knees, ankles and shoulders lie in between. The same pixel error therefore costs a lot at an eye and
# little at a hip. Below, one person of the size of the man in `coco_000000234748.jpg` (area 7441 px²):

# %%
AREA = 7441.0  # px², the COCO segment area of the man in data/samples/coco_000000234748.jpg
d = np.linspace(0, 40, 201)  # pixel error
fig, ax = plt.subplots(figsize=(7, 3.8))
for joint in ("left_eye", "left_wrist", "left_shoulder", "left_hip"):
    k = 2 * SIGMAS[COCO17.index(joint)]
    ax.plot(d, np.exp(-d**2 / (2 * AREA * k**2)), label=f"{joint.split('_')[1]} (σ = {k / 2:.3f})")
for t, style in ((0.5, ":"), (0.75, "--")):
    ax.axhline(t, color="grey", ls=style, lw=1, label=f"similarity {t}")
ax.set(title=f"One joint's similarity against its pixel error (person area {AREA:.0f} px²)", xlabel="error d (px)",
       ylabel="exp(−d² / (2 s² k²))", ylim=(0, 1.02))
ax.legend(fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for joint in ("left_eye", "left_wrist", "left_shoulder", "left_hip"):
    k = 2 * SIGMAS[COCO17.index(joint)]
    half = k * np.sqrt(AREA) * np.sqrt(2 * np.log(2))  # the error at which this joint's similarity is 0.5
    print(f"{joint:14s} similarity 0.5 at {half:4.1f} px, 0.75 at {k * np.sqrt(AREA) * np.sqrt(2 * np.log(4 / 3)):4.1f} px")

# %% [markdown]
# For this person an eye must be within 5.1 px to score 0.5, a hip may be 21.7 px off. OKS averages such terms, so
# one pose gets one number between 0 (every joint far off) and 1 (every joint exact).

# %% [markdown]
# ## AP and AR, as pycocotools computes them
# A detection is a pose with a score (here: the mean of its joints' heatmap maxima). COCO then
#
# 1. **ranks each image's detections by score**, highest first, and lets each one in turn take the unmatched true
#    person it overlaps most, provided their OKS is at least the threshold t; a detection that finds none is a
#    false positive, a person no detection took is a miss;
# 2. **pools every image's detections**, ranks them by score again, and walks down the list: after each one,
#    recall = matches so far / true people and precision = matches so far / detections so far;
# 3. makes precision **non-increasing from the right** (each point takes the best precision at that recall or
#    more) and reads it at the **101 recall points** 0, 0.01, …, 1 (0 where recall never gets there): their mean
#    is **AP at t**;
# 4. repeats for t = 0.50, 0.55, …, 0.95: **AP** is the mean of the ten, AP50 and AP75 are two of them, and **AR**
#    is the mean over t of the final recall.
#
# The worked example: the default model on the course's four COCO photos (three of one person, and the group
# photo of four), with their COCO annotations. The model predicts MPII's 16 joints, COCO has 17, and the two share
# the 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles), so the face points are set unlabelled and
# OKS runs over the limbs, as in `bench/results_teachers.md`. The group photo's json has no segment area, so its
# people get their box's w·h as area, which makes OKS there a little more forgiving than COCO's segment area would.

# %%
coco = json.loads((DATA / "samples" / "coco_keypoints.json").read_text())
group = json.loads((DATA / "group_photo_coco_000000000790.json").read_text())
images = [{**im, "path": DATA / "samples" / im["file_name"]} for im in coco["images"]]
images.append({"id": 790, "file_name": group["image"], "width": group["width"], "height": group["height"],
               "path": DATA / group["image"]})
truths = list(coco["annotations"]) + [
    {"id": 7900 + i, "image_id": 790, "category_id": 1, "iscrowd": 0, "bbox": p["bbox"], "area": p["bbox"][2] * p["bbox"][3],
     "keypoints": p["keypoints"], "num_keypoints": p["num_keypoints"]} for i, p in enumerate(group["people"])]
for t in truths:  # the face points unlabelled: OKS over the 12 limb joints
    kp = np.array(t["keypoints"], dtype=float).reshape(17, 3)
    kp[:5] = 0
    t["keypoints"], t["num_keypoints"] = kp.reshape(-1).tolist(), int((kp[:, 2] > 0).sum())
limb_from_mpii = [MPII16.index(("l_" if n.startswith("left") else "r_") + n.split("_", 1)[1]) for n in COCO17.joints[5:]]

predictor = Predictor("default", device=DEVICE, backend="torch", progress=False)


def detections(image_id, people):
    """COCO results records: the 12 limb joints from MPII's, face points at 0 (not scored), score = mean limb score."""
    out = []
    for p in people:
        kp = np.zeros((17, 3))
        kp[5:, :2], kp[5:, 2] = p.keypoints[limb_from_mpii], p.scores[limb_from_mpii]
        out.append({"image_id": image_id, "category_id": 1, "keypoints": kp.reshape(-1).tolist(),
                    "score": float(p.scores[limb_from_mpii].mean())})
    return out


found = {}  # image id -> the predictor's people, boxes from the shipped detector
dets = []
for im in images:
    found[im["id"]] = predictor(read_image(im["path"])).people
    dets += detections(im["id"], found[im["id"]])

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(images)} photos, {len(truths)} annotated people, {sum(t['num_keypoints'] for t in truths)} labelled "
      f"limb joints; the detector's boxes gave {len(dets)} detections")

# %% [markdown]
# Step 1 by hand, in numpy: the OKS of every detection with every true person of the same photo, and the greedy
# match.

# %%
def oks_table(dets, truths):
    """(detections, truths) OKS, COCO's formula: mean over the truth's labelled joints of exp(-d² / (2 s² (2σ)²))."""
    out = np.zeros((len(dets), len(truths)))
    for j, t in enumerate(truths):
        g = np.asarray(t["keypoints"], dtype=float).reshape(17, 3)
        labelled = g[:, 2] > 0
        for i, p in enumerate(dets):
            d2 = ((np.asarray(p["keypoints"]).reshape(17, 3)[:, :2] - g[:, :2]) ** 2).sum(1)
            out[i, j] = np.exp(-d2 / (2 * t["area"] * (2 * SIGMAS) ** 2))[labelled].mean()
    return out


def match(dets, truths, threshold):
    """Each detection in score order takes the unmatched truth of highest OKS >= threshold: (scores, hit flags)."""
    ranked = sorted(dets, key=lambda p: -p["score"])  # sorted() is stable: ties keep their order
    table = oks_table(ranked, truths)
    taken, hits = set(), []
    for row in table:
        free = [j for j in range(len(truths)) if j not in taken and row[j] >= threshold]
        best = max(free, key=lambda j: row[j], default=None)
        if best is not None:
            taken.add(best)
        hits.append(best is not None)
    return [p["score"] for p in ranked], hits


in_image = lambda items, i: [x for x in items if x["image_id"] == i]  # noqa: E731
table = oks_table(sorted(in_image(dets, 790), key=lambda p: -p["score"]), in_image(truths, 790))
fig, ax = plt.subplots(figsize=(4.6, 3.6))
im = ax.imshow(table, vmin=0, vmax=1, cmap="viridis")
for (r, c), v in np.ndenumerate(table):
    ax.text(c, r, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=9)
ax.set(title="Group photo: OKS of each detection with each person", xlabel="annotated person",
       ylabel="detection, by score (highest on top)", xticks=range(table.shape[1]), yticks=range(table.shape[0]))
fig.colorbar(im, ax=ax, shrink=0.8, label="OKS")
plt.show()

# %% [markdown]
# Steps 2–4: pool, rank, accumulate, read the envelope at 101 recall points, for each threshold. The library's
# `hpe_utils.metrics.average_precision` does these steps for one threshold (exercise 4.2 has you write it). The
# curves show the raw precision and its envelope at t = 0.5.

# %%
from hpe_utils.metrics import COCO_RECALL_THRESHOLDS as RECALL_POINTS, average_precision

THRESHOLDS = np.linspace(0.5, 0.95, 10)  # 0.50, 0.55, ..., 0.95


def pooled(dets, truths, threshold):
    """Every image's detections matched at ``threshold``, pooled: (scores, hit flags)."""
    scores, hits = [], []
    for im in images:
        s, h = match(in_image(dets, im["id"]), in_image(truths, im["id"]), threshold)
        scores += s
        hits += h
    return np.array(scores), np.array(hits, dtype=bool)


def precision_recall(dets, truths, threshold):
    """The pooled matches ranked by score: (recall, precision, precision envelope) after each detection."""
    scores, hits = pooled(dets, truths, threshold)
    tp = np.cumsum(hits[np.argsort(-scores, kind="mergesort")])  # pycocotools' stable sort
    recall, precision = tp / len(truths), tp / np.arange(1, len(tp) + 1)
    return recall, precision, np.maximum.accumulate(precision[::-1])[::-1]


def ap_ar(dets, truths):
    """COCO's AP (mean over thresholds of the 101-point AP), AP50, AP75 and AR, from the matches made by hand.

    Steps 2-4 for one threshold are `hpe_utils.metrics.average_precision` (exercise 4.2 writes it)."""
    aps, ars = [], []
    for t in THRESHOLDS:
        scores, hits = pooled(dets, truths, t)
        aps.append(average_precision(scores, hits, len(truths)))
        ars.append(hits.sum() / len(truths))  # the final recall
    return {"AP": np.mean(aps), "AP50": aps[0], "AP75": aps[5], "AR": np.mean(ars)}


recall, precision, envelope = precision_recall(dets, truths, 0.5)
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.step(recall, precision, where="post", marker="o", label="precision after each detection")
ax.step(recall, envelope, where="post", ls="--", label="envelope (non-increasing from the right)")
at = np.searchsorted(recall, RECALL_POINTS, side="left")
ax.plot(RECALL_POINTS, np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)], 0.0), ".", ms=3,
        label="read at 101 recall points (mean = AP50)")
ax.set(title="Precision against recall at OKS 0.5", xlabel="recall", ylabel="precision", xlim=(-0.02, 1.02),
       ylim=(-0.02, 1.05))
ax.legend(fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
by_hand = ap_ar(dets, truths)
print("by hand:     " + "  ".join(f"{k} {v:.3f}" for k, v in by_hand.items()))
try:
    import pycocotools  # noqa: F401  the [eval] extra; Colab has it

    from hpe_utils.metrics import coco_oks_ap

    gt_file = Path(tempfile.mkdtemp()) / "truths.json"
    gt_file.write_text(json.dumps({"images": [{k: v for k, v in im.items() if k != "path"} for im in images],
                                   "annotations": truths, "categories": coco["categories"]}))
    official = coco_oks_ap(dets, str(gt_file))
    print("pycocotools: " + "  ".join(f"{k} {official[k]:.3f}" for k in by_hand))
except ImportError:
    print("pycocotools is not installed here (pip install 'hpe-workbook[eval]'): the comparison is skipped")
best = [oks_table(in_image(dets, im["id"]), in_image(truths, im["id"])).max(0) for im in images]
print("best OKS of each person:", np.round(np.concatenate(best), 2))
print("final recall at t = 0.50 ... 0.95:", [round(float(precision_recall(dets, truths, t)[0][-1]), 2) for t in THRESHOLDS])

# %% [markdown]
# Where pycocotools is installed the two agree to every digit printed. The numbers are low: a match needs OKS 0.5
# at least, and only two of the seven people get one (0.66 and 0.67; the others stay between 0.25 and 0.45), so
# recall stops at 2/7 = 0.29 up to t = 0.65 and is 0 from t = 0.70 on; AR, the mean of the ten, is 0.114. The model was trained on LSP athletes, 16 joints at 192x192 from scratch; the paper's
# ResNet-50 reaches AP 70.4 on COCO (below).

# %% [markdown]
# ## PCK on LSP, PCKh on the head
# A single person per image, a box given: no detection to rank, so these benchmarks count joints. **PCK@α**: a
# joint is correct when it lies within α x a reference length of the truth. LSP uses α = 0.2 and the **torso
# diameter** (left shoulder to right hip); MPII uses **PCKh@0.5**, α = 0.5 of the **head segment**, which MPII
# estimates as 0.6 x the diagonal of the annotated head box (`hpe_utils.metrics.head_size`):

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.metrics import head_size, pck, torso_diameter

print("head box 30 x 40 px -> head size", head_size(np.array([[0, 0, 30, 40]]))[0], "px (0.6 x the 50 px diagonal)")

# %% [markdown]
# The worked example is on the first 24 people of `data/lsp_sample/`, through `hpe_utils.evaluate` (the code of
# `hpe eval`). These are **training images** of the default model, so the numbers are optimistic; on the 500
# held-out validation people the model card gives PCK@0.2 0.653.

# %%
from hpe_utils.datasets import lsp_samples
from hpe_utils.evaluate import TORSO_PAIRS, predict_dataset, score_pck

lsp = lsp_samples(DATA / "lsp_sample", range(24), "mpii16")
lsp_pred = predict_dataset(predictor, lsp)
pck_torso = score_pck(lsp_pred, MPII16, alpha=0.2)  # pelvis and thorax are derived for LSP: left out
torso = torso_diameter(lsp_pred.gt, lsp_pred.visible, *TORSO_PAIRS["mpii16"])

# %% [markdown]
# LSP has no head box, but it labels both ends of the head segment, the neck and the top of the head, so here the
# head size is measured directly: the distance from upper neck to head top. This is PCKh's idea on LSP's labels,
# not MPII's benchmark number.

# %%
neck, top = MPII16.index("upper_neck"), MPII16.index("head_top")
both = (lsp_pred.visible[:, neck] > 0) & (lsp_pred.visible[:, top] > 0)
head = np.where(both, np.linalg.norm(lsp_pred.gt[:, top] - lsp_pred.gt[:, neck], axis=1), np.nan)
keep = [j for j in range(MPII16.num_joints) if j not in (MPII16.index("pelvis"), MPII16.index("thorax"))]
pck_head = pck(lsp_pred.keypoints[:, keep], lsp_pred.gt[:, keep], lsp_pred.visible[:, keep], head, 0.5,
               [MPII16.joints[j] for j in keep], name="PCKh")
rows = ["| joint | PCK@0.2 (torso) | PCKh@0.5 (head) |", "|---|---:|---:|"]
for j, name in enumerate(pck_torso.joints):
    rows.append(f"| {name} | {pck_torso.per_joint[j]:.2f} | {pck_head.per_joint[j]:.2f} |")
rows.append(f"| **all** | **{pck_torso.mean:.3f}** | **{pck_head.mean:.3f}** |")
Markdown("\n".join(rows))

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(lsp)} people: median torso {np.nanmedian(torso):.1f} px, median head segment {np.nanmedian(head):.1f} px")
print(f"PCK@0.2 {pck_torso.mean:.3f} (limit 0.2 x torso), PCKh@0.5 {pck_head.mean:.3f} (limit 0.5 x head)")

# %% [markdown]
# Half a head is a little longer than a fifth of a torso here (in the median 0.5 x 21.1 = 10.6 px against
# 0.2 x 45.9 = 9.2 px), so PCKh comes out higher for the same predictions: the reference length decides the number
# as much as the model does, which is why results are compared only within one benchmark. A PCK also says nothing
# about how close inside the limit a joint is, and a benchmark of one given box per person says nothing about
# finding people: OKS AP measures both.

# %% [markdown]
# ## What the paper measured
# All numbers below are the paper's (Xiao, Wu, Wei, ECCV 2018). On COCO its poses come from the boxes of a Faster
# R-CNN person detector (person AP 56.4 on val2017, the official code's README), with the flip test. **Table 2**,
# COCO val2017, against the two leading methods of the time (their numbers cited from the CPN paper):

# %%
Markdown("""| method | backbone | input | OHKM | AP |
|---|---|---|:-:|---:|
| 8-stage Hourglass | — | 256x192 | | 66.9 |
| 8-stage Hourglass | — | 256x256 | | 67.1 |
| CPN | ResNet-50 | 256x192 | | 68.6 |
| CPN | ResNet-50 | 384x288 | | 70.6 |
| CPN | ResNet-50 | 256x192 | ✓ | 69.4 |
| CPN | ResNet-50 | 384x288 | ✓ | 71.6 |
| **Simple Baselines** | ResNet-50 | 256x192 | | **70.4** |
| **Simple Baselines** | ResNet-50 | 384x288 | | **72.2** |""")

# %% [markdown]
# Three deconvolutions on a ResNet-50 beat CPN at both input sizes, even CPN with online hard keypoint mining (OHKM,
# a loss on the hardest joints only). **Table 3**, COCO test-dev (the paper also lists leaderboard entries trained on
# extra data, left out here):

# %%
Markdown("""| method | backbone | input | AP | AP50 | AP75 | AP M | AP L | AR |
|---|---|---|---:|---:|---:|---:|---:|---:|
| CMU-Pose (bottom-up) | — | — | 61.8 | 84.9 | 67.5 | 57.1 | 68.2 | 66.5 |
| Mask-RCNN | ResNet-50-FPN | — | 63.1 | 87.3 | 68.7 | 57.8 | 71.4 | — |
| G-RMI | ResNet-101 | 353x257 | 64.9 | 85.5 | 71.3 | 62.3 | 70.0 | 69.7 |
| CPN | ResNet-Inception | 384x288 | 72.1 | 91.4 | 80.0 | 68.7 | 77.2 | 78.5 |
| CPN (ensemble) | ResNet-Inception | 384x288 | 73.0 | 91.7 | 80.9 | 69.5 | 78.1 | 79.0 |
| **Simple Baselines** | ResNet-152 | 384x288 | **73.7** | **91.9** | **81.1** | **70.3** | **80.0** | **79.0** |""")

# %% [markdown]
# A single ResNet-152 model beats CPN's ensemble. **Table 1**, the ablation on COCO val2017 (ResNet-50, 256x192,
# three 4x4 deconvolutions unless the row says otherwise), as a chart:

# %%
ablation = [  # (what changed from the default, AP)
    ("default: ResNet-50, 3 deconv, kernel 4, 256x192", 70.4),
    ("2 deconv layers (heatmap 32x24)", 67.9),
    ("kernel size 2", 70.1),
    ("kernel size 3", 70.3),
    ("ResNet-101", 71.4),
    ("ResNet-152", 72.0),
    ("input 128x96", 60.6),
    ("input 384x288", 72.2),
]
groups = ["default", "head", "head", "head", "backbone", "backbone", "input", "input"]
colours = {"default": "grey", "head": "tab:orange", "backbone": "tab:blue", "input": "tab:green"}
fig, ax = plt.subplots(figsize=(8, 3.8))
ax.barh(range(len(ablation)), [ap for _, ap in ablation], color=[colours[g] for g in groups])
for i, (_, ap) in enumerate(ablation):
    ax.text(ap + 0.2, i, f"{ap:.1f}", va="center", fontsize=8)
ax.set_yticks(range(len(ablation)), [name for name, _ in ablation], fontsize=8)
ax.invert_yaxis()
ax.set(xlim=(55, 75), title="Paper, Table 1: what each choice is worth (COCO val2017)", xlabel="AP")
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c, label=g) for g, c in colours.items()], title="changed",
          fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% [markdown]
# Input size matters most (−9.8 AP at 128x96, +1.8 at 384x288), then the heatmap's resolution (two deconvolutions
# instead of three: −2.5), then depth (+1.0 and +0.6 per step); the deconvolution kernel hardly matters (0.3 AP).
#
# **Pose tracking, PoseTrack 2017.** mAP scores the poses of each frame (per-joint AP with the head-normalised
# distance), MOTA the tracks (notebook 10). Part of the paper's ablation on the validation set, with the FPN-DCN
# detector (of its rows with the weaker R-FCN detector only the last is repeated here):

# %%
Markdown("""| backbone | detector | boxes from flow | similarity | mAP | MOTA |
|---|---|:-:|---|---:|---:|
| ResNet-50 | R-FCN | ✓ | multi-frame flow OKS | 70.3 | 62.2 |
| ResNet-50 | FPN-DCN | | box IoU | 69.3 | 59.8 |
| ResNet-50 | FPN-DCN | | OKS | 69.3 | 59.7 |
| ResNet-50 | FPN-DCN | ✓ | box IoU | 72.4 | 62.1 |
| ResNet-50 | FPN-DCN | ✓ | OKS | 72.4 | 61.8 |
| ResNet-50 | FPN-DCN | ✓ | flow OKS | 72.4 | 62.4 |
| ResNet-50 | FPN-DCN | ✓ | multi-frame flow OKS | 72.4 | 62.9 |
| **ResNet-152** | FPN-DCN | ✓ | multi-frame flow OKS | **76.7** | **65.4** |""")

# %% [markdown]
# Boxes carried over by optical flow add 3.1 mAP (people the detector missed now get a pose), the flow-based OKS
# similarity adds MOTA, and a better detector helps both (R-FCN against FPN-DCN: 70.3 against 72.4 mAP, 62.2
# against 62.9 MOTA). On the PoseTrack 2017 **test set** the ResNet-152 entry scored mAP 74.6 and MOTA 57.8, ahead
# of the challenge entries the paper compares with.
#
# **Our default model in context.** It is not the paper's model: ResNet-18, 192x192, trained from scratch on LSP on
# a CPU. `bench/results_teachers.md` scores it beside MoveNet (crops from the true boxes, 12 limb joints):

# %%
teachers = (Path(DATA).parent / "bench" / "results_teachers.md")
if teachers.exists():
    lines = teachers.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| model"))
    keep_rows = [lines[head], lines[head + 1]] + [line for line in lines[head + 2:head + 6]
                                                  if line.startswith(("| MoveNet Thunder", "| today's default"))]
    out = Markdown("\n".join("| " + " | ".join(c.strip() for c in r.strip("|").split("|")[:4]) + " |" for r in keep_rows))
else:
    out = Markdown("(`bench/results_teachers.md` ships with the repository)")
out

# %% [markdown]
# On held-out LSP people (the dataset it was trained on) it nearly matches MoveNet Thunder (PCK@0.2 0.624 against
# 0.636); on COCO people it is far behind (OKS AP 0.116 against 0.462): it has never seen COCO's poses, and MoveNet was trained on those very
# photos (the file's caveat).

# %% [markdown]
# ## Limits
# ### A top-down method is only as good as its detector
# Every pose starts from a box. The shipped detector (notebook 05) found all four people of the group photo, so
# here the annotation's own boxes do not help; the OKS of each person moves with the crop, up for some and down
# for others:

# %%
gt_boxes = []  # the same people, cropped from their annotated boxes
for im in images:
    people = predictor(read_image(im["path"]), boxes=[t["bbox"] for t in in_image(truths, im["id"])]).people
    gt_boxes += detections(im["id"], people)
from_gt = ap_ar(gt_boxes, truths)
group_dets = sorted(in_image(dets, 790), key=lambda p: -p["score"])

# %%
# NBVAL_CHECK_OUTPUT
best_det = oks_table(group_dets, in_image(truths, 790)).max(0)
best_gt = oks_table(in_image(gt_boxes, 790), in_image(truths, 790)).diagonal()
print("group photo, OKS per person: best of the detector's poses", np.round(best_det, 2), "| the pose from their own",
      "annotated box", np.round(best_gt, 2))
print("all four photos: detector boxes  " + "  ".join(f"{k} {v:.3f}" for k, v in by_hand.items()))
print("                 annotated boxes " + "  ".join(f"{k} {v:.3f}" for k, v in from_gt.items()))
print("detector scores of the group photo's boxes:", sorted(round(p.box_score, 2) for p in found[790])[::-1])

# %% [markdown]
# The dependence shows when a box is missing. `hpe track` keeps only boxes scoring 0.5 or more after the first frame
# (notebook 10); at that threshold the woman on the right (box score 0.46) gets no box, so no pose, and no OKS
# threshold can find her: in this photo recall can no longer exceed 3/4, whatever the pose network does.

# %%
# NBVAL_CHECK_OUTPUT
kept = [p for p in found[790] if p.box_score >= 0.5]
kept_dets = detections(790, kept)
best_kept = oks_table(kept_dets, in_image(truths, 790)).max(0) if kept_dets else np.zeros(4)
print(f"boxes scoring >= 0.5: {len(kept)} of {len(found[790])}; best OKS per person", np.round(best_kept, 2))

# %% [markdown]
# ### Every person costs one more pass
# The pose network runs once per box (twice with the flip test), so the time grows linearly with the number of
# people; a line through the measurements splits it into a part per call and a part per person. The detector runs
# once per photo, however many people it finds. Measured on this machine (the fastest of 5 calls, the least
# disturbed by other work; the same box repeated, so only the count changes):

# %%
photo = read_image(DATA / group["image"])
box = group["people"][0]["bbox"]
predictor(photo, boxes=[box])  # warm up
rows, counts, totals = ["| people | total (ms) | per person (ms) |", "|---:|---:|---:|"], (1, 2, 4), []
for n in counts:
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        predictor(photo, boxes=[box] * n)
        runs.append((time.perf_counter() - t0) * 1e3)
    totals.append(min(runs))
    rows.append(f"| {n} | {totals[-1]:.0f} | {totals[-1] / n:.0f} |")
slope, intercept = np.polyfit(counts, totals, 1)
rows.append(f"| *a line through them* | *{intercept:.0f} + {slope:.0f} per person* | |")
runs = []
for _ in range(5):
    t0 = time.perf_counter()
    predictor.detect(photo)
    runs.append((time.perf_counter() - t0) * 1e3)
rows.append(f"| *the detector, once per photo* | *{min(runs):.0f}* | |")
Markdown("\n".join(rows))

# %% [markdown]
# In the stored run the part per call is close to zero: nearly all the time is paid per person, four people cost
# four times one. A bottom-up method (OpenPose, CMU-Pose in Table 3) runs its network once per photo, however many
# people are in it, and pays instead in grouping the joints into people; top-down pays per person and gets each
# pose at the crop's full resolution.

# %% [markdown]
# ### Crowds and occlusion
# At the table of the group photo the legs are hidden and the people overlap: the annotators labelled 7 to 11 of the
# 12 limb joints per person, and the crops, padded around each box, take in parts of the neighbours. The model still predicts all 16
# joints in every box; the hidden ones are guesses, and a guess at a labelled but hidden joint counts in OKS.

# %%
from hpe_utils.viz import draw_skeleton

drawn = photo.copy()
for p in found[790]:
    drawn = draw_skeleton(drawn, p.keypoints, p.scores, MPII16, 0.3)
fig, ax = plt.subplots(figsize=(8, 5.4))
ax.imshow(drawn)
for i, t in enumerate(in_image(truths, 790)):
    g = np.array(t["keypoints"]).reshape(17, 3)
    seen = g[:, 2] > 0
    ax.plot(g[seen, 0], g[seen, 1], "w+", ms=9, mew=2, label="annotated limb joint" if i == 0 else None)
    x, y, w, h = t["bbox"]
    ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="white", ls="--", lw=1,
                               label="annotated box" if i == 0 else None))
for p in found[790]:
    x, y, w, h = p.box
    ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="yellow", lw=1.5,
                               label="detector box" if p is found[790][0] else None))
ax.set(title="Group photo: predictions (joints scoring >= 0.3) and the annotation", xlabel="x (px)", ylabel="y (px)")
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
hidden = {name: 0 for name in COCO17.joints[5:]}
for t in in_image(truths, 790):
    g = np.array(t["keypoints"]).reshape(17, 3)
    for j, name in enumerate(COCO17.joints[5:], start=5):
        hidden[name] += g[j, 2] == 0
print("group photo, people with the joint unlabelled:", {k: int(v) for k, v in hidden.items() if v})
print("detector boxes:", len(found[790]), "for", len(in_image(truths, 790)), "annotated people")

# %% [markdown]
# The unlabelled joints are mostly knees and ankles, under the table (and one hip). The detector also boxed a fifth
# "person", the blue cloth on the chair at the left edge (score 0.27): a false positive, one more detection that can
# match nobody.

# %% [markdown]
# ### The stride-4 floor
# The heatmap is 4x coarser than the input (notebook 01). Targets put each Gaussian's peak on the nearest heatmap
# pixel and a plain argmax lands on one (notebook 02), so before any sub-pixel step a joint can be off by half a
# heatmap pixel per axis: **2 input pixels, 2√2 ≈ 2.8 px diagonally**. How much OKS does that floor cost? The crop
# maps input pixels to image pixels in proportion to the person, and OKS divides by the person's size, so **the
# cost is the same for a small person as for a large one**: a person 4x smaller has a 4x smaller floor in image
# pixels and a 4x smaller s. What sets the cost is the input size. For the man of `coco_000000234748.jpg` (box
# 108 x 191 px, area 7441 px²) and for the same man 4x smaller, boxes padded by 1.25 as in the original code, and
# every joint off by the floor:

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.transforms import PIXEL_STD, box_to_center_scale

man = next(t for t in truths if t["image_id"] == 234748)


def floor_oks(w_in, h_in, stride, shrink):
    """Floor in image pixels for the man shrunk `shrink` times, and the OKS of the 12 limbs and of an eye at it."""
    _, scale = box_to_center_scale(np.array(man["bbox"]) / shrink, w_in / h_in, 1.25)
    floor = stride / 2 * np.sqrt(2) * scale[1] * PIXEL_STD / h_in  # half a heatmap pixel per axis, in image pixels
    area = man["area"] / shrink**2
    sim = lambda sigma: np.exp(-floor**2 / (2 * area * (2 * sigma) ** 2))  # noqa: E731
    return floor, sim(SIGMAS[5:]).mean(), sim(SIGMAS[1])


for label, (w_in, h_in), stride, paper in (("128x96, 3 deconv", (96, 128), 4, 60.6), ("256x192, 2 deconv", (192, 256), 8, 67.9),
                                           ("256x192, 3 deconv", (192, 256), 4, 70.4), ("384x288, 3 deconv", (288, 384), 4, 72.2)):
    (f1, o1, e1), (f4, o4, e4) = floor_oks(w_in, h_in, stride, 1), floor_oks(w_in, h_in, stride, 4)
    print(f"{label:18s} floor {f1:3.1f} px (4x smaller: {f4:3.1f} px)  OKS {o1:.3f} ({o4:.3f})  an eye {e1:.2f} "
          f"({e4:.2f})  paper AP {paper}")

# %% [markdown]
# The two sizes of the man give the same OKS. The floor alone costs little at 256x192 (OKS 0.982) and more at
# 128x96 or with a stride-8 heatmap from two deconvolutions (0.929), in the same order as the paper's ablation, and
# the tight face points pay most (an eye: 0.83 and 0.47). The decoders of notebook 02 (the
# quarter-pixel step, DARK) and the unbiased encoding exist to get under this floor. What a small person does lose
# is detail: the crop is enlarged from fewer image pixels than the network's input has.

# %% [markdown]
# ## Exercises
# Write the three measures yourself. Fill in each function, run its cell, then the check under it: it runs your
# function on several cases against the library (`hpe_utils.tracking.oks`, `hpe_utils.metrics.average_precision`,
# `hpe_utils.metrics.pck`) and says what is wrong. `check.hint("ex04_oks")` gives one hint at a time; the worked
# answers are in `notebooks/solutions/04_metrics_results.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 4.1 Warm-up: OKS between a prediction and the truth
# `pose_similarity(kps_true, kps_pred, visible, area, sigmas)` takes two poses (K, 2), COCO's visibility flag v of
# each true joint (K,) (0 unlabelled, 1 labelled but hidden, 2 visible), the person's area in px² and the per-joint
# σ (K,), and returns COCO's OKS: the mean over the labelled joints of exp(-d² / (2 · area · k²)), where d is the
# distance between the two poses' joint and k = 2σ.

# %%
def pose_similarity(kps_true, kps_pred, visible, area, sigmas):
    """COCO's OKS of a prediction (K, 2) against the truth (K, 2), over the labelled joints."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex04_oks(pose_similarity)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex04_oks")

# %% [markdown]
# ### 4.2 Core: AP from ranked detections, COCO's way
# The matching is done: `interpolated_ap(scores, oks, num_gt, threshold=0.5)` takes each detection's score (N,) and
# the OKS with the person the matching gave it (N,) (0 when none), and the number of true people. A detection is a
# match when its OKS >= threshold. Rank by score, highest first (ties keep their given order, as pycocotools'
# stable sort does), compute recall and precision after each detection, make precision non-increasing from the
# right, read it at the 101 recall points 0, 0.01, …, 1 (0 where recall never gets there) and return the mean.
# No detections: AP 0.

# %%
def interpolated_ap(scores, oks, num_gt, threshold=0.5):
    """COCO's AP at one OKS threshold: the precision envelope read at 101 recall points."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex04_ap(interpolated_ap)

# %% [markdown]
# ### 4.3 Core: PCK per joint, from scratch
# `pck_per_joint(pred, gt, visible, norm, alpha=0.2)` takes predictions and truth (N, K, 2) in pixels, visible
# (N, K) (> 0: labelled) and each person's reference length norm (N,) (the torso for LSP, the head segment for
# MPII), and returns an array (K,): for each joint, the share of the people in whom it is labelled whose prediction
# lies within alpha x norm pixels of the truth. Exactly alpha x norm away counts as correct; a person whose norm is
# NaN or <= 0 is skipped; a joint labelled in nobody gets NaN.

# %%
def pck_per_joint(pred, gt, visible, norm, alpha=0.2):
    """Per-joint share of labelled joints within alpha x norm pixels of the truth (NaN where never labelled)."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex04_pck(pck_per_joint)
