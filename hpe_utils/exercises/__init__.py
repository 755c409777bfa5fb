"""Exercises with automatic feedback for the course notebooks: ``check = Checker(); check.ex02_encode(encode)``.

Every notebook ends with 2–3 exercises, from warm-up to stretch. Each has a stub the learner fills in and a
check that runs it against the library's own implementation on several cases (edge cases included) and says
in words what is wrong; ``check.hint(name)`` gives hints one at a time. The worked answers are in
``notebooks/solutions/``. One registry, :data:`EXERCISES`, holds them all (``nbNN.py`` define each notebook's).
"""
from __future__ import annotations

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10
from .core import Checker, Exercise, Feedback, Message, Wrong, registry

EXERCISES: dict[str, Exercise] = registry(nb01.EXERCISES, nb02.EXERCISES, nb03.EXERCISES, nb04.EXERCISES,
                                          nb05.EXERCISES, nb06.EXERCISES, nb07.EXERCISES, nb08.EXERCISES, nb09.EXERCISES,
                                          nb10.EXERCISES)



def exercises_table() -> str:
    """The table of every exercise in ``docs/learning-path.md``, generated from the registry so the two never disagree."""
    rows = ["| exercise | notebook | level | what you write | function |", "|---|---|---|---|---|"]
    for ex in EXERCISES.values():
        rows.append(f"| `{ex.name}` | {ex.notebook[:2]} | {ex.level} | {ex.title} | `{ex.function}()` |")
    return "\n".join(rows)


__all__ = ["EXERCISES", "Checker", "Exercise", "Feedback", "Message", "Wrong", "exercises_table"]
