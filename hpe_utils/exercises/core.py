"""The machinery behind the notebooks' exercises: an exercise record, the feedback a learner sees, and Checker.

A check runs the learner's function on a few cases against the library's own implementation and, when an
answer is wrong, says *what* is wrong in words a learner understands. An untouched stub (it raises
``NotImplementedError``) is "not attempted yet", never a failure, so the notebooks run top to bottom as shipped.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping

LEVELS = ("warm-up", "core", "stretch")
SOLUTIONS_DIR = "notebooks/solutions"  # where the worked answers live, one script per notebook


class Wrong(Exception):
    """Raised by a check with the learner-facing explanation of what is wrong."""


class NotAttempted(Exception):
    """Raised when the learner's function is still the stub (it raised NotImplementedError)."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it lives, what the learner writes, how it is checked, and its hints in order.

    ``check`` receives the learner's function and returns the success message, or raises :class:`Wrong`.
    ``function`` is the name of the stub the notebook defines (and the solution script defines too).
    """

    name: str
    notebook: str
    function: str
    title: str
    level: str
    check: Callable[[Callable[..., Any]], str]
    hints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"{self.name}: level must be one of {LEVELS}, got {self.level!r}")
        if not self.name.startswith(f"ex{self.notebook[:2]}_"):
            raise ValueError(f"{self.name}: exercise names start with ex<notebook number>_, e.g. ex{self.notebook[:2]}_…")

    @property
    def solution_path(self) -> str:
        """Where the worked answer is, relative to the repository root."""
        return f"{SOLUTIONS_DIR}/{self.notebook}.py"


@dataclass(frozen=True)
class Feedback:
    """What a check says: its status ("correct", "wrong" or "not attempted") and the message for the learner.

    Shown as its message in a notebook (it is the cell's value), so a check cell needs no print.
    """

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        """True when the answer is right."""
        return self.status == "correct"

    def __str__(self) -> str:
        mark = {"correct": "✅", "wrong": "❌", "not attempted": "⏳"}[self.status]
        return f"{mark} {self.exercise}: {self.message}"

    __repr__ = __str__


def call(answer: Callable[..., Any], *args: Any, case: str, **kwargs: Any) -> Any:
    """Run the learner's function on one case; a stub becomes NotAttempted, any crash a Wrong naming the case."""
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as e:
        raise NotAttempted() from e
    except (Wrong, NotAttempted):
        raise
    except Exception as e:  # the learner's own bug: say where, in their terms, not with our traceback
        frames = traceback.extract_tb(e.__traceback__)
        own = getattr(getattr(answer, "__code__", None), "co_filename", None)
        mine = [f for f in frames if f.filename == own] or frames  # the learner's line, not one deep in torch
        where = f" (line {mine[-1].lineno}: {mine[-1].line})" if mine and mine[-1].line else ""
        raise Wrong(f"on {case} your function raised {type(e).__name__}: {e}{where}") from e


def describe(value: Any) -> str:
    """A short description of a returned value (type and shape) for messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value) if len(repr(value)) < 60 else type(value).__name__


class Message(str):
    """A string a notebook shows as plain text (no quotes) when it is a cell's value."""

    def __repr__(self) -> str:
        return str(self)


class Checker:
    """Checks learners' answers (``check.ex02_encode(encode)``) and gives hints one at a time (``check.hint(name)``).

    Each notebook makes its own Checker, which remembers how many hints of each exercise it has given.
    """

    def __init__(self, exercises: Mapping[str, Exercise] | None = None) -> None:
        if exercises is None:
            from . import EXERCISES

            exercises = EXERCISES
        self._exercises = dict(exercises)
        self._hints_given: dict[str, int] = {}

    def _exercise(self, name: str) -> Exercise:
        if name not in self._exercises:
            known = ", ".join(self._exercises)
            raise AttributeError(f"there is no exercise named {name!r}; the exercises are: {known}")
        return self._exercises[name]

    def __getattr__(self, name: str) -> Callable[[Callable[..., Any]], Feedback]:
        if name.startswith("_"):
            raise AttributeError(name)
        self._exercise(name)
        return lambda answer: self.run(name, answer)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._exercises))

    def run(self, name: str, answer: Any) -> Feedback:
        """Check ``answer`` (the learner's function) for exercise ``name``."""
        ex = self._exercise(name)
        if not callable(answer):
            return Feedback(name, "wrong", f"pass the function itself, e.g. check.{name}({ex.function}) — not its "
                            f"result (no parentheses after {ex.function}); got {describe(answer)}")
        try:
            message = ex.check(answer)
        except NotAttempted:
            return Feedback(name, "not attempted", f"not attempted yet — fill in {ex.function}() above (replace "
                            "`raise NotImplementedError`), run its cell, then run this check again")
        except Wrong as w:
            return Feedback(name, "wrong", f"{w} (stuck? check.hint({name!r}))")
        return Feedback(name, "correct", message)

    def hint(self, name: str) -> "Message":
        """The next hint for exercise ``name``; after the last one, where the solution is."""
        ex = self._exercise(name)
        given = self._hints_given.get(name, 0)
        self._hints_given[name] = given + 1
        if given < len(ex.hints):
            return Message(f"💡 {name}, hint {given + 1}/{len(ex.hints)}: {ex.hints[given]}")
        return Message(f"💡 {name}: no more hints — the worked answer is {ex.solution_path}, function {ex.function}()")


def registry(*groups: tuple[Exercise, ...]) -> dict[str, Exercise]:
    """One dict of every exercise by name; a name defined twice is an error, not a silent overwrite."""
    out: dict[str, Exercise] = {}
    for group in groups:
        for ex in group:
            if ex.name in out:
                raise ValueError(f"exercise {ex.name} is defined twice")
            out[ex.name] = ex
    return out


__all__ = ["Checker", "Exercise", "Feedback", "LEVELS", "Message", "NotAttempted", "SOLUTIONS_DIR", "Wrong", "call", "describe",
           "registry"]
