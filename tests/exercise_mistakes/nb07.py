"""Plausible wrong answers to notebook 08's exercises, each with the diagnosis its check must give."""
import time

import numpy as np
import torch


def _timings(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def latency_mean(fn, warmup=3, repeats=20):
    return float(np.mean(_timings(fn, warmup, repeats))) * 1000


def latency_in_seconds(fn, warmup=3, repeats=20):
    return float(np.median(_timings(fn, warmup, repeats)))


def latency_without_warmup(fn, warmup=3, repeats=20):
    return float(np.median(_timings(fn, 0, repeats))) * 1000


def latency_timing_the_warmup(fn, warmup=3, repeats=20):
    return float(np.median(_timings(fn, 0, warmup + repeats))) * 1000


def latency_mean_of_every_call(fn, warmup=3, repeats=20):
    return float(np.mean(_timings(fn, 0, warmup + repeats))) * 1000


def export_traced(model, example):
    return torch.jit.trace(model.eval(), example)


def export_fixed_batch(model, example):
    return torch.export.export(model.eval(), (example,))


def export_in_training_mode(model, example):
    example = torch.cat([example, example]) if example.shape[0] == 1 else example
    return torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))


def export_batch_one_as_given(model, example):
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))


def export_the_module(model, example):
    example = torch.cat([example, example]) if example.shape[0] == 1 else example
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: torch.export.Dim.AUTO},)).module()


MISTAKES = [
    ("ex07_latency", latency_mean, "you used the mean — one slow outlier"),
    ("ex07_latency", latency_in_seconds, "multiply by 1000 for milliseconds"),
    ("ex07_latency", latency_without_warmup, "the first 2 calls must be warm-up"),
    ("ex07_latency", latency_timing_the_warmup, "you included the warm-up calls in the timing"),
    ("ex07_latency", latency_mean_of_every_call, "you included the warm-up calls and took the mean"),
    ("ex07_export", export_traced, "that is a TorchScript module"),
    ("ex07_export", export_fixed_batch, "it was exported for batch size 2 only"),
    ("ex07_export", export_in_training_mode, "Call model.eval() before exporting"),
    ("ex07_export", export_batch_one_as_given, "Export with a batch of 2 instead"),
    ("ex07_export", export_the_module, "return the ExportedProgram itself"),
]
