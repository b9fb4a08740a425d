"""The stored reference values are what the solutions compute today (instructor only).

If this fails after a deliberate change to a solution or a case, run
``python -m instructor references`` and review the diff of tests/reference/.
"""

from __future__ import annotations

import numpy as np
import pytest

from instructor.references import case_modules, compute
from tests.harness import reference_path

# Looser than bit-for-bit: float32 kernels round differently on another CPU or torch build (up
# to 1.2e-6 on the ViT's outputs of size 5 between two builds of torch 2.14.1), but tighter than
# every case's own tolerance (rtol 1e-4, atol 1e-5), so a changed solution or case is still caught.
RTOL, ATOL = 1e-5, 3e-6


@pytest.mark.parametrize("module", case_modules())
def test_references_regenerate(module):
    fresh = compute(module)
    with np.load(reference_path(module), allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(fresh), f"{module}: cases and stored keys differ; regenerate"
        for key in stored.files:
            assert stored[key].shape == fresh[key].shape, f"{module}/{key}: shape changed"
            if stored[key].dtype.kind == "U":  # a known mistake's description
                assert stored[key] == fresh[key], f"{module}/{key}: text changed"
                continue
            assert np.allclose(stored[key], fresh[key], rtol=RTOL, atol=ATOL, equal_nan=True), (
                f"{module}/{key}: values changed"
            )


def test_cases_are_named_uniquely_and_have_tasks():
    from instructor.manifest import available, load
    from tests.harness import load_cases

    tasks = {task.id for assignment in available() for task in load(assignment).tasks}
    for module in case_modules():
        names = [case.name for case in load_cases(module)]
        assert len(names) == len(set(names)), f"{module}: duplicate case names"
        for case in load_cases(module):
            assert case.task in tasks, f"{module}/{case.name}: task {case.task!r} is in no manifest"


@pytest.mark.parametrize("module", case_modules())
def test_hidden_inputs_vary_and_run(module):
    """Hidden inputs come from the seed (so the grader can vary them) and the solution runs on them."""
    from tests.harness import load_cases

    for case in load_cases(module):
        first, second = case.hidden_inputs(1), case.hidden_inputs(2)
        assert any(first[k].shape != second[k].shape or not np.array_equal(first[k], second[k]) for k in first)
        assert case.hidden_inputs(1).keys() == first.keys()
        outputs = case.run(first)
        assert all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in outputs.values()), case.name
