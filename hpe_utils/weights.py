"""The weights registry and checkpoint loading: registry names, paths or URLs -> a ready PoseResNet.

Loads the original MSRA release, mmpose's re-trained checkpoints (v1 ``backbone.*``/``head.*`` and 0.x
``keypoint_head.*``), DataParallel ``module.`` wrappers and our own format, always with
``torch.load(weights_only=True)`` and strictly, with a readable report when keys or shapes differ.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from .codec import default_sigma
from .download import download as fetch
from .errors import ChecksumError, WeightsError
from .files import cache_dir, repo_root, write_atomic
from .model import RESNET_BLOCKS, PoseResNet, PoseResNetConfig
from .skeletons import Skeleton, get_skeleton, skeleton_for_num_joints
from .transforms import BOX_PADDING, check_box_padding

FORMAT_TAG = "hpe-workbook/1"
COLOR_ORDERS = ("rgb", "bgr")

_MSRA_HOWTO = ("The original MSRA checkpoints are on Google Drive/OneDrive only (model zoo link in the README of "
               "microsoft/human-pose-estimation.pytorch, folder models/pytorch/{folder}/). Download {file} by hand "
               "and pass --weights path/to/{file}, or put it in {cache}.")


@dataclass(frozen=True)
class WeightsEntry:
    """One named checkpoint: how to get it and how to feed it (architecture, input, skeleton, colour order)."""

    name: str
    description: str
    depth: int
    skeleton: str
    input_size: tuple[int, int]  # (width, height)
    color_order: str
    key_format: str  # hpe | original | mmpose_v1 | mmpose_v0
    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None  # full digest or a prefix of >= 8 hex digits
    metric: str = ""
    source: str = ""
    manual_download: str | None = None
    local_path: str | None = None  # repository-relative, for embedded weights
    deconv_filters: tuple[int, ...] = (256, 256, 256)
    deconv_kernels: tuple[int, ...] = (4, 4, 4)
    final_kernel: int = 1

    @property
    def num_joints(self) -> int:
        return get_skeleton(self.skeleton).num_joints

    def config(self) -> PoseResNetConfig:
        return PoseResNetConfig(self.depth, self.num_joints, self.deconv_filters, self.deconv_kernels, self.final_kernel)

    def how_to_get(self) -> str:
        if self.local_path:
            return f"embedded: {self.local_path}"
        if self.urls:
            return "automatic download"
        return "manual download"


def _msra(depth: int, dataset: str) -> WeightsEntry:
    coco = dataset == "coco"
    size = (192, 256) if coco else (256, 256)
    file = f"pose_resnet_{depth}_{'256x192' if coco else '256x256'}.pth.tar"
    metric = {("coco", 50): "COCO AP 70.4", ("coco", 101): "COCO AP 71.4", ("coco", 152): "COCO AP 72.0",
              ("mpii", 50): "MPII PCKh@0.5 88.5", ("mpii", 101): "MPII PCKh@0.5 89.1",
              ("mpii", 152): "MPII PCKh@0.5 89.6"}[(dataset, depth)]
    return WeightsEntry(
        name=f"msra_{dataset}_r{depth}_{'256x192' if coco else '256x256'}",
        description=f"Original MSRA Simple Baselines ResNet-{depth}, {dataset.upper()} (trained on BGR input)",
        depth=depth, skeleton="coco17" if coco else "mpii16", input_size=size, color_order="bgr",
        key_format="original", filename=file, metric=metric, source="microsoft/human-pose-estimation.pytorch",
        manual_download=_MSRA_HOWTO.format(folder="pose_coco" if coco else "pose_mpii", file=file, cache="{cache}"),
    )


_MMPOSE_V1 = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"


def _mmpose_coco(depth: int, file: str, metric: str, verified: bool) -> WeightsEntry:
    """An mmpose 1.x COCO 256x192 entry; the SHA-256 prefix is the 8 hex digits in the file name."""
    sha = re.search(r"-([0-9a-f]{8})_\d{8}\.pth$", file)
    assert sha is not None, file
    note = "" if verified else " (URL not verified here)"
    return WeightsEntry(
        name=f"mmpose_coco_r{depth}_256x192", description=f"mmpose 1.x re-trained SimpleBaseline ResNet-{depth}, COCO{note}",
        depth=depth, skeleton="coco17", input_size=(192, 256), color_order="rgb", key_format="mmpose_v1",
        filename=file, urls=(_MMPOSE_V1 + file,), sha256=sha.group(1), metric=metric, source="open-mmlab/mmpose",
    )

WEIGHTS: Mapping[str, WeightsEntry] = {e.name: e for e in (
    WeightsEntry(
        name="default", description="This project's own checkpoint, trained from scratch on LSP-extended (model card: weights/README.md)",
        depth=18, skeleton="mpii16", input_size=(192, 192), color_order="rgb", key_format="hpe",
        filename="hpe_default.pt", local_path="weights/hpe_default.pt", metric="LSPet val PCK@0.2 0.653 (interim)",
        source="hpe-workbook (hpe train)",
    ),
    *(_msra(d, ds) for ds in ("coco", "mpii") for d in (50, 101, 152)),
    _mmpose_coco(50, "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth", "COCO AP 71.8", verified=True),
    _mmpose_coco(101, "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth", "COCO AP 72.6", verified=False),
    _mmpose_coco(152, "td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth", "COCO AP 73.6", verified=False),
    WeightsEntry(
        name="mmpose_mpii_r50_256x256", description="mmpose 0.x re-trained SimpleBaseline ResNet-50, MPII",
        depth=50, skeleton="mpii16", input_size=(256, 256), color_order="rgb", key_format="mmpose_v0",
        filename="res50_mpii_256x256-418ffc88_20200812.pth",
        urls=("https://download.openmmlab.com/mmpose/top_down/resnet/res50_mpii_256x256-418ffc88_20200812.pth",),
        sha256="418ffc88", metric="MPII PCKh@0.5 88.2", source="open-mmlab/mmpose",
    ),
)}


@dataclass
class LoadedWeights:
    """A ready model plus everything needed to feed it correctly."""

    model: PoseResNet
    config: PoseResNetConfig | None  # None for a model in memory that is not a PoseResNet (tests, stand-ins)
    skeleton: Skeleton
    input_size: tuple[int, int]
    color_order: str
    name: str
    source: str
    entry: WeightsEntry | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    box_padding: float = BOX_PADDING  # context around a person box, as the crops the model was tuned on
    sigma: float | None = None  # the training targets' Gaussian (heatmap px), which DARK decoding blurs with


# ------------------------------------------------------------------ key handling

def unwrap_state_dict(obj: Any, label: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Find the state dict inside common wrappers; returns (state dict, the wrapper's other fields)."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{label}: not a checkpoint (a {type(obj).__name__}, expected a dict of tensors)")
    for key in ("state_dict", "model", "model_state_dict", "net"):
        if key in obj and isinstance(obj[key], Mapping):
            inner = obj[key]
            if any(isinstance(v, torch.Tensor) for v in inner.values()):
                return dict(inner), {k: v for k, v in obj.items() if k != key}
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj), {}
    raise WeightsError(f"{label}: no state dict found (top-level keys: {sorted(obj)[:10]})")


_PREFIXES = ("module.", "backbone.", "keypoint_head.", "head.")


def normalize_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DataParallel/DDP ``module.`` and mmpose ``backbone.``/``head.``/``keypoint_head.`` prefixes."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        key = k
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if key.startswith(p):
                    key, changed = key[len(p):], True
        out[key] = v
    return out


def infer_config(sd: Mapping[str, torch.Tensor], label: str = "checkpoint") -> PoseResNetConfig:
    """Backbone depth, deconvolution head and joint count from a normalised state dict's keys and shapes."""
    bottleneck = "layer1.0.conv3.weight" in sd
    blocks = []
    for i in range(1, 5):
        idx = {int(m.group(1)) for k in sd if (m := re.match(rf"layer{i}\.(\d+)\.", k))}
        if not idx:
            raise WeightsError(f"{label}: no 'layer{i}.*' keys; this is not a ResNet pose checkpoint")
        blocks.append(max(idx) + 1)
    depth = next((d for d, (kind, b) in RESNET_BLOCKS.items()
                  if tuple(blocks) == b and (kind == "bottleneck") == bottleneck), None)
    if depth is None:
        raise WeightsError(f"{label}: ResNet with blocks {blocks} ({'bottleneck' if bottleneck else 'basic'}) matches no "
                           f"known depth {sorted(RESNET_BLOCKS)}")
    filters, kernels = [], []
    i = 0
    while f"deconv_layers.{i}.weight" in sd:
        w = sd[f"deconv_layers.{i}.weight"]
        if w.ndim != 4:
            raise WeightsError(f"{label}: deconv_layers.{i}.weight has shape {tuple(w.shape)}, expected 4-D")
        filters.append(int(w.shape[1]))
        kernels.append(int(w.shape[2]))
        i += 3
    if "final_layer.weight" not in sd:
        raise WeightsError(f"{label}: no 'final_layer.weight'; this is not a Simple Baselines checkpoint")
    fw = sd["final_layer.weight"]
    try:
        return PoseResNetConfig(depth, int(fw.shape[0]), tuple(filters), tuple(kernels), int(fw.shape[2]))
    except ValueError as e:
        raise WeightsError(f"{label}: unsupported architecture: {e}") from None


def strict_load(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], label: str) -> None:
    """load_state_dict(strict=True) after our own comparison, so a mismatch gets a readable report.

    Missing ``num_batches_tracked`` buffers (older checkpoints) are filled with 0; floating tensors are
    cast to the model's dtype (fp16 storage upcasts to fp32).
    """
    model.load_state_dict(_fit(model.state_dict(), sd, label), strict=True)


def _fit(own: Mapping[str, torch.Tensor], sd: Mapping[str, torch.Tensor], label: str) -> dict[str, torch.Tensor]:
    """``sd`` checked key by key and shape by shape against ``own`` and cast to its dtypes (see strict_load)."""
    sd = dict(sd)
    for k, v in own.items():
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros_like(v)
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def part(title: str, items: list[str]) -> str:
            more = f" … and {len(items) - 10} more" if len(items) > 10 else ""
            return f"\n  {title} ({len(items)}): " + ", ".join(items[:10]) + more if items else ""

        raise WeightsError(f"{label}: checkpoint does not fit the model" + part("missing keys", missing)
                           + part("unexpected keys", unexpected) + part("wrong shapes", shapes))
    return {k: (v.to(own[k].dtype) if v.is_floating_point() else v) for k, v in sd.items()}


# ------------------------------------------------------------------ resolving a spec to a file

def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://", "file://"))


def _entry_file(entry: WeightsEntry, *, download_ok: bool, progress: bool) -> Path:
    if entry.local_path:
        p = repo_root() / entry.local_path
        if p.exists():
            return p
        if entry.name == "default":
            raise WeightsError(
                f"the default weights ({entry.local_path}) are not in this checkout. Train them with "
                "`hpe train --config configs/default_lsp_r18_128.json` (see weights/README.md), or pass "
                "--weights NAME|PATH|URL with another checkpoint (`hpe weights list` shows the registry).")
        raise WeightsError(f"{entry.name}: embedded file {p} is missing")
    cached = cache_dir() / entry.filename
    if entry.urls:
        if not download_ok and not cached.exists():
            raise WeightsError(f"{entry.name} is not downloaded yet; run `hpe weights download {entry.name}`")
        errors = []
        for url in entry.urls:
            try:
                return fetch(url, cached, sha256=entry.sha256, progress=progress)
            except ChecksumError:
                raise
            except WeightsError as e:
                errors.append(str(e))
        raise WeightsError("\n".join(errors))
    if cached.exists():
        return cached
    how = (entry.manual_download or "no download source is known").replace("{cache}", str(cache_dir()))
    raise WeightsError(f"{entry.name}: {how}")


def download_weights(name: str, *, progress: bool = True) -> Path:
    """Fetch a registry entry into the cache (``hpe weights download NAME``)."""
    if name not in WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    return _entry_file(WEIGHTS[name], download_ok=True, progress=progress)


def read_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load`` with ``weights_only=True``: a checkpoint can never run code on load."""
    label = str(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise WeightsError(f"{label}: is a folder, not a checkpoint") from None
    except Exception as e:  # pickle errors, zip errors, weights_only refusals …
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"{label}: not a loadable PyTorch checkpoint ({type(e).__name__}: {first[:200]})") from None


BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def load_backbone(model: torch.nn.Module, path: str | os.PathLike) -> int:
    """Load an ImageNet ResNet classifier file (torchvision/MSRA/timm names) into ``model``'s backbone.

    Simple Baselines starts its backbone from ImageNet weights rather than from random ones; the head keeps
    its initialisation and ``fc.*`` is dropped. Every backbone tensor must be present with the right shape,
    so a ResNet-34 file cannot half-load into a ResNet-18. Returns the number of tensors loaded.
    """
    label = str(path)
    sd, _ = unwrap_state_dict(read_checkpoint(path), label)
    sd = {k: v for k, v in normalize_keys(sd).items() if k.startswith(BACKBONE_PREFIXES)}
    own = {k: v for k, v in model.state_dict().items() if k.startswith(BACKBONE_PREFIXES)}
    if not sd:
        raise WeightsError(f"{label}: no ResNet backbone keys (conv1, bn1, layer1..layer4) in this file")
    result = model.load_state_dict(_fit(own, sd, f"{label} (ImageNet backbone)"), strict=False)
    assert not result.unexpected_keys
    return len(sd)


def load_weights(spec: str | os.PathLike | WeightsEntry = "default", *, device: str | torch.device = "cpu",
                 input_size: tuple[int, int] | None = None, skeleton: str | None = None,
                 color_order: str | None = None, box_padding: float | None = None, download: bool = True,
                 progress: bool = True) -> LoadedWeights:
    """A registry name (or entry), a file path or a URL -> a strict-loaded model in eval mode on ``device``.

    For a bare state dict the architecture is inferred from keys and shapes, the skeleton from the joint
    count and the input size from the skeleton's usual one, unless the arguments say otherwise; the
    colour order of an unknown file defaults to RGB and its box padding to the original 1.25.
    """
    entry: WeightsEntry | None = None
    if isinstance(spec, WeightsEntry):
        entry = spec
        path = _entry_file(entry, download_ok=download, progress=progress)
    elif isinstance(spec, str) and spec in WEIGHTS:
        entry = WEIGHTS[spec]
        path = _entry_file(entry, download_ok=download, progress=progress)
    elif isinstance(spec, str) and _is_url(spec):
        name = Path(spec.split("?")[0]).name or "weights.pth"
        m = re.search(r"-([0-9a-f]{8,64})[_.]", name)
        path = fetch(spec, cache_dir() / name, sha256=m.group(1) if m else None, progress=progress)
    else:
        path = Path(spec)
        if not path.exists():
            raise WeightsError(f"{spec}: no such file and no registry entry of that name "
                               f"(known: {', '.join(WEIGHTS)})")
    label = str(path)
    obj = read_checkpoint(path)
    meta: dict[str, Any] = {}
    padding = BOX_PADDING
    sigma = None
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT_TAG:
        sd = normalize_keys(obj["state_dict"])
        config = PoseResNetConfig.from_dict(obj["config"])
        sk_name, size, order = obj["skeleton"], tuple(obj["input_size"]), obj.get("color_order", "rgb")
        meta = dict(obj.get("meta", {}))
        padding = obj.get("box_padding", BOX_PADDING)
        sigma = obj.get("sigma", meta.get("sigma"))  # files written before it was a field kept it in meta
    else:
        raw, _ = unwrap_state_dict(obj, label)
        sd = normalize_keys(raw)
        config = infer_config(sd, label)
        if entry is not None:
            sk_name, size, order = entry.skeleton, entry.input_size, entry.color_order
        else:
            sk_name = skeleton_for_num_joints(config.num_joints).name
            size, order = get_skeleton(sk_name).input_size, "rgb"
    sk = get_skeleton(skeleton or sk_name)
    if sk.num_joints != config.num_joints:
        raise WeightsError(f"{label}: checkpoint predicts {config.num_joints} joints but skeleton {sk.name} has {sk.num_joints}")
    order = color_order or order
    if order not in COLOR_ORDERS:
        raise WeightsError(f"color order must be one of {COLOR_ORDERS}, got {order!r}")
    try:
        padding = check_box_padding(padding if box_padding is None else box_padding)
    except ValueError as e:
        raise WeightsError(f"{label}: {e}") from None
    # foreign checkpoints: the usual sigma of the input size they were trained at (an override does not change it)
    sigma = float(sigma) if sigma is not None else default_sigma(tuple(int(v) for v in size))  # type: ignore[arg-type]
    model = PoseResNet(config)
    strict_load(model, sd, label)
    model.to(device).eval()
    size_wh = tuple(int(v) for v in (input_size or size))
    name = entry.name if entry else Path(label).name
    return LoadedWeights(model, config, sk, size_wh, order, name, str(spec if not isinstance(spec, WeightsEntry) else spec.name),
                         entry, meta, padding, sigma)


def save_checkpoint(model: PoseResNet, path: str | os.PathLike, *, skeleton: str, input_size: tuple[int, int],
                    color_order: str = "rgb", meta: dict[str, Any] | None = None, half: bool = True,
                    box_padding: float = BOX_PADDING, sigma: float | None = None, overwrite: bool = False) -> Path:
    """Write our self-describing format atomically; fp16 storage halves the size (loading upcasts)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if color_order not in COLOR_ORDERS:
        raise ValueError(f"color_order must be one of {COLOR_ORDERS}")
    box_padding = check_box_padding(box_padding)
    if sigma is not None and not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    sd = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().contiguous()
          for k, v in model.state_dict().items()}
    obj = {"format": FORMAT_TAG, "config": model.config.to_dict(), "skeleton": get_skeleton(skeleton).name,
           "input_size": [int(v) for v in input_size], "color_order": color_order, "box_padding": box_padding,
           **({"sigma": float(sigma)} if sigma is not None else {}),
           "state_dict": sd, "meta": dict(meta or {})}
    write_atomic(path, lambda part: torch.save(obj, part))
    return path


def average_checkpoints(specs: list[str | os.PathLike], out: str | os.PathLike, *, box_padding: float | None = None,
                        overwrite: bool = False) -> Path:
    """Average the weights of runs of one architecture (a "model soup", Wortsman et al. 2022) into one checkpoint.

    Runs fine-tuned from the same start land in one basin, so their mean is usually better than each of them
    (measured on the default weights: see weights/README.md). BatchNorm statistics are averaged too. The box
    padding is the first run's unless ``box_padding`` is given (tune it with ``hpe eval --box-padding``).
    """
    if len(specs) < 2:
        raise WeightsError("averaging needs at least two checkpoints")
    loaded = [load_weights(s, progress=False) for s in specs]
    first = loaded[0]

    def kind(lw: LoadedWeights) -> tuple[Any, ...]:
        return lw.config, lw.skeleton.name, lw.input_size, lw.color_order, lw.sigma

    for lw in loaded[1:]:
        if kind(lw) != kind(first):
            raise WeightsError(f"{lw.source} does not match {first.source}: {kind(lw)} vs {kind(first)}")
    sds = [lw.model.state_dict() for lw in loaded]
    avg = {k: torch.stack([sd[k].double() for sd in sds]).mean(0).to(v.dtype) if v.is_floating_point() else v
           for k, v in sds[0].items()}
    model = PoseResNet(first.config)
    model.load_state_dict(avg)
    meta = {"averaged_from": [str(s) for s in specs],
            "averaged_meta": [{k: v for k, v in lw.meta.items() if k != "train_config"} for lw in loaded]}
    if "train_config" in first.meta:
        meta["train_config"] = first.meta["train_config"]
    return save_checkpoint(model, out, skeleton=first.skeleton.name, input_size=first.input_size,
                           color_order=first.color_order, meta=meta, overwrite=overwrite, sigma=first.sigma,
                           box_padding=first.box_padding if box_padding is None else box_padding)


def set_box_padding(spec: str | os.PathLike, out: str | os.PathLike, box_padding: float, *,
                    overwrite: bool = False) -> Path:
    """A copy of a checkpoint that crops with ``box_padding`` (found with ``hpe eval --box-padding``); weights untouched."""
    lw = load_weights(spec, progress=False)
    return save_checkpoint(lw.model, out, skeleton=lw.skeleton.name, input_size=lw.input_size,
                           color_order=lw.color_order, meta=lw.meta, box_padding=box_padding, sigma=lw.sigma,
                           overwrite=overwrite)


# ------------------------------------------------------------------ the weights the course runs

COURSE_WEIGHTS = "mmpose_coco_r50_256x192"  # what the notebooks load where it can be downloaded (COCO AP 71.8)
OFFLINE_ENV = "HPE_OFFLINE"  # set (to anything but "" or "0"): the course downloads nothing and runs `default`


def offline() -> bool:
    """True when ``$HPE_OFFLINE`` asks for no downloads (the headless notebook runs and ``make test`` set it)."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def course_weights(preferred: str | WeightsEntry = COURSE_WEIGHTS, *, device: str | torch.device = "cpu",
                   fallback: str | None = "default", progress: bool = True,
                   log: Callable[[str], None] = print) -> LoadedWeights:
    """The weights the notebooks run on photos: mmpose's ResNet-50 where it can be fetched, else ``default``.

    ``preferred`` (mmpose's re-trained Simple Baselines ResNet-50, COCO AP 71.8, RGB 256x192, COCO-17 joints) is
    loaded through :func:`load_weights`: downloaded once into the cache, checked against the registry's SHA-256
    before it is read, reused from there afterwards. With ``$HPE_OFFLINE`` set nothing is tried and the embedded
    ``fallback`` (``default``: a ResNet-18 trained from scratch on LSP, 192x192, MPII-16 joints) is loaded.
    A download that fails, or a file that does not verify (it is deleted, never loaded), falls back too;
    ``fallback=None`` raises the error instead. Either way ``log`` gets one line: which weights, and why.
    """
    entry = WEIGHTS[preferred] if isinstance(preferred, str) and preferred in WEIGHTS else preferred
    label = entry.name if isinstance(entry, WeightsEntry) else str(entry)
    wanted = f"{label} ({entry.metric})" if isinstance(entry, WeightsEntry) and entry.metric else label
    if offline():
        if fallback is None:
            raise WeightsError(f"${OFFLINE_ENV} is set: {label} is not downloaded")
        reason = f"${OFFLINE_ENV} is set, so {wanted} was not downloaded"
    else:
        before = _file_identity(entry)
        try:
            lw = load_weights(entry, device=device, progress=progress)
        except WeightsError as e:  # ChecksumError included: the download was deleted, nothing was loaded
            if fallback is None:
                raise
            first = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
            what = "failed its SHA-256 check" if isinstance(e, ChecksumError) else "could not be loaded"
            reason = f"{wanted} {what}: {first[:300]}"
        else:
            if not (lw.entry and lw.entry.urls):
                how = "loaded"
            else:  # a download replaces the cached file: the same inode and time mean it was only read
                how = "from the cache" if before is not None and before == _file_identity(entry) else "downloaded"
            check = ", SHA-256 checked" if lw.entry and lw.entry.sha256 else ""
            log(f"course weights: {lw.name} ({_recipe(lw)}), {how}{check}")
            return lw
    lw = load_weights(fallback, device=device, progress=progress)
    log(f"course weights: {lw.name} ({_recipe(lw)}); {reason}")
    return lw


def _file_identity(entry: str | WeightsEntry) -> tuple[int, int] | None:
    """(inode, mtime) of a registry entry's cached download, or None: a re-download replaces the file."""
    if not isinstance(entry, WeightsEntry) or entry.local_path or not entry.urls:
        return None
    try:
        st = (cache_dir() / entry.filename).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _recipe(lw: LoadedWeights) -> str:
    """'ResNet-50, RGB 256x192, coco17': what a notebook reader needs to know about loaded weights."""
    depth = f"ResNet-{lw.config.depth}, " if lw.config else ""
    w, h = lw.input_size
    return f"{depth}{lw.color_order.upper()} {h}x{w}, {lw.skeleton.name}"


def list_weights() -> list[WeightsEntry]:
    return list(WEIGHTS.values())


def describe_weights_table() -> str:
    """The registry as a Markdown table (docs/weights.md, ``hpe weights list``)."""
    rows = ["| name | architecture | input (HxW) | skeleton | colour order | reported accuracy | how to get |",
            "|---|---|---|---|---|---|---|"]
    for e in WEIGHTS.values():
        rows.append(f"| `{e.name}` | ResNet-{e.depth} + 3 deconv | {e.input_size[1]}x{e.input_size[0]} | {e.skeleton} | "
                    f"{e.color_order.upper()} | {e.metric} | {e.how_to_get()} |")
    return "\n".join(rows)


__all__ = [
    "COURSE_WEIGHTS", "ChecksumError", "LoadedWeights", "OFFLINE_ENV", "WEIGHTS", "WeightsEntry", "WeightsError",
    "average_checkpoints", "course_weights", "describe_weights_table", "load_backbone", "offline",
    "download_weights", "infer_config", "list_weights", "load_weights", "normalize_keys", "read_checkpoint",
    "save_checkpoint", "set_box_padding", "strict_load", "unwrap_state_dict",
]
