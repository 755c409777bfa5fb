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
# # 03 · Pretrained weights
#
# A checkpoint is only useful with its *recipe*: architecture, input size, skeleton — and the **colour
# order** it was trained with. `hpe_utils.weights` keeps that in a registry, loads every released layout
# strictly, and says exactly what does not fit when something is off.

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

# %% [markdown]
# ## The registry

# %%
import numpy as np
import torch
from IPython.display import Markdown

from hpe_utils.weights import WEIGHTS, WeightsError, describe_weights_table, load_weights

Markdown(describe_weights_table())

# %% [markdown]
# ## The embedded default, offline
# `default` is this project's own checkpoint in `weights/`: no download needed. Our format stores the
# architecture, skeleton, input size and colour order next to the (fp16) weights.

# %%
# NBVAL_CHECK_OUTPUT
default = load_weights("default")
print(default.config)
print("skeleton", default.skeleton.name, "| input (w, h)", default.input_size, "| colour order", default.color_order)

# %% [markdown]
# ## A released checkpoint (downloads on Colab, skipped offline)
# mmpose's re-trained ResNet-50 for COCO is a direct download, verified by SHA-256 before use. Without
# internet the cell says so and the notebook carries on.

# %%
if os.environ.get("CI") or os.environ.get("HPE_OFFLINE"):
    print("offline run (CI / HPE_OFFLINE): download skipped")
else:
    try:
        mmpose = load_weights("mmpose_coco_r50_256x192", progress=True)
        print("loaded", mmpose.name, mmpose.config, mmpose.color_order)
    except WeightsError as e:
        print("skipped (offline?):", str(e).splitlines()[0][:160])

# %% [markdown]
# The six original MSRA checkpoints live on Google Drive/OneDrive only: the registry says how to get them.

# %%
try:
    load_weights("msra_mpii_r50_256x256", download=False)
except WeightsError as e:
    print(str(e)[:300])

# %% [markdown]
# ## Key layouts
# The same tensors come under different names: the original release (`conv1…`, `deconv_layers…`),
# DataParallel (`module.`), mmpose 1.x (`backbone.` / `head.`) and mmpose 0.x (`keypoint_head.`).
# Loading strips the prefixes, infers the architecture from the shapes, and loads **strictly**.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils.weights import infer_config, normalize_keys

names = ["module.layer1.0.conv1.weight", "backbone.layer4.2.bn3.running_var", "head.deconv_layers.0.weight",
         "keypoint_head.final_layer.bias"]
for before, after in zip(names, normalize_keys({n: torch.zeros(1) for n in names})):
    print(f"{before:38s} -> {after}")
print(infer_config(default.model.state_dict()))

# %% [markdown]
# ## The strict-load report
# A checkpoint that does not fit is refused with the keys that are missing, unexpected or wrongly shaped —
# instead of half-loading and predicting nonsense.

# %%
import tempfile
from pathlib import Path

sd = dict(default.model.state_dict())
sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)  # a 1x1 kernel where the model has 3x3
del sd["layer2.0.bn1.weight"]  # a missing tensor
sd["fc.weight"] = torch.zeros(1000, 512)  # a classifier the pose model does not have
with tempfile.TemporaryDirectory() as tmp:
    bad = Path(tmp) / "bad.pth"
    torch.save(sd, bad)
    try:
        load_weights(bad)
    except WeightsError as e:
        print(str(e).replace(tmp, "<tmp>"))

# %% [markdown]
# ## The BGR/RGB trap, in numbers
# The original MSRA models were trained on OpenCV's **BGR** images, normalised with the RGB-ordered ImageNet
# mean/std; mmpose's and ours expect **RGB**. Feed the wrong order and nothing crashes — the keypoints just
# get worse. Here is our RGB model on its own validation-style sample images, fed correctly and with the
# channels swapped.

# %%
# NBVAL_CHECK_OUTPUT
from hpe_utils import Predictor

# backend="torch": eager fp32, so the numbers printed here are the same on every machine (notebook 07: engines)
right = Predictor(default, color_order="rgb", backend="torch", device=DEVICE, detector=None)  # whole images
wrong = Predictor(default, color_order="bgr", backend="torch", device=DEVICE, detector=None)
moves, score_drop = [], []
for path in sorted((DATA / "samples").glob("*.jpg")) + [DATA / "messi_kick.webp"]:
    a, b = right(path).people[0], wrong(path).people[0]
    torso = max(np.linalg.norm(a.keypoints[13] - a.keypoints[2]), 1.0)
    moves.append(np.linalg.norm(a.keypoints - b.keypoints, axis=1).mean() / torso)
    score_drop.append(a.scores.mean() - b.scores.mean())
print(f"{len(moves)} images: joints move by {np.mean(moves):.2f} torso lengths on average when the channels are "
      f"swapped; mean confidence drops by {np.mean(score_drop):.2f}")

# %% [markdown]
# On the photo where the swap moves the joints most, it can be seen (the box is the whole image; joints scoring
# 0.3 or more are drawn):

# %%
from hpe_utils import read_image
from hpe_utils.viz import draw_skeleton, plot_side_by_side

paths = sorted((DATA / "samples").glob("*.jpg")) + [DATA / "messi_kick.webp"]  # the loop's images, in its order
worst = paths[int(np.argmax(moves))]
photo = read_image(worst)
a, b = right(photo).people[0], wrong(photo).people[0]
plot_side_by_side([draw_skeleton(photo, a.keypoints, a.scores, "mpii16"), draw_skeleton(photo, b.keypoints, b.scores, "mpii16")],
                  [f"RGB, as trained: mean score {a.scores.mean():.2f}",
                   f"channels swapped (BGR): mean score {b.scores.mean():.2f}"],
                  f"{worst.name}: the same weights in two channel orders", width=5.0, parts_legend=True)

# %%
# NBVAL_CHECK_OUTPUT
moved = np.linalg.norm(a.keypoints - b.keypoints, axis=1)
print(f"{worst.name}: joints drawn RGB {int((a.scores >= 0.3).sum())}, BGR {int((b.scores >= 0.3).sum())} of 16; "
      f"moved more than 20 px: {', '.join(n for n, m in zip(right.skeleton.joints, moved) if m > 20) or 'none'}")

# %% [markdown]
# Fed BGR, the network poses the gymnast as seen in a mirror: left and right limbs trade sides (blue, the left,
# is now on his right), every limb joint moves by more than 20 px, and the mean score falls from 0.84 to 0.56.
# All 16 joints still score 0.3 or more, so no threshold would flag the mistake: the channel order must come
# from the weights, as `color_order` does here.

# %% [markdown]
# ## Exercises
# Fill in each function, run its cell, then the check under it: it runs your function against the library on
# several cases and says what is wrong, if anything. `check.hint("ex03_convert_keys")` gives one hint at a time;
# the worked answers are in `notebooks/solutions/03_pretrained_weights.py` — try first.

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 3.1 Warm-up: convert a checkpoint's key layout to ours
# `convert_keys(state_dict)` returns a new dict with the same tensors under our names: remove the prefixes
# `module.` (DataParallel), `backbone.` and `head.` (mmpose 1.x) and `keypoint_head.` (mmpose 0.x) from the
# *start* of every key, as many as it carries (`module.backbone.conv1.weight` → `conv1.weight`). A key without a
# prefix stays as it is; no tensor is dropped. The check compares with `hpe_utils.weights.normalize_keys` on five
# layouts of a real PoseResNet's keys.

# %%
def convert_keys(state_dict: dict) -> dict:
    """The same tensors under our key names."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex03_convert_keys(convert_keys)

# %%
check.hint("ex03_convert_keys")

# %% [markdown]
# ### 3.2 Core: the network input, in the weights' colour order
# `to_network_input(image_rgb, color_order)` turns a uint8 RGB image `(H, W, 3)` into the float32 tensor
# `(1, 3, H, W)` that weights trained in `color_order` (`"rgb"` or `"bgr"`) expect: for `"bgr"` reverse the
# channels first; then scale to [0, 1], subtract the ImageNet mean (0.485, 0.456, 0.406) and divide by its std
# (0.229, 0.224, 0.225) — in this order for both colour orders, as the MSRA training did; channels first, then a
# batch axis. Leave the caller's image unchanged. The check compares with `hpe_utils.transforms.normalize`.

# %%
def to_network_input(image_rgb: np.ndarray, color_order: str) -> torch.Tensor:
    """A uint8 RGB image (H, W, 3) as the float32 (1, 3, H, W) batch weights of this colour order expect."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex03_bgr_trap(to_network_input)

# %% [markdown]
# ### 3.3 Stretch: read the architecture off a state dict
# `infer_architecture(state_dict)` returns `(depth, num_joints)` (ints) of a PoseResNet state dict in our layout
# (`conv1.weight`, `layer1.0.conv1.weight`, …, `final_layer.weight`), from its keys and shapes alone. The ResNets,
# by blocks per stage `layer1`…`layer4`: 18 → (2, 2, 2, 2) and 34 → (3, 4, 6, 3) of basic blocks (two 3x3
# convs); 50 → (3, 4, 6, 3), 101 → (3, 4, 23, 3) and 152 → (3, 8, 36, 3) of bottleneck blocks (three convs:
# `conv1`, `conv2`, `conv3`). The check compares with `hpe_utils.weights.infer_config` on every depth; its
# tensors are on PyTorch's `meta` device (shapes without data), so read only keys and `.shape`.

# %%
def infer_architecture(state_dict: dict) -> tuple[int, int]:
    """(ResNet depth, number of joints) of a PoseResNet state dict in our layout."""
    # your code here
    raise NotImplementedError

# %%
# NBVAL_CHECK_OUTPUT
check.ex03_infer_arch(infer_architecture)
