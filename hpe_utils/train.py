"""Training loop for Simple Baselines: Adam + step schedule, resumable, CPU (bf16 when faster) or CUDA, DDP.

``hpe train`` is a thin wrapper around :func:`train`. A run writes to ``out_dir``:
``last.pt`` (everything needed to resume), ``best.pt`` (the best validation checkpoint, in the
project's own weights format), ``metrics.csv`` / ``metrics.json`` (one row per epoch) and ``config.json``.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .codec import HeatmapCodec
from .datasets import DATASETS, AugmentConfig, DatasetError, TopDownDataset, dataset_samples
from .evaluate import predict_dataset, score_pck
from .files import write_atomic
from .losses import JointsMSELoss
from .model import PoseResNet, PoseResNetConfig
from .predictor import Predictor
from .skeletons import get_skeleton
from .transforms import BOX_PADDING
from .weights import load_backbone, load_weights, save_checkpoint


@dataclass
class TrainConfig:
    """Everything that defines a run; saved as ``config.json`` beside the checkpoints."""

    dataset: str = "lsp"  # a name of datasets.DATASETS
    data: str = "../shared/data/lspet"  # what that dataset's loader reads (DATASETS[dataset].data)
    images: str | None = None  # coco/mpii: image folder (default: found beside the json, see dataset_samples)
    labels_override: str | None = None  # lsp: train on these labels (datasets.save_lsp_labels); val keeps the dataset's
    train_range: tuple[int, int] | None = (0, 8500)  # numbered datasets (lsp): 0-based image indices [start, stop)
    val_range: tuple[int, int] | None = (8500, 9000)
    train_indices: tuple[int, ...] = ()  # numbered datasets: exactly these 0-based images instead of train_range
    val_indices: tuple[int, ...] = ()  # and these instead of val_range (may repeat training images: a memorising demo)
    repeat: int = 1  # each training image this many times an epoch, augmented anew each time (for a handful of images)
    val_fraction: float = 0.1  # the others: last share of samples for validation
    skeleton: str = "mpii16"
    depth: int = 18
    input_size: tuple[int, int] = (128, 128)  # (width, height)
    sigma: float | None = None
    unbiased_encoding: bool = False  # Gaussian targets at the exact sub-pixel joint (DARK), not the rounded pixel
    deconv_filters: tuple[int, ...] = (256, 256, 256)
    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    lr_steps: tuple[int, ...] = (40, 52)
    lr_factor: float = 0.1
    scale_range: tuple[float, float] = (0.7, 1.35)
    rotation: float = 30.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    color_jitter: float = 0.0  # brightness/contrast/saturation jitter strength (0 = off, the original recipe)
    erase_prob: float = 0.0  # random-erasing probability (0 = off, the original recipe)
    paste_prob: float = 0.0  # chance of another training person pasted beside the centred one (crowds; 0 = off)
    box_padding: float = BOX_PADDING  # crop = person box x this; stored in the checkpoint for inference
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (CUDA)
    channels_last: bool = True
    seed: int = 0
    out_dir: str = "runs/default"
    device: str = "auto"
    threads: int | None = None
    max_steps_per_epoch: int | None = None  # for smoke tests and quick demos
    val_flip: bool = True
    preload: bool = True
    resume: bool = True
    progress: bool = True
    init_weights: str | None = None  # start from a checkpoint (fine-tuning) instead of random init
    backbone_weights: str | None = None  # ImageNet ResNet file for the backbone (the paper's start); head stays random

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.labels_override and not DATASETS[self.dataset].takes_labels:
            raise ValueError(f"labels_override applies to {', '.join(n for n, d in DATASETS.items() if d.takes_labels)} "
                             f"only, not {self.dataset}")
        if self.init_weights and self.backbone_weights:
            raise ValueError("init_weights and backbone_weights are both set: start from one or the other")
        if (self.train_indices or self.val_indices) and not DATASETS[self.dataset].takes_range:
            raise ValueError(f"train_indices/val_indices number images of "
                             f"{', '.join(n for n, d in DATASETS.items() if d.takes_range)} only, not {self.dataset}")
        if int(self.repeat) != self.repeat or self.repeat < 1:
            raise ValueError(f"repeat must be a whole number >= 1, got {self.repeat}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(d) - set(names)
        if unknown:
            raise ValueError(f"unknown training options: {sorted(unknown)}")
        conv: dict[str, Any] = {}
        for k, v in d.items():
            conv[k] = tuple(v) if isinstance(v, list) else v
        return cls(**conv)


def build_datasets(cfg: TrainConfig) -> tuple[TopDownDataset, TopDownDataset]:
    """Training (augmented) and validation datasets for the configured data source."""
    sk = get_skeleton(cfg.skeleton)
    aspect = cfg.input_size[0] / cfg.input_size[1]
    codec = HeatmapCodec(tuple(cfg.input_size), sigma=cfg.sigma,  # type: ignore[arg-type]
                         unbiased=cfg.unbiased_encoding)
    if DATASETS[cfg.dataset].takes_range:
        tr = list(cfg.train_indices) or (range(*cfg.train_range) if cfg.train_range else None)
        va = list(cfg.val_indices) or (range(*cfg.val_range) if cfg.val_range else None)
        train_s = dataset_samples(cfg.dataset, cfg.data, sk, aspect, cfg.box_padding, tr, labels=cfg.labels_override)
        val_s = dataset_samples(cfg.dataset, cfg.data, sk, aspect, cfg.box_padding, va) if va is not None else []
    else:
        samples = dataset_samples(cfg.dataset, cfg.data, sk, aspect, cfg.box_padding, images=cfg.images)
        n_val = max(1, int(round(len(samples) * cfg.val_fraction))) if len(samples) > 1 else 0
        train_s, val_s = samples[: len(samples) - n_val], samples[len(samples) - n_val:]
    if not train_s:
        raise DatasetError(f"no training samples found in {cfg.data}")
    train_s = train_s * int(cfg.repeat)  # copies get their own augmentation: it is drawn per (epoch, index)
    aug = AugmentConfig(tuple(cfg.scale_range), cfg.rotation, cfg.rotation_prob, cfg.flip_prob,  # type: ignore[arg-type]
                        cfg.color_jitter, cfg.erase_prob, cfg.paste_prob)
    train = TopDownDataset(train_s, sk, codec, aug, seed=cfg.seed)
    val = TopDownDataset(val_s, sk, codec, None)
    return train, val


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


_VALIDATION_ENGINES = {"fp32": "torch", "bf16": "torch-bf16", "fp16": "torch-fp16"}  # precision -> engine


def _autocast_dtype(precision: str) -> torch.dtype | None:
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: JointsMSELoss, batch: dict[str, Any],
                device: torch.device, dtype: torch.dtype | None, channels_last: bool,
                scaler: torch.amp.GradScaler | None = None) -> float:
    x = batch["image"].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = batch["target"].to(device, non_blocking=True)
    weight = batch["target_weight"].to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        out = model(x)
    loss = loss_fn(out.float(), target, weight)
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()
    return float(loss.detach())


def choose_precision(cfg: TrainConfig, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                     log: Any = print) -> str:
    """Resolve ``precision="auto"`` by timing a few real training steps in each candidate precision.

    Measured, not assumed: bf16 pays off only on CPUs with bf16 matrix units (AMX, AVX512-BF16).
    The timing steps run on a throw-away copy so they do not change the model being trained.
    """
    if cfg.precision != "auto":
        return cfg.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    import copy

    timings: dict[str, float] = {}
    for prec in ("fp32", "bf16"):
        m = copy.deepcopy(model)
        opt = torch.optim.Adam(m.parameters(), lr=0.0)
        loss_fn = JointsMSELoss()
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                _train_step(m, opt, loss_fn, batch, device, _autocast_dtype(prec), cfg.channels_last)
            except RuntimeError as e:  # bf16 kernels missing on this CPU/build
                log(f"precision {prec} unavailable here: {e}")
                ts = [math.inf]
                break
            ts.append(time.perf_counter() - t0)
        timings[prec] = min(ts[1:]) if len(ts) > 1 else ts[0]
    best = "bf16" if timings["bf16"] < 0.8 * timings["fp32"] else "fp32"
    log("precision auto: " + ", ".join(f"{k} {v * 1000:.0f} ms/step" for k, v in timings.items()) + f" -> {best}")
    return best


def _is_main() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    (out / "metrics.json").write_text(json.dumps(history, indent=1))
    if history:
        keys = list(history[-1].keys())
        with open(out / "metrics.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(history)


def _atomic_save(obj: Any, path: Path) -> None:
    write_atomic(path, lambda part: torch.save(obj, part))


def train(cfg: TrainConfig, log: Any = print) -> dict[str, Any]:
    """Train (or resume) a run; returns the final metrics row. Safe to interrupt at any point."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = pick_device(cfg.device)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)

    train_ds, val_ds = build_datasets(cfg)  # bad data fails here, before the run folder is made
    sk = train_ds.skeleton  # and bad starting weights too
    mcfg = PoseResNetConfig(depth=cfg.depth, num_joints=sk.num_joints, deconv_filters=tuple(cfg.deconv_filters),
                            deconv_kernels=(4,) * len(cfg.deconv_filters))
    model = PoseResNet(mcfg)
    out = Path(cfg.out_dir)
    resuming = cfg.resume and (out / "last.pt").exists()  # then the starting weights are not needed any more
    if cfg.init_weights and not resuming:
        init = load_weights(cfg.init_weights, skeleton=sk.name)
        model.load_state_dict(init.model.state_dict())
    elif cfg.backbone_weights and not resuming:
        n = load_backbone(model, cfg.backbone_weights)
        if _is_main():
            log(f"backbone: {n} tensors from {cfg.backbone_weights}")
    if _is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    if cfg.preload:
        train_ds.preload(progress=cfg.progress and _is_main())
        val_ds.preload(progress=False)
    model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.lr_steps), gamma=cfg.lr_factor)
    loss_fn = JointsMSELoss(use_target_weight=True)

    start_epoch, history, best = 0, [], -1.0
    precision = None
    last = out / "last.pt"
    if resuming:
        state = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        # a resumed run may extend the schedule: milestones follow the current config
        sched.milestones = Counter(cfg.lr_steps)
        start_epoch, history, best = int(state["epoch"]) + 1, list(state["history"]), float(state["best"])
        if cfg.precision == "auto":  # an explicit precision in the config wins over the one measured before
            precision = state.get("precision")
        log(f"resumed from {last} at epoch {start_epoch}")

    sampler = torch.utils.data.DistributedSampler(train_ds, world, rank, shuffle=True, seed=cfg.seed) if distributed else None
    g = torch.Generator()
    local = len(sampler) if sampler is not None else len(train_ds)  # what this process sees per epoch
    loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=sampler is None,
                                         sampler=sampler, num_workers=0, drop_last=local > cfg.batch_size,
                                         generator=g)
    if len(loader) == 0:
        raise ValueError(f"no training batch: {local} samples per process for batch size {cfg.batch_size}")
    if precision is None:
        precision = choose_precision(cfg, model, next(iter(loader)), device, log if _is_main() else (lambda *_: None))
    dtype = _autocast_dtype(precision)
    scaler = torch.amp.GradScaler("cuda") if (precision == "fp16" and device.type == "cuda") else None
    net: torch.nn.Module = model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    row: dict[str, Any] = history[-1] if history else {}
    for epoch in range(start_epoch, cfg.epochs):
        train_ds.set_epoch(epoch)
        g.manual_seed(cfg.seed * 1000 + epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        losses, seen = [], 0
        steps = len(loader) if cfg.max_steps_per_epoch is None else min(len(loader), cfg.max_steps_per_epoch)
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and _is_main()), unit="step")
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            losses.append(_train_step(net, opt, loss_fn, batch, device, dtype, cfg.channels_last, scaler))
            seen += batch["image"].shape[0] * world
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.2e}")
        bar.close()
        lr = opt.param_groups[0]["lr"]  # the rate this epoch trained at, before the schedule moves on
        sched.step()
        train_time = time.perf_counter() - t0
        val_pck = float("nan")
        per_joint: dict[str, Any] = {}
        if _is_main() and len(val_ds):
            validator = Predictor.from_model(model, skeleton=sk.name, input_size=tuple(cfg.input_size),  # type: ignore[arg-type]
                                             box_padding=cfg.box_padding, device=device, flip=cfg.val_flip,
                                             backend=_VALIDATION_ENGINES[precision], batch_size=cfg.batch_size,
                                             sigma=train_ds.codec.sigma)
            preds = predict_dataset(validator, val_ds)
            res = score_pck(preds, sk, 0.2)
            val_pck, per_joint = res.mean, res.to_dict()["per_joint"]
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None,
               "val_pck@0.2": None if math.isnan(val_pck) else val_pck, "lr": lr, "seconds": round(train_time, 1),
               "img_per_s": round(seen / max(train_time, 1e-9), 1), "precision": precision,
               **{f"pck_{k}": v for k, v in per_joint.items()}}
        history.append(row)
        if _is_main():
            improved = not math.isnan(val_pck) and val_pck > best
            if improved or not len(val_ds):
                best = val_pck if improved else best
                save_checkpoint(model, out / "best.pt", skeleton=sk.name, input_size=tuple(cfg.input_size),
                                color_order="rgb", box_padding=cfg.box_padding, sigma=train_ds.codec.sigma,
                                overwrite=True,
                                meta={"epoch": epoch + 1, "val_pck@0.2": None if math.isnan(val_pck) else val_pck,
                                      "train_config": json.loads(json.dumps(cfg.to_dict()))})
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                          "epoch": epoch, "history": history, "best": best, "precision": precision}, last)
            _write_metrics(out, history)
            log(f"epoch {epoch + 1}: loss {row['train_loss'] or float('nan'):.3e}  val PCK@0.2 {val_pck:.3f}  "
                f"{row['img_per_s']} img/s  ({precision})")
        if distributed:
            dist.barrier()
    if distributed and dist.is_initialized():
        dist.destroy_process_group()
    return row


__all__ = ["TrainConfig", "build_datasets", "choose_precision", "pick_device", "train"]
