"""Exercises of notebook 03_pretrained_weights: checkpoint key layouts, the colour-order trap, the architecture from shapes."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..model import RESNET_BLOCKS, PoseResNet
from ..transforms import IMAGENET_MEAN, IMAGENET_STD, normalize
from ..weights import infer_config, normalize_keys
from .core import Exercise, Wrong, call, describe

_PREFIXES = ("module.", "backbone.", "keypoint_head.", "head.")
_HEAD = ("deconv_layers.", "final_layer.")


def _meta_state_dict(depth: int, num_joints: int) -> dict[str, torch.Tensor]:
    """A PoseResNet state dict whose tensors have real shapes but no data (enough to read an architecture)."""
    with torch.device("meta"):
        model = PoseResNet(depth=depth, num_joints=num_joints)
    return dict(model.state_dict())


# ------------------------------------------------------------------ 3.1 warm-up: convert a checkpoint's keys

def _mmpose(key: str, head: str) -> str:
    """The name mmpose gives one of our keys: its backbone under ``backbone.``, its head under ``head``."""
    return (head if key.startswith(_HEAD) else "backbone.") + key


_LAYOUTS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("a checkpoint already in our layout ('conv1.weight', …)", lambda k: k),
    ("a DataParallel checkpoint ('module.conv1.weight', …)", lambda k: "module." + k),
    ("an mmpose 1.x checkpoint ('backbone.conv1.weight', 'head.final_layer.bias', …)", lambda k: _mmpose(k, "head.")),
    ("an mmpose 0.x checkpoint ('backbone.…', 'keypoint_head.final_layer.bias', …)",
     lambda k: _mmpose(k, "keypoint_head.")),
    ("an mmpose 1.x checkpoint saved from DataParallel ('module.backbone.conv1.weight', …)",
     lambda k: "module." + _mmpose(k, "head.")),
)


def _key_problem(before: str, want: str, got: str | None) -> str:
    """Why ``before`` was renamed ``got`` instead of ``want``, in words."""
    if got is None:
        if before == want:
            return (f"you dropped '{before}': a key without any prefix is already in our layout — keep it as it is "
                    "(every tensor must come out, only the names change)")
        return f"you dropped '{before}' (it should become '{want}'): keep every tensor, only its name changes"
    if got == before:
        prefix = next(p for p in _PREFIXES if before.startswith(p))
        return (f"'{before}' still has its '{prefix}' prefix: strip module., backbone., head. and keypoint_head. "
                "from the start of every key")
    if any(got.startswith(p) for p in _PREFIXES) and before.endswith(got):
        return (f"'{before}' became '{got}': you removed only its first prefix; a checkpoint saved from "
                "DataParallel has two (module. then backbone.): keep stripping while the key starts with one")
    if before.endswith(got) and want.endswith(got) and len(got) < len(want):
        return (f"'{before}' became '{got}': str.lstrip / str.strip remove any of the given *characters* (here the "
                f"'{want[: len(want) - len(got)]}' of the name too), not a prefix — use key.removeprefix(prefix) "
                "or key[len(prefix):]")
    if "keypoint_" in got:
        return (f"'{before}' became '{got}', not '{want}': remove a prefix only at the *start* of the key "
                "(str.replace removes 'head.' inside 'keypoint_head.' too)")
    return f"'{before}' should become '{want}', yours became '{got}'"


def _check_convert_keys(answer: Callable[..., Any]) -> str:
    """Five real layouts of PoseResNet's own key names against the library's normalize_keys, tensor by tensor."""
    base = list(_meta_state_dict(18, 16))  # PoseResNet's real parameter and buffer names
    for case, rename in _LAYOUTS:
        before = [rename(k) for k in base]
        sd = {k: torch.tensor([float(i)]) for i, k in enumerate(before)}  # a distinct value tracks each tensor
        want = list(normalize_keys(sd))
        got = call(answer, dict(sd), case=case)
        if not isinstance(got, Mapping):
            raise Wrong(f"on {case} you returned {describe(got)}; return a dict of new name → the same tensor")
        names_of: dict[int, list[str]] = {}  # tensor number -> the names the answer gives it
        for k, v in got.items():
            if not isinstance(v, torch.Tensor) or v.numel() != 1:
                raise Wrong(f"on {case} your dict holds {describe(v)} under '{k}': keep the tensors as they were, "
                            "only the keys change")
            names_of.setdefault(int(v.item()), []).append(str(k))
        for i, (b, w) in enumerate(zip(before, want)):
            names = names_of.get(i, [])
            if w not in names:
                raise Wrong(f"on {case}: " + _key_problem(b, w, names[0] if names else None))
        if len(got) != len(want):
            extra = sorted(set(map(str, got)) - set(want))
            raise Wrong(f"on {case} your dict has {len(got)} keys, the checkpoint {len(want)}: drop the extra ones "
                        f"({', '.join(extra[:3])}) — every key is one tensor, renamed")
    return (f"right on {len(_LAYOUTS)} layouts (ours, DataParallel, mmpose 1.x and 0.x, DataParallel + mmpose), every "
            f"one of the {len(base)} tensors of a PoseResNet-18 under the library's name")


# ------------------------------------------------------------------ 3.2 core: the network input, in the weights' colour order

def _image(h: int, w: int, seed: int) -> np.ndarray:
    """A random uint8 RGB image whose three channels differ (so an order mix-up always shows)."""
    img = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img[0, 0] = (255, 128, 0)
    return img


def _network_input_mistakes(img: np.ndarray, order: str) -> list[tuple[np.ndarray, str]]:
    """What the classic wrong answers give on ``img`` (as (1, 3, H, W)), each with its diagnosis."""
    x = img.astype(np.float32)
    ordered = x[..., ::-1] if order == "bgr" else x
    chw = lambda a: np.ascontiguousarray(a.transpose(2, 0, 1))[None]  # noqa: E731
    other = "rgb" if order == "bgr" else "bgr"
    return [
        (normalize(img[None], other),
         "the channels are in the wrong order for these weights: reverse them (image[..., ::-1]) when color_order is "
         "'bgr' and only then — weights trained on OpenCV's BGR images see a red shirt as blue otherwise"),
        (chw((ordered / 255 - (IMAGENET_MEAN[::-1] if order == "bgr" else IMAGENET_MEAN))
             / (IMAGENET_STD[::-1] if order == "bgr" else IMAGENET_STD)),
         "for 'bgr' you reversed the mean and std too (or flipped the channels after normalising): the MSRA models "
         "were trained with the RGB-ordered ImageNet statistics applied to BGR channels (a quirk of the original "
         "code) — reverse the image's channels first, then normalise with mean (0.485, 0.456, 0.406) and std "
         "(0.229, 0.224, 0.225) in that order"),
        (chw((ordered - IMAGENET_MEAN) / IMAGENET_STD),
         "you forgot to scale the pixels to [0, 1] first: divide the uint8 values by 255, then subtract the mean and "
         "divide by the std (ImageNet's statistics are for values in [0, 1])"),
        (chw(ordered / 255), "you scaled to [0, 1] but did not normalise: subtract the ImageNet mean and divide by its "
                             "std, channel by channel"),
        (chw(ordered / 255 - IMAGENET_MEAN), "you subtracted the mean but did not divide by the std"),
        (chw(ordered / 255 / IMAGENET_STD), "you divided by the std but did not subtract the mean first"),
        (chw(ordered), "the values are still pixel values 0…255: scale to [0, 1], subtract the mean, divide by the std"),
        (((ordered / 255 - IMAGENET_MEAN) / IMAGENET_STD).reshape(1, 3, *img.shape[:2]),
         "you reshaped the (H, W, 3) image into (1, 3, H, W): reshape keeps the memory order, so it mixes the "
         "channels across pixels — move the axis instead: permute(2, 0, 1) (torch) or transpose(2, 0, 1) (numpy)"),
    ]


def _call_network_input(answer: Callable[..., Any], img: np.ndarray, order: str, case: str) -> Any:
    """The learner's function on a copy of ``img``, with a precise word for from_numpy's negative-stride error."""
    try:
        return call(answer, img, order, case=case)
    except Wrong as w:
        if isinstance(w.__cause__, ValueError) and "negative" in str(w.__cause__):
            raise Wrong(f"on {case}: torch.from_numpy cannot take a reversed view (image[..., ::-1] has negative "
                        "strides): make a contiguous copy first — np.ascontiguousarray(…) or .copy()") from None
        raise


def _check_network_input(answer: Callable[..., Any]) -> str:
    """Both colour orders on non-square images against the library's normalize, naming the classic mistakes."""
    cases = ((5, 7, "rgb", 0), (5, 7, "bgr", 1), (32, 24, "bgr", 2), (1, 1, "rgb", 3))
    for h, w, order, seed in cases:
        img = _image(h, w, seed)
        original = img.copy()
        case = f"a {h}x{w} (height x width) image with color_order={order!r}"
        x = _call_network_input(answer, img, order, case)
        if not np.array_equal(img, original):
            raise Wrong(f"on {case} your function changed the caller's image in place: work on a copy (astype makes one)")
        if isinstance(x, np.ndarray):
            raise Wrong(f"on {case} you returned a numpy array; the network takes a torch tensor: torch.from_numpy(x)")
        if not isinstance(x, torch.Tensor):
            raise Wrong(f"on {case} you returned {describe(x)}; return a torch tensor of shape (1, 3, {h}, {w})")
        shape = tuple(x.shape)
        if shape != (1, 3, h, w):
            if shape == (h, w, 3) or shape == (1, h, w, 3):
                why = "channels must come first, (1, 3, H, W): move them with permute(2, 0, 1), then add the batch axis"
            elif shape == (3, h, w):
                why = "add the batch axis in front: x.unsqueeze(0) (the network takes a batch (N, 3, H, W))"
            elif shape == (1, 3, w, h):
                why = "height and width are swapped: from (H, W, 3) the channels-first order is permute(2, 0, 1)"
            else:
                why = "the network takes (N, 3, H, W): one image, channels first"
            raise Wrong(f"on {case} you returned shape {shape}, expected (1, 3, {h}, {w}): {why}")
        if not x.is_floating_point():
            raise Wrong(f"on {case} your tensor is {x.dtype}: the network takes float32 — convert before scaling "
                        "(img.astype(np.float32) or .float())")
        got = x.detach().cpu().double().numpy()
        want = normalize(img[None], order)
        if not np.allclose(got, want, atol=1e-4):
            for wrong, why in _network_input_mistakes(img, order):
                if np.allclose(got, wrong, atol=1e-4):
                    raise Wrong(f"on {case}: {why}")
            raise Wrong(f"on {case} your values differ from the library's normalize by up to "
                        f"{np.abs(got - want).max():.3g}; channel 0 at the top-left pixel is {got[0, 0, 0, 0]:.4f}, "
                        f"expected {want[0, 0, 0, 0]:.4f}")
        if x.dtype != torch.float32:
            raise Wrong(f"the values are right, but the tensor is {x.dtype}: the weights are float32 — "
                        "use .float() or astype(np.float32)")
    return (f"right on {len(cases)} images in both colour orders, same values as hpe_utils.transforms.normalize, "
            "and the caller's image left untouched")


# ------------------------------------------------------------------ 3.3 stretch: the architecture from the shapes

_ARCH_CASES = ((18, 16), (34, 17), (50, 17), (101, 16), (152, 17), (50, 14))


def _check_infer_architecture(answer: Callable[..., Any]) -> str:
    """Real PoseResNet state dicts of every depth against the library's infer_config, naming the usual confusions."""
    for depth, joints in _ARCH_CASES:
        sd = _meta_state_dict(depth, joints)
        ref = infer_config(sd)
        case = f"the state dict of a ResNet-{depth} PoseResNet with {joints} joints"
        value = call(answer, dict(sd), case=case)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise Wrong(f"return a pair (depth, num_joints); on {case} you returned {describe(value)}")
        try:
            got_depth, got_joints = int(value[0]), int(value[1])
        except (TypeError, ValueError):
            raise Wrong(f"on {case} you returned {value!r}: return two ints, (depth, num_joints)") from None
        if got_joints != ref.num_joints:
            if got_joints == sd["final_layer.weight"].shape[1]:
                raise Wrong(f"on {case} you returned {got_joints} joints: that is the final conv's *input* channels "
                            "(weight.shape[1]); a conv weight is (out, in, kh, kw) and there is one output per joint")
            raise Wrong(f"on {case} you returned {got_joints} joints, expected {ref.num_joints}: read them from the "
                        "final 1x1 conv, whose weight is (num_joints, channels, 1, 1)")
        if got_depth != ref.depth:
            blocks = RESNET_BLOCKS[ref.depth][1]
            if {got_depth, ref.depth} == {34, 50}:
                raise Wrong(f"on {case} you returned depth {got_depth}: ResNet-34 and ResNet-50 have the same blocks "
                            f"per stage {blocks}; what tells them apart is the block type — bottleneck blocks "
                            "(ResNet-50, 101, 152) have a third conv, 'layer1.0.conv3.weight'")
            raise Wrong(f"on {case} you returned depth {got_depth}, expected {ref.depth} (blocks per stage {blocks}, "
                        f"{RESNET_BLOCKS[ref.depth][0]} blocks)")
    return (f"right on {len(_ARCH_CASES)} real state dicts — ResNet-18, 34, 50, 101 and 152, including 34 vs 50, "
            "which only the block type tells apart")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex03_convert_keys", notebook="03_pretrained_weights", function="convert_keys",
        title="Convert a checkpoint's key layout to ours", level="warm-up", check=_check_convert_keys,
        hints=(
            "Build a new dict: for every (key, tensor) of the input, put the tensor under the key with its prefixes "
            "removed. No key is ever dropped.",
            "Remove a prefix only at the start: key.removeprefix(p) (Python 3.9+) or key[len(p):] after "
            "key.startswith(p). Not str.lstrip — it strips characters, not a prefix — and not str.replace.",
            "A key can carry two prefixes ('module.backbone.…'): repeat until it starts with none of "
            "('module.', 'backbone.', 'keypoint_head.', 'head.').",
        ),
    ),
    Exercise(
        name="ex03_bgr_trap", notebook="03_pretrained_weights", function="to_network_input",
        title="The network input, in the weights' colour order", level="core", check=_check_network_input,
        hints=(
            "Four steps: reverse the channels if color_order is 'bgr' → float32 / 255 → (x − mean) / std → "
            "(1, 3, H, W).",
            "In numpy: x = image_rgb[..., ::-1] for BGR; x = (x.astype(np.float32) / 255 - mean) / std with the "
            "mean and std as arrays of 3 — they broadcast over the last axis, the channels. Keep them in the listed "
            "(RGB) order even for BGR.",
            "To a tensor: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None] — transpose moves the "
            "channels first, the copy removes the reversed view's negative strides, [None] adds the batch axis.",
        ),
    ),
    Exercise(
        name="ex03_infer_arch", notebook="03_pretrained_weights", function="infer_architecture",
        title="Read the architecture off a state dict", level="stretch", check=_check_infer_architecture,
        hints=(
            "The joints: state_dict['final_layer.weight'] has shape (num_joints, channels, 1, 1).",
            "Blocks per stage: the block indices in keys like 'layer3.5.conv1.weight' — collect them for each of "
            "layer1..layer4 (k.split('.')[1]); the count is the largest index + 1.",
            "Blocks (3, 4, 6, 3) are ResNet-34 or ResNet-50: a bottleneck block has a third conv, so look for "
            "'layer1.0.conv3.weight'. Then find the depth in the table whose blocks and block type both match.",
        ),
    ),
)

__all__ = ["EXERCISES"]
