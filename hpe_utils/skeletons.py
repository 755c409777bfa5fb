"""Skeleton metainfo records: a new skeleton is data (names, flip pairs, limbs, colours), not code."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Body-part colours (RGB) shared by every skeleton so that figures read the same way everywhere.
PART_COLOURS: dict[str, tuple[int, int, int]] = {
    "right": (255, 128, 0),  # orange: the person's right side
    "left": (0, 170, 255),  # blue: the person's left side
    "centre": (60, 220, 60),  # green: spine, pelvis, thorax
    "head": (255, 60, 200),  # magenta: neck and face
}


@dataclass(frozen=True)
class Skeleton:
    """Everything a dataset, the flip test and the drawing code need to know about one joint layout."""

    name: str
    joints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    limbs: tuple[tuple[int, int], ...]
    limb_parts: tuple[str, ...]
    joint_parts: tuple[str, ...]
    input_size: tuple[int, int]  # usual (width, height) of the network input for this skeleton
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        k = len(self.joints)
        if len(self.joint_parts) != k:
            raise ValueError(f"{self.name}: {len(self.joint_parts)} joint parts for {k} joints")
        if len(self.limb_parts) != len(self.limbs):
            raise ValueError(f"{self.name}: limb_parts and limbs differ in length")
        for a, b in (*self.flip_pairs, *self.limbs):
            if not (0 <= a < k and 0 <= b < k):
                raise ValueError(f"{self.name}: joint index out of range in pair ({a}, {b})")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint by name, with a clear error listing the valid names."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"{self.name} has no joint {joint!r}; joints are {list(self.joints)}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints: ``flipped[:, perm]`` undoes a mirror image."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def limb_colours(self) -> list[tuple[int, int, int]]:
        return [PART_COLOURS[p] for p in self.limb_parts]

    def joint_colours(self) -> list[tuple[int, int, int]]:
        return [PART_COLOURS[p] for p in self.joint_parts]


MPII16 = Skeleton(
    name="mpii16",
    joints=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
        "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    limbs=(
        (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
        (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15),
    ),
    limb_parts=(
        "right", "right", "right", "left", "left", "left", "centre", "head", "head",
        "right", "right", "right", "left", "left", "left",
    ),
    joint_parts=(
        "right", "right", "right", "left", "left", "left", "centre", "centre",
        "head", "head", "right", "right", "right", "left", "left", "left",
    ),
    input_size=(256, 256),
    description="MPII Human Pose, 16 joints (the skeleton of the original course)",
    aliases=("mpii",),
)

COCO17 = Skeleton(
    name="coco17",
    joints=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    limbs=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
        (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
    ),
    limb_parts=(
        "left", "left", "right", "right", "centre", "left", "right", "centre", "left",
        "right", "left", "right", "head", "head", "head", "head", "head", "head", "head",
    ),
    joint_parts=(
        "head", "head", "head", "head", "head", "left", "right", "left", "right", "left", "right",
        "left", "right", "left", "right", "left", "right",
    ),
    input_size=(192, 256),
    description="COCO keypoints, 17 joints",
    aliases=("coco",),
)

LSP14 = Skeleton(
    name="lsp14",
    joints=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
        "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    limbs=(
        (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 12), (12, 9), (9, 10),
        (10, 11), (12, 13), (8, 2), (9, 3),
    ),
    limb_parts=(
        "right", "right", "centre", "left", "left", "right", "right", "right", "left", "left",
        "left", "head", "right", "left",
    ),
    joint_parts=(
        "right", "right", "right", "left", "left", "left", "right", "right", "right", "left",
        "left", "left", "head", "head",
    ),
    input_size=(256, 256),
    description="Leeds Sports Pose, 14 joints",
    aliases=("lsp", "lspet"),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (MPII16, COCO17, LSP14)}


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name or alias (``"mpii"``, ``"coco17"``, …)."""
    if isinstance(name, Skeleton):
        return name
    key = name.lower()
    for s in SKELETONS.values():
        if key == s.name or key in s.aliases:
            return s
    raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}")


def skeleton_for_num_joints(num_joints: int) -> Skeleton:
    """The skeleton a checkpoint with ``num_joints`` output heatmaps most likely uses."""
    for s in SKELETONS.values():
        if s.num_joints == num_joints:
            return s
    raise ValueError(
        f"no known skeleton has {num_joints} joints (known: "
        + ", ".join(f"{s.name}={s.num_joints}" for s in SKELETONS.values())
        + ")"
    )


# LSP index of each MPII joint that LSP gives directly (upper_neck <- neck).
_LSP_TO_MPII_DIRECT = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 8: 12, 9: 13, 10: 6, 11: 7, 12: 8, 13: 9, 14: 10, 15: 11}


def lsp_to_mpii(keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert LSP-14 keypoints (..., 14, 2) and visibility (..., 14) to MPII-16.

    Pelvis is the mid-point of the hips and thorax the mid-point of the shoulders, each defined only
    when both parents are labelled (with the weaker parent's visibility, for soft labels); undefined joints get
    coordinates 0 and visibility 0.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    visible = np.asarray(visible, dtype=np.float32)
    if keypoints.shape[-2:] != (14, 2) or visible.shape != keypoints.shape[:-1]:
        raise ValueError(f"expected LSP keypoints (..., 14, 2) and visibility (..., 14), got {keypoints.shape} and {visible.shape}")
    out = np.zeros(keypoints.shape[:-2] + (16, 2), dtype=np.float32)
    vis = np.zeros(visible.shape[:-1] + (16,), dtype=np.float32)
    for m, s in _LSP_TO_MPII_DIRECT.items():
        out[..., m, :] = keypoints[..., s, :]
        vis[..., m] = visible[..., s]
    for m, (a, b) in ((6, (2, 3)), (7, (8, 9))):
        both = (visible[..., a] > 0) & (visible[..., b] > 0)
        mid = (keypoints[..., a, :] + keypoints[..., b, :]) / 2
        out[..., m, :] = np.where(both[..., None], mid, 0.0)
        vis[..., m] = np.where(both, np.minimum(visible[..., a], visible[..., b]), 0.0)  # soft parents: the weaker
    out[vis == 0] = 0.0
    return out, vis


__all__ = ["COCO17", "LSP14", "MPII16", "PART_COLOURS", "SKELETONS", "Skeleton", "get_skeleton", "lsp_to_mpii",
           "skeleton_for_num_joints"]
