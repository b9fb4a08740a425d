"""Unit tests of the autograder's parts that need no sandbox: policy, submissions, comparison,
wire format, reports and the sandbox's command line. Each runs in milliseconds."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from instructor import grade, policy, sandbox, worker
from instructor.manifest import Manifest, Task

KIT = frozenset({"train", "vit", "mlp", "tests"})
ALLOWED = frozenset({"numpy", "torch"})


# ---- policy -------------------------------------------------------------------------------------


def violations(source: str, allowed=ALLOWED) -> list[str]:
    return [v.message for v in policy.check_source("sub.py", source, allowed=allowed, kit_modules=KIT)]


def test_policy_accepts_stdlib_allowed_and_kit_modules():
    source = "import math, os\nimport numpy as np\nfrom torch import nn\nfrom mlp import MLP\nimport tests.harness\n"
    assert violations(source) == []


@pytest.mark.parametrize("line, words", [
    ("import scipy", "'scipy' is not allowed"),
    ("from sklearn.linear_model import Ridge", "'sklearn.linear_model' is not allowed"),
    ("import socket", "'socket' is not allowed in graded code"),
    ("import subprocess", "'subprocess' is not allowed"),
    ("from ctypes import CDLL", "'ctypes' is not allowed"),
    ("import importlib", "'importlib' is not allowed"),
    ("from . import train", "relative imports"),
    ("x = __import__('os')", "__import__() is not allowed"),
    ("exec('print(1)')", "exec() is not allowed"),
    ("eval('1')", "eval() is not allowed"),
    ("f = compile('1', 'x', 'eval')", "compile() is not allowed"),
    ("b = __builtins__", "__builtins__ is not allowed"),
    ("def f():\n    import pytest\n", "'pytest' is not allowed"),
])
def test_policy_refuses(line, words):
    found = violations(line)
    assert found and words in found[0], found


def test_policy_reads_raw_bytes_and_refuses_other_encodings():
    hidden = b"# -*- coding: utf-7 -*-\n#+AAo-import torch\nx = 1\n"  # a comment in UTF-8, an import in UTF-7
    found = policy.check_bytes("sub.py", hidden, allowed=frozenset({"numpy"}), kit_modules=KIT)
    assert len(found) == 1 and "declares the encoding 'utf-7'" in found[0].message and found[0].line == 1
    assert "not UTF-8" in policy.check_bytes("sub.py", b"x = '\xff'\n", allowed=ALLOWED, kit_modules=KIT)[0].message
    assert policy.check_bytes("sub.py", b"# -*- coding: utf-8 -*-\nimport numpy\n", allowed=ALLOWED, kit_modules=KIT) == []
    assert "'torch' is not allowed" in policy.check_bytes("sub.py", b"\xef\xbb\xbfimport torch\n",
                                                          allowed=frozenset(), kit_modules=KIT)[0].message


def test_runtime_policy_allows_what_allowed_libraries_depend_on():
    manifest = Manifest(id="x", title="", allowed_imports=("numpy", "torch"),
                        extra={"policy": {"np_attention.py": {"allowed_imports": ["numpy"]}}})
    narrow = policy.runtime_policy(manifest, "np_attention.py", "import math\n", KIT)
    assert narrow["allowed"] == ["math", "numpy"] and narrow["listed"] == ["math", "numpy"]
    assert "socket" in narrow["denied"] and "tests" in narrow["kit"]
    wide = policy.runtime_policy(manifest, "vit.py", "", KIT)
    assert {"torch", "numpy"} <= set(wide["allowed"])
    assert "sympy" in wide["allowed"] or "sympy" not in policy._packages_distributions()  # torch needs sympy


GUARDED = '''
import json, sys
sys.path[:0] = [HANDOUT, WORKER_DIR]
import worker
guard = worker.PolicyGuard(RULES, {"handout": HANDOUT, "submitted_files": ["sub.py"]})
sys.addaudithook(guard.hook)
import sub
outcome = {}
for name in sorted(n for n in dir(sub) if n.startswith("route_")):
    try:
        lib = getattr(sub, name)()
        outcome[name] = "got " + getattr(lib, "__name__", repr(lib))
    except BaseException as error:
        outcome[name] = guard.refusal(error) or type(error).__name__
print(json.dumps(outcome))
'''


def test_the_policy_hook_refuses_every_route_to_a_library_the_file_may_not_use(tmp_path):
    """The runtime layer alone (no sandbox): each route of the threats, in a fresh interpreter."""
    import subprocess
    import sys
    import textwrap

    from instructor import ROOT
    from tests.instructor.submissions import threats

    (tmp_path / "relay.py").write_text("import tqdm\n")
    routes = {name: code for name, code in threats.ROUTES.items() if code}
    routes["plain_stdlib"] = "import colorsys as lib\n"
    routes["numpy_allowed"] = "import numpy.linalg\nimport numpy as lib\n"
    routes["denied_stdlib"] = "import sys\nlib = sys.modules['importlib'].import_module('socket')\n"
    routes["exec_alias"] = "run = exec\nspace = {}\nrun('lib = 1', space)\nlib = space['lib']\n"
    body = ""
    for name, code in routes.items():
        code = code.replace("FORBIDDEN_NAME", "tqdm").replace("FORBIDDEN", "'tqdm'").replace("RELAY", "relay")
        body += f"def route_{name}():\n" + textwrap.indent(code + "return lib\n", "    ") + "\n"
    (tmp_path / "sub.py").write_text(body)
    rules = {"file": "sub.py", "allowed": ["numpy"], "listed": ["numpy"], "kit": ["relay", "sub"],
             "denied": sorted(policy.DENIED_STDLIB)}
    script = GUARDED.replace("HANDOUT", repr(str(tmp_path))).replace("WORKER_DIR", repr(str(ROOT / "instructor")))
    script = script.replace("RULES", repr(rules))
    run = subprocess.run([sys.executable, "-I", "-W", "ignore", "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome.pop("route_plain_stdlib") == "got colorsys"
    assert outcome.pop("route_numpy_allowed") == "got numpy"
    assert "refuses the module 'socket'" in outcome.pop("route_denied_stdlib")
    assert "may not compile or run code it builds" in outcome.pop("route_exec_alias")
    for name, result in outcome.items():
        assert "import policy refuses" in result or (result == "KeyError" and name in (
            "route_sys_modules", "route_interpreter")), (name, result)


def test_policy_reports_a_syntax_error_with_its_line():
    found = policy.check_source("train.py", "x = 1\ndef broken(:\n", allowed=ALLOWED, kit_modules=KIT)
    assert len(found) == 1 and found[0].line == 2 and "syntax error" in found[0].message
    assert str(found[0]).startswith("train.py, line 2:")


def test_policy_allows_what_the_handout_file_itself_imports():
    manifest = Manifest(id="x", title="", allowed_imports=("numpy",))
    allowed = policy.allowed_for(manifest, "train.py", "def loop():\n    from tqdm import tqdm\n")
    assert "tqdm" in allowed and "numpy" in allowed
    assert violations("from tqdm import tqdm", allowed) == []


def test_policy_per_file_override_from_the_manifest():
    manifest = Manifest(id="x", title="", allowed_imports=("numpy", "torch"),
                        extra={"policy": {"np_attention.py": {"allowed_imports": ["numpy"]}}})
    assert policy.allowed_for(manifest, "np_attention.py") == frozenset({"numpy"})
    assert "torch" in policy.allowed_for(manifest, "vit.py")


def test_kit_modules_from_handout_files():
    assert policy.kit_modules(["train.py", "tests/harness.py", "README.md"]) == frozenset({"train", "tests"})


# ---- collecting a submission --------------------------------------------------------------------

WANTED = ("train.py", "vit.py")


def test_collect_folder_takes_only_the_submitted_files(tmp_path):
    (tmp_path / "train.py").write_text("A = 1\n")
    (tmp_path / "conftest.py").write_text("raise SystemExit\n")
    nested = tmp_path / "my project" / "src"
    nested.mkdir(parents=True)
    (nested / "vit.py").write_text("B = 2\n")
    found = grade.collect(tmp_path, WANTED)
    assert found.files == {"train.py": b"A = 1\n", "vit.py": b"B = 2\n"}
    assert found.notes == ["ignored 1 other file(s), only train.py, vit.py are graded: conftest.py"]


def test_collect_refuses_links_and_reports_missing_files(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("SOLUTION = 1\n")
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "train.py").symlink_to(secret)
    found = grade.collect(submission, WANTED)
    assert found.files == {}
    assert any("symbolic link" in note for note in found.notes)
    assert any("vit.py was not submitted" in note for note in found.notes)


def test_collect_refuses_huge_files(tmp_path):
    (tmp_path / "train.py").write_bytes(b"#" * (grade.MAX_FILE_BYTES + 1))
    found = grade.collect(tmp_path, WANTED)
    assert "train.py" not in found.files and any("larger than" in note for note in found.notes)


def test_collect_zip_ignores_traversal_and_mac_metadata(tmp_path):
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../train.py", "EVIL = 1\n")
        archive.writestr("__MACOSX/hw/._vit.py", "junk")
        archive.writestr("hw/train.py", "A = 1\n")
        archive.writestr("hw/vit.py", "B = 2\n")
        link = zipfile.ZipInfo("hw2/vit.py")
        link.external_attr = (0o120777) << 16
        archive.writestr(link, "/etc/passwd")
    found = grade.collect(path, WANTED)
    assert found.files == {"train.py": b"A = 1\n", "vit.py": b"B = 2\n"}


def test_collect_something_that_is_not_a_submission(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    found = grade.collect(path, WANTED)
    assert found.files == {} and "neither a folder nor a zip" in found.notes[0]


def test_collect_refuses_duplicate_zip_entries_as_ambiguous(tmp_path):
    """unzip and Gradescope keep the last of two same-named entries: the grader takes neither."""
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.py", "A = 1\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("train.py", "A = 2\n")
        archive.writestr("vit.py", "B = 2\n")
    found = grade.collect(path, WANTED)
    assert found.files == {"vit.py": b"B = 2\n"}
    assert any("train.py appears 2 times" in note and "ambiguous" in note for note in found.notes), found.notes


def test_collect_refuses_two_copies_at_the_same_depth_of_a_folder(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "train.py").write_text(f"A = {sub!r}\n")
    (tmp_path / "vit.py").write_text("B = 2\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "vit.py").write_text("B = 1\n")
    found = grade.collect(tmp_path, WANTED)
    assert found.files == {"vit.py": b"B = 2\n"}  # the shallowest copy wins when it is alone
    assert any("ambiguous" in note and "a/train.py" in note for note in found.notes), found.notes


def test_collect_a_member_with_a_bad_crc_is_the_submissions_message(tmp_path):
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("train.py", "A = 1\n")
        archive.writestr("vit.py", "B = 2\n")
    data = bytearray(path.read_bytes())
    data[data.index(b"A = 1")] = ord("Z")  # the stored bytes no longer match their CRC
    path.write_bytes(bytes(data))
    found = grade.collect(path, WANTED)
    assert found.files == {"vit.py": b"B = 2\n"}
    assert any(note.startswith("train.py: could not be read from the zip") and "CRC" in note for note in found.notes)


def test_collect_a_zip_with_undecodable_names(tmp_path):
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.py", "A = 1\n")
        archive.writestr("caf\u00e9.py", "x")
    data = path.read_bytes().replace("caf\u00e9".encode(), b"caf\xff\xfe")  # invalid UTF-8, UTF-8 flag set
    path.write_bytes(data)
    found = grade.collect(path, WANTED)
    assert found.files == {} and found.notes and "could not read the submission" in found.notes[0], found.notes


def test_collect_a_broken_archive_and_odd_file_names(tmp_path):
    path = tmp_path / "sub.zip"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    found = grade.collect(path, WANTED)
    assert found.files == {} and found.notes
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.py").write_text("A = 1\n")
    (folder / os.fsdecode(b"notes\xff\n.txt")).write_text("x")
    found = grade.collect(folder, WANTED)
    assert found.files == {"train.py": b"A = 1\n"}
    assert "notes\ufffd?.txt" in found.notes[-1] and all(note.isprintable() for note in found.notes)


# ---- writing results ----------------------------------------------------------------------------


def test_results_are_written_atomically_and_never_through_a_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "book.csv"
    link.symlink_to(victim)
    grade.write_atomic(link, "new")
    assert victim.read_text() == "precious" and not link.is_symlink() and link.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_results_in_a_folder_others_can_write_are_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert "can be written by other users" in grade.unsafe_output(shared / "book.csv", "--csv")
    assert grade.unsafe_output(tmp_path / "mine" / "results", "--json") == ""


def test_a_refused_output_stops_the_grader_before_it_grades(tmp_path, capsys):
    from instructor.__main__ import main

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert main(["grade", "cscd84-a4", str(tmp_path), "--csv", str(shared / "book.csv")]) == 2
    assert "refuses to write results" in capsys.readouterr().err
    assert not (shared / "book.csv").exists()


def test_submission_names_of_any_length_give_short_unique_file_names(tmp_path):
    long = "x" * 251
    names = grade.unique_names([tmp_path / long, tmp_path / (long[:-1] + "y"), tmp_path / "a b.zip", tmp_path / "ok"])
    targets = grade._json_targets(tmp_path / "json", names)
    assert len({t.name for t in targets}) == 4 and all(len(t.name) < 120 for t in targets)
    assert targets[3].name == "ok.json" and targets[2].name.startswith("a_b-")
    for target in targets:
        grade.write_atomic(target, "{}")


# ---- comparing a case ---------------------------------------------------------------------------


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=True)
    return buffer.getvalue()


EXPECTED = {"out": np.array([[1.0, 2.0], [3.0, 4.0]]), "loss": np.array(0.5)}


def check(arrays, hidden=False, expected=EXPECTED):
    return grade.compare_case(arrays, expected, rtol=1e-4, atol=1e-6, hidden=hidden)


def test_compare_accepts_values_within_tolerance_and_other_float_widths():
    assert check({"out": npy(EXPECTED["out"].astype(np.float32)), "loss": npy(0.50000001), "extra": npy(1)}) == ""


@pytest.mark.parametrize("arrays, words", [
    ({"out": npy(EXPECTED["out"])}, "'loss' is missing"),
    ({"out": npy(EXPECTED["out"].ravel()), "loss": npy(0.5)}, "has shape (4,), expected (2, 2)"),
    ({"out": npy(np.full((2, 2), np.nan)), "loss": npy(0.5)}, "NaN or inf"),
    ({"out": npy(EXPECTED["out"]), "loss": npy(np.inf)}, "NaN or inf"),
    ({"out": npy(EXPECTED["out"].astype(int)), "loss": npy(0.5)}, "dtype int64"),
    ({"out": npy(np.array(["a", "b"])), "loss": npy(0.5)}, "not a real numeric array"),
    ({"out": npy(np.array([object()], dtype=object)), "loss": npy(0.5)}, "could not be read"),
    ({"out": npy(EXPECTED["out"] + 1j), "loss": npy(0.5)}, "not a real numeric array"),
    ({"out": b"garbage", "loss": npy(0.5)}, "could not be read"),
    ({"out": npy(EXPECTED["out"] * 1.01), "loss": npy(0.5)}, "differs by up to 0.04"),
])
def test_compare_finds_what_is_wrong(arrays, words):
    problem = check(arrays)
    assert words in problem, problem


def test_compare_hides_values_of_hidden_cases():
    problem = check({"out": npy(EXPECTED["out"] * 2), "loss": npy(0.5)}, hidden=True)
    assert "differs from the reference" in problem and "expected" not in problem


def test_compare_expected_non_finite_entries_must_match():
    expected = {"logp": np.array([-np.inf, 0.0])}
    assert check({"logp": npy([-np.inf, 0.0])}, expected=expected) == ""
    assert "non-finite" in check({"logp": npy([np.inf, 0.0])}, expected=expected)


# ---- the wire format ----------------------------------------------------------------------------


def test_frames_round_trip_in_pieces():
    data = worker.encode_frame({"type": "case", "arrays": [["a", 3], ["b", 2]]}, b"xyzuv") + worker.encode_frame({"type": "done"})
    reader = worker.FrameReader(max_payload=100)
    frames = []
    for i in range(len(data)):
        frames += reader.feed(data[i:i + 1])
    assert [h["type"] for h, _ in frames] == ["case", "done"]
    assert worker.split_arrays(*frames[0]) == {"a": b"xyz", "b": b"uv"}


DEEP = b"[" * 30000 + b"]" * 30000


@pytest.mark.parametrize("data", [
    worker.PREFIX.pack(len(DEEP), 0) + DEEP,  # nested too deep for the JSON parser
    worker.PREFIX.pack(1 << 20, 0),  # header too large
    worker.PREFIX.pack(2, 10 ** 9),  # payload above the limit
    worker.PREFIX.pack(3, 0) + b"{{{",  # not JSON
    worker.PREFIX.pack(2, 0) + b"[]",  # not an object
])
def test_bad_frames_are_refused(data):
    with pytest.raises(worker.ProtocolError):
        worker.FrameReader(max_payload=1000).feed(data)


@pytest.mark.parametrize("header, payload", [
    ({"arrays": [["a", 5]]}, b"abc"),
    ({"arrays": [["a", 1]]}, b"abc"),
    ({"arrays": [["a", 1], ["a", 1]]}, b"ab"),
    ({"arrays": "no"}, b""),
    ({}, b""),
])
def test_array_lists_that_do_not_match_their_payload(header, payload):
    with pytest.raises(worker.ProtocolError):
        worker.split_arrays(header, payload)


def test_worker_serialises_only_numeric_arrays():
    assert np.lib.format.read_array(io.BytesIO(worker.npy_bytes(np.float32(2.5)))).shape == ()
    with pytest.raises(TypeError):
        worker.npy_bytes(np.array([object()]))
    with pytest.raises(TypeError):
        worker.npy_bytes(np.array(["x"]))


def test_hidden_seeds_depend_on_the_secret_and_the_case():
    seeds = {worker.hidden_seed(s, c) for s in (1, 2) for c in ("m/a#hidden1", "m/a#hidden2")}
    assert len(seeds) == 4 and all(0 <= seed < 2 ** 63 for seed in seeds)


# ---- reports ------------------------------------------------------------------------------------


def a_result() -> grade.SubmissionResult:
    tasks = [Task("alpha", "a.py", 2, "first"), Task("beta", "b.py", 1, "second")]
    result = grade.SubmissionResult(name="alice", path="/x/alice", notes=["vit.py was not submitted"], seconds=3.2)
    first = grade.TaskResult(tasks[0], [grade.CaseResult("m/a", False, True, "", "ok"),
                                        grade.CaseResult("m/a#hidden1", True, False, "output 'x' differs", "wrong")])
    second = grade.TaskResult(tasks[1], [grade.CaseResult("m/b", False, False, "b: not implemented yet", "not_implemented")])
    result.tasks = [first, second]
    return result


def scored(result: grade.SubmissionResult, credit="case", all_or_nothing=()) -> grade.SubmissionResult:
    grader = object.__new__(grade.Grader)
    grader.all_or_nothing = set(all_or_nothing)
    grader.credit = credit
    for task in result.tasks:
        grade.Grader._score(grader, task)
    return result


def test_scores_are_partial_per_case():
    result = scored(a_result())
    assert [t.score for t in result.tasks] == [1.0, 0.0]
    assert result.tasks[1].message.startswith("not implemented")
    assert "1/2 cases passed" in result.tasks[0].message and "hidden variant 1 of m/a" in result.tasks[0].message


def test_a_check_needs_its_hidden_variants_too():
    """Hard-coding the public values earns nothing: m/a passes in public only."""
    result = a_result()
    result.tasks[0].cases.append(grade.CaseResult("m/c", False, True, "", "ok"))
    scored(result, credit="group")
    assert result.tasks[0].score == 1.0  # m/c passes; m/a (public ok, hidden wrong) does not
    assert "1/2 checks passed" in result.tasks[0].message


def test_all_or_nothing_tasks():
    result = scored(a_result(), all_or_nothing={"alpha"})
    assert result.tasks[0].score == 0.0


def test_gradescope_json_follows_the_schema():
    data = grade.gradescope_json(scored(a_result()), ["sandbox: bubblewrap"])
    json.dumps(data)
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert data["score"] == 1.0 and "sandbox: bubblewrap" in data["output"]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed") and test["visibility"] == "visible"
    assert "hidden 1 of m/a" in data["tests"][0]["output"]


def test_csv_gradebook(tmp_path):
    result = scored(a_result())
    path = tmp_path / "book.csv"
    result.grader_notes.append("WARNING: the worker kept capabilities 1")
    grade.write_csv(path, [result], [task.task for task in result.tasks], fingerprint="0123abcd4567",
                    grader_notes=["sandbox: bubblewrap"])
    rows = path.read_text().splitlines()
    assert rows[0] == "submission,score,max_score,alpha,beta,seconds,notes,seed_fingerprint,grader_notes"
    assert rows[1].startswith("alice,1,3,1,0,3.2,")
    assert rows[1].endswith(",0123abcd4567,sandbox: bubblewrap | WARNING: the worker kept capabilities 1")


def test_table_lists_every_task():
    text = grade.table(scored(a_result()))
    assert "alice: 1 / 3 points" in text and "alpha" in text and "beta" in text


# ---- the sandbox's command line -----------------------------------------------------------------


def test_python_paths_never_include_the_instructor_files():
    from instructor import ROOT

    for path in sandbox.python_paths():
        assert not (path + "/").startswith(str(ROOT.resolve()) + "/"), path


def test_bwrap_command_isolates_the_worker(tmp_path):
    mode = sandbox.Mode("bwrap", drop=True, python_paths=sandbox.python_paths())
    launch = sandbox.build_launch(mode, handout=tmp_path / "h", inputs=tmp_path / "i", request=tmp_path / "r.json",
                                  work=tmp_path / "w", uid=2_000_000_007, channel=5, limits=sandbox.Limits())
    argv = launch.argv
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--as-pid-1", "--clearenv"):
        assert flag in argv
    pairs = list(zip(argv, argv[1:], argv[2:]))
    assert ("--ro-bind", str(tmp_path / "h"), "/sandbox/handout") in pairs
    assert ("--ro-bind", str(tmp_path / "i"), "/sandbox/inputs") in pairs
    binds = [b for flag, b, _ in pairs if flag in ("--bind", "--ro-bind")]
    assert not any(b.startswith(str(tmp_path / "w")) for b in binds), "the work folder is a tmpfs, not a host folder"
    assert not any(flag == "--bind" for flag, _, _ in pairs), "nothing of the host is writable"
    tail = argv[argv.index("--") + 1:]
    assert tail[1:3] == ["-I", "-B"] and "--uid" in tail and "2000000007" in tail and "--kill-scope" in tail


def test_fallback_command_and_notes(tmp_path):
    mode = sandbox.Mode("subprocess", drop=False, notes=["WARNING: x"], namespaces=False)
    launch = sandbox.build_launch(mode, handout=tmp_path, inputs=tmp_path, request=tmp_path / "r.json", work=tmp_path,
                                  uid=None, channel=5, limits=sandbox.Limits())
    assert launch.argv[1:3] == ["-I", "-B"] and "group" in launch.argv
    assert "INSECURE" in mode.summary() and not mode.kill_all and mode.insecure


def test_namespace_fallback_command_builds_the_same_file_system(tmp_path):
    """Without bubblewrap the worker, root in new namespaces, mounts what bubblewrap would."""
    mode = sandbox.Mode("unshare", drop=True, python_paths=sandbox.python_paths(), namespaces=True)
    launch = sandbox.build_launch(mode, handout=tmp_path / "h", inputs=tmp_path / "i", request=tmp_path / "r.json",
                                  work=tmp_path / "w", uid=2_000_000_007, channel=5, limits=sandbox.Limits())
    argv = launch.argv
    assert argv[0].endswith("unshare") and {"--mount", "--pid", "--net", "--fork"} <= set(argv[:argv.index("--")])
    layout = json.loads(argv[argv.index("--isolate") + 1])
    assert layout["root"] == str(tmp_path / "w") and layout["script"] == "/sandbox/worker.py"
    bwrap = sandbox.build_launch(sandbox.Mode("bwrap", drop=True, python_paths=mode.python_paths), handout=tmp_path / "h",
                                 inputs=tmp_path / "i", request=tmp_path / "r.json", work=tmp_path / "w",
                                 uid=2_000_000_007, channel=5, limits=sandbox.Limits()).argv
    assert " ".join(layout["args"]) in " ".join(bwrap)
    args = layout["args"]
    sized = [args[i + 3] for i in range(len(args) - 3) if args[i] == "--size" and args[i + 2] == "--tmpfs"]
    assert set(sized) == {"/tmp", "/var/tmp", "/dev/shm", "/sandbox/work"}, "private, size-capped temporary folders"
    assert not any(flag == "--bind" for flag in layout["args"]), "nothing of the host is writable"
    assert "--uid" in argv and "/sandbox/request.json" in argv and launch.cwd == "/"


def test_python_binds_create_readable_parents():
    args = sandbox._python_binds(("/opt/private/python", "/usr/lib/python3"))
    assert args[:6] == ["--perms", "0755", "--dir", "/opt", "--perms", "0755"]
    assert args[-3:] == ["--ro-bind", "/opt/private/python", "/opt/private/python"]
    assert "/usr/lib/python3" not in args  # already under the bound /usr


def test_world_accessible(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "f").write_text("x")
    os.chmod(tmp_path, 0o755)
    assert not sandbox._world_accessible(str(private / "f"))
    os.chmod(private, 0o755)
    os.chmod(private / "f", 0o644)
    assert sandbox._world_accessible(str(private / "f")) == all(
        os.stat(p).st_mode & 0o001 for p in (private / "f").parents)
