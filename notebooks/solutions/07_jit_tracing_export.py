"""Worked answers to notebook 08's exercises: try them yourself first."""
import time

import numpy as np
import torch


def median_latency_ms(fn, warmup=3, repeats=20):
    """Median wall time of fn() in milliseconds, after untimed warm-up calls."""
    for _ in range(warmup):  # first calls allocate memory and pick kernels: run them, do not time them
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1000  # the median ignores a few slow outliers; seconds -> ms


def export_model(model, example):
    """model as a torch.export.ExportedProgram whose batch dimension may vary."""
    model = model.eval()  # inference: BatchNorm uses its running statistics, dropout is off
    if example.shape[0] == 1:  # torch.export treats a size of 1 as a constant: give it a batch of 2
        example = torch.cat([example, example])
    batch = torch.export.Dim("batch", min=1, max=256)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
