"""The grader's machinery on a tiny assignment (:mod:`tests.instructor.fake_kit`).

Every threat of the autograder issues (:mod:`tests.instructor.submissions.threats`) is graded in
one batch with two jobs, once in each isolation: bubblewrap, and the namespaces the worker builds
itself without bubblewrap (as root). It must cost exactly the tasks it touches, with a clear
message, and leave the others graded correctly; nothing may stay behind on this machine. A few
also run with ``--insecure`` (no isolation at all). Short time limits keep each batch to about a
minute.
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


def isolation_problem(kind: str) -> str:
    """Why this machine cannot isolate a worker that way ('' when it can)."""
    if kind == "bwrap":
        return sandbox.bwrap_problem()
    return sandbox.isolation_problem(sandbox.python_paths())


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def mode(request):
    """Each isolation in turn: bubblewrap, and the worker's own namespaces (bubblewrap not used)."""
    problem = isolation_problem(request.param)
    if problem:
        pytest.skip(f"{request.param} isolation unusable here: {problem}")
    chosen = sandbox.detect("bwrap" if request.param == "bwrap" else "none")
    assert chosen.kind == request.param and chosen.isolated
    return chosen


@pytest.fixture(scope="module")
def finished_copy(kit):
    """A finished alpha.py in a world-readable temporary folder: what a student left there."""
    import shutil
    import tempfile

    _, _, _, reference = kit
    folder = tempfile.mkdtemp(prefix="finished-handout-")
    os.chmod(folder, 0o755)
    shutil.copyfile(reference / "alpha.py", os.path.join(folder, "alpha.py"))
    os.chmod(os.path.join(folder, "alpha.py"), 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


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
def threat_results(kit, mode, finished_copy):
    folder, manifest, handout, reference = kit
    target = threats.fake_target(reference)
    assert not threats.host_traces(), "traces of an earlier run: remove them first"
    base = folder / f"threats-{mode.kind}"
    submissions = [threats.make(threat, target, base / threat.name) for threat in threats.THREATS]
    submissions += [correct_submission(kit, f"correct-{mode.kind}"), handout]
    with grade.Grader(manifest, handout=handout, reference=reference, mode=mode, limits=LIMITS,
                      log=lambda *_: None) as grader:
        grader.prepare()
        results = grade.grade_all(grader, submissions, jobs=2)
    traces = threats.host_traces()
    for path in traces:
        os.unlink(path)
    return target, dict(zip([t.name for t in threats.THREATS] + ["correct", "stub"], results)), traces


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
def test_reference_full_marks_and_stubs_zero_in_each_isolation(threat_results):
    _, results, _ = threat_results
    assert scores(results["correct"]) == FULL, grade.table(results["correct"])
    assert scores(results["stub"]) == {"add": 0, "scale": 0, "norm": 0}, grade.table(results["stub"])


@pytest.mark.slow
@pytest.mark.parametrize("threat", threats.THREATS, ids=[t.name for t in threats.THREATS])
def test_threat_costs_exactly_the_tasks_it_touches(threat, threat_results):
    target, results, _ = threat_results
    result = results[threat.name]
    touched = target.touched(threat)
    want = {task: 0.0 if task in touched else points for task, points in FULL.items()}
    assert scores(result) == want, f"{threat.what}:\n{grade.table(result)}"
    message = next(task.message for task in result.tasks if task.task.id == touched[0])
    assert target.expected_message(threat, message), f"{threat.what}: message {message!r} lacks {threat.expect!r}"
    assert not any("GRADER ERROR" in note for note in result.notes), result.notes


@pytest.mark.slow
def test_nothing_the_threats_wrote_stays_on_this_machine(threat_results):
    _, _, traces = threat_results
    assert traces == []


def test_the_worker_runs_unprivileged_in_its_own_namespaces(kit, mode):
    """A probe submission reports what it can see and be, through an exception message."""
    folder, manifest, handout, reference = kit
    probe = correct_submission(kit, "probe")
    source = (probe / "beta.py").read_text()

    def run_probe(body: str):
        """Grade the probe with ``body`` in front of beta's return; the first case's message and the worker uid."""
        (probe / "beta.py").write_text(source.replace("    return np.sqrt", body + "\n    return np.sqrt"))
        with grade.Grader(manifest, handout=handout, reference=reference, mode=mode,
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
    assert "work" not in top and "home" not in top and "srv" not in top and "opt" not in top
    assert set(top) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "tmp", "usr",
                        "var", *(p.strip("/").split("/")[0] for p in sandbox.python_paths())}


@pytest.mark.slow
def test_the_temporary_folders_count_against_the_memory_limit(kit, mode):
    """300 MiB in /dev/shm is memory no process shows as its own: the watchdog counts it."""
    folder, manifest, handout, reference = kit
    submission = correct_submission(kit, f"shm-filler-{mode.kind}")
    source = (submission / "beta.py").read_text()
    (submission / "beta.py").write_text(source.replace("    return np.sqrt", """    import os, time
    for index in range(40):
        with open(f"/dev/shm/fill-{index}", "wb") as handle:
            handle.write(b"x" * (8 << 20))
    time.sleep(5)
    return np.sqrt"""))
    limits = sandbox.Limits(case_timeout=10.0, task_timeout=10.0, tmpfs_mb=400, total_memory_mb=300)
    with grade.Grader(manifest, handout=handout, reference=reference, mode=mode, limits=limits,
                      log=lambda *_: None, tasks=["norm"]) as grader:
        grader.prepare()
        result = grader.grade(submission)
    assert result.score == 0 and "temporary folders included" in result.tasks[0].message, grade.table(result)


@pytest.mark.slow
def test_without_isolation_the_grader_refuses_unless_insecure(kit, monkeypatch):
    """No bubblewrap and no namespaces: grading is refused, or done with --insecure and said so."""
    folder, manifest, handout, reference = kit
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap is not installed (simulated)")
    monkeypatch.setattr(sandbox, "isolation_problem", lambda paths: "the grader is not root (simulated)")
    with pytest.raises(SystemExit, match="apt-get install bubblewrap.*--insecure"):
        sandbox.detect("auto")
    mode = sandbox.detect("auto", insecure=True)
    assert mode.kind == "subprocess" and mode.insecure and "INSECURE" in mode.summary()
    assert any("INSECURE" in note for note in mode.notes)
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
    assert all(result.notes[0].startswith("INSECURE") for result in results)
    data = grade.gradescope_json(results[-1], [mode.summary(), *mode.notes])
    assert "INSECURE" in data["output"]


def test_files_a_worker_uid_left_in_shared_folders_are_removed(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give files to another uid")
    shared = tmp_path / "shared"
    (shared / "nested").mkdir(parents=True)
    os.chmod(shared, 0o1777)
    os.chmod(shared / "nested", 0o1777)
    uid = sandbox.UID_BASE + 12345
    left = [shared / "marker", shared / "nested" / "deep", shared / "own-folder"]
    left[0].write_text("x")
    left[1].write_text("x")
    left[2].mkdir()
    (left[2] / "inside").write_text("x")
    (shared / "link").symlink_to("/etc/passwd")
    for path in [*left, left[2] / "inside"]:
        os.chown(path, uid, uid)
    os.lchown(shared / "link", uid, uid)
    (shared / "someone-else").write_text("keep")
    removed = sandbox.remove_files_of_uid(uid, roots=(str(shared),))
    assert sorted(removed) == sorted(map(str, [*left, shared / "link"]))
    assert sorted(p.name for p in shared.iterdir()) == ["nested", "someone-else"]
    assert os.path.exists("/etc/passwd")


def test_a_killed_worker_is_replaced_and_other_tasks_still_graded(kit, monkeypatch):
    """Without namespaces the supervisor can be killed by its child: the grader starts a new worker."""
    folder, manifest, handout, reference = kit
    monkeypatch.setattr(sandbox, "isolation_problem", lambda paths: "simulated")
    mode = sandbox.detect("none", insecure=True)
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
