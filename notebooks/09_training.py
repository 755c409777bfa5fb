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
# # 09 · Training
#
# A short, real training run with the code that trained the project's default weights (`hpe_utils.train`): it
# fine-tunes those weights on the four images of `data/lsp_sample/` they get most wrong, until it has them
# right, and then checks what that did to the other images. Then how the default weights themselves were made.

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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from hpe_utils import Predictor, TrainConfig
from hpe_utils.datasets import lsp_samples
from hpe_utils.evaluate import DatasetPredictions, predict_dataset, score_pck
from hpe_utils.images import read_image
from hpe_utils.skeletons import get_skeleton
from hpe_utils.train import train
from hpe_utils.transforms import PIXEL_STD
from hpe_utils.viz import draw_skeleton, plot_loss_curve, plot_side_by_side

torch.set_num_threads(2)  # as the training run below: the same numbers on every run of this notebook
SK = get_skeleton("mpii16")
DEFAULT = DATA.parent / "weights" / "hpe_default.pt"  # the embedded default: ResNet-18, 192x192 input
images = lsp_samples(DATA / "lsp_sample", range(48), "mpii16")  # LSP-extended im00001-im00048, their labels

# %% [markdown]
# ## What the network sees: augmentation
# Every epoch each image is cropped anew: random scale, a rotation 60% of the time and a mirror half the time
# (left and right joints swap, so the targets follow the body). The heatmap targets are drawn over the crops.

# %%
from hpe_utils.codec import HeatmapCodec
from hpe_utils.datasets import AugmentConfig, TopDownDataset
from hpe_utils.viz import plot_augmentations

original = TopDownDataset(images[:8], "mpii16", HeatmapCodec((128, 128)), AugmentConfig((0.7, 1.35), 30.0, 0.6, 0.5))
plot_augmentations(original, 2, draws=4, title="The original recipe: scale, rotation, flip")

# %% [markdown]
# Two pixel-only options fight over-fitting on a small set (`color_jitter`, `erase_prob` in `TrainConfig`):
# lighting and kit colours change, and a noise rectangle hides part of the body — its joints stay labelled, so
# the network learns to place them from context. They move no joint.

# %%
pixel = TopDownDataset(images[:8], "mpii16", HeatmapCodec((128, 128)),
                       AugmentConfig((0.7, 1.35), 30.0, 0.6, 0.5, color_jitter=0.3, erase_prob=0.5))
plot_augmentations(pixel, 2, draws=4, title="Plus colour jitter and random erasing")

# %% [markdown]
# ## Before training: where the default goes wrong
# Score the default on each of the 48 images (PCK@0.2: the share of joints within 0.2 torso lengths of the
# label; images without a labelled torso cannot be scored) and pick the four it scores lowest.

# %%
def pck_of(preds, idx):
    """PCK@0.2 over the images ``idx`` (a list of indices) of ``preds``; NaN when none of them can be scored."""
    sub = DatasetPredictions(preds.keypoints[idx], preds.scores[idx], preds.gt[idx], preds.visible[idx])
    return score_pck(sub, SK).mean


before = predict_dataset(Predictor(DEFAULT, device=DEVICE, backend="torch"), images)
per_image = np.array([pck_of(before, [i]) for i in range(len(images))])
chosen = [int(i) for i in np.argsort(np.where(np.isnan(per_image), np.inf, per_image), kind="stable")[:4]]
others = [i for i in range(len(images)) if i not in chosen]
name = lambda i: Path(images[i].image).stem  # noqa: E731
print(f"default, all 48 images: PCK@0.2 {pck_of(before, list(range(48))):.3f}")
print("lowest four:", ", ".join(f"{name(i)} {per_image[i]:.2f}" for i in chosen))

# %% [markdown]
# ## Train: fine-tune on those four
# Start from the default (`init_weights`), at its 192x192 input, on just those four images. Each epoch shows
# every one of them 4 times (`repeat=4`), each time augmented anew with the original recipe (scale, rotation,
# flip with left/right swap): 4 steps of a batch of 4. Adam at lr 5e-4 (the rate the default's later phases
# fine-tuned at), dropped 10x after epoch 8; JointsMSE loss with target weights. Validation here scores the
# same four images, un-augmented (`val_indices`), so the curve shows how well they are learned. The run is
# pinned to fp32 so that it gives the same numbers every time; `precision="auto"` (the default) would time a
# few steps in fp32 and bf16 and keep the faster. Every epoch writes `last.pt` (resume), `best.pt` and
# `metrics.csv`.

# %%
run_dir = Path(tempfile.mkdtemp()) / "run"
cfg = TrainConfig(
    dataset="lsp", data=str(DATA / "lsp_sample"), train_indices=tuple(chosen), val_indices=tuple(chosen), repeat=4,
    init_weights=str(DEFAULT), skeleton="mpii16", depth=18, input_size=(192, 192), epochs=10, batch_size=4,
    lr=5e-4, lr_steps=(8,), scale_range=(0.8, 1.25), precision="fp32", seed=0, out_dir=str(run_dir),
    progress=False, threads=2, device=DEVICE,
)
logs = []
row = train(cfg, log=logs.append)
print("\n".join([logs[0], logs[-1]]))

# %%
history = json.loads((run_dir / "metrics.json").read_text())
plot_loss_curve(history, title="Fine-tuning the default on its four worst images",
                pck_label="PCK@0.2 on those 4 images", legend_loc="lower left")

# %% [markdown]
# The training loss falls (with a step back in the last epoch: each epoch's crops are drawn anew) and the four
# images' PCK climbs from 0.51 after the first epoch to 0.98 from the eighth on: nearly every labelled joint on
# them lies within 0.2 torso lengths of its label. That is memorising, though — what did it do to the other 44
# images?

# %% [markdown]
# ## After training
# Score `best.pt` (the epoch that scored best on the four) on all 48 images, exactly as the default was scored.

# %%
after = predict_dataset(Predictor(run_dir / "best.pt", device=DEVICE, backend="torch"), images)
print(f"{'PCK@0.2':<26}{'default':>8}{'fine-tuned':>12}")
for label, idx in ((f"the {len(chosen)} training images", chosen), (f"the other {len(others)} images", others)):
    print(f"{label:<26}{pck_of(before, idx):>8.3f}{pck_of(after, idx):>12.3f}")

# %%
def compare(i, suptitle):
    """The labels, the default's pose and the fine-tuned one on image ``i``, each with its PCK, cut to the crop
    the network sees (the person's box, padded)."""
    s, img = images[i], read_image(images[i].image)
    labelled = np.where(s.visible[:, None] > 0, s.keypoints, np.nan)
    (x0, y0), (x1, y1) = (np.clip(np.round(s.center + d * s.scale * PIXEL_STD / 2).astype(int), 0, img.shape[1::-1])
                          for d in (-1, 1))
    drawn = [draw_skeleton(img, kp, None, SK)[y0:y1, x0:x1] for kp in (labelled, before.keypoints[i], after.keypoints[i])]
    return plot_side_by_side(
        drawn, ["labels", f"default: PCK {pck_of(before, [i]):.2f}", f"fine-tuned: PCK {pck_of(after, [i]):.2f}"],
        suptitle + " (pixels of the crop)", width=3.4, parts_legend=True)


compare(chosen[0], f"{name(chosen[0])}, one of the four it trained on")

# %% [markdown]
# On the image the default got most wrong, the fine-tuned pose lies on the athlete, joint for joint with the
# labels. Now the image among the other 44 whose PCK fell the most:

# %%
drop = np.array([pck_of(before, [i]) - pck_of(after, [i]) for i in others])
worst = others[int(np.nanargmax(drop))]
compare(worst, f"{name(worst)}, not among the four")

# %%
# NBVAL_CHECK_OUTPUT
print("loss went down:", history[-1]["train_loss"] < history[0]["train_loss"], "| epochs logged:", len(history))
print("the four learned (PCK >= 0.9):", pck_of(after, chosen) >= 0.9,
      "| the other images got worse:", pck_of(after, others) < pck_of(before, others))

# %% [markdown]
# Forty steps on four images taught the network those four and cost it accuracy on the others: it fitted their
# particular poses at the expense of what it had learned from 8,500. A model that generalises needs many
# images, seen many times, with augmentation — which is what the default had. (All 48 images were among those
# 8,500, so neither column above is a held-out score; the model card has that.)

# %% [markdown]
# ## How the default weights were made
# The same `hpe train`, from random weights on LSP-extended im00001–im08500 (validated on im08501–im09000), 109
# epochs at input sizes 128, 160 and 192 on 2-core CPUs; its validation PCK@0.2 rises ever more slowly and ends
# at 0.64 (below). The paper starts the backbone from ImageNet weights instead — `TrainConfig(backbone_weights=...)`
# does that where you can download them — and the model card (`weights/README.md`) has the recipe step by step,
# its timings and per-joint scores.

# %%
card_metrics = json.loads((DATA.parent / "weights" / "hpe_default_metrics.json").read_text())
plot_loss_curve(card_metrics, title="Default weights: ResNet-18 on LSP-extended (128, then 160, then 192 px input)")

# %% [markdown]
# ## Exercises
# Three pieces of the training recipe, written by hand. Fill in each function, run its cell, then the check
# under it: it compares your function with what `hpe_utils.train` really uses (PyTorch's `MultiStepLR`, the
# dataset's flip, `JointsMSELoss`) and says what is wrong. `check.hint("ex09_lr_schedule")` gives one hint at a
# time; the worked answers are in `notebooks/solutions/09_training.py` (try first).

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 9.1 Warm-up: the step schedule
# `learning_rate(epoch, base_lr, milestones, gamma)` returns the rate epoch `epoch` trains at: `base_lr`,
# multiplied by `gamma` at each milestone. Epochs count from 0, as in `train`'s loop (`metrics.json` numbers its
# rows from 1), and at epoch `m` of a milestone `m` the new rate already applies. The paper: 1e-3, x0.1 at
# epochs 90 and 120, 140 epochs; this notebook's run: 5e-4, x0.1 at 8 — compare with `history[i]["lr"]`.

# %%
def learning_rate(epoch, base_lr=1e-3, milestones=(90, 120), gamma=0.1):
    """The learning rate epoch ``epoch`` (counted from 0) trains at under a step schedule."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_lr_schedule(learning_rate)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex09_lr_schedule")

# %% [markdown]
# ### 9.2 Core: horizontal flip with the left/right swap
# `flip_sample(image, keypoints, visible, flip_pairs)` mirrors one training sample left-right: `image` is
# (height, width, 3) uint8, `keypoints` (K, 2) float (x, y) in its pixels, `visible` (K,) 0/1 flags, and
# `flip_pairs` the skeleton's left/right joint pairs, e.g. `get_skeleton("mpii16").flip_pairs`. Return
# `(image, keypoints, visible)`: the image mirrored, each x moved to the mirrored pixel (pixel centres run 0 …
# W - 1), and left and right joints swapped — the person's left knee, seen in a mirror, is a right knee — with
# their flags. Leave the arrays passed in unchanged.

# %%
def flip_sample(image, keypoints, visible, flip_pairs):
    """The sample mirrored left-right: (image, keypoints (K, 2), visible (K,)) with left and right joints swapped."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_flip_augment(flip_sample)

# %% [markdown]
# ### 9.3 Stretch: the loss with target weights
# `joints_mse(output, target, target_weight)` takes the network's heatmaps and the targets, both tensors
# (N, K, h, w), and the target weights (N, K) (1 = labelled, 0 = not), and returns the training loss as a 0-dim
# tensor: 0.5 x the mean, over batch, joints and pixels, of ((output - target) x weight)², so an unlabelled
# joint adds nothing but still counts in the mean (the original's convention). Training calls `.backward()` on it.

# %%
def joints_mse(output, target, target_weight):
    """0.5 x mean squared error over batch, joints and pixels, each joint's maps weighted by its target weight."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex09_joints_mse(joints_mse)
