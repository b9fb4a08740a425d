"""The autograder end to end on cscd84-a4, through its command line and its Gradescope zip.

One ``python -m instructor grade`` run grades, with two jobs, the reference solution (as a zip),
the handout's stubs, and the threats of :mod:`tests.instructor.submissions.threats` where the real
assignment matters (torch loaded, the real reference files and public values, real memory use),
aimed at the NumPy attention; the tests read its ``results.json`` files and CSV gradebook. Every
threat also runs on the fake kit in ``test_grade_sandbox.py``, in seconds. The Gradescope zip is
unpacked into a fake ``/autograder`` tree and ``run_autograder`` is run there. Slow (about a
minute on two cores): each submission starts a sandbox that imports torch.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from instructor import ROOT, sandbox
from instructor.manifest import load
from tests.instructor.submissions import threats

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(sandbox.bwrap_problem()), reason=f"bubblewrap unusable: {sandbox.bwrap_problem()}"),
]

ASSIGNMENT = "cscd84-a4"
MANIFEST = load(ASSIGNMENT)
FULL = {task.id: task.points for task in MANIFEST.tasks if not task.provided}
# Short limits: the threats that hang cost one limit each; the real cases take well under a second.
LIMITS = ["--case-timeout", "5", "--task-timeout", "15"]
E2E = {"syntax_error", "infinite_loop", "os_exit_import", "kill_parent_import", "fork_bomb", "memory_bomb",
       "print_flood", "read_secrets", "write_outside", "monkeypatch", "lying_array", "lying_tensor",
       "hardcoded_public", "planted_files", "replaced_handout", "symlink_to_reference", "compile_call"}
THREATS = [threat for threat in threats.THREATS if threat.name in E2E or threat.name.startswith("forbidden_")]


def grade_cli(*args, cwd=ROOT, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "instructor", "grade", ASSIGNMENT, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def task_scores(results: dict) -> dict[str, float]:
    return {test["name"].split(":")[0]: test["score"] for test in results["tests"]}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    target = threats.cscd84_target()
    names = []
    for threat in THREATS:
        threats.make(threat, target, folder / "subs" / threat.name)
        names.append(threat.name)
    correct = threats.make_correct(target, folder / "correct-src")
    with zipfile.ZipFile(folder / "subs" / "correct.zip", "w") as archive:
        for name in MANIFEST.submit:
            archive.write(correct / name, f"my-hw/{name}")
    stub = folder / "subs" / "stub"
    stub.mkdir()
    for name in MANIFEST.submit:
        (stub / name).write_text(target.stubs[name])
    submissions = [folder / "subs" / name for name in names] + [folder / "subs" / "correct.zip", stub]
    result = grade_cli(*submissions, "--jobs", "2", "--json", folder / "json", "--csv", folder / "book.csv",
                       "--quiet", *LIMITS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = {path.stem: json.loads(path.read_text()) for path in (folder / "json").glob("*.json")}
    return target, outputs, folder, result.stdout


def test_reference_solution_scores_full_marks_public_and_hidden(batch):
    _, outputs, _, _ = batch
    results = outputs["correct"]
    assert task_scores(results) == FULL and results["score"] == sum(FULL.values())
    for test in results["tests"]:
        assert test["status"] == "passed" and "hidden 2 of" in test["output"]


def test_handout_stubs_score_zero_with_not_implemented(batch):
    _, outputs, _, _ = batch
    results = outputs["stub"]
    assert results["score"] == 0
    for test in results["tests"]:
        task = test["name"].split(":")[0]
        assert test["output"].startswith("not implemented") and f"{task}: not implemented yet" in test["output"]


@pytest.mark.parametrize("threat", THREATS, ids=[t.name for t in THREATS])
def test_threat_costs_exactly_the_tasks_it_touches(threat, batch):
    target, outputs, _, _ = batch
    results = outputs[threat.name]
    touched = target.touched(threat)
    want = {task: 0.0 if task in touched else points for task, points in FULL.items()}
    assert task_scores(results) == want, json.dumps(results, indent=1)[:4000]
    message = next(t["output"] for t in results["tests"] if t["name"].startswith(touched[0]))
    assert target.expected_message(threat, message), message[:2000]


def test_the_attacks_left_no_trace(batch):
    _, _, folder, _ = batch
    assert not any(ROOT.glob("*.PWNED")) and not (ROOT / "PWNED").exists()
    assert not any(path.name.endswith("PWNED") for path in folder.rglob("*"))


def test_csv_gradebook_has_a_row_per_submission(batch):
    _, outputs, folder, stdout = batch
    with open(folder / "book.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(THREATS) + 2
    by_name = {row["submission"]: row for row in rows}
    assert float(by_name["correct"]["score"]) == sum(FULL.values())
    assert set(FULL) <= set(rows[0])
    assert "graded" in stdout and "--jobs 2" in stdout


def test_run_autograder_in_a_fake_autograder_tree(tmp_path):
    from instructor import gradescope

    archive = gradescope.build_zip(ASSIGNMENT, tmp_path / "autograder.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert {"setup.sh", "run_autograder", "instructor/grade.py", "instructor/worker.py",
            f"assignments/{ASSIGNMENT}.toml", "requirements.txt"} <= set(names)
    assert not any(name.startswith(("tests/instructor", "written/")) for name in names)
    root = tmp_path / "autograder"
    runner = gradescope.unpack(archive, root)
    results = root / "results" / "results.json"
    env = {**os.environ, "AUTOGRADER_PYTHON": sys.executable}

    def run_once() -> dict:
        subprocess.run([str(runner)], env=env, capture_output=True, text=True, timeout=600, check=True)
        return json.loads(results.read_text())

    # An empty submission: every task not implemented.
    data = run_once()
    assert data["score"] == 0 and len(data["tests"]) == len(FULL)
    assert all("not implemented" in test["output"] for test in data["tests"])
    assert stat_mode(root / "source") & 0o077 == 0, "the source is readable by root alone"

    # A submission that kills everything it can, at import: only its task is lost.
    target = threats.cscd84_target()
    (root / "submission" / "np_attention.py").write_text(
        threats.solution(target.sources["np_attention.py"], "np_attention.py")
        + "\nimport os\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, 9)\n    except OSError:\n"
        + "        pass\nos._exit(0)\n")
    data = run_once()
    assert task_scores(data)["multi_head_attention"] == 0 and data["score"] == 0

    # The grader itself broken (no manifest): a results file all the same.
    (root / "source" / "assignments" / f"{ASSIGNMENT}.toml").unlink()
    data = run_once()
    assert data["score"] == 0 and data["tests"] == [] and ASSIGNMENT in data["output"]


def stat_mode(path) -> int:
    return os.stat(path).st_mode


def graded_assignments() -> list[str]:
    """Every assignment with graded code tasks (cscd84-a4 is covered above)."""
    from instructor.manifest import available

    found = []
    for assignment in available():
        manifest = load(assignment)
        if assignment != ASSIGNMENT and manifest.submit and any(not t.provided for t in manifest.tasks):
            found.append(assignment)
    return found


@pytest.mark.parametrize("assignment", graded_assignments())
def test_every_assignment_grades_its_reference_solution_full_marks(assignment, tmp_path):
    from instructor import grade

    manifest = load(assignment)
    handout, reference = grade.build_trees(assignment, tmp_path / "trees")
    submission = tmp_path / "submission"
    for name in manifest.submit:
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_bytes((reference / name).read_bytes())
    with grade.Grader(manifest, handout=handout, reference=reference, mode=sandbox.detect("bwrap"),
                      hidden_per_case=1, log=lambda *_: None) as grader:
        grader.prepare()
        assert not [note for note in grader.notes if "WARNING" in note], grader.notes
        result = grader.grade(submission)
        stubs = grader.grade(handout)
    assert result.score == result.max_score == manifest.points, grade.table(result)
    assert stubs.score == 0, grade.table(stubs)
    assert all(task.message.startswith("not implemented") for task in stubs.tasks), grade.table(stubs)
