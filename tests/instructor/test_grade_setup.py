"""The grader on a TA's first day: repeatable scores, and no set-up problem graded as a student's zero.

On the tiny assignment of :mod:`tests.instructor.submissions.fake_kit`, in seconds:

* the hidden cases come from the assignment's kept seed, so six gradings of one buggy
  submission give six equal scores (and other seeds, other scores: the test can fail);
* a broken set-up stops grading at the preflight with a message for the TA, and no grade;
* the machine's notes go to the TA (stderr, CSV), the seed only as its fingerprint;
* in bubblewrap, the grader's Python may be a virtual environment inside the kit or under the
  temp folder.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest

from instructor import grade, sandbox, seeds
from tests.instructor.mutation import copy_kit
from tests.instructor.submissions import fake_kit

needs_bwrap = pytest.mark.skipif(bool(sandbox.bwrap_problem()),
                                 reason=f"needs bubblewrap (apt-get install bubblewrap): {sandbox.bwrap_problem()}")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("setup")
    manifest, handout, reference = fake_kit.build(folder)
    return folder, manifest, handout, reference


def any_mode() -> sandbox.Mode:
    """The best isolation this machine offers; a plain subprocess where it offers none (a student's
    laptop: no bubblewrap, not root), since what these tests check does not depend on it."""
    return sandbox.detect("auto", insecure=True)


def buggy_submission(reference: Path, folder: Path) -> Path:
    """``scale`` right only for vectors of up to 4 entries: the public case has 4, hidden ones 1 to 5
    (like an attention scaled by sqrt(D) instead of sqrt(D/H), right whenever a variant draws one head)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "beta.py").write_text((reference / "beta.py").read_text())
    alpha = (reference / "alpha.py").read_text()
    wrong = alpha.replace("return np.asarray(x) * float(k)", "return np.asarray(x)[:4] * float(k)")
    assert wrong != alpha
    (folder / "alpha.py").write_text(wrong)
    return folder


def grade_once(kit, submission: Path, secret: int) -> float:
    _, manifest, handout, reference = kit
    with grade.Grader(manifest, handout=handout, reference=reference, mode=any_mode(), secret=secret,
                      tasks=["scale"], log=lambda *_: None) as grader:  # the task the bug is in
        grader.prepare()
        return grader.grade(submission).score


def test_six_gradings_of_a_buggy_submission_give_the_same_score(kit, tmp_path):
    folder = kit[0]
    submission = buggy_submission(kit[3], folder / "buggy")
    secret = seeds.load_or_draw("fake", tmp_path, log=lambda *_: None)
    scores = [grade_once(kit, submission, seeds.load_or_draw("fake", tmp_path)) for _ in range(6)]
    assert seeds.read("fake", tmp_path) == secret and len(set(scores)) == 1, scores
    # Hidden inputs do matter for this bug: some other seed scores it differently.
    others = set()
    for other in range(1, 12):
        others.add(grade_once(kit, submission, other))
        if len(others) > 1:
            break
    assert len(others) > 1, f"every seed gave {others}: the bug never shows in hidden cases"


def test_seed_file_is_private_and_a_damaged_one_is_named(tmp_path):
    seed = seeds.load_or_draw("fake", tmp_path, log=lambda *_: None)
    path = seeds.path("fake", tmp_path)
    assert os.stat(path).st_mode & 0o077 == 0 and os.stat(tmp_path).st_mode & 0o077 == 0
    assert seeds.read("fake", tmp_path) == seed and str(seed) in path.read_text()
    assert seeds.fingerprint(seed) == seeds.fingerprint(seed) != seeds.fingerprint(seed + 1)
    assert str(seed) not in seeds.fingerprint(seed)
    path.write_text("# comment\nnot a number\n")
    with pytest.raises(SystemExit, match="expected one line with the seed"):
        seeds.read("fake", tmp_path)


def cli_args(kit, tmp_path, submissions, **changes) -> Namespace:
    _, _, handout, reference = kit
    args = dict(assignment="fake", submissions=submissions, json=tmp_path / "json", csv=tmp_path / "book.csv",
                jobs=1, sandbox="auto", insecure=True, tasks=None, hidden=None, seed=None,
                task_timeout=sandbox.Limits.task_timeout, case_timeout=sandbox.Limits.case_timeout, quiet=True,
                handout=handout, reference=reference)
    args.update(changes)
    return Namespace(**args)


@pytest.fixture
def fake_cli(kit, tmp_path, monkeypatch):
    """``grade.run`` on the fake assignment, with its seed kept under tmp_path."""
    monkeypatch.setattr(grade, "load", lambda assignment: kit[1])
    monkeypatch.setattr(seeds, "SECRETS_DIR", tmp_path / "secrets")
    return lambda *submissions, **changes: grade.run(cli_args(kit, tmp_path, list(submissions), **changes))


def test_results_name_the_seed_fingerprint_and_keep_machine_notes_for_the_ta(kit, tmp_path, fake_cli, capsys):
    submission = buggy_submission(kit[3], tmp_path / "buggy")
    assert fake_cli(submission) == 0
    seed = seeds.read("fake", tmp_path / "secrets")
    mark = seeds.fingerprint(seed)
    machine = any_mode().summary()  # how the worker was isolated: a note for the TA
    ta = capsys.readouterr().err
    assert machine in ta and f"seed fingerprint {mark}" in ta and str(seed) not in ta
    results = (tmp_path / "json" / "buggy.json").read_text()
    assert mark in results and str(seed) not in results
    assert machine not in results and "WARNING" not in results, "notes on the machine are for the TA"
    with open(tmp_path / "book.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["seed_fingerprint"] == mark and machine in row["grader_notes"]
    assert str(seed) not in (tmp_path / "book.csv").read_text()
    # --seed overrides the kept seed for one run, and the fingerprint says so.
    assert fake_cli(submission, seed=seed + 1) == 0
    assert json.loads((tmp_path / "json" / "buggy.json").read_text())["output"].count(seeds.fingerprint(seed + 1)) == 1


def test_a_broken_set_up_stops_before_any_grade(kit, tmp_path, fake_cli, capsys):
    """Limits this machine cannot meet: the reference solution loses points, nobody is graded."""
    submission = buggy_submission(kit[3], tmp_path / "buggy")
    assert fake_cli(submission, task_timeout=0.001, case_timeout=0.001) == 2
    message = capsys.readouterr().err
    assert "GRADING STOPPED, no grades written: the reference solution of fake scored 0 / 4" in message
    assert "time limit is too tight" in message
    assert not (tmp_path / "book.csv").exists() and not list((tmp_path / "json").glob("*.json"))


@needs_bwrap
def test_preflight_names_a_python_the_sandbox_cannot_start(kit):
    """The first day's failure: bubblewrap cannot see the grader's Python (here: nothing of it bound)."""
    _, manifest, handout, reference = kit
    mode = sandbox.detect("bwrap")
    hidden_python = sandbox.Mode("bwrap", drop=mode.drop, notes=mode.notes, python_paths=())
    if sys.executable.startswith(("/usr/", "/bin/")):
        pytest.skip("this Python lies under /usr, which the sandbox always shows")
    with grade.Grader(manifest, handout=handout, reference=reference, mode=hidden_python, log=lambda *_: None) as grader:
        grader.prepare()
        with pytest.raises(grade.SetupError) as stopped:
            grader.preflight()
    message = str(stopped.value)
    assert "GRADING STOPPED, no grades written" in message and "the worker failed to start" in message
    assert "the worker's Python cannot start in the sandbox" in message


# ---- the grader's Python in a virtual environment, in bubblewrap ---------------------------------

GRADE_IN_VENV = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from instructor import ROOT, grade, sandbox
    from tests.instructor.submissions import fake_kit

    manifest, handout, reference = fake_kit.build(Path(sys.argv[1]))
    mode = sandbox.detect("bwrap")
    with grade.Grader(manifest, handout=handout, reference=reference, mode=mode, log=lambda *_: None) as grader:
        grader.prepare()
        check = grader.preflight()
        launch = sandbox.build_launch(mode, handout=handout, inputs=grader.inputs, request=handout / "x.json",
                                      work=handout, uid=None, channel=3, limits=sandbox.Limits(),
                                      worker=grader.worker)
    binds = [launch.argv[i + 1] for i, flag in enumerate(launch.argv) if flag == "--ro-bind"]
    print(json.dumps({"python": sys.prefix, "root": str(ROOT), "score": check.score, "max": check.max_score,
                      "paths": list(mode.python_paths), "binds": binds}))
''')


def make_venv(venv: Path) -> None:
    """A venv that sees the packages of this Python (numpy), in seconds: no install."""
    import site

    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    (own,) = (venv / "lib").glob("python3*/site-packages")
    (own / "this_python.pth").write_text("\n".join(site.getsitepackages()) + "\n")  # when this Python is a venv


@needs_bwrap
@pytest.mark.parametrize("where", ["kit/.venv", "venv-under-tmp"])
def test_grading_in_bubblewrap_with_the_python_of_a_venv(where, tmp_path):
    """A ``.venv`` inside the kit (the commonest set-up) and a venv under the temp folder."""
    kit_copy = copy_kit(tmp_path / "kit")
    venv = tmp_path / where
    make_venv(venv)
    python = venv / "bin" / "python"
    out = subprocess.run([str(python), "-c", GRADE_IN_VENV, str(tmp_path / "fake")], cwd=kit_copy,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["python"] == str(venv) and facts["score"] == facts["max"] == 4
    assert str(venv) in facts["paths"]
    root = facts["root"]
    for path in facts["binds"]:
        assert not (root + "/").startswith(path.rstrip("/") + "/"), f"{path} would show the instructor's kit"
        assert not path.startswith(root + "/") or path.startswith(str(venv)), f"{path}: instructor's file bound"


def test_installed_libraries_are_found_on_every_python():
    """The runtime import policy allows what allowed libraries load late (torch loads sympy); on
    Python 3.10 the standard library's mapping misses wheels without top_level.txt, torch's among them."""
    from importlib import metadata

    from instructor import policy

    found = policy._packages_distributions()
    assert found.get("numpy") == ["numpy"] and "pytest" in found.get("pytest", [])
    if sys.version_info >= (3, 11):
        stdlib = metadata.packages_distributions()
        assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in stdlib.items()}


def test_optional_imports_of_libraries_degrade_quietly_under_the_import_policy(tmp_path):
    """torch imports colorama inside ``try: ... except ModuleNotFoundError`` when it builds an
    optimiser; a clean install lacks colorama, so the policy's refusal must be caught there too, or
    every student loses the task (the preflight caught it on a fresh Python 3.10 venv)."""
    from instructor import ROOT

    script = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(ROOT / "instructor")!r})
        import worker
        guard = worker.PolicyGuard({{"file": "train.py", "allowed": ["numpy"], "listed": ["numpy"]}}, {{}})
        sys.addaudithook(guard.hook)
        try:
            import colorama_is_not_installed_here
        except ModuleNotFoundError:
            print("degraded quietly")
        try:
            import json.decoder, email  # the standard library stays allowed
        except ImportError as error:
            print("refused", error)
    ''')
    run = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "degraded quietly", run.stdout + run.stderr[-2000:]
