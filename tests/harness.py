"""Shared machinery of the public tests: cases, stored reference values, comparisons.

A *case* is one graded check of one task: it makes its inputs from a seeded NumPy generator
(stable across torch releases), runs the function under test on them, and returns plain
NumPy arrays. The same case serves three users:

* the public tests compare its outputs with ``tests/reference/<module>.npz``;
* ``python -m instructor references`` writes that file from the reference solution;
* the autograder runs it on the student's code in a sandbox, on the public seed and on
  hidden seeds with other shapes, and compares with the reference solution's outputs.

Each ``tests/cases_<module>.py`` defines ``CASES``, a list of :class:`Case`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    """One check of one task.

    Attributes:
        task: the task id (as in the manifest and in the stub's NotImplementedError).
        name: unique within its module; the key prefix in the reference file.
        seed: seed of the public inputs.
        make_inputs: ``make_inputs(rng, hidden)`` returns the inputs as arrays. With
            ``hidden=True`` it may also draw other shapes and values from ``rng``.
        run: ``run(inputs)`` imports the module under test, calls it, returns arrays.
        rtol, atol: tolerances of the comparison, sized to the computation (float32 here).
    """

    task: str
    name: str
    seed: int
    make_inputs: Callable[[np.random.Generator, bool], Arrays]
    run: Callable[[Arrays], Arrays]
    rtol: float = 1e-4
    atol: float = 1e-5

    def public_inputs(self) -> Arrays:
        return self.make_inputs(np.random.default_rng(self.seed), False)

    def hidden_inputs(self, seed: int) -> Arrays:
        return self.make_inputs(np.random.default_rng(seed), True)


def load_cases(module: str) -> list[Case]:
    """The cases of ``tests/cases_<module>.py``."""
    return list(importlib.import_module(f"tests.cases_{module}").CASES)


def reference_path(module: str) -> Path:
    return REFERENCE_DIR / f"{module}.npz"


def load_reference(module: str, case: Case) -> Arrays:
    """The stored outputs of one case."""
    path = reference_path(module)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m instructor references`")
    prefix = f"{case.name}/"
    with np.load(path, allow_pickle=False) as stored:
        found = {key[len(prefix):]: stored[key] for key in stored.files if key.startswith(prefix)}
    if not found:
        raise KeyError(f"{path} has no values for case {case.name!r}: regenerate the references")
    return found


def compare(got: Arrays, expected: Arrays, *, rtol: float, atol: float, what: str) -> list[str]:
    """Every way ``got`` differs from ``expected``, as readable lines (empty when they agree)."""
    problems = []
    for key, want in expected.items():
        if key not in got:
            problems.append(f"{what}: output {key!r} is missing")
            continue
        have = np.asarray(got[key])
        if have.shape != want.shape:
            problems.append(f"{what}: output {key!r} has shape {have.shape}, expected {want.shape}")
            continue
        if not np.all(np.isfinite(have)):
            problems.append(f"{what}: output {key!r} contains NaN or inf")
            continue
        if not np.allclose(have, want, rtol=rtol, atol=atol):
            diff = np.abs(have.astype(np.float64) - want.astype(np.float64))
            index = np.unravel_index(np.argmax(diff), diff.shape) if diff.ndim else ()
            problems.append(
                f"{what}: output {key!r} differs by up to {diff.max():.3g} "
                f"(at index {tuple(int(i) for i in index)}: got {have[index]!r}, expected "
                f"{want[index]!r}; tolerance rtol={rtol:g}, atol={atol:g})"
            )
    return problems


def case_params(cases: list[Case]) -> list:
    """``pytest.param`` per case, id'd by name and marked with its task (for --task / -m)."""
    import pytest

    return [pytest.param(case, id=case.name, marks=pytest.mark.task(case.task)) for case in cases]


def check_case(module: str, case: Case) -> None:
    """Run a case on the code under test and assert it matches the stored reference values."""
    got = case.run(case.public_inputs())
    problems = compare(got, load_reference(module, case), rtol=case.rtol, atol=case.atol, what=f"{case.task} [{case.name}]")
    assert not problems, "\n".join(problems)


def fill_parameters(module, rng: np.random.Generator) -> None:
    """Set every parameter of a torch module from ``rng``, never from torch's own generator.

    Matrices and higher get N(0, 1/fan_in) entries (fan_in = the last dimension), vectors named
    ``*.weight`` (normalisation gains) 1 + N(0, 0.1^2), other vectors (biases) N(0, 0.1^2).
    Registration order makes this deterministic for a given architecture.
    """
    import torch

    with torch.no_grad():
        for name, param in module.named_parameters():
            shape = tuple(param.shape)
            if len(shape) >= 2:
                values = rng.normal(0.0, 1.0 / np.sqrt(shape[-1]), size=shape)
            elif name.endswith("weight"):
                values = 1.0 + rng.normal(0.0, 0.1, size=shape)
            else:
                values = rng.normal(0.0, 0.1, size=shape)
            param.copy_(torch.from_numpy(values))


def to_numpy(tensor) -> np.ndarray:
    """A detached float64 NumPy copy of a tensor (or anything array-like)."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor, dtype=np.float64)
