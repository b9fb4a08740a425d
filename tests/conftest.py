"""Pytest set-up shared by every test: per-task selection, a first run that reads in one screen,
and slow checks on request.

Each graded test carries ``@pytest.mark.task("<task id>")``. Select one task's tests with
``pytest --task compute_gradient_penalty`` or, equivalently, ``pytest -m compute_gradient_penalty``.
Tests marked ``@pytest.mark.slow`` (end-to-end grading, handout builds, mutation runs) are skipped
unless ``pytest --slow`` asks for them (or ``-m slow`` selects them).

A test that stops at a stub counts as "not implemented" (still a failure for pytest's exit
status) and takes one line; other failures of graded tests are shortened by
``tests.harness.concise_failure`` unless ``--tb`` is given; a per-task table comes last.
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the same parser, installed as tomli (requirements.txt)
    import tomli as tomllib

from tests import harness

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
    parser.addoption("--slow", action="store_true",
                     help="also run the slow checks (@pytest.mark.slow), minutes on a laptop")


def pytest_configure(config):
    for task in _task_ids():
        config.addinivalue_line("markers", f"{task}: tests of the graded task {task}")


def pytest_collection_modifyitems(config, items):
    wanted = set(config.getoption("--task"))
    known = set(_task_ids())
    unknown = wanted - known
    if unknown:
        raise pytest.UsageError(f"unknown task {sorted(unknown)}; valid tasks: {', '.join(sorted(known))}")
    run_slow = config.getoption("--slow") or "slow" in (config.getoption("-m") or "")
    skip_slow = pytest.mark.skip(reason="slow check: run it with `pytest --slow`")
    selected, deselected = [], []
    for item in items:
        if not run_slow and item.get_closest_marker("slow"):
            item.add_marker(skip_slow)
        marker = item.get_closest_marker("task")
        task = marker.args[0] if marker else None
        if task in known:
            item.add_marker(task)  # lets `pytest -m TASK` select it
        (selected if not wanted or task in wanted else deselected).append(item)
    if wanted:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


STUB_LINES = 24  # stopped test functions listed one per line; beyond this, one line per task and file

_OUTCOMES: dict[str, list[str]] = {}  # task id -> outcome per test ("passed", "not implemented", "failed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("task")
    if not marker or report.skipped or (report.when != "call" and report.outcome == "passed"):
        return  # a skipped test (slow, or needing something not installed) is neither pass nor fail
    if report.outcome == "passed":
        result = "passed"
    elif call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        result = "not implemented"
    else:
        result = report.outcome
    _OUTCOMES.setdefault(marker.args[0], []).append(result)
    if report.failed and call.excinfo is not None:
        _shorten(report, item, call.excinfo.value, marker.args[0])


def _shorten(report, item, error: BaseException, task: str) -> None:
    """One line for a stub; the student's frames and the message for any other failure."""
    needed = harness.stub_task(error)
    if needed is not None:
        report.kit_stub = (task, needed)
        report.longrepr = f"{task}: {harness.STUB_MESSAGE} (stopped at the stub of {needed})"
    elif item.config.option.tbstyle == "auto":
        report.longrepr = harness.concise_failure(error, item.config.rootpath, item.path)


def pytest_report_teststatus(report, config):
    """A test stopped by a stub is "not implemented" (N), not a failure with a traceback."""
    if getattr(report, "kit_stub", None) is not None:
        return "not implemented", "N", "NOT IMPLEMENTED"
    return None


def pytest_terminal_summary(terminalreporter):
    """One line per test function that stopped at a stub (its parametrised cases counted on it):
    its task, the test, and the task whose stub stopped it when that is another one."""
    stubs = terminalreporter.stats.get("not implemented", [])
    if not stubs:
        return
    lines: dict[tuple, int] = {}  # (task, test function, stub's task) -> how many cases
    for report in stubs:
        task, needed = report.kit_stub
        key = (task, report.nodeid.removeprefix("tests/").split("[")[0], needed)
        lines[key] = lines.get(key, 0) + 1
    terminalreporter.section(f"{harness.STUB_MESSAGE}: {len(stubs)} tests stopped at a stub")
    width = max(len(task) for task, _, _ in lines)
    if len(lines) <= STUB_LINES:
        for (task, test, needed), count in lines.items():
            cases = f" ({count} cases)" if count > 1 else ""
            waits = f" (waits for {needed})" if needed != task else ""
            terminalreporter.write_line(f"  {task:{width}s} {test}{cases}{waits}")
        return
    # An assignment with many tasks: one line per task and test file keeps the screen readable.
    files: dict[tuple, list[int]] = {}  # (task, test file, stub's task) -> [tests, test functions]
    for (task, test, needed), count in lines.items():
        tally = files.setdefault((task, test.split("::")[0], needed), [0, 0])
        tally[0] += count
        tally[1] += 1
    for (task, file, needed), (tests, functions) in files.items():
        waits = f" (waits for {needed})" if needed != task else ""
        terminalreporter.write_line(f"  {task:{width}s} {file}: {tests} tests in {functions} test functions{waits}")


def pytest_unconfigure(config):
    """A per-task table, after everything else pytest prints: how many of each task's tests pass."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if not _OUTCOMES or terminalreporter is None:
        return
    terminalreporter.section("graded tasks")
    width = max(28, *(len(task) for task in _OUTCOMES))
    for task in sorted(_OUTCOMES):
        results = _OUTCOMES[task]
        passed = results.count("passed")
        state = "not implemented yet" if "not implemented" in results else ("all pass" if passed == len(results) else "failing")
        terminalreporter.write_line(f"  {task:{width}s} {passed:3d}/{len(results):<3d} tests pass   {state}")
    terminalreporter.write_line("  (run one task's tests with: pytest --task TASK; whole tracebacks with: --tb=long)")
