"""Exercises of notebook 07_jit_tracing_export: an honest latency measurement, and torch.export with a dynamic batch."""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..formats import export_program
from ..timing import median_ms
from .core import Exercise, Wrong, call, describe

NOTEBOOK = "07_jit_tracing_export"


# ------------------------------------------------------------------ 6.1 latency

class _Scripted:
    """A stand-in for a model call: call i sleeps script[i] seconds, and how long each call really took is recorded."""

    def __init__(self, script: Sequence[float]) -> None:
        self.script = list(script)
        self.took: list[float] = []  # milliseconds, as measured inside the call

    def __call__(self) -> None:
        i = len(self.took)
        t0 = time.perf_counter()
        time.sleep(self.script[min(i, len(self.script) - 1)])
        self.took.append((time.perf_counter() - t0) * 1000)


def _close(value: float, target: float) -> bool:
    """Within the noise of a shared machine: 2 ms or 40%, whichever is larger."""
    return abs(value - target) <= max(2.0, 0.4 * target)


def _check_latency(answer: Callable[..., Any]) -> str:
    """Time scripted calls (slow first calls, one outlier) with the learner's function and with timing.median_ms."""
    steady, slow, outlier = 0.005, 0.040, 0.100
    cases = [  # (warmup, repeats, script in seconds, words)
        (2, 9, [steady] * 6 + [outlier] + [steady] * 4,
         "a function taking 5 ms a call, except one call of 100 ms (warmup=2, repeats=9)"),
        (4, 3, [slow] * 4 + [steady] * 3,  # more slow calls than fast: timed with the rest, they move the median
         "a function whose first 4 calls take 40 ms, then 5 ms (warmup=4, repeats=3)"),
    ]
    for warmup, repeats, script, words in cases:
        fn = _Scripted(script)
        got = call(answer, fn, warmup=warmup, repeats=repeats, case=words)
        if isinstance(got, (list, tuple, np.ndarray)) and len(got) == repeats:
            raise Wrong(f"on {words} you returned all {repeats} times: return one number, their median in "
                        "milliseconds (float(np.median(times)) * 1000)")
        if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
            raise Wrong(f"return one number, the median in milliseconds (a float); on {words} you returned "
                        f"{describe(got)}")
        got = float(got)
        calls = len(fn.took)
        if calls == repeats and warmup:
            raise Wrong(f"on {words}, fn was called {calls} times: the first {warmup} calls must be warm-up, run but "
                        f"not timed (first calls allocate memory and pick kernels) — call it warmup + repeats = "
                        f"{warmup + repeats} times in all")
        if calls != warmup + repeats:
            raise Wrong(f"on {words}, fn was called {calls} times; it should be {warmup} untimed warm-up calls then "
                        f"{repeats} timed ones, {warmup + repeats} in all")
        want = median_ms(_Scripted(script), repeat=repeats, warmup=warmup)  # the library, on the same script
        if _close(got, want):
            continue
        timed, every = fn.took[warmup:], fn.took
        if not np.isfinite(got) or got <= 0:
            raise Wrong(f"on {words} you returned {got:g} ms: a latency is a positive time")
        if _close(got * 1000, want):
            raise Wrong(f"on {words} you returned {got:.4g}: that is seconds — time.perf_counter() counts seconds, "
                        "multiply by 1000 for milliseconds")
        for factor, unit in ((1e3, "microseconds"), (1e6, "nanoseconds (perf_counter_ns?)")):
            if _close(got / factor, want):
                raise Wrong(f"on {words} you returned {got:.4g}: that looks like {unit}, not milliseconds")
        variants = {  # what each classic mistake returns on this very run
            "mean": float(np.mean(timed)),
            "warm": float(np.median(every)),
            "mean_warm": float(np.mean(every)),
        }
        near = min(variants, key=lambda k: abs(got - variants[k]) / variants[k])
        if _close(got, variants[near]) and not _close(variants[near], want):
            if near == "mean":
                raise Wrong(f"on {words} you returned {got:.1f} ms, the median is about {want:.1f} ms: you used the "
                            "mean — one slow outlier (the 100 ms call) moved it. Use the median (np.median), which "
                            "ignores a few outliers")
            if near == "warm":
                raise Wrong(f"on {words} you returned {got:.1f} ms, about {want:.1f} ms expected: you included the "
                            "warm-up calls in the timing — time only the calls after the warm-up")
            raise Wrong(f"on {words} you returned {got:.1f} ms, about {want:.1f} ms expected: you included the warm-up "
                        "calls and took the mean — time only the calls after the warm-up, and take their median")
        raise Wrong(f"on {words} you returned {got:.2f} ms; the median of the timed calls is about {want:.1f} ms "
                    f"(the {repeats} timed calls took {', '.join(f'{t:.0f}' for t in timed)} ms)")
    return (f"right on {len(cases)} functions — warm-up left out, an outlier ignored by the median, in milliseconds")


# ------------------------------------------------------------------ 6.2 torch.export with a dynamic batch

def _tiny_model() -> torch.nn.Module:
    """A small conv net with BatchNorm, in training mode as it comes out of training; same weights every time."""
    with torch.random.fork_rng(devices=[]):  # deterministic weights without touching the caller's random state
        torch.manual_seed(6)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                    torch.nn.Conv2d(8, 4, 1))
        bn = model[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model.train()


def _inputs(batch: int, seed: int) -> torch.Tensor:
    """A reproducible batch of small 3 x 16 x 12 images."""
    return torch.randn(batch, 3, 16, 12, generator=torch.Generator().manual_seed(seed))


def _check_export(answer: Callable[..., Any]) -> str:
    """Export a tiny train-mode net with the learner's function and run the program on batches 1, 3 and 5."""
    cases = [(2, "a tiny conv net still in training mode, example batch of 2"),
             (1, "the same net with an example batch of 1")]
    for example_batch, words in cases:
        model = _tiny_model()
        try:
            got = call(answer, model, _inputs(example_batch, 0), case=words)
        except Wrong as w:
            if "to be a tuple" in str(w.__cause__):
                raise Wrong(f"on {words}, torch.export.export wants the example inputs as a tuple, one item per "
                            "positional input: torch.export.export(model, (example,), ...) — note the comma") from None
            if example_batch == 1 and "specialized" in str(w.__cause__):
                raise Wrong(f"on {words}, torch.export refused: with an example batch of 1 it fixes the batch size at 1 "
                            "(it treats size 1 as a constant). Export with a batch of 2 instead — e.g. "
                            "torch.cat([example, example]) when example.shape[0] == 1") from None
            raise
        if isinstance(got, torch.jit.ScriptModule):
            raise Wrong("that is a TorchScript module (torch.jit.trace or torch.jit.script, deprecated): the current API "
                        "is torch.export.export(model, (example,), dynamic_shapes=...), which returns an "
                        "ExportedProgram")
        if not isinstance(got, torch.export.ExportedProgram):
            if isinstance(got, torch.nn.Module):
                raise Wrong(f"on {words} you returned a {type(got).__name__} module: return the ExportedProgram itself "
                            "(what torch.export.export returns), not program.module() or the model")
            raise Wrong(f"return a torch.export.ExportedProgram; on {words} you returned {describe(got)}")
        model.eval()
        reference = export_program(model, _inputs(example_batch, 0)).module()  # the library's own export
        for batch in (1, 3, 5):
            x = _inputs(batch, batch)
            try:
                with torch.no_grad():
                    out = got.module()(x)
            except Exception as e:  # a guard of the exported program, not the learner's own code
                if "Guard failed" in str(e) or "size()[0]" in str(e) or "Expected input" in str(e):
                    fixed = example_batch
                    raise Wrong(f"on {words}, your program refuses a batch of {batch}: it was exported for batch size "
                                f"{fixed} only. Pass dynamic_shapes=({{0: torch.export.Dim('batch')}},) (or "
                                "{0: torch.export.Dim.AUTO}) so dimension 0 of the input may vary"
                                + (" — and with an example batch of 1 even that is fixed to 1: export with a batch of "
                                   "2 (torch.cat([example, example]))" if fixed == 1 else "")) from None
                raise Wrong(f"on {words}, running your program's .module() on a batch of {batch} raised "
                            f"{type(e).__name__}: {str(e)[:200]}") from None
            with torch.no_grad():
                want = reference(x)
            if tuple(out.shape) != tuple(want.shape):
                raise Wrong(f"on {words}, your program's output on a batch of {batch} has shape {tuple(out.shape)}, "
                            f"it should be {tuple(want.shape)}")
            if not torch.allclose(out, want, atol=1e-4, rtol=1e-4):
                with torch.no_grad():
                    trained = copy.deepcopy(model).train()(x)  # what a program traced in training mode computes
                if torch.allclose(out, trained, atol=1e-4, rtol=1e-4):
                    raise Wrong(f"on {words}, your program's outputs match the model in training mode: BatchNorm used "
                                "the batch's own statistics. Call model.eval() before exporting, as for inference")
                diff = float((out - want).abs().max())
                raise Wrong(f"on {words}, your program's outputs on a batch of {batch} differ from the model's in eval "
                            f"mode by up to {diff:.3g}")
    return ("right: an ExportedProgram of the model in eval mode that runs batches of 1, 3 and 5, exported from "
            "example batches of 2 and of 1")


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        name="ex07_latency", notebook=NOTEBOOK, function="median_latency_ms", level="core",
        title="Measure a latency honestly", check=_check_latency,
        hints=(
            "Call fn() `warmup` times without timing it. Then, `repeats` times: t0 = time.perf_counter(); fn(); "
            "append time.perf_counter() - t0.",
            "Return np.median of those times (not the mean: one slow call would move it), times 1000 for "
            "milliseconds — time.perf_counter() counts seconds.",
        ),
    ),
    Exercise(
        name="ex07_export", notebook=NOTEBOOK, function="export_model", level="stretch",
        title="torch.export with a dynamic batch dimension", check=_check_export,
        hints=(
            "model.eval() first. Then torch.export.export(model, (example,), dynamic_shapes=...) — the example inputs "
            "go in a tuple, and dynamic_shapes has one entry per input.",
            "dynamic_shapes=({0: torch.export.Dim('batch', min=1, max=256)},) makes dimension 0 of the first input "
            "dynamic (torch.export.Dim.AUTO works too).",
            "torch.export treats a size of 1 as a constant, so a batch-1 example fixes the batch at 1: if "
            "example.shape[0] == 1, export with torch.cat([example, example]).",
        ),
    ),
)

__all__ = ["EXERCISES"]
