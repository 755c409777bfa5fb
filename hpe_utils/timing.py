"""Honest timing on a noisy machine: warm-up, medians, and engines timed side by side in interleaved rounds.

Used by ``auto`` to rank engines, by the benchmarks under ``bench/`` and by notebook 07.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch


def median_ms(fn: Callable[[], Any], repeat: int = 5, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds after a warm-up (first calls allocate and pick kernels)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1000


def side_by_side_ms(fns: dict[str, Callable[[], Any]], rounds: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median ms of each function, timed in interleaved rounds (a noisy machine slows all of them alike).

    Each timed call follows an untimed call of the same function: ONNX Runtime's worker threads keep spinning
    after a run returns, and measured here they made the next eager PyTorch call 1.7x slower (85 vs 51 ms), so
    without it whichever engine comes after ONNX Runtime in a round pays for it.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {n: [] for n in fns}
    for _ in range(rounds):
        for n, fn in fns.items():
            fn()  # settle: the previous engine's lingering threads slow this call, not the timed one
            t0 = time.perf_counter()
            fn()
            times[n].append(time.perf_counter() - t0)
    return {n: float(np.median(t)) * 1000 for n, t in times.items()}


def bf16_matmul_speedup(n: int = 1024) -> float:
    """bf16 / fp32 matmul throughput on this CPU now: > 1 only with bf16 matrix units (AMX) or fast AVX512-BF16."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a16, b16 = a.bfloat16(), b.bfloat16()
    fp32 = median_ms(lambda: a @ b, 5, 1)
    bf16 = median_ms(lambda: a16 @ b16, 5, 1)
    return fp32 / bf16


__all__ = ["bf16_matmul_speedup", "median_ms", "side_by_side_ms"]
