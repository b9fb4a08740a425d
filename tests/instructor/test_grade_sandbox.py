"""The grader's machinery on a tiny NumPy-only assignment (:mod:`tests.instructor.fake_kit`).

Every threat of the autograder issue (:mod:`tests.instructor.submissions.threats`) is graded in
the bubblewrap sandbox, in one batch with two jobs: it must cost exactly the tasks it touches,
with a clear message, and leave the others graded correctly. A few also run in the plain-process
fallback. Short time limits keep the whole file to a few seconds.
"""

from __future__ import annotations

import os

import pytest

from instructor import ROOT, grade, sandbox
from tests.instructor.submissions import fake_kit
from tests.instructor.submissions import threats

LIMITS = sandbox.Limits(case_timeout=1.0, task_timeout=2.0, memory_mb=1024, total_memory_mb=3000)
FULL = {"add": 1.0, "scale": 2.0, "norm": 1.0}

needs_bwrap = pytest.mark.skipif(bool(sandbox.bwrap_problem()), reason=f"bubblewrap unusable: {sandbox.bwrap_problem()}")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake")
    manifest, handout, reference = fake_kit.build(folder)
    return folder, manifest, handout, reference


def correct_submission(kit, name="correct"):
    folder, _, _, reference = kit
    target = folder / name
    target.mkdir(exist_ok=True)
    for file in ("alpha.py", "beta.py"):
        (target / file).write_text((reference / file).read_text())
    return target


def scores(result: grade.SubmissionResult) -> dict[str, float]:
    return {task.task.id: task.score for task in result.tasks}


@pytest.fixture(scope="module")
def threat_results(kit):
    folder, manifest, handout, reference = kit
    target = threats.fake_target(reference)
    submissions = [threats.make(threat, target, folder / "threats" / threat.name) for threat in threats.THREATS]
    submissions += [correct_submission(kit), handout]
    with grade.Grader(manifest, handout=handout, reference=reference, mode=sandbox.detect("bwrap"), limits=LIMITS,
                      log=lambda *_: None) as grader:
        grader.prepare()
        results = grade.grade_all(grader, submissions, jobs=2)
    return target, dict(zip([t.name for t in threats.THREATS] + ["correct", "stub"], results))


@pytest.fixture(scope="module")
def basic_results(kit):
    """The reference solution and the stubs alone, graded in bubblewrap (the default suite's share)."""
    folder, manifest, handout, reference = kit
    with grade.Grader(manifest, handout=handout, reference=reference, mode=sandbox.detect("bwrap"), limits=LIMITS,
                      log=lambda *_: None) as grader:
        grader.prepare()
        results = grade.grade_all(grader, [correct_submission(kit), handout], jobs=2)
    return dict(zip(["correct", "stub"], results))


@needs_bwrap
def test_correct_submission_scores_full_marks_on_public_and_hidden_cases(basic_results):
    result = basic_results["correct"]
    assert scores(result) == FULL, grade.table(result)
    assert sum(case.hidden for task in result.tasks for case in task.cases) == 8  # 2 hidden per public case
    assert all(case.passed for task in result.tasks for case in task.cases)


@needs_bwrap
def test_handout_stubs_score_zero_with_not_implemented(basic_results):
    result = basic_results["stub"]
    assert scores(result) == {"add": 0, "scale": 0, "norm": 0}
    for task in result.tasks:
        assert task.message.startswith("not implemented") and task.task.id in task.message


@pytest.mark.slow
@needs_bwrap
@pytest.mark.parametrize("threat", threats.THREATS, ids=[t.name for t in threats.THREATS])
def test_threat_costs_exactly_the_tasks_it_touches(threat, threat_results):
    target, results = threat_results
    result = results[threat.name]
    touched = target.touched(threat)
    want = {task: 0.0 if task in touched else points for task, points in FULL.items()}
    assert scores(result) == want, f"{threat.what}:\n{grade.table(result)}"
    message = next(task.message for task in result.tasks if task.task.id == touched[0])
    assert target.expected_message(threat, message), f"{threat.what}: message {message!r} lacks {threat.expect!r}"
    assert not any("GRADER ERROR" in note for note in result.notes), result.notes


@needs_bwrap
def test_the_worker_runs_unprivileged_in_its_own_namespaces(kit, tmp_path):
    """A probe submission reports what it can see and be, through an exception message."""
    folder, manifest, handout, reference = kit
    probe = correct_submission(kit, "probe")
    source = (probe / "beta.py").read_text()

    def run_probe(body: str):
        """Grade the probe with ``body`` in front of beta's return; the first case's message and the worker uid."""
        (probe / "beta.py").write_text(source.replace("    return np.sqrt", body + "\n    return np.sqrt"))
        with grade.Grader(manifest, handout=handout, reference=reference, mode=sandbox.detect("bwrap"),
                          limits=LIMITS, log=lambda *_: None, tasks=["norm"]) as grader:
            grader.prepare()
            result = grader.grade(probe, slot=3)
            return result.tasks[0].cases[0].message, grader.uids.uid(3)

    message, _ = run_probe("""    import os, socket
    facts = [os.getuid(), os.geteuid(), os.getgid(), os.getpid(), len([p for p in os.listdir("/proc") if p.isdigit()])]
    facts.append(socket.if_nameindex() if hasattr(socket, "if_nameindex") else [])
    raise RuntimeError(repr(facts))""")
    assert "not allowed" in message  # the policy stops `import socket` before anything runs
    message, worker_uid = run_probe(f"""    import os
    INSTRUCTOR_PATHS = {[str(ROOT), str(reference), str(handout)]!r}
    facts = [os.getuid(), os.geteuid(), os.getgid(), os.getpid(), len([p for p in os.listdir("/proc") if p.isdigit()])]
    facts.append(sorted(os.listdir("/")))
    facts.append([os.path.exists(path) for path in INSTRUCTOR_PATHS])
    facts.append(open("/proc/self/status").read().split("CapEff:")[1].split()[0])
    raise RuntimeError(repr(facts))""")
    facts = eval(message.split("RuntimeError: ", 1)[1].rsplit(" (beta.py", 1)[0])  # noqa: S307 - our own repr
    uid, euid, gid, pid, processes, top, visible, caps = facts
    assert visible == [False, False, False], "the instructor's kit and the grader's trees are invisible"
    if os.geteuid() == 0:
        assert uid == euid == gid == worker_uid and uid > sandbox.UID_BASE
        assert int(caps, 16) == 0
    assert pid > 1 and processes <= 3  # the supervisor (pid 1), this child, maybe a zombie
    assert "work" not in top and "home" not in top
    assert set(top) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "tmp", "usr",
                        *(p.strip("/").split("/")[0] for p in sandbox.python_paths())}


def test_fallback_without_sandbox_still_grades_and_says_so(kit):
    """The plain-process fallback: loud notes, limits, and a crash costs only its task."""
    folder, manifest, handout, reference = kit
    mode = sandbox.detect("none")
    assert mode.kind == "subprocess" and any("WARNING" in note for note in mode.notes)
    target = threats.fake_target(reference)
    chosen = [t for t in threats.THREATS if t.name in ("exception", "infinite_loop", "os_exit_call", "print_flood",
                                                       "sys_exit_import")]
    if mode.kill_all:
        chosen += [t for t in threats.THREATS if t.name in ("kill_parent_call", "memory_bomb")]
    submissions = [threats.make(t, target, folder / "fallback" / t.name) for t in chosen]
    with grade.Grader(manifest, handout=handout, reference=reference, mode=mode, limits=LIMITS,
                      log=lambda *_: None) as grader:
        grader.prepare()
        assert any("WARNING" in note for note in grader.notes)
        results = grade.grade_all(grader, submissions + [correct_submission(kit, "fallback-correct")], jobs=2)
    assert scores(results[-1]) == FULL, grade.table(results[-1])
    for threat, result in zip(chosen, results):
        touched = target.touched(threat)
        assert scores(result) == {t: 0.0 if t in touched else p for t, p in FULL.items()}, grade.table(result)


def test_a_killed_worker_is_replaced_and_other_tasks_still_graded(kit):
    """Without namespaces the supervisor can be killed by its child: the grader starts a new worker."""
    folder, manifest, handout, reference = kit
    mode = sandbox.detect("none")
    mode = sandbox.Mode("subprocess", drop=mode.drop, notes=mode.notes, python_paths=mode.python_paths,
                        namespaces=False)
    submission = correct_submission(kit, "parent-killer")
    source = (submission / "alpha.py").read_text()
    (submission / "alpha.py").write_text(source.replace(
        "    return np.asarray(a) + np.asarray(b)",
        "    import os\n    os.kill(os.getppid(), 9)\n    return np.asarray(a) + np.asarray(b)"))
    with grade.Grader(manifest, handout=handout, reference=reference, mode=mode, limits=LIMITS,
                      log=lambda *_: None) as grader:
        grader.prepare()
        result = grader.grade(submission)
    assert scores(result) == {"add": 0.0, "scale": 2.0, "norm": 1.0}, grade.table(result)
    assert "the worker was stopped" in result.tasks[0].message


def test_grader_never_imports_submitted_code():
    """The grading process imports neither torch nor any graded module of the kit."""
    import subprocess
    import sys

    code = ("import sys; import instructor.grade, instructor.sandbox, instructor.policy, instructor.worker; "
            "bad = [m for m in ('torch', 'train', 'vit', 'np_attention', 'alpha', 'beta') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
