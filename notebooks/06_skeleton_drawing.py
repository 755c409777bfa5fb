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
# # 06 · Drawing skeletons
#
# A skeleton is **data**: joint names, limbs, left/right pairs and colours per body part live in one
# metainfo record per layout (`hpe_utils.skeletons`). The same drawing code serves MPII-16, COCO-17 and
# LSP-14.

# %% [markdown]
# *Setup.* On Colab this clones the repository (for its data and embedded weights), installs the package and
# turns on the widget manager; locally it checks that `hpe_utils` is importable (`pip install -e .`).

# %%
import importlib, os, subprocess, sys  # On Colab (or with HPE_COLAB=1, as a test does) clone the course and
if "google.colab" in sys.modules or os.environ.get("HPE_COLAB"):  # install it; locally `pip install -e .` did that
    clone = os.environ.get("HPE_CLONE_DIR", "/content/hpe-workbook")
    subprocess.run(f'[ -d "{clone}" ] || git clone -q --depth 1 {os.environ.get("HPE_REPO_URL", "https://github.com/hpe-workbook/hpe-workbook")} '
                   f'"{clone}" && "{sys.executable}" -m pip install -q "{clone}[widgets]"', shell=True, check=True)
    importlib.invalidate_caches()
from hpe_utils.notebook import setup
DATA, DEVICE = setup()  # the course's data/ folder, and "cuda" on a GPU runtime ("cpu" elsewhere)

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown

from hpe_utils import Predictor, draw_skeleton, plot_keypoints, read_image
from hpe_utils.skeletons import COCO17, MPII16, PART_COLOURS
from hpe_utils.viz import plot_side_by_side

# %% [markdown]
# ## Two skeletons
# MPII has pelvis, thorax, upper neck and head top; COCO has a face (nose, eyes, ears) and no spine.
# Colours follow the *person's* sides: orange right, blue left, green centre, magenta head.

# %%
# NBVAL_CHECK_OUTPUT
for sk in (MPII16, COCO17):
    print(f"{sk.name}: {sk.num_joints} joints, {len(sk.limbs)} limbs, flip pairs {sk.flip_pairs}")
print({k: "#%02x%02x%02x" % v for k, v in PART_COLOURS.items()})

# %% [markdown]
# ## MPII from our model, COCO from annotations
# The default model predicts MPII-16. For COCO-17 we draw the ground-truth keypoints shipped with the sample
# images (`data/samples/coco_keypoints.json`): the drawing code does not care where keypoints come from.

# %%
predictor = Predictor("default", device=DEVICE)
messi = read_image(DATA / "messi_kick.webp")
res = predictor(messi).people[0]
coco = json.loads((DATA / "samples" / "coco_keypoints.json").read_text())
ann = coco["annotations"][0]
img_info = next(i for i in coco["images"] if i["id"] == ann["image_id"])
coco_img = read_image(DATA / "samples" / img_info["file_name"])
kp = np.array(ann["keypoints"], dtype=float).reshape(-1, 3)
plot_side_by_side([draw_skeleton(messi, res.keypoints, res.scores, MPII16, 0.2),
                   draw_skeleton(coco_img, kp[:, :2], kp[:, 2], COCO17, threshold=0.5)],
                  ["MPII-16, predicted", "COCO-17, annotated (visibility as score)"], "One drawing function, two skeletons")

# %% [markdown]
# ## The score threshold
# Each joint's score is its heatmap maximum. Hiding joints under a threshold removes guesses (and every limb
# touching them). The drawing functions' default is 0.3, which on this image hides nothing: every joint scores
# 0.43 or more. The picture starts at 0.55 instead: the two knees and the right ankle, the joints the network is
# least sure of here, disappear with their limbs, and 13 of 16 remain. Drag the slider under it (live kernel
# only).

# %%
import ipywidgets as widgets

from hpe_utils.notebook import explore


def show(threshold: float = 0.55) -> None:
    fig = plot_keypoints(messi, res.keypoints, res.scores, MPII16, threshold,
                         title=f"Joints with score >= {threshold:.2f}: {int((res.scores >= threshold).sum())} of 16")
    display(fig)


explore(show, threshold=widgets.FloatSlider(0.55, min=0, max=1, step=0.05))

# %% [markdown]
# ## Per-joint table

# %%
rows = ["| joint | part | x | y | score |", "|---|---|---:|---:|---:|"]
for j, name in enumerate(MPII16.joints):
    rows.append(f"| {name} | {MPII16.joint_parts[j]} | {res.keypoints[j, 0]:.0f} | {res.keypoints[j, 1]:.0f} | {res.scores[j]:.2f} |")
Markdown("\n".join(rows))

# %% [markdown]
# ## Scores per joint
# A score is the network's confidence on *this* image, not a fixed ranking of joints. Here the knees (0.43) and
# the right ankle (0.48) score lowest, while the wrists score 0.72 and 0.86. The colours are the body parts of the
# drawings above.

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.bar(range(16), res.scores, color=["#%02x%02x%02x" % c for c in MPII16.joint_colours()])
ax.set_xticks(range(16), MPII16.joints, rotation=60, ha="right")
ax.set_title("Joint scores on the Messi image")
ax.set_xlabel("joint")
ax.set_ylabel("score (heatmap maximum)")
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=np.array(c) / 255, label=part) for part, c in PART_COLOURS.items()],
          title="body part", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% [markdown]
# ## Exercises
# Fill in each function, run its cell, then the check under it: it runs your function on several cases against
# the library's own code and data (`draw_skeleton`'s visibility rule, the skeletons' `flip_pairs`) and says what is
# wrong.
# `check.hint("ex06_limbs")` gives one hint at a time; the worked answers are in
# `notebooks/solutions/06_skeleton_drawing.py` — try first.

# %%
from hpe_utils.exercises import Checker

check = Checker()

# %% [markdown]
# ### 6.1 Warm-up: which limbs does the drawing show?
# `limbs_to_draw(keypoints, scores, limbs, threshold)` takes keypoints (K, 2) in pixels (NaN where a position is
# unknown), scores (K,), the skeleton's `limbs` (a list of joint-index pairs (a, b), e.g. `MPII16.limbs`) and a
# threshold. A joint is drawn when its x and y are finite and its score >= threshold; a limb is drawn when both
# its joints are. Return the drawn limbs as a list of (a, b) pairs, in the order of `limbs`.

# %%
def limbs_to_draw(keypoints, scores, limbs, threshold=0.3):
    """The (a, b) limbs whose two joints are both drawn, in the order of `limbs`."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex06_limbs(limbs_to_draw)

# %% [markdown]
# Stuck? Each call gives the next hint:

# %%
# NBVAL_CHECK_OUTPUT
check.hint("ex06_limbs")

# %% [markdown]
# ### 6.2 Core: flip pairs from the joint names
# A skeleton is data, and part of that data follows from the rest: which joints swap when the image is mirrored
# (the flip test, flip augmentation) is written in their names. `flip_pairs(joints)` takes a list of joint names and
# returns the pairs (a, b) of indices of a left joint and the right joint of the same name: MPII and LSP spell the
# sides `l_` and `r_` (`l_ankle`), COCO `left_` and `right_` (`left_ankle`). Centre joints (`pelvis`, `nose`) are in
# no pair, and neither is a joint whose other side the list lacks. Any order of pairs, and of the two indices in a
# pair, will do. On MPII-16, COCO-17 and LSP-14 the answer must be their `flip_pairs` (the first two are printed at
# the top).

# %%
def flip_pairs(joints):
    """(a, b) index pairs of the joints that swap under a mirror image, derived from their names."""
    # your code here
    raise NotImplementedError


# %%
# NBVAL_CHECK_OUTPUT
check.ex06_flip_pairs(flip_pairs)
