"""Pytest set-up shared by every test: per-task selection.

Each graded test carries ``@pytest.mark.task("<task id>")``. Select one task's tests with
``pytest --task compute_gradient_penalty`` or, equivalently, ``pytest -m compute_gradient_penalty``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ASSIGNMENTS = Path(__file__).resolve().parent.parent / "assignments"


def _task_ids() -> list[str]:
    ids: list[str] = []
    for manifest in sorted(ASSIGNMENTS.glob("*.toml")):
        with manifest.open("rb") as handle:
            ids += [task["id"] for task in tomllib.load(handle).get("tasks", [])]
    return sorted(set(ids))


def pytest_addoption(parser):
    parser.addoption("--task", action="append", default=[], metavar="ID",
                     help="run only the tests of this graded task (repeatable)")


def pytest_configure(config):
    for task in _task_ids():
        config.addinivalue_line("markers", f"{task}: tests of the graded task {task}")


def pytest_collection_modifyitems(config, items):
    wanted = set(config.getoption("--task"))
    known = set(_task_ids())
    unknown = wanted - known
    if unknown:
        raise pytest.UsageError(f"unknown task {sorted(unknown)}; valid tasks: {', '.join(sorted(known))}")
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("task")
        task = marker.args[0] if marker else None
        if task in known:
            item.add_marker(task)  # lets `pytest -m TASK` select it
        (selected if not wanted or task in wanted else deselected).append(item)
    if wanted:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
