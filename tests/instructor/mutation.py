"""Mutation checks: plausible wrong solutions must fail the public tests of their task.

Each ``tests/instructor/mutations_<module>.py`` lists ``MUTATIONS``: one textual edit of the
reference solution (``old`` must occur exactly once in ``file``) and why a student might write it.
``test_mutations.py`` applies each to a copy of the kit and runs that task's public tests there,
and checks that the failure names the mistake: ``python -m instructor references`` stores each
mutation's outputs on the cases of its task (:func:`mutated` runs them in this process), and a
reference case whose outputs match them says "looks like a known mistake: <why>".
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "grading-secrets", "data", "runs", "handout", "__pycache__",
                              ".pytest_cache", "*.zip")


@dataclass(frozen=True)
class Mutation:
    task: str  # whose public tests must catch it
    file: str  # the file edited, relative to the kit's root
    old: str  # the exact text replaced (occurs once)
    new: str  # the wrong version
    why: str  # the mistake it stands for, as the failure names it
    says: str = ""  # words the failure must show instead of ``why`` (when a property test catches it first)
    named: bool = True  # whether test_mutations checks that the failure shows ``named_by``

    @property
    def named_by(self) -> str:
        return self.says or self.why


def all_mutations() -> list[Mutation]:
    """Every mutation of every ``mutations_<module>.py``. A table whose module sets
    ``FAILURES_NAME_THE_MISTAKE = True`` has its failure messages checked (see ``Mutation.named``)."""
    found: list[Mutation] = []
    for path in sorted((ROOT / "tests" / "instructor").glob("mutations_*.py")):
        module = importlib.import_module(f"tests.instructor.{path.stem}")
        checked = getattr(module, "FAILURES_NAME_THE_MISTAKE", False)
        found += [m if checked else replace(m, named=False) for m in module.MUTATIONS]
    return found


def copy_kit(destination: Path) -> Path:
    """A copy of the kit (sources, tests, references) to mutate."""
    shutil.copytree(ROOT, destination, ignore=SKIP)
    return destination


def apply(mutation: Mutation, text: str) -> str:
    """``text`` (the content of ``mutation.file``) with the mutation applied."""
    count = text.count(mutation.old)
    if count != 1:
        raise AssertionError(f"mutation {mutation.why!r}: {mutation.old!r} occurs {count} times in {mutation.file}")
    return text.replace(mutation.old, mutation.new)


@contextmanager
def mutated(mutation: Mutation):
    """Within the block, importing ``mutation.file``'s module gives the mutated version."""
    name = Path(mutation.file).stem
    path = ROOT / mutation.file
    module = types.ModuleType(name)
    module.__file__ = str(path)
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(compile(apply(mutation, path.read_text()), str(path), "exec"), module.__dict__)
        yield module
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved


def run_edited_copy(pristine: Path, workdir: Path, file: str, task: str, edit: Callable[[str], str],
                     timeout: float = 300) -> subprocess.CompletedProcess:
    """Copy the kit, rewrite ``file`` with ``edit``, and run ``task``'s public tests in the copy."""
    kit = workdir / "kit"
    shutil.copytree(pristine, kit)
    path = kit / file
    path.write_text(edit(path.read_text()))
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
               f"tests/test_{Path(file).stem}.py", "--task", task]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=kit, capture_output=True, text=True, timeout=timeout, env=env)
