"""Exercises of notebook 01_architecture: the transposed-convolution size rule, the output stride, the head."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..model import PoseResNet
from .core import Exercise, Wrong, call, describe

# ------------------------------------------------------------------ 1.1 warm-up: a transposed conv's output size

# (size, kernel, stride, padding, output_padding): the head's setting first, then others that tell formulas apart
_DECONV_CASES = ((8, 4, 2, 1, 0), (6, 4, 2, 1, 0), (1, 4, 2, 1, 0), (8, 3, 2, 1, 1), (8, 3, 2, 1, 0),
                 (8, 2, 2, 0, 0), (5, 4, 2, 0, 0), (7, 3, 1, 1, 0), (7, 5, 3, 2, 2), (10, 4, 4, 0, 0))

# formulas a learner plausibly writes instead, each with what to tell them
_DECONV_MISTAKES: tuple[tuple[Callable[[int, int, int, int, int], float], str], ...] = (
    (lambda n, k, s, p, op: (n + 2 * p - k) // s + 1,
     "that is the size rule of an ordinary (strided) convolution, which shrinks the map; a transposed "
     "convolution runs it backwards: (size − 1)·stride − 2·padding + kernel + output_padding"),
    (lambda n, k, s, p, op: n * s,
     "you returned size × stride: that only holds when kernel − 2·padding + output_padding = stride (as for the "
     "head's kernel 4, padding 1); use the full rule (size − 1)·stride − 2·padding + kernel + output_padding"),
    (lambda n, k, s, p, op: (n - 1) * s - 2 * p + k,
     "you forgot output_padding: it adds that many pixels at the end (the kernel-3 head needs it to reach 2×)"),
    (lambda n, k, s, p, op: (n - 1) * s + 2 * p + k + op,
     "you added the padding: in a transposed convolution padding *removes* pixels, 2·padding of them (one side each)"),
    (lambda n, k, s, p, op: (n - 1) * s - p + k + op,
     "you subtracted the padding once: it is removed on both sides, so subtract 2·padding"),
    (lambda n, k, s, p, op: n * s - 2 * p + k + op,
     "you used size·stride where the rule has (size − 1)·stride: the kernel is placed at size positions, "
     "stride apart, so the last one starts (size − 1)·stride after the first"),
)


def _deconv_truth(n: int, k: int, s: int, p: int, op: int) -> int:
    """The real answer: run a ConvTranspose2d with these settings and read the output's size."""
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, bias=False)
    with torch.no_grad():
        return int(layer(torch.zeros(1, 1, n, n)).shape[-1])


def _is_int(value: Any) -> bool:
    """A whole number as Python or numpy int (bool excluded: True is not a size)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_deconv_size(answer: Callable[..., Any]) -> str:
    """Compare with real nn.ConvTranspose2d layers on ten settings, naming the formula mix-up when it is one."""
    got_default = call(answer, 8, case="deconv_output_size(8) (the head's defaults kernel=4, stride=2, padding=1)")
    if not _is_int(got_default):
        if isinstance(got_default, float) and got_default.is_integer():
            raise Wrong(f"return an int, not a float ({got_default!r}): a size counts pixels — use // or int()")
        raise Wrong(f"deconv_output_size should return an int (a size in pixels); got {describe(got_default)}")
    got, want = [], []
    for n, k, s, p, op in _DECONV_CASES:
        case = f"size={n}, kernel={k}, stride={s}, padding={p}, output_padding={op}"
        value = call(answer, n, kernel=k, stride=s, padding=p, output_padding=op, case=case)
        if not _is_int(value) and not (isinstance(value, float) and value.is_integer()):
            raise Wrong(f"on {case} you returned {describe(value)}; return an int (a size in pixels)")
        got.append(int(value))
        want.append(_deconv_truth(n, k, s, p, op))
    for formula, why in _DECONV_MISTAKES:
        if got != want and got == [formula(*c) for c in _DECONV_CASES]:
            raise Wrong(why)
    if got_default != want[0]:
        raise Wrong(f"deconv_output_size(8) returned {got_default}, expected {want[0]}: keep the defaults "
                    "kernel=4, stride=2, padding=1, output_padding=0 in the signature")
    if got == want:
        return (f"right on {len(want)} settings, checked against real nn.ConvTranspose2d layers — including "
                "kernel 3 with output_padding 1 and stride 1")
    i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    n, k, s, p, op = _DECONV_CASES[i]
    raise Wrong(f"on size={n}, kernel={k}, stride={s}, padding={p}, output_padding={op} you returned {got[i]}, "
                f"a ConvTranspose2d gives {want[i]}")


# ------------------------------------------------------------------ 1.2 core: the heatmap size of an input size

# (width, height): the paper's inputs, then sizes that are not multiples of 32 and a tiny one
_INPUT_SIZES = ((192, 256), (256, 256), (288, 384), (100, 60), (33, 31), (1, 1))


def _heatmap_truth(sizes: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """What PoseResNet really outputs for each (width, height): a forward pass on the meta device (shapes only)."""
    with torch.device("meta"):
        model = PoseResNet(depth=18, num_joints=1, deconv_filters=(8, 8, 8)).eval()
    out = []
    for w, h in sizes:
        y = model(torch.zeros(1, 3, h, w, device="meta"))
        out.append((int(y.shape[-1]), int(y.shape[-2])))
    return out


def _check_heatmap_size(answer: Callable[..., Any]) -> str:
    """Compare with the shape of a real PoseResNet forward pass, naming the stride or rounding mix-up."""
    want = _heatmap_truth(_INPUT_SIZES)
    got = []
    for (w, h), expected in zip(_INPUT_SIZES, want):
        case = f"an input {w} wide and {h} high"
        value = call(answer, w, h, case=case)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise Wrong(f"return a pair (width, height); on {case} you returned {describe(value)}")
        if not all(_is_int(v) or (isinstance(v, float) and v.is_integer()) for v in value):
            raise Wrong(f"on {case} you returned {tuple(value)}: return whole numbers of pixels (ints), e.g. with //")
        if not all(_is_int(v) for v in value):
            shown = tuple(float(v) for v in value)
            raise Wrong(f"on {case} you returned {shown}: return ints, not floats (a size counts pixels: use //)")
        got.append((int(value[0]), int(value[1])))
    if got == want:
        return (f"right on {len(want)} input sizes, checked against a real PoseResNet forward pass — including "
                "sizes that are not multiples of 32")
    sizes = list(_INPUT_SIZES)

    def rule(side: Callable[[int], int]) -> list[tuple[int, int]]:
        return [(side(w), side(h)) for w, h in sizes]

    if got == [(h, w) for w, h in want]:
        raise Wrong("width and height are swapped: return (width, height), in the order of the arguments "
                    "(a tensor is (N, C, H, W), but this function speaks (w, h))")
    if got in (rule(lambda n: math.ceil(n / 32)), rule(lambda n: n // 32)):
        raise Wrong("you returned the backbone's output (stride 32): the three deconvolutions of the head each double "
                    "it, so the heatmaps are 8× larger than the backbone's map (output stride 4)")
    if got in (rule(lambda n: n // 4), rule(lambda n: round(n / 4))):
        w, h = sizes[3]
        raise Wrong(f"right for the paper's sizes, but you divided the input by 4 directly; for {w} wide the network "
                    f"gives {want[3][0]}, not {w // 4}: the backbone's five stride-2 layers each round *up* (their "
                    f"padding keeps the last partial window), giving ceil({w} / 32) = {math.ceil(w / 32)}, which the "
                    "head then doubles three times")
    if got in (rule(lambda n: n // 32 * 8), rule(lambda n: round(n / 32) * 8)):
        raise Wrong("close: ×8 after the backbone is right, but the backbone rounds *up*, not down: its stride-2 layers "
                    "are padded, so a partial window still makes an output pixel — use ceil(size / 32)")
    (gw, gh), (ww, wh) = got[0], want[0]  # the paper's 192x256: a clean ratio says which stride they used
    for factor in (2, 4):
        if (gw * factor, gh * factor) == (ww, wh):
            raise Wrong(f"your heatmaps are {factor}× too small: the output stride is 4 — the backbone's 32, "
                        "then three deconvolutions, each × 2")
        if (gw, gh) == (ww * factor, wh * factor):
            raise Wrong(f"your heatmaps are {factor}× too large: the output stride is 4 — the backbone's 32, "
                        "then three deconvolutions, each × 2 (not more)")
    i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    raise Wrong(f"for an input {sizes[i][0]} wide and {sizes[i][1]} high you returned {got[i]}, the network's heatmaps "
                f"are {want[i]} (width, height)")


# ------------------------------------------------------------------ 1.3 stretch: build the head

def _leaves(module: nn.Module) -> list[nn.Module]:
    """The modules without children, in registration order (the layers of a Sequential)."""
    return [m for m in module.modules() if not list(m.children())]


def _library_head(num_joints: int, channels: int) -> nn.Sequential:
    """The library's own head for a ResNet-18 (512 channels in), with random BN statistics so every layer matters."""
    gen = torch.Generator().manual_seed(0)
    lib = PoseResNet(depth=18, num_joints=num_joints, deconv_filters=(channels,) * 3)
    head = nn.Sequential(*lib.deconv_layers, lib.final_layer)
    with torch.no_grad():
        for m in head.modules():
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                m.weight.normal_(0.0, 0.05, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.3, generator=gen)
                m.running_mean.normal_(0.0, 0.3, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
        lib.final_layer.bias.normal_(0.0, 0.1, generator=gen)
    return head.eval()


def _structure_problem(head: nn.Module, num_joints: int) -> str | None:
    """What is missing or extra in the head's layers, in words; None when the layer list looks right."""
    leaves = _leaves(head)
    deconvs = [m for m in leaves if isinstance(m, nn.ConvTranspose2d)]
    bns = [m for m in leaves if isinstance(m, nn.BatchNorm2d)]
    relus = [m for m in leaves if isinstance(m, nn.ReLU)]
    convs = [m for m in leaves if isinstance(m, nn.Conv2d)]
    if len(deconvs) != 3:
        return (f"your head has {len(deconvs)} nn.ConvTranspose2d layers; it needs three (each doubles the map: "
                "stride 32 → 4)")
    if any(m.bias is not None for m in deconvs):
        return ("your transposed convolutions have a bias: pass bias=False — the BatchNorm right after each one has "
                "its own shift, so a bias there is redundant (the paper's head has none)")
    if len(bns) != 3:
        return f"your head has {len(bns)} nn.BatchNorm2d layers; each of the three deconvolutions is followed by one"
    if not convs:
        return (f"there is no final nn.Conv2d: the head ends with a 1x1 convolution from the deconvolutions' channels "
                f"to one heatmap per joint ({num_joints} here)")
    final = convs[-1]
    if tuple(final.kernel_size) != (1, 1):
        return f"the final convolution has kernel {tuple(final.kernel_size)}; the head ends with a 1x1 convolution"
    if final.bias is None:
        return "keep the final 1x1 convolution's bias (one per joint; no BatchNorm follows it to provide one)"
    if len(relus) not in (0, 3):  # 0: maybe a functional relu in a custom forward, judged by behaviour later
        return (f"your head has {len(relus)} nn.ReLU layers; there is one after each BatchNorm and none after the "
                "final conv (its heatmaps are raw scores)")
    return None


def _shape_problem(head: nn.Module, got: tuple[int, ...], expected: tuple[int, ...], channels: int, h: int) -> str | None:
    """Why the head's output has the wrong shape: the channels (final conv) or the size (the deconvolutions)."""
    if len(got) != 4:
        return "the head should keep the (N, C, H, W) layout of its input"
    if got[1] != expected[1]:
        if got[1] == channels:
            return (f"your output has deconv_channels = {channels} channels: the head ends with a 1x1 convolution to "
                    f"num_joints = {expected[1]} heatmaps")
        return f"your output has {got[1]} channels; the head outputs one heatmap per joint (num_joints = {expected[1]})"
    deconvs = [m for m in _leaves(head) if isinstance(m, nn.ConvTranspose2d)]
    if len(deconvs) != 3:
        return (f"your head has {len(deconvs)} nn.ConvTranspose2d layers; it needs three, each doubling the map "
                "(stride 32 → 4 is 8×)")
    for m in deconvs:
        k, s, p, op = m.kernel_size[0], m.stride[0], m.padding[0], m.output_padding[0]
        if (h - 1) * s - 2 * p + k + op != 2 * h:
            return (f"each deconvolution must exactly double the size, but kernel {k}, stride {s}, padding {p}, "
                    f"output_padding {op} turns {h} pixels into {(h - 1) * s - 2 * p + k + op} — use kernel 4, "
                    "stride 2, padding 1 (exercise 1.1)")
    return None


def _forward(head: nn.Module, x: torch.Tensor, case: str) -> Any:
    """The learner's head on ``x``; a channel mismatch between layers is explained rather than quoted from torch."""
    try:
        return call(head, x, case=case)
    except Wrong as w:
        cause = w.__cause__
        if isinstance(cause, RuntimeError) and "channels" in str(cause):
            first = str(cause).split(" instead")[0]
            raise Wrong(f"on {case} one layer gets another number of channels than it was built for ({first}): the "
                        "first deconvolution takes in_channels, the other two and the final conv take "
                        "deconv_channels") from None
        raise


def _check_head(answer: Callable[..., Any]) -> str:
    """Shapes on two sizes, then the layer list and, with the library head's weights copied in, the same output."""
    cases = ((512, 17, 256, (2, 512, 4, 3)), (64, 5, 16, (1, 64, 8, 6)))
    heads = []
    for cin, joints, channels, shape in cases:
        case = f"make_head({cin}, {joints}, deconv_channels={channels})"
        head = call(answer, cin, joints, deconv_channels=channels, case=case)
        if not isinstance(head, nn.Module):
            raise Wrong(f"{case} returned {describe(head)}; return an nn.Module (e.g. an nn.Sequential of the layers)")
        head.eval()
        x = torch.zeros(shape)
        with torch.no_grad():
            y = _forward(head, x, f"the head of {case} on an input of shape {shape}")
        n, _, h, w = shape
        expected = (n, joints, 8 * h, 8 * w)
        if not isinstance(y, torch.Tensor):
            raise Wrong(f"the head of {case} returned {describe(y)}; it should return a tensor of shape {expected}")
        if tuple(y.shape) != expected:
            why = _shape_problem(head, tuple(y.shape), expected, channels, h) or _structure_problem(head, joints)
            raise Wrong(f"on an input of shape {shape} the head of {case} returned shape {tuple(y.shape)}, expected "
                        f"{expected}" + (f": {why}" if why else ""))
        heads.append(head)
    head = heads[0]
    problem = _structure_problem(head, 17)
    if problem:
        raise Wrong(problem)
    ref = _library_head(17, 256)
    n_ref = sum(p.numel() for p in ref.parameters())
    n_got = sum(p.numel() for p in head.parameters())
    if n_got != n_ref:
        raise Wrong(f"make_head(512, 17) has {n_got:,} parameters, the library's head {n_ref:,}: compare your layers "
                    "with ConvTranspose2d(…, kernel_size=4, stride=2, padding=1, bias=False), BatchNorm2d, ReLU (× 3), "
                    "then Conv2d(deconv_channels, num_joints, kernel_size=1)")
    # same weights in, same heatmaps out: proves the order of the layers and the nonlinearity, not just their count
    for kind in (nn.ConvTranspose2d, nn.BatchNorm2d, nn.Conv2d):
        for mine, theirs in zip(*([m for m in _leaves(h) if type(m) is kind] for h in (head, ref))):
            shapes = [[tuple(t.shape) for t in m.state_dict().values()] for m in (mine, theirs)]
            if shapes[0] != shapes[1]:
                raise Wrong(f"a {kind.__name__} of yours has other weight shapes than the library's: check its "
                            "in/out channels (deconv_channels after the first deconvolution)")
            mine.load_state_dict(theirs.state_dict())
    head.eval()
    x = torch.randn(2, 512, 4, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ref(x)
        got = _forward(head, x, "the head with the library's weights copied in")
        linear = head(x) + head(-x) - 2 * head(torch.zeros_like(x))
    if not torch.allclose(got, want, atol=1e-4 * (1.0 + float(want.abs().max())), rtol=1e-4):
        if float(linear.abs().max()) < 1e-4 * (1.0 + float(want.abs().max())):
            raise Wrong("your head is linear: there is no ReLU after the BatchNorms (add nn.ReLU after each one)")
        raise Wrong("with the library's weights copied in, your head computes something else: the order must be "
                    "ConvTranspose2d → BatchNorm2d → ReLU, three times, then the 1x1 Conv2d")
    return (f"right: the output shapes on two sizes, {n_ref:,} parameters for make_head(512, 17) as in the library, "
            "and the same heatmaps as the library's head given the same weights")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex01_deconv_size", notebook="01_architecture", function="deconv_output_size",
        title="The output size of a transposed convolution", level="warm-up", check=_check_deconv_size,
        hints=(
            "An ordinary convolution gives (size + 2·padding − kernel) // stride + 1. A transposed one undoes "
            "that: solve it for size.",
            "Each input pixel stamps the kernel onto the output, stride pixels apart: the stamps cover "
            "(size − 1)·stride + kernel pixels; padding then crops `padding` from each side and output_padding adds "
            "pixels at the end.",
            "return (size - 1) * stride - 2 * padding + kernel + output_padding",
        ),
    ),
    Exercise(
        name="ex01_heatmap_size", notebook="01_architecture", function="heatmap_size",
        title="The heatmap size for an input size", level="core", check=_check_heatmap_size,
        hints=(
            "Follow one side through the network: the backbone (stem + layer2..4) halves it five times, then the "
            "head's three deconvolutions each double it.",
            "The stride-2 layers are padded, so an odd size rounds up: 7 → 4. Five of them give ceil(size / 32) "
            "(math.ceil, or -(-size // 32)).",
            "return (math.ceil(input_w / 32) * 8, math.ceil(input_h / 32) * 8) — width first",
        ),
    ),
    Exercise(
        name="ex01_head", notebook="01_architecture", function="make_head",
        title="Build the deconvolution head", level="stretch", check=_check_head,
        hints=(
            "Build a list of layers and return nn.Sequential(*layers). Three times: nn.ConvTranspose2d, "
            "nn.BatchNorm2d, nn.ReLU; then one nn.Conv2d.",
            "The deconvolution: nn.ConvTranspose2d(channels_in, deconv_channels, kernel_size=4, stride=2, padding=1, "
            "bias=False) — no bias, BatchNorm supplies the shift. The next one starts from deconv_channels.",
            "The last layer: nn.Conv2d(deconv_channels, num_joints, kernel_size=1) — one 1x1 filter per joint, "
            "with a bias.",
        ),
    ),
)

__all__ = ["EXERCISES"]
