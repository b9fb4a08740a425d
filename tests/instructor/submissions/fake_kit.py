"""A tiny assignment for testing the grader's machinery in seconds.

``alpha.py`` holds two graded tasks (``add``, 1 point; ``scale``, 2 points) and ``beta.py`` one
(``norm``, 1 point), each in a solution block like the kit's, with cases in the kit's format.
The assignment allows NumPy and tqdm (light to load), but ``alpha.py`` may use NumPy only, as
``np_attention.py`` in cscd84-a4: its code runs in a process that never loaded tqdm, which
``beta.py`` imports.
:func:`build` writes the stub handout and the reference solution and returns a manifest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from instructor.blocks import strip_python
from instructor.manifest import Manifest, Task

ROOT = Path(__file__).resolve().parents[3]

ALPHA = '''"""Two graded functions on arrays."""

from __future__ import annotations

import numpy as np


def add(a, b):
    """Elementwise a + b for two arrays of the same shape; returns an array of that shape."""
    # BEGIN SOLUTION add
    return np.asarray(a) + np.asarray(b)
    # END SOLUTION


def scale(x, k):
    """x times the scalar k."""
    # BEGIN SOLUTION scale
    return np.asarray(x) * float(k)
    # END SOLUTION
'''

BETA = '''"""One graded function."""

from __future__ import annotations

import numpy as np
import tqdm  # noqa: F401 - a library the assignment allows, and alpha.py may not use


def norm(x):
    """Euclidean norm over the last axis: (..., D) -> (...)."""
    # BEGIN SOLUTION norm
    return np.sqrt(np.sum(np.square(x), axis=-1))
    # END SOLUTION
'''

CASES_ALPHA = '''"""Cases of alpha.py."""

import numpy as np

from tests.harness import Case


def _pair(rng, hidden):
    shape = tuple(int(s) for s in rng.integers(1, 5, size=rng.integers(1, 4))) if hidden else (2, 3)
    return {"a": rng.normal(size=shape), "b": rng.normal(size=shape)}


def _run_add(inputs):
    from alpha import add

    return {"sum": np.asarray(add(inputs["a"], inputs["b"]), dtype=np.float64)}


def _scaled(rng, hidden):
    return {"x": rng.normal(size=(int(rng.integers(1, 6)) if hidden else 4,)), "k": np.array(rng.normal())}


def _run_scale(inputs):
    from alpha import scale

    return {"y": np.asarray(scale(inputs["x"], inputs["k"]), dtype=np.float64)}


CASES = [
    Case("add", "add_small", 1, _pair, _run_add),
    Case("add", "add_again", 2, _pair, _run_add),
    Case("scale", "scale_vector", 3, _scaled, _run_scale),
]
'''

CASES_BETA = '''"""Cases of beta.py."""

import numpy as np

from tests.harness import Case


def _rows(rng, hidden):
    return {"x": rng.normal(size=(int(rng.integers(1, 5)) if hidden else 3, 4))}


def _run(inputs):
    from beta import norm

    return {"n": np.asarray(norm(inputs["x"]), dtype=np.float64)}


CASES = [Case("norm", "norm_rows", 5, _rows, _run)]
'''

SOURCES = {"alpha.py": ALPHA, "beta.py": BETA, "tests/cases_alpha.py": CASES_ALPHA, "tests/cases_beta.py": CASES_BETA,
           "tests/__init__.py": ""}
TASKS = (Task("add", "alpha.py", 1, "a + b"), Task("scale", "alpha.py", 2, "x * k"), Task("norm", "beta.py", 1, "norms"))
MANIFEST = Manifest(
    id="fake", title="A fake assignment", submit=("alpha.py", "beta.py"), allowed_imports=("numpy", "tqdm"),
    files=tuple(SOURCES) + ("tests/harness.py",), tasks=TASKS,
    extra={"policy": {"alpha.py": {"allowed_imports": ["numpy"]}}},
)


def build(folder: Path) -> tuple[Manifest, Path, Path]:
    """Write the stub handout and the reference solution under ``folder``."""
    trees = {}
    for name, solutions in (("handout", False), ("reference", True)):
        tree = folder / name
        for file, text in SOURCES.items():
            target = tree / file
            target.parent.mkdir(parents=True, exist_ok=True)
            keep = frozenset({"add", "scale", "norm"}) if solutions else frozenset()
            target.write_text(strip_python(text, file, keep).text if file.endswith(".py") else text)
        shutil.copyfile(ROOT / "tests" / "harness.py", tree / "tests" / "harness.py")
        trees[name] = tree
    _write_references(trees["reference"], trees["handout"])
    return MANIFEST, trees["handout"], trees["reference"]


def _write_references(reference: Path, *also: Path) -> None:
    """tests/reference/<module>.npz from the reference solution, as the kit's references command does."""
    code = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tests.harness import load_cases, reference_path\n"
        "for module in ('alpha', 'beta'):\n"
        "    values = {f'{c.name}/{k}': np.asarray(v) for c in load_cases(module) for k, v in c.run(c.public_inputs()).items()}\n"
        "    path = reference_path(module)\n"
        "    path.parent.mkdir(parents=True, exist_ok=True)\n"
        "    np.savez(path, **values)\n"
    )
    subprocess.run([sys.executable, "-I", "-c", code, str(reference)], check=True, cwd=reference)
    for tree in also:
        shutil.copytree(reference / "tests" / "reference", tree / "tests" / "reference", dirs_exist_ok=True)


def source_with_markers(file: str) -> str:
    """A file of the fake kit with its solution blocks (what threat fixtures are made from)."""
    return SOURCES[file]
