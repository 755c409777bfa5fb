"""What one training step costs per backbone depth and input size on this CPU: the cost half of "accuracy per CPU-hour".

    python bench/train_cost.py [--depths 18 34 50] [--sizes 128 192 256] [--batch 8] [--rounds 3] [--out F]

Each configuration runs the step `hpe train` runs (PoseResNet forward, JointsMSE loss with target weights,
backward, Adam) in fp32 and channels_last, as `hpe train` does on a CPU without fast bf16, on random crops and
the threads torch uses here. The configurations are timed in interleaved rounds
(`hpe_utils.timing.side_by_side_ms`), so a busy machine slows all of them alike, and every row is a ratio to the
default recipe's ResNet-18 at 192x192. The table turns crops per second into core-hours (wall hours x threads):
one epoch of LSP-extended's 8,500 training people, and the default's 109 epochs. Data loading and augmentation
are not included. The accuracy half comes from training runs (weights/README.md).
"""
from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Callable

import torch

from hpe_utils.losses import JointsMSELoss
from hpe_utils.model import PoseResNet
from hpe_utils.timing import side_by_side_ms

TRAIN_PEOPLE = 8500  # LSP-extended im00001-im08500, the default's training set
DEFAULT_EPOCHS = 109  # what the default weights took (weights/README.md)
REFERENCE = (18, 192)  # the default recipe's depth and input size


def training_step(depth: int, size: int, batch: int, joints: int = 16) -> Callable[[], None]:
    """One optimiser step of a fresh PoseResNet on a random batch of square crops (stride-4 heatmap targets)."""
    torch.manual_seed(0)
    model = PoseResNet(depth=depth, num_joints=joints).train().to(memory_format=torch.channels_last)  # as hpe train
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = JointsMSELoss()
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    target = torch.rand(batch, joints, size // 4, size // 4)
    weight = torch.ones(batch, joints)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), target, weight).backward()
        opt.step()

    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", type=int, nargs="+", default=[18, 34, 50])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 192, 256], help="square input sizes (pixels)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [(d, s) for d in args.depths for s in args.sizes]
    if REFERENCE not in configs:
        configs.insert(0, REFERENCE)
    steps = {f"R{d} {s}": training_step(d, s, args.batch) for d, s in configs}
    ms = side_by_side_ms(steps, rounds=args.rounds, warmup=1)
    ref = ms[f"R{REFERENCE[0]} {REFERENCE[1]}"]
    threads = torch.get_num_threads()
    lines = [f"CPU: {platform.processor() or platform.machine()}, {threads} threads, torch {torch.__version__}; "
             f"batch {args.batch}, fp32, channels_last, median of {args.rounds} interleaved rounds.", "",
             "| backbone | input | ms per step | crops/s | time per crop vs R18 192x192 | core-hours per epoch "
             f"({TRAIN_PEOPLE:,} crops; wall x threads) | core-hours for {DEFAULT_EPOCHS} epochs |", "|---|---|---:|---:|---:|---:|---:|"]
    for d, s in configs:
        t = ms[f"R{d} {s}"]
        per_s = args.batch / (t / 1000)
        epoch_h = TRAIN_PEOPLE / per_s / 3600 * threads
        lines.append(f"| ResNet-{d} | {s}x{s} | {t:.0f} | {per_s:.1f} | {t / ref:.2f}x | {epoch_h:.2f} | "
                     f"{epoch_h * DEFAULT_EPOCHS:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
