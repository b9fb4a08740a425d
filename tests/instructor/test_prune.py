"""The release's pruning rule (``instructor/prune.py``) on a small made-up kit of two assignments.

Assignment A grades ``task_a``, assignment B grades ``task_b``; both ship ``shared.py``,
``main.py`` and the shared test modules. What belongs to B, and what uses it, must not reach A's
handout, and the other way round; shared code stays in both.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from instructor.blocks import strip_python
from instructor.prune import PruneError, prune

SHARED = '''\
"""A module both assignments use."""

import numpy as np


def helper(x):
    return x + 1


def graded_a(x):
    # BEGIN SOLUTION task_a
    return helper(x) * 2 + 41
    # END SOLUTION


def graded_b(x):
    # BEGIN SOLUTION task_b
    return helper(x) * 3 + 1000
    # END SOLUTION


def uses_b(x):
    """Provided code of B built on B's graded function."""
    return graded_b(x) + np.pi


# Provided code only B uses.
# ASSIGNMENT: B
def only_b():
    return 7


class Both:
    def fa(self):
        # BEGIN SOLUTION task_a
        return "answer of a in Both"
        # END SOLUTION

    def fb(self):
        # BEGIN SOLUTION task_b
        return "answer of b in Both"
        # END SOLUTION


STEPS = {
    "a": graded_a,
    "b": uses_b,  # goes with uses_b
    "h": helper,
}
'''

MAIN = '''\
from dataclasses import dataclass


@dataclass
class Entry:
    module: str


MODELS = {
    "model-a": Entry("shared"),
    # B's model
    "model-b": Entry(
        "shared",
    ),
    "model-x": Entry("nobody"),
}
'''

CASES = '''\
from tests.harness import Case


def run_a(inputs):
    from shared import graded_a

    return {"y": graded_a(inputs["x"])}


def run_b(inputs):
    import shared

    return {"y": shared.graded_b(inputs["x"])}


CASES = [
    Case("task_a", "a_small", seed=1, make_inputs=None, run=run_a),
    Case("task_b", "b_small", seed=2, make_inputs=None, run=run_b),
]
'''

TESTS = '''\
import pytest

from shared import Both, graded_a, graded_b, helper
from tests.cases_shared import CASES
from tests.cases_only_b import B_CASES

TASK_B = "task_b"


def test_helper():
    assert helper(1) == 2


@pytest.mark.task("task_a")
def test_a():
    assert graded_a(1) == 45


@pytest.mark.task(TASK_B)
def test_b():
    assert graded_b(1) == 1006


def test_b_cases():
    assert B_CASES


@pytest.mark.parametrize("case", CASES)
def test_cases(case):
    assert case.run


def test_both():
    assert Both().fa()
'''

HARNESS = "class Case:\n    pass\n"

FILES = {"shared.py": SHARED, "main.py": MAIN, "tests/harness.py": HARNESS, "tests/cases_shared.py": CASES,
         "tests/test_shared.py": TESTS}
KIT = {"shared", "main", "tests", "tests.harness", "tests.cases_shared", "tests.test_shared", "tests.cases_only_b"}
TASKS = {"task_a": {"A"}, "task_b": {"B"}}
MODELS = {"model-a": {"A"}, "model-b": {"B"}}


def pruned(assignment: str, files=FILES, tasks=TASKS):
    result = prune(assignment, dict(files), tasks, MODELS, KIT)
    for name, text in result.texts.items():
        ast.parse(text, filename=name)  # every pruned file is still Python
    return result.texts


def names(text: str) -> set[str]:
    return {node.name for node in ast.parse(text).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_definitions_of_another_assignment_and_their_users_are_left_out():
    a = pruned("A")
    assert names(a["shared.py"]) == {"helper", "graded_a", "Both"}
    assert "only_b" not in a["shared.py"] and "Provided code only B uses" not in a["shared.py"]
    assert '"b": uses_b' not in a["shared.py"] and '"a": graded_a' in a["shared.py"] and '"h": helper' in a["shared.py"]
    b = pruned("B")
    assert names(b["shared.py"]) == {"helper", "graded_b", "uses_b", "only_b", "Both"}
    assert "# ASSIGNMENT" not in b["shared.py"], "the marker is instructor-only"
    assert '"a": graded_a' not in b["shared.py"]


def test_registry_entries_follow_the_manifests_models():
    a, b = pruned("A")["main.py"], pruned("B")["main.py"]
    assert '"model-a"' in a and '"model-b"' not in a and "B's model" not in a
    assert '"model-b"' in b and '"model-a"' not in b
    assert '"model-x"' not in a + b, "a model no manifest lists is in no handout"
    assert "class Entry" in a and "class Entry" in b


def test_tests_and_cases_follow_their_tasks():
    a = pruned("A")
    assert names(a["tests/cases_shared.py"]) == {"run_a"}
    assert '"a_small"' in a["tests/cases_shared.py"] and '"b_small"' not in a["tests/cases_shared.py"]
    tests = a["tests/test_shared.py"]
    assert "from shared import Both, graded_a, helper\n" in tests, "only the names that went leave the import"
    assert "cases_only_b" not in tests, "an import of a module the handout does not ship goes"
    assert names(tests) == {"test_helper", "test_a", "test_cases", "test_both"}
    assert "TASK_B" not in tests
    b = pruned("B")
    assert names(b["tests/test_shared.py"]) == {"test_helper", "test_b", "test_cases", "test_both"}


def test_another_assignments_block_in_a_shared_unit_becomes_a_stub():
    text = pruned("A")["shared.py"]
    stripped = strip_python(text, keep=frozenset({"task_a"}))  # A's solutions kept (--solutions)
    assert "answer of a in Both" in stripped.text
    assert "answer of b in Both" not in stripped.text and "task_b: not implemented yet" in stripped.text


def test_a_block_of_a_task_no_manifest_lists_is_an_error():
    with pytest.raises(PruneError, match="shared.py:11: solution block of task 'task_a', which no manifest lists"):
        pruned("B", tasks={"task_b": {"B"}})


def test_an_unknown_assignment_in_a_marker_is_an_error():
    files = {**FILES, "shared.py": SHARED.replace("# ASSIGNMENT: B", "# ASSIGNMENT: C")}
    with pytest.raises(PruneError, match="unknown assignments"):
        pruned("A", files)


def test_an_element_sharing_a_line_with_its_neighbours_cannot_be_left_out():
    files = {**FILES, "shared.py": SHARED.replace('''STEPS = {
    "a": graded_a,
    "b": uses_b,  # goes with uses_b
    "h": helper,
}''', 'STEPS = {"a": graded_a, "b": uses_b}')}
    with pytest.raises(PruneError, match="shares a line"):
        pruned("A", files)
