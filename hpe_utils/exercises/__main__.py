"""``python -m hpe_utils.exercises``: list the exercises, or check the worked solutions (for teachers)."""
from __future__ import annotations

import argparse
import importlib.util
import sys

from ..files import repo_root
from . import EXERCISES, Checker, exercises_table


def main(argv: list[str] | None = None) -> int:
    """Print the exercise table; with --solutions, run every check on its worked answer (exit 1 if one fails)."""
    parser = argparse.ArgumentParser(prog="python -m hpe_utils.exercises", description=__doc__)
    parser.add_argument("--solutions", action="store_true", help="run every check against notebooks/solutions/")
    args = parser.parse_args(argv)
    if not args.solutions:
        print(exercises_table())
        return 0
    check, failed = Checker(), 0
    for ex in EXERCISES.values():
        path = repo_root() / ex.solution_path
        if not path.is_file():
            print(f"{ex.name}: no solution file at {path} (the solutions ship with the repository, not the package)")
            failed += 1
            continue
        spec = importlib.util.spec_from_file_location(f"solution_{ex.notebook}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        feedback = check.run(ex.name, getattr(module, ex.function))
        print(feedback)
        failed += not feedback.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
