"""The autograder end to end on cscd84-a4, through its command line and its Gradescope zip.

One ``python -m instructor grade`` run grades, with two jobs, the reference solution (as a zip),
the handout's stubs, batch hazards (a 251-character name, a zip member with a bad CRC, a zip with
two entries of one file) and the threats of :mod:`tests.instructor.submissions.threats` where the
real assignment matters (torch loaded, the real reference files and public values, real memory
use), aimed at the NumPy attention; the tests read its ``results.json`` files and CSV gradebook.
The batch runs twice: under bubblewrap, and in a simulated Gradescope machine: the autograder zip
unpacked into a temporary ``autograder`` tree, run as root with no bubblewrap on the PATH and a
venv made from this Python (which lives where only root can read it), so the worker isolates
itself. ``run_autograder`` itself runs in both settings too. Every threat also runs on the fake
kit in ``test_grade_sandbox.py``, in seconds. Slow (minutes on two cores): each submission starts
a sandbox that imports torch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from instructor import ROOT, sandbox
from instructor.manifest import load
from tests.instructor.submissions import threats

pytestmark = [pytest.mark.slow]

ASSIGNMENT = "cscd84-a4"
MANIFEST = load(ASSIGNMENT)
FULL = {task.id: task.points for task in MANIFEST.tasks if not task.provided}
# Limits: the threats that hang cost one limit each; the real cases take well under a second, yet
# a reference case may take seconds on a loaded machine, and a timed-out reference stops the batch.
# A seed of the tests' own: the instructor's kept seed of cscd84-a4 is never drawn or read here.
SEED = 20260901
LIMITS = ["--case-timeout", "20", "--task-timeout", "40", "--seed", str(SEED)]
E2E = {"syntax_error", "infinite_loop", "os_exit_import", "kill_parent_import", "fork_bomb", "memory_bomb",
       "print_flood", "read_secrets", "write_outside", "monkeypatch", "lying_array", "lying_tensor",
       "hardcoded_public", "planted_files", "replaced_handout", "symlink_to_reference", "compile_call",
       "disk_walk", "fill_temp", "plant_links", "deep_header", "forged_frames"}
THREATS = [threat for threat in threats.THREATS if threat.name in E2E or threat.name.startswith("forbidden_")]
LONG_NAME = "x" * 251
SETTINGS = ["bwrap", "gradescope"]


def setting_problem(setting: str) -> str:
    if setting == "bwrap":
        return sandbox.bwrap_problem()
    return sandbox.isolation_problem(sandbox.python_paths())


def grade_cli(*args, cwd=ROOT, timeout=1800, python=sys.executable, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "instructor", "grade", ASSIGNMENT, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


def task_scores(results: dict) -> dict[str, float]:
    return {test["name"].split(":")[0]: test["score"] for test in results["tests"]}


@dataclasses.dataclass
class Tree:
    """A Gradescope machine in a temporary folder (see the module's docstring)."""

    root: Path
    runner: Path
    python: str
    env: dict

    @property
    def source(self) -> Path:
        return self.root / "source"


@pytest.fixture(scope="module")
def gradescope_tree(tmp_path_factory) -> Tree:
    return make_tree(tmp_path_factory.mktemp("gradescope"))


def make_tree(folder: Path, bubblewrap: bool = False) -> Tree:
    """The autograder zip unpacked as Gradescope does; without bubblewrap: a venv and a PATH
    that has no bwrap on it (else this Python and the usual PATH)."""
    from instructor import gradescope

    archive = gradescope.build_zip(ASSIGNMENT, folder / "autograder.zip", seed=SEED)
    root = folder / "autograder"
    runner = gradescope.unpack(archive, root)
    if bubblewrap:
        return Tree(root, runner, sys.executable, {**os.environ, "AUTOGRADER_PYTHON": sys.executable})
    venv = root / "venv"  # where setup.sh makes it, and run_autograder looks for it
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    tools = folder / "bin"  # what run_autograder and the grader call, and no bubblewrap
    tools.mkdir()
    for tool in ("bash", "sh", "dirname", "mkdir", "rm", "chmod", "cat", "env", "unshare"):
        if shutil.which(tool):
            (tools / tool).symlink_to(shutil.which(tool))
    env = {"PATH": f"{tools}", "HOME": "/root", "LANG": "C.UTF-8"}
    subprocess.run(["chmod", "-R", "go-rwx", str(root / "source")], check=True)  # as run_autograder does
    return Tree(root, runner, str(venv / "bin" / "python"), env)


def batch_submissions(folder: Path, target: threats.Target) -> list[Path]:
    """The threats, the reference (zipped, and under a 251-character name), the stubs, broken zips."""
    subs = folder / "subs"
    for threat in THREATS:
        threats.make(threat, target, subs / threat.name)
    correct = threats.make_correct(target, folder / "correct-src")
    with zipfile.ZipFile(subs / "correct.zip", "w") as archive:
        for name in MANIFEST.submit:
            archive.write(correct / name, f"my-hw/{name}")
    shutil.copytree(correct, subs / LONG_NAME)
    with zipfile.ZipFile(subs / "bad_crc.zip", "w", zipfile.ZIP_STORED) as archive:
        for name in MANIFEST.submit:
            archive.write(correct / name, name)
    data = bytearray((subs / "bad_crc.zip").read_bytes())
    spot = data.index(b"def softmax")  # inside np_attention.py's stored bytes
    data[spot] ^= 0x20
    (subs / "bad_crc.zip").write_bytes(bytes(data))
    with zipfile.ZipFile(subs / "duplicate.zip", "w") as archive:
        for name in MANIFEST.submit:
            archive.write(correct / name, name)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            archive.writestr("np_attention.py", target.stubs["np_attention.py"])
    stub = subs / "stub"
    stub.mkdir()
    for name in MANIFEST.submit:
        (stub / name).write_text(target.stubs[name])
    return [subs / threat.name for threat in THREATS] + [subs / "correct.zip", stub, subs / LONG_NAME,
                                                          subs / "bad_crc.zip", subs / "duplicate.zip"]


@pytest.fixture(scope="module", params=SETTINGS)
def batch(request, tmp_path_factory):
    problem = setting_problem(request.param)
    if problem:
        pytest.skip(f"{request.param}: {problem}")
    folder = tmp_path_factory.mktemp(f"e2e-{request.param}")
    target = threats.cscd84_target()
    finished = tempfile.mkdtemp(prefix="finished-handout-")  # a student's finished work, readable by all
    os.chmod(finished, 0o755)
    shutil.copyfile(ROOT / "np_attention.py", os.path.join(finished, "np_attention.py"))
    assert not threats.host_traces(), "traces of an earlier run: remove them first"
    options = ["--jobs", "2", "--json", folder / "json", "--csv", folder / "book.csv", "--quiet", *LIMITS]
    try:
        if request.param == "bwrap":
            submissions = batch_submissions(folder, target)
            result = grade_cli(*submissions, *options)
        else:
            tree = request.getfixturevalue("gradescope_tree")
            build = tree.source / "build"
            target = dataclasses.replace(target, secrets=target.secrets + (
                str(build / "reference" / "np_attention.py"), str(tree.source), str(tree.root / "results")))
            submissions = batch_submissions(folder, target)
            result = grade_cli(*submissions, *options, "--handout", build / "handout", "--reference",
                               build / "reference", cwd=tree.source, python=tree.python, env=tree.env)
    finally:
        shutil.rmtree(finished, ignore_errors=True)
    traces = threats.host_traces()
    for path in traces:
        os.unlink(path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = {path.stem: json.loads(path.read_text()) for path in (folder / "json").glob("*.json")}
    return target, outputs, folder, result.stdout, traces


def test_reference_solution_scores_full_marks_public_and_hidden(batch):
    _, outputs, _, _, _ = batch
    results = outputs["correct"]
    assert task_scores(results) == FULL and results["score"] == sum(FULL.values())
    for test in results["tests"]:
        assert test["status"] == "passed" and "hidden 2 of" in test["output"]


def test_handout_stubs_score_zero_with_not_implemented(batch):
    _, outputs, _, _, _ = batch
    results = outputs["stub"]
    assert results["score"] == 0
    for test in results["tests"]:
        task = test["name"].split(":")[0]
        assert test["output"].startswith("not implemented") and f"{task}: not implemented yet" in test["output"]


@pytest.mark.parametrize("threat", THREATS, ids=[t.name for t in THREATS])
def test_threat_costs_exactly_the_tasks_it_touches(threat, batch):
    target, outputs, _, _, _ = batch
    results = outputs[threat.name]
    touched = target.touched(threat)
    want = {task: 0.0 if task in touched else points for task, points in FULL.items()}
    assert task_scores(results) == want, json.dumps(results, indent=1)[:4000]
    message = next(t["output"] for t in results["tests"] if t["name"].startswith(touched[0]))
    assert target.expected_message(threat, message), message[:2000]


def test_the_attacks_left_no_trace(batch):
    _, _, folder, _, traces = batch
    assert not any(ROOT.glob("*.PWNED")) and not (ROOT / "PWNED").exists()
    assert not any(path.name.endswith("PWNED") for path in folder.rglob("*"))
    assert traces == [], "files the code wrote in temporary folders stayed on this machine"


def test_every_result_names_the_isolation(batch):
    """The gradebook tells the TA how each submission was isolated; no result is marked insecure."""
    _, outputs, folder, _, _ = batch
    with open(folder / "book.csv") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        notes = row["grader_notes"]
        assert "sandbox: bubblewrap" in notes or "sandbox: namespaces without bubblewrap" in notes, notes
        assert "unprivileged uid" in notes and "INSECURE" not in notes and "WARNING: the worker" not in notes, notes
    assert not any("INSECURE" in results["output"] for results in outputs.values())


def test_a_submission_name_of_any_length(batch):
    _, outputs, _, _, _ = batch
    [results] = [data for stem, data in outputs.items() if stem.startswith("x" * 80)]
    assert task_scores(results) == FULL


def test_a_zip_member_with_a_bad_crc_costs_that_file_only(batch):
    _, outputs, _, _, _ = batch
    results = outputs["bad_crc"]
    assert task_scores(results) == {**FULL, "multi_head_attention": 0.0}
    assert "np_attention.py: could not be read from the zip" in results["output"] and "CRC" in results["output"]


def test_two_entries_of_one_file_are_refused_as_ambiguous(batch):
    _, outputs, _, _, _ = batch
    results = outputs["duplicate"]
    assert task_scores(results) == {**FULL, "multi_head_attention": 0.0}
    assert "np_attention.py appears 2 times" in results["output"] and "ambiguous" in results["output"]


def test_csv_gradebook_has_a_row_per_submission(batch):
    _, outputs, folder, stdout, _ = batch
    with open(folder / "book.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(THREATS) + 5
    by_name = {row["submission"]: row for row in rows}
    assert float(by_name["correct"]["score"]) == sum(FULL.values())
    from instructor import seeds

    assert {row["seed_fingerprint"] for row in rows} == {seeds.fingerprint(SEED)}
    assert all(row["grader_notes"].startswith("sandbox: ") for row in rows)  # how: test_every_result_names_the_isolation
    assert set(FULL) <= set(rows[0])
    assert "graded" in stdout and "--jobs 2" in stdout


@pytest.mark.parametrize("setting", SETTINGS)
def test_run_autograder_in_a_fake_autograder_tree(tmp_path, setting):
    from instructor import seeds

    problem = setting_problem(setting)
    if problem:
        pytest.skip(f"{setting}: {problem}")
    tree = make_tree(tmp_path, bubblewrap=setting == "bwrap")
    names = zipfile.ZipFile(tmp_path / "autograder.zip").namelist()
    assert {"setup.sh", "run_autograder", "instructor/grade.py", "instructor/worker.py", "instructor/seeds.py",
            f"assignments/{ASSIGNMENT}.toml", "requirements.txt", f"grading-secrets/{ASSIGNMENT}.seed"} <= set(names)
    assert not any(name.startswith(("tests/instructor", "written/")) for name in names)
    trees = [name.split("/", 2)[2] for name in names if name.startswith("build/")]
    assert trees and not any(name.startswith(("written/", "tests/reference/", "tests/test_")) or name.endswith(".md")
                             for name in trees), "the zip carries only what grading reads"
    root, runner, env = tree.root, tree.runner, tree.env
    results = root / "results" / "results.json"

    log = []

    def run_once() -> dict:
        run = subprocess.run([str(runner)], env=env, capture_output=True, text=True, timeout=900, check=True)
        log.append(run.stdout + run.stderr)
        return json.loads(results.read_text())

    # The reference solution: full marks, from a worker isolated and unprivileged.
    target = threats.cscd84_target()
    for name in MANIFEST.submit:
        (root / "submission" / name).write_text(threats.solution(target.sources[name], name))
    data = run_once()
    assert task_scores(data) == FULL, json.dumps(data, indent=1)[:3000] + log[-1][-3000:]
    said = log[-1]
    assert ("sandbox: bubblewrap" if setting == "bwrap" else "sandbox: namespaces without bubblewrap") in said, said
    assert "unprivileged uid" in said and "WARNING" not in said and "INSECURE" not in said, said
    for name in MANIFEST.submit:
        (root / "submission" / name).unlink()

    # An empty submission: every task not implemented.
    data = run_once()
    assert data["score"] == 0 and len(data["tests"]) == len(FULL)
    assert all("not implemented" in test["output"] for test in data["tests"])
    assert seeds.fingerprint(SEED) in data["output"] and str(SEED) not in json.dumps(data)
    assert "sandbox" not in data["output"], "notes on the machine are for the staff, not the student"
    assert stat_mode(root / "source") & 0o077 == 0, "the source is readable by root alone"

    # A submission that kills everything it can, at import: only its task is lost.
    target = threats.cscd84_target()
    (root / "submission" / "np_attention.py").write_text(
        threats.solution(target.sources["np_attention.py"], "np_attention.py")
        + "\nimport os\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, 9)\n    except OSError:\n"
        + "        pass\nos._exit(0)\n")
    data = run_once()
    assert task_scores(data)["multi_head_attention"] == 0 and data["score"] == 0

    # The grader itself broken (no manifest): a results file all the same, that does not blame the student.
    (root / "source" / "assignments" / f"{ASSIGNMENT}.toml").unlink()
    data = run_once()
    assert data["score"] == 0 and data["tests"] == [] and "not with your submission" in data["output"]


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


@pytest.mark.skipif(bool(sandbox.bwrap_problem()), reason=f"bubblewrap unusable: {sandbox.bwrap_problem()}")
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
