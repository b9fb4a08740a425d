"""Shared machinery of the public tests: cases, stored reference values, comparisons.

A *case* is one graded check of one task: it makes its inputs from a seeded NumPy generator
(stable across torch releases), runs the function under test on them, and returns plain
NumPy arrays. The same case serves three users:

* the public tests compare its outputs with ``tests/reference/<module>.npz``;
* ``python -m instructor references`` writes that file from the reference solution;
* the autograder runs it on the student's code in a sandbox, on the public seed and on
  hidden seeds with other shapes, and compares with the reference solution's outputs.

Each ``tests/cases_<module>.py`` defines ``CASES``, a list of :class:`Case`.

What a failure says (shared by every task, wired into pytest by ``tests/conftest.py``):

* a test that hits a stub's ``NotImplementedError`` is reported on one line (task, test, "not
  implemented yet"), not as a failure with a traceback;
* any other failure of a graded test (one marked ``@pytest.mark.task(ID)``) shows only the
  student's own frames, the test's failing line and the message, without arrays
  (:func:`concise_failure`; ``pytest --tb=long`` shows everything);
* errors that torch raises far from their cause (a detached result, a missing
  ``create_graph=True``, mixed dtypes or devices) are translated by :data:`EXPLANATIONS`.

How a new task uses it: mark its tests with ``@pytest.mark.task(ID)``; make its stubs raise
``NotImplementedError("ID: not implemented yet ...")`` (the release does this); give each
:class:`Case` an ``isolates`` sentence saying what the case tests alone, so that a failure
points at the likely mistake; add the task's plausible mistakes to
``tests/instructor/mutations_<module>.py`` (``python -m instructor references`` stores their
outputs, or the error they raise, on each case that tells them apart, and a student whose
result matches one is told which mistake it looks like) and set ``FAILURES_NAME_THE_MISTAKE =
True`` there once every failure names its mistake (``pytest --slow`` then checks it; a mistake
that a property test catches first names itself through that test's message and ``says``); and
check the docstring's promises (shape, dtype, device) with :func:`check_promises`.
"""

from __future__ import annotations

import importlib
import traceback
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
        isolates: what this case checks on its own, in a sentence shown when it fails (for
            example "one head: if this passes and many_heads fails, suspect the split into heads").
    """

    task: str
    name: str
    seed: int
    make_inputs: Callable[[np.random.Generator, bool], Arrays]
    run: Callable[[Arrays], Arrays]
    rtol: float = 1e-4
    atol: float = 1e-5
    isolates: str = ""

    def public_inputs(self) -> Arrays:
        return self.make_inputs(np.random.default_rng(self.seed), False)

    def hidden_inputs(self, seed: int) -> Arrays:
        return self.make_inputs(np.random.default_rng(seed), True)


def load_cases(module: str) -> list[Case]:
    """The cases of ``tests/cases_<module>.py``."""
    return list(importlib.import_module(f"tests.cases_{module}").CASES)


def reference_path(module: str) -> Path:
    return REFERENCE_DIR / f"{module}.npz"


MISTAKES = "mistake"  # known mistakes: <case>/mistake/<n>/why, and their outputs or .../error


def error_fingerprint(error: BaseException) -> str:
    """What identifies an error raised by a known mistake: its type and its message's first line."""
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"


def _stored(module: str, case: Case) -> dict[str, np.ndarray]:
    """Every array stored for one case, keyed by what follows ``<case name>/``."""
    path = reference_path(module)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m instructor references`")
    prefix = f"{case.name}/"
    with np.load(path, allow_pickle=False) as stored:
        found = {key[len(prefix):]: stored[key] for key in stored.files if key.startswith(prefix)}
    if not found:
        raise KeyError(f"{path} has no values for case {case.name!r}: regenerate the references")
    return found


def load_reference(module: str, case: Case) -> Arrays:
    """The stored outputs of one case (what the reference solution computes)."""
    return {key: value for key, value in _stored(module, case).items() if "/" not in key}


def load_mistakes(module: str, case: Case) -> list[tuple[str, Arrays]]:
    """Known mistakes on one case: (the mistake in words, its outputs); the outputs of a mistake
    that raises are ``{"error": error_fingerprint(...)}``."""
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, value in _stored(module, case).items():
        kind, _, rest = key.partition("/")
        if kind == MISTAKES:
            number, _, output = rest.partition("/")
            grouped.setdefault(number, {})[output] = value
    return [(str(arrays.pop("why")), arrays) for _, arrays in sorted(grouped.items(), key=lambda item: int(item[0]))]


def matches(got: Arrays, expected: Arrays, *, rtol: float, atol: float) -> bool:
    """Whether every expected output is in ``got`` with its shape and values (NaN matches NaN)."""
    for key, want in expected.items():
        have = np.asarray(got.get(key, np.nan))
        if have.shape != want.shape or not np.allclose(have, want, rtol=rtol, atol=atol, equal_nan=True):
            return False
    return True


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
                f"(at index {tuple(int(i) for i in index)}: got {float(have[index]):.6g}, expected "
                f"{float(want[index]):.6g}; tolerance rtol={rtol:g}, atol={atol:g})"
            )
    return problems


def case_params(cases: list[Case]) -> list:
    """``pytest.param`` per case, id'd by name and marked with its task (for --task / -m)."""
    import pytest

    return [pytest.param(case, id=case.name, marks=pytest.mark.task(case.task)) for case in cases]


def _add_note(error: BaseException, text: str) -> None:
    """``error.add_note(text)``, also on Python 3.10 (which lacks it; :func:`short_message` shows notes)."""
    notes = getattr(error, "__notes__", None)
    if notes is None:
        notes = error.__notes__ = []
    notes.append(text)


def check_case(module: str, case: Case) -> None:
    """Run a case on the code under test and assert it matches the stored reference values.

    A failure says what the case isolates and, when the outputs are those of a known mistake
    (stored by ``python -m instructor references`` from the instructor's mutation checks), names it.
    """
    try:
        got = case.run(case.public_inputs())
    except Exception as error:
        if stub_task(error) is None:  # a stub's error stays exactly what it is
            fingerprint = error_fingerprint(error)
            for why, outputs in load_mistakes(module, case):
                if "error" in outputs and str(outputs["error"]) == fingerprint:
                    _add_note(error, f"looks like a known mistake: {why}")
            if case.isolates:
                _add_note(error, f"this case isolates: {case.isolates}")
        raise
    problems = compare(got, load_reference(module, case), rtol=case.rtol, atol=case.atol, what=f"{case.task} [{case.name}]")
    if not problems:
        return
    named = [why for why, outputs in load_mistakes(module, case)
             if "error" not in outputs and matches(got, outputs, rtol=case.rtol, atol=case.atol)]
    lines = [f"looks like a known mistake: {why}" for why in named]
    if case.isolates:
        lines.append(f"this case isolates: {case.isolates}")
    raise AssertionError("\n".join(lines + problems))


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


def devices() -> list[str]:
    """The torch devices of this machine (the CPU, then any accelerator), for promise checks."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def check_promises(what: str, output, *, shape: tuple | None = None, like=None) -> None:
    """Assert what a docstring promises about an output: its ``shape``, and the dtype (and for
    tensors the device) of ``like``, one of the inputs. Works for NumPy arrays and torch tensors."""
    problems = []
    if shape is not None and tuple(np.shape(output)) != tuple(shape):
        problems.append(f"{what}: shape {tuple(np.shape(output))}, expected {tuple(shape)}")
    if like is not None:
        if output.dtype != like.dtype:
            problems.append(
                f"{what}: {like.dtype} inputs gave a {output.dtype} output; the output must keep the inputs' dtype "
                "(make new arrays and tensors with the inputs' dtype, e.g. torch.zeros_like; in NumPy a float64 "
                "scalar such as np.sqrt(K) turns float32 arrays into float64)"
            )
        if hasattr(like, "device") and output.device != like.device:
            problems.append(f"{what}: inputs on {like.device} gave an output on {output.device}; make new tensors "
                            "with device=... of the inputs")
    assert not problems, "\n".join(problems)


def to_numpy(tensor) -> np.ndarray:
    """A detached float64 NumPy copy of a tensor (or anything array-like)."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor, dtype=np.float64)


# ---- What a failure says ----------------------------------------------------------------------

STUB_MESSAGE = "not implemented yet"  # what a stub's NotImplementedError says after "TASK: "

# Errors that torch raises far from the mistake behind them, and what that mistake usually is:
# (a piece of torch's message, what to tell the student).
EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("does not require grad and does not have a grad_fn",
     "the result is cut off from autograd: it was detached (.detach(), .item(), .numpy(), torch.no_grad, a new "
     "tensor built from values), or a gradient inside it was taken without torch.autograd.grad(..., create_graph=True)"),
    ("appears to not have been used in the graph",
     "the gradient was taken with respect to a tensor the output does not depend on (a copy made after the forward "
     "pass, or the wrong input)"),
    ("One of the differentiated Tensors does not require grad",
     "the gradient was taken with respect to a tensor that does not require grad: differentiate with respect to "
     "the very tensor the critic was given, made with .requires_grad_(True)"),
    ("backward through the graph a second time",
     "a graph was used again after backward() freed it: compute the scores again, or pass retain_graph=True"),
    ("used in an in-place operation",
     "a tensor that autograd needs was modified in place (+=, [...] =, .add_()); build a new tensor instead"),
    ("modified by an inplace operation",
     "a tensor that autograd needs was modified in place (+=, [...] =, .add_()); build a new tensor instead"),
    ("expected scalar type", "tensors of different dtypes were mixed: make new tensors with dtype=x.dtype"),
    ("must have the same dtype", "tensors of different dtypes were mixed: make new tensors with dtype=x.dtype"),
    ("same device", "tensors on different devices were mixed: make new tensors with device=x.device"),
)


def stub_task(error: BaseException) -> str | None:
    """The task a stub's NotImplementedError names ("TASK: not implemented yet ..."), or None."""
    if not isinstance(error, NotImplementedError):
        return None
    task, _, rest = str(error).partition(":")
    return task.strip() if rest.strip().startswith(STUB_MESSAGE) else None


def explain(error: BaseException) -> str | None:
    """What the student's code probably did to cause ``error`` (an error raised inside torch), or None."""
    text = str(error)
    return next((advice for piece, advice in EXPLANATIONS if piece in text), None)


MAX_MESSAGE_LINES = 12


def short_message(error: BaseException) -> list[str]:
    """The lines of an error's message that say what is wrong, without dumped arrays or
    pytest's re-evaluation of an assert that already has its own message."""
    lines = str(error).strip("\n").splitlines() + list(getattr(error, "__notes__", []))
    kept = []
    for line in lines:
        if line.startswith((" ACTUAL:", " DESIRED:", " x:", " y:")):  # numpy.testing dumps both arrays
            break
        if line.startswith("assert ") and kept:  # pytest's introspection after an explicit message
            break
        kept.append(line if len(line) <= 300 else line[:297] + "...")
    kept = [line for line in kept if line.strip()] or [type(error).__name__]
    if len(kept) > MAX_MESSAGE_LINES:
        kept = kept[:MAX_MESSAGE_LINES] + [f"... ({len(kept) - MAX_MESSAGE_LINES} more lines: pytest --tb=long)"]
    return kept


def _student_file(path: Path, root: Path) -> bool:
    """A file of the assignment itself (not a test, not a library)."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        return False
    return relative.parts[0] != "tests" and path.suffix == ".py"


def concise_failure(error: BaseException, root: Path, test_file: Path) -> str:
    """A failure of a graded test in a few lines: the message (first, so that pytest's one-line
    summary shows it), the test's failing line, the student's own frames (innermost last) and,
    for errors raised inside torch, the likely cause."""
    root, test_file = root.resolve(), test_file.resolve()
    shown = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename).resolve()
        if path == test_file or _student_file(path, root):
            shown.append(f"  at {path.relative_to(root)}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}")
    shown = shown[:1] + shown[1:][-4:]  # the test's line, then the innermost student frames
    message = short_message(error)
    lines = [f"{type(error).__name__}: {message[0]}"] + [f"  {line}" for line in message[1:]] + shown
    advice = explain(error)
    if advice:
        lines.append(f"likely cause: {advice}")
    return "\n".join(lines)
