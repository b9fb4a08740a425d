"""The release invariants of DESIGN.md, checked on every assignment with code tasks.

For each: the handout imports cleanly; no stripped solution line appears anywhere in it; each
graded task's public tests fail only with a NotImplementedError naming that task, and every
other test passes; with the solutions kept every public test passes; ``main.py`` on the
handout stops with the stub's message and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import main
from instructor import manifest as manifests
from instructor.release import build, foreign_leaks, leaks

ASSIGNMENTS = [a for a in manifests.available() if manifests.load(a).tasks]

# A pytest plugin, loaded into the handout's own test run, that records each test's task and outcome.
RECORDER = textwrap.dedent('''
    import json, os
    import pytest
    RESULTS = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or report.outcome != "passed":
            marker = item.get_closest_marker("task")
            error = call.excinfo
            RESULTS.append({
                "test": item.nodeid, "when": report.when, "outcome": report.outcome,
                "task": marker.args[0] if marker else None,
                "error": error.typename if error else None,
                "message": str(error.value)[:500] if error else None,
            })

    def pytest_sessionfinish(session):
        with open(os.environ["RECORD_TO"], "w") as handle:
            json.dump(RESULTS, handle)
''')


def run_public_tests(root: Path, tmp: Path) -> list[dict]:
    (tmp / "kit_recorder.py").write_text(RECORDER)
    record = tmp / "results.json"
    env = {**os.environ, "PYTHONPATH": str(tmp), "RECORD_TO": str(record), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "kit_recorder", "-p", "no:cacheprovider"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert record.exists(), f"the handout's tests did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return json.loads(record.read_text())


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def handouts(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    return build(request.param, base / "handout"), build(request.param, base / "solutions", solutions=True), base


@pytest.mark.slow
def test_no_solution_line_leaks(handouts):
    handout, _, _ = handouts
    assert handout.solution_lines, "the build removed nothing: are the solution blocks marked?"
    assert not leaks(handout), "solution lines found in the handout:\n" + "\n".join(leaks(handout))


@pytest.mark.slow
def test_only_the_assignment_files_ship(handouts):
    handout, _, _ = handouts
    shipped = {str(p.relative_to(handout.root)) for p in handout.root.rglob("*") if p.is_file()}
    assert not any(name.startswith(("instructor/", "tests/instructor/")) for name in shipped)
    assert {f"assignments/{handout.manifest.id}.toml"} == {n for n in shipped if n.startswith("assignments/")}
    for name in handout.manifest.submit:
        assert name in shipped


@pytest.mark.slow
def test_handout_imports_cleanly(handouts):
    handout, _, _ = handouts
    modules = sorted({Path(n).stem for n in handout.files if n.endswith(".py") and "/" not in n})
    result = subprocess.run([sys.executable, "-c", "import " + ", ".join(modules)], cwd=handout.root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_stubs_fail_only_with_their_named_error(handouts):
    handout, _, base = handouts
    results = run_public_tests(handout.root, base)
    graded = {t.id for t in handout.manifest.tasks if not t.provided}
    failing_tasks = set()
    for entry in results:
        if entry["outcome"] in ("passed", "skipped"):  # a skip (e.g. data this machine lacks) is no failure
            continue
        where = f"{entry['test']} ({entry['when']}): {entry['error']}: {entry['message']}"
        assert entry["outcome"] == "failed" and entry["task"] in graded, f"unexpected failure on the handout: {where}"
        assert entry["error"] == "NotImplementedError", f"a stub's test failed with something else: {where}"
        assert entry["message"].startswith(f"{entry['task']}:"), f"the error does not name the task: {where}"
        failing_tasks.add(entry["task"])
    assert failing_tasks == graded, f"tasks whose tests pass on the bare stubs: {sorted(graded - failing_tasks)}"


FIRST_RUN_LINES = 80  # what a terminal shows at once, about


@pytest.mark.slow
def test_the_first_pytest_on_the_handout_reads_in_one_screen(handouts):
    # A student's first `pytest` meets only stubs: one line each, then the per-task table last.
    handout, _, _ = handouts
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=handout.root,
                            capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "100"})
    lines = result.stdout.rstrip().splitlines()
    assert result.returncode == 1, result.stdout[-3000:]
    assert len(lines) <= FIRST_RUN_LINES, f"the first pytest prints {len(lines)} lines:\n{result.stdout[-3000:]}"
    assert "Traceback" not in result.stdout and "NotImplementedError" not in result.stdout, result.stdout[-3000:]
    table = lines.index(next(line for line in lines if "graded tasks" in line))
    graded = {t.id for t in handout.manifest.tasks if not t.provided}
    assert {line.split()[0] for line in lines[table + 1:-1]} == graded and lines[-1].strip().startswith("(run one"), (
        "the per-task table must come last:\n" + "\n".join(lines[-12:])
    )


@pytest.mark.slow
def test_solutions_pass_every_public_test(handouts):
    _, solutions, base = handouts
    (base / "again").mkdir(exist_ok=True)
    results = run_public_tests(solutions.root, base / "again")
    failures = [f"{r['test']}: {r['error']}: {r['message']}" for r in results if r["outcome"] == "failed"]
    assert results and not failures, "\n".join(failures)


@pytest.mark.slow
def test_main_on_the_handout_names_the_task(handouts):
    handout, _, base = handouts
    graded = {t.id for t in handout.manifest.tasks if not t.provided}
    import main

    for model in handout.manifest.models:
        # the GANs with the penalty on, so that its stub is reached too; other models reject the flag
        penalty = ["--gradient_penalty", "10"] if "gradient_penalty" in main.MODELS[model].uses else []
        result = subprocess.run(
            [sys.executable, "main.py", "--model", model, "--smoke", "--runs_dir", str(base / "runs"), *penalty],
            cwd=handout.root, capture_output=True, text=True, timeout=300)
        assert result.returncode == 1, f"{model}: expected the stub's error\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and last.split()[1].rstrip(":") in graded, last


@pytest.mark.parametrize("assignment", manifests.available())
def test_every_assignment_builds_without_leaks(assignment, tmp_path):
    handout = build(assignment, tmp_path / "handout")
    assert not leaks(handout), "\n".join(leaks(handout))
    assert not foreign_leaks(handout), "solution lines of some assignment in the handout:\n" + "\n".join(foreign_leaks(handout))
    readme = (handout.root / "README.md").read_text()
    assert handout.manifest.title in readme
    if handout.manifest.written:
        assert f"written/{assignment}.md" in readme and (handout.root / "written" / f"{assignment}.md").exists()


SHARED_FILES = [
    "requirements.txt", "pyproject.toml", "main.py", "train.py", "config.py", "data.py", "plots.py", "metrics.py",
    "tests/__init__.py", "tests/conftest.py", "tests/harness.py", "tests/test_data.py", "tests/test_plots.py",
    "tests/test_metrics.py", "tests/test_loop.py", "tests/test_loop_recipes.py",
]


@pytest.mark.slow
def test_a_handout_sharing_the_loop_holds_nothing_of_cscd84(pristine, tmp_path):
    """A made-up assignment that ships the shared files of cscd84-a4 (the loop, the registry, the
    data, the loop's tests) but grades none of its tasks: its handout builds without any line of
    cscd84-a4's solutions, none of cscd84-a4's GAN steps, recipes or models, and passes its tests."""
    import shutil

    kit = tmp_path / "kit"
    shutil.copytree(pristine, kit)
    files = ", ".join(f'"{name}"' for name in SHARED_FILES)
    (kit / "assignments" / "zz-shared.toml").write_text(f'id = "zz-shared"\ntitle = "Shares the loop"\nfiles = [{files}]\n')
    built = subprocess.run([sys.executable, "-m", "instructor", "release", "zz-shared", "--out", str(tmp_path / "h")],
                           cwd=kit, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr  # the release itself fails on any leak
    assert "definitions of other assignments left out" in built.stdout
    root = tmp_path / "h"
    train_py, main_py = (root / "train.py").read_text(), (root / "main.py").read_text()
    for name in ("def train_step_gan", "def train_step_wgan", "def compute_gradient_penalty", "def gan_step",
                 "GAN = Recipe", "# ASSIGNMENT"):
        assert name not in train_py, f"{name} of cscd84-a4 shipped in another assignment's train.py"
    for name in ('"mlp"', '"vit"', '"vit:mlp"', "CSCD84_GAN ="):
        assert name not in main_py, f"{name} of cscd84-a4 shipped in another assignment's main.py"
    assert "MockGAN" not in (root / "tests" / "test_loop.py").read_text()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
