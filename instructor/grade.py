"""``python -m instructor grade ASSIGNMENT SUBMISSION...``: grade submissions in a sandbox.

How one run goes:

1. Build the assignment's handout (stubs) and, privately, its reference solution.
2. Take the assignment's secret seed (:mod:`instructor.seeds`: kept for the term, so every
   grading gives the same scores), derive each hidden case's seed from it, and let a trusted worker run
   every case of every graded task with the reference solution: it writes the inputs (public and
   hidden) and the expected outputs. Expected values and seeds stay in a folder only the grader
   can read. The list of cases fixed here is what every submission is scored against.
   Then grade the reference solution in the sandbox like a submission (the *preflight*): unless
   it scores full marks, the machine's set-up is at fault, and grading stops with a message for
   the TA before any student is given a grade.
3. For each submission: take only the files the manifest says to submit, check their imports
   (:mod:`instructor.policy`), put them into a fresh copy of the handout, and start a sandboxed
   worker (:mod:`instructor.sandbox`, :mod:`instructor.worker`) that runs each task's cases on
   the inputs and sends back arrays. A task whose worker died is finished in a new worker; the
   task it was on keeps only the cases it completed.
4. Check each returned array (dtype, shape, finiteness) and compare it with the expected one,
   with the case's tolerances. A task scores its points times the fraction of its *checks* that
   pass, a check being a public case together with its hidden variants (all must pass).
5. Print a table per submission; write Gradescope's ``results.json`` (``--json``) and a CSV
   gradebook (``--csv``). The grader never crashes on a submission: whatever goes wrong costs
   the tasks it touches, with a message, and the results are always written. Notes on the
   machine (sandbox, warnings) go to the TA: stderr and the CSV, never a student's results.

The grader process itself never imports submitted code; it does not even import torch.

A manifest may tune the grading in an optional table (defaults shown)::

    [grading]
    hidden_per_case = 2      # hidden variants drawn for each public case
    credit = "group"         # "case": credit per case instead of per check
    all_or_nothing = []      # tasks that need every check to score anything
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import secrets
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from instructor import policy, sandbox, seeds
from instructor.manifest import Manifest, Task, load

MAX_FILE_BYTES = 1 << 20  # a submitted source file larger than this is refused
HIDDEN_PER_CASE = 2  # hidden variants of each public case, unless the manifest says otherwise
MAX_RUNS = 8  # worker starts per submission (a worker killed during a task is replaced)


# ---- results ------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    id: str
    hidden: bool
    passed: bool = False
    message: str = "never reported a result"
    kind: str = "missing"


@dataclass
class TaskResult:
    task: Task
    cases: list[CaseResult] = field(default_factory=list)
    score: float = 0.0
    message: str = ""
    log: str = ""

    @property
    def max_score(self) -> float:
        return self.task.points


@dataclass
class SubmissionResult:
    name: str
    path: str
    tasks: list[TaskResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the submission: the student sees them
    grader_notes: list[str] = field(default_factory=list)  # about the machine: for the TA only
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(task.score for task in self.tasks)

    @property
    def max_score(self) -> float:
        return sum(task.max_score for task in self.tasks)


# ---- the cases of a run -------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCase:
    id: str  # "<module>/<case name>" or "<module>/<case name>#hidden<k>"
    task: str
    module: str
    name: str
    hidden: bool
    inputs: str  # file name of its inputs (.npz), in the run's inputs folder
    expected: Path  # its expected outputs (.npz), in the private folder
    rtol: float
    atol: float


def case_modules(manifest: Manifest) -> list[str]:
    """Modules with cases in the handout: ``tests/cases_<module>.py`` among its files."""
    return [Path(name).stem.removeprefix("cases_") for name in manifest.files
            if name.startswith("tests/cases_") and name.endswith(".py")]


def grading_options(manifest: Manifest) -> dict:
    return dict(manifest.extra.get("grading", {}))


# ---- submissions --------------------------------------------------------------------------------


@dataclass
class Collected:
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def collect(submission: Path, wanted: tuple[str, ...]) -> Collected:
    """The wanted files of a submission (a folder or a zip), and notes on what was off.

    Only regular files are taken (a symbolic link could point at the reference solution); a file
    is found at its handout path or, failing that, by its name anywhere in the submission
    (shallowest first), since students often upload a folder. Two copies at that same depth (two
    entries of one name in a zip, or two subfolders) are ambiguous: the file is refused, since the
    student may have looked at the other one. Whatever cannot be read (a bad CRC, an undecodable
    name, a broken archive) is a note of this submission, never an error of the grader.
    """
    found = Collected()
    try:
        if submission.is_dir():
            candidates = _folder_candidates(submission)
            reader = lambda entry: _read_regular(entry)  # noqa: E731
        elif zipfile.is_zipfile(submission):
            archive = zipfile.ZipFile(submission)
            candidates = _zip_candidates(archive)
            reader = lambda entry: _read_member(archive, entry)  # noqa: E731
        elif submission.is_file() and submission.name in {Path(w).name for w in wanted}:
            candidates = {submission.name: [submission]}
            reader = lambda entry: _read_regular(entry)  # noqa: E731
        else:
            found.notes.append(f"{printable(str(submission))} is neither a folder nor a zip file: nothing was submitted")
            return found
    except Exception as error:  # noqa: BLE001 - a broken zip or folder is the submission's problem
        found.notes.append(f"could not read the submission: {printable(str(error))[:300]}")
        return found
    taken = set()
    for name in wanted:
        options = candidates.get(name) or candidates.get(Path(name).name) or []
        if not options:
            found.notes.append(f"{name} was not submitted: the handout's version (stubs) is graded")
            continue
        for entry in options:
            taken.add(id(entry))
        depth = _entry_depth(options[0], submission)
        tied = [entry for entry in options if _entry_depth(entry, submission) == depth]
        tied = [entry for entry in tied if not _is_link(entry)] or tied[:1]  # links are refused anyway
        if len(tied) > 1:
            shown = ", ".join(printable(_entry_name(entry, submission)) for entry in tied[:4])
            found.notes.append(f"{name} appears {len(tied)} times at the same place ({shown}): ambiguous, so it is "
                               "refused and the handout's version (stubs) is graded; submit one copy")
            continue
        if len(options) > 1:
            found.notes.append(f"{name} appears {len(options)} times in the submission; graded the shallowest one, "
                               f"{printable(_entry_name(tied[0], submission))}")
        try:
            found.files[name] = reader(tied[0])
        except Exception as error:  # noqa: BLE001 - bad CRC, truncated data, odd compression ...
            found.notes.append(f"{name}: {printable(str(error))[:300]}; the handout's version (stubs) is graded")
    others = sorted({printable(_entry_name(entry, submission)) for entries in candidates.values() for entry in entries
                     if id(entry) not in taken})
    if others:
        shown = ", ".join(others[:6]) + (", ..." if len(others) > 6 else "")
        found.notes.append(f"ignored {len(others)} other file(s), only {', '.join(wanted)} are graded: {shown}")
    return found


def printable(text: str) -> str:
    """``text`` safe to print and store: undecodable bytes and control characters replaced."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(char if char.isprintable() else "?" for char in text)


def _is_link(entry) -> bool:
    if isinstance(entry, zipfile.ZipInfo):
        return stat.S_ISLNK(entry.external_attr >> 16)
    return os.path.islink(entry)


def _entry_depth(entry, submission: Path) -> int:
    return _entry_name(entry, submission).strip("/").count("/")


def _entry_name(entry, submission: Path) -> str:
    return entry.filename if isinstance(entry, zipfile.ZipInfo) else os.path.relpath(entry, submission)


def _folder_candidates(root: Path) -> dict[str, list]:
    candidates: dict[str, list] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            for key in {relative, name}:
                candidates.setdefault(key, []).append(path)
    for paths in candidates.values():
        paths.sort(key=lambda p: len(p.parts))
    return candidates


def _read_regular(path: Path) -> bytes:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ValueError("is a symbolic link, not a file (refused)")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file (refused)")
    if info.st_size > MAX_FILE_BYTES:
        raise ValueError(f"is larger than {MAX_FILE_BYTES >> 10} KiB (refused)")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]


def _zip_candidates(archive: zipfile.ZipFile) -> dict[str, list]:
    candidates: dict[str, list] = {}
    for info in archive.infolist():
        name = info.filename
        parts = [part for part in name.split("/") if part]
        if info.is_dir() or not parts or any(part.startswith(("__MACOSX", ".")) or part == ".." for part in parts):
            continue
        for key in {"/".join(parts), parts[-1]}:
            candidates.setdefault(key, []).append(info)
    for infos in candidates.values():
        infos.sort(key=lambda info: info.filename.count("/"))
    return candidates


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's bytes; a broken member raises with zipfile's own reason (e.g. a bad CRC)."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ValueError("is a symbolic link in the zip (refused)")
    if info.file_size > MAX_FILE_BYTES:
        raise ValueError(f"is larger than {MAX_FILE_BYTES >> 10} KiB (refused)")
    try:
        with archive.open(info) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as error:
        raise ValueError(f"could not be read from the zip ({error})") from None
    except Exception as error:  # noqa: BLE001 - zlib.error and the like
        raise ValueError(f"could not be read from the zip ({type(error).__name__}: {error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"is larger than {MAX_FILE_BYTES >> 10} KiB (refused)")
    return data


# ---- comparing one case -------------------------------------------------------------------------


def load_npy(data: bytes) -> np.ndarray:
    """Parse ``.npy`` bytes from the worker: no pickles, only real numeric arrays."""
    array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if type(array) is not np.ndarray or array.dtype.kind not in "biuf":
        raise ValueError(f"is not a real numeric array (dtype {array.dtype})")
    return array


def compare_case(arrays: dict[str, bytes], expected: dict[str, np.ndarray], *, rtol: float, atol: float,
                 hidden: bool) -> str:
    """'' when every expected output came back right; else what was wrong with the first bad one."""
    for key, want in expected.items():
        if key not in arrays:
            return f"output {key!r} is missing"
        try:
            have = load_npy(arrays[key])
        except Exception as error:  # noqa: BLE001 - anything unreadable is simply wrong
            return f"output {key!r} could not be read: {str(error)[:200]}"
        kinds = {"b": "boolean", "i": "integer", "u": "integer", "f": "floating"}
        if kinds[have.dtype.kind] != kinds.get(want.dtype.kind, "floating"):
            return f"output {key!r} has dtype {have.dtype}, expected a {kinds.get(want.dtype.kind)} array"
        if have.shape != want.shape:
            return f"output {key!r} has shape {have.shape}, expected {want.shape}"
        have64, want64 = have.astype(np.float64), want.astype(np.float64)
        finite = np.isfinite(want64)
        if not np.all(np.isfinite(have64[finite])):
            return f"output {key!r} contains NaN or inf"
        odd = ~finite
        if np.any(odd) and not np.array_equal(have64[odd], want64[odd], equal_nan=True):
            return f"output {key!r} does not have the expected non-finite entries"
        close = np.abs(have64[finite] - want64[finite]) <= atol + rtol * np.abs(want64[finite])
        if not np.all(close):
            diff = np.abs(have64[finite] - want64[finite])
            worst = float(diff.max())
            if hidden:
                return f"output {key!r} differs from the reference by up to {worst:.3g}"
            index = np.unravel_index(int(np.argmax(np.where(finite, np.abs(have64 - want64), -1))), want.shape) if want.ndim else ()
            return (f"output {key!r} differs by up to {worst:.3g} (at index {tuple(int(i) for i in index)}: got "
                    f"{have64[index]:.6g}, expected {want64[index]:.6g}; rtol={rtol:g}, atol={atol:g})")
    return ""


# ---- the grader ---------------------------------------------------------------------------------


class Grader:
    """One grading run of one assignment: handout, reference values, then any number of submissions."""

    def __init__(self, manifest: Manifest, *, handout: Path, reference: Path, mode: sandbox.Mode,
                 limits: sandbox.Limits = sandbox.Limits(), secret: int | None = None,
                 hidden_per_case: int | None = None, tasks: list[str] | None = None, log=print):
        self.manifest = manifest
        self.mode = mode
        self.limits = limits
        self.secret = seeds.draw() if secret is None else secret
        self.fingerprint = seeds.fingerprint(self.secret)
        options = grading_options(manifest)
        self.hidden_per_case = options.get("hidden_per_case", HIDDEN_PER_CASE) if hidden_per_case is None else hidden_per_case
        self.all_or_nothing = set(options.get("all_or_nothing", ()))
        self.credit = options.get("credit", "group")
        if self.credit not in ("group", "case"):
            raise SystemExit(f"{manifest.id}: [grading] credit must be 'group' or 'case', not {self.credit!r}")
        graded = [task for task in manifest.tasks if not task.provided]
        if tasks:
            unknown = sorted(set(tasks) - {task.id for task in graded})
            if unknown:
                raise SystemExit(f"unknown task {unknown}; tasks of {manifest.id}: {', '.join(t.id for t in graded)}")
            graded = [task for task in graded if task.id in tasks]
        self.tasks = graded
        self.log = log
        self.private = Path(tempfile.mkdtemp(prefix="grade-private-"))  # 0700: the grader's alone
        self.shared = Path(tempfile.mkdtemp(prefix="grade-box-"))  # what workers may read
        os.chmod(self.shared, 0o711)  # reachable, not listable: submissions cannot find each other
        self.handout = Path(handout)
        self.reference = Path(reference)
        self.inputs = sandbox.prepare_dir(self.shared / secrets.token_hex(16), private=False)
        self.uids = sandbox.UidPool()
        self.worker = self.shared / f"worker-{secrets.token_hex(8)}.py"  # a copy the worker's uid can read
        shutil.copyfile(sandbox.WORKER, self.worker)
        os.chmod(self.worker, 0o644)
        self.notes = list(mode.notes)  # about this machine and run, for the TA
        self.reference_failures: list[str] = []  # cases the reference solution itself failed
        self.cases: dict[str, list[PlannedCase]] = {}
        self.preload = self._preload()
        self.handout_files = sorted(p.relative_to(self.handout).as_posix() for p in self.handout.rglob("*") if p.is_file())
        self.kit_modules = policy.kit_modules(self.handout_files)
        self._runtime_policies: dict[str, dict] = {}

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)
        shutil.rmtree(self.shared, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reference values --

    def prepare(self) -> None:
        """Run every case with the reference solution: inputs and expected outputs for this run."""
        start = time.monotonic()
        out = sandbox.prepare_dir(self.private / "reference-values", private=True)
        request = self.private / "reference-request.json"
        request.write_text(json.dumps({"modules": case_modules(self.manifest), "tasks": [t.id for t in self.tasks],
                                       "hidden_per_case": self.hidden_per_case, "secret": self.secret}))
        result = self._trusted_worker(["reference", "--handout", str(self.reference), "--request", str(request),
                                       "--out", str(out)], timeout=900)
        summary_path = out / "summary.json"
        if not summary_path.exists():
            raise SystemExit(f"the reference solution could not be run:\n{result[-3000:]}")
        by_task: dict[str, list[PlannedCase]] = {task.id: [] for task in self.tasks}
        for info in json.loads(summary_path.read_text()):
            if info["status"] != "ok":
                self.reference_failures.append(f"case {info['id']}: {info.get('message', '')}")
                self.notes.append(f"WARNING: the reference solution failed on case {info['id']} "
                                  f"({info.get('message', '')}); the case is not graded")
                continue
            name = f"{secrets.token_hex(8)}.npz"
            shutil.copyfile(info["inputs"], self.inputs / name)
            os.chmod(self.inputs / name, 0o644)
            by_task[info["task"]].append(PlannedCase(
                id=info["id"], task=info["task"], module=info["module"], name=info["name"], hidden=info["hidden"],
                inputs=name, expected=Path(info["expected"]), rtol=info["rtol"], atol=info["atol"]))
        for task in self.tasks:
            if not by_task[task.id]:
                self.notes.append(f"WARNING: task {task.id} has no cases in tests/cases_*.py; it cannot be graded")
        self.cases = by_task
        self.preload = self._preload(sorted({case.module for cases in by_task.values() for case in cases}))
        count = sum(len(cases) for cases in by_task.values())
        self.log(f"reference values: {count} cases ({self.hidden_per_case} hidden per public case, "
                 f"seed fingerprint {self.fingerprint}) in {time.monotonic() - start:.1f} s")

    def preflight(self) -> SubmissionResult:
        """Grade the reference solution in the sandbox, as any submission; stop unless it scores full marks.

        A reference solution that loses points here means the machine is at fault (the sandbox
        cannot start Python or see a library, a limit is too tight, a case is broken), and grading
        the students would give each of them that loss: :class:`SetupError` says what went wrong.
        """
        solution = sandbox.prepare_dir(self.private / "preflight", private=True)
        for name in self.manifest.submit:  # exactly what a student hands in
            if (self.reference / name).is_file():
                (solution / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.reference / name, solution / name)
        check = self.grade(solution)
        if check.score < check.max_score or self.reference_failures:
            raise SetupError(preflight_report(self, check))
        self.log(f"preflight: the reference solution scores {check.score:g} / {check.max_score:g} in the sandbox "
                 f"({check.seconds:.1f} s)")
        return check

    def _trusted_worker(self, args: list[str], *, timeout: float) -> str:
        import subprocess

        command = [sys.executable, "-I", "-B", str(sandbox.WORKER), *args]
        env = {**sandbox.worker_env(str(self.private), str(self.private)), "PATH": os.environ.get("PATH", "")}
        try:
            result = subprocess.run(command, cwd=self.reference, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit("the reference solution did not finish in time") from None
        return result.stdout + result.stderr

    def _preload(self, modules: list[str] | None = None) -> list[str]:
        """Allowed libraries the graded modules and their cases import at top level, followed
        through the kit's own modules: the worker imports them once, before forking per task."""
        import ast

        found = {"numpy"}
        modules = case_modules(self.manifest) if modules is None else modules
        todo = sorted({task.file for task in self.tasks} | {f"tests/cases_{m}.py" for m in modules})
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            path = self.handout / name
            if name in seen or not path.is_file():
                continue
            seen.add(name)
            try:
                tree = ast.parse(path.read_text())
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in tree.body:
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                for module in names:
                    top = module.split(".")[0]
                    if top in self.manifest.allowed_imports:
                        found.add(module)
                    elif (self.handout / f"{top}.py").is_file():
                        todo.append(f"{top}.py")
                    elif (self.handout / module.replace(".", "/")).with_suffix(".py").is_file():
                        todo.append(module.replace(".", "/") + ".py")
        return sorted(found, key=lambda name: (name.count("."), name))

    # -- one submission --

    def grade(self, submission: Path, *, slot: int = 0) -> SubmissionResult:
        start = time.monotonic()
        submission = Path(submission)
        result = SubmissionResult(name=submission.stem if submission.is_file() else submission.name,
                                  path=str(submission))
        results = {task.id: TaskResult(task, [CaseResult(c.id, c.hidden) for c in self.cases.get(task.id, [])])
                   for task in self.tasks}
        result.tasks = list(results.values())
        if self.mode.insecure:
            result.notes.append("INSECURE: graded without isolation (--insecure): the code could read or change "
                                "this machine's files, so this result cannot be trusted")
        try:
            self._grade(submission, result, results, slot)
        except Exception as error:  # noqa: BLE001 - the grader must finish and report
            import traceback

            result.notes.append(f"GRADER ERROR (not the submission's fault): {error!r}")
            self.log(traceback.format_exc())
        for task_result in result.tasks:
            self._score(task_result)
        result.seconds = time.monotonic() - start
        return result

    def _grade(self, submission: Path, result: SubmissionResult, results: dict[str, TaskResult], slot: int) -> None:
        collected = collect(submission, self.manifest.submit)
        result.notes += collected.notes
        blocked: dict[str, str] = {}
        for name, data in collected.files.items():
            provided = self.handout / name
            allowed = policy.allowed_for(self.manifest, name, provided.read_text() if provided.is_file() else "")
            problems = policy.check_bytes(name, data, allowed=allowed, kit_modules=self.kit_modules)
            if problems:
                text = "; ".join(str(p) for p in problems[:3]) + (" ..." if len(problems) > 3 else "")
                result.notes.append(f"policy: {text}")
                for task in self.tasks:
                    if task.file == name:
                        blocked[task.id] = text
        for task_id, text in blocked.items():
            for case in results[task_id].cases:
                case.kind, case.message = "policy", text
        todo = [task for task in self.tasks if task.id not in blocked and self.cases.get(task.id)]
        if not todo:
            return
        box = sandbox.prepare_dir(self.shared / secrets.token_hex(16), private=False)
        try:
            handout = box / "handout"
            shutil.copytree(self.handout, handout, symlinks=False)
            for name, data in collected.files.items():
                target = handout / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(data)
            sandbox.make_readable(handout)
            self._run_tasks(todo, results, box, handout, slot, result)
        finally:
            shutil.rmtree(box, ignore_errors=True)

    def _run_tasks(self, todo: list[Task], results: dict[str, TaskResult], box: Path, handout: Path, slot: int,
                   result: SubmissionResult) -> None:
        uid = self.uids.uid(slot) if self.mode.drop else None
        expected_ids = {case.id: case for task in todo for case in self.cases[task.id]}
        reported: set[str] = set()
        remaining = list(todo)
        for attempt in range(MAX_RUNS):
            if not remaining:
                break
            work = box / f"work{attempt}"
            work.mkdir()
            if uid is not None:
                os.chown(work, uid, uid)
            os.chmod(work, 0o700)
            request = box / f"request{attempt}.json"
            request.write_text(json.dumps(self._request(remaining, reported)))
            os.chmod(request, 0o644)
            record = sandbox.run_worker(self.mode, handout=handout, inputs=self.inputs, request=request, work=work,
                                        uid=uid, limits=self.limits, tasks=len(remaining), worker=self.worker)
            if attempt == 0 and record.hello:
                self._check_hello(record.hello, uid, result)
            for header, payload in record.cases:
                self._take_case(header, payload, expected_ids, results, reported)
            for task_id, end in record.ended.items():
                if task_id in results:
                    results[task_id].log = str(end.get("log", ""))[: self.limits.log_keep]
            finished = set(record.ended)
            if record.failure:
                running = record.running
                if record.hello is None:
                    why = f"the worker failed to start: {record.failure}"
                    detail = record.output.strip().splitlines()[-3:]
                    if detail:
                        why += " (" + " | ".join(detail)[:400] + ")"
                    result.notes.append(why)
                    for task in remaining:
                        self._fail_open(results[task.id], reported, "crash", why)
                    return
                if running:
                    self._fail_open(results[running], reported, "crash", f"the worker was stopped: {record.failure}")
                    finished.add(running)
            remaining = [task for task in remaining if task.id not in finished]
            if record.done:
                break
        for task in remaining:
            self._fail_open(results[task.id], reported, "crash", "the worker stopped repeatedly; task not run")

    def _request(self, tasks: list[Task], reported: set[str]) -> dict:
        return {
            "inputs_dir": sandbox.inputs_view(self.mode, self.inputs),
            "limits": self.limits.as_request(),
            "preload": self.preload,
            "submitted": [Path(name).name for name in self.manifest.submit],
            "submitted_files": list(self.manifest.submit),
            "tasks": [{"id": task.id, "module": Path(task.file).stem, "policy": self.runtime_policy(task.file),
                       "cases": [{"id": case.id, "module": case.module, "name": case.name, "inputs": case.inputs}
                                 for case in self.cases[task.id] if case.id not in reported]}
                      for task in tasks],
        }

    def runtime_policy(self, file: str) -> dict:
        """What the worker enforces while ``file``'s code runs (:func:`policy.runtime_policy`)."""
        if file not in self._runtime_policies:
            provided = self.handout / file
            source = provided.read_text() if provided.is_file() else ""
            self._runtime_policies[file] = policy.runtime_policy(self.manifest, file, source, self.kit_modules)
        return self._runtime_policies[file]

    def _check_hello(self, hello: dict, uid: int | None, result: SubmissionResult) -> None:
        if uid is not None and (hello.get("uid") != uid or hello.get("euid") != uid):
            result.grader_notes.append(f"WARNING: the worker reports uid {hello.get('uid')}, expected {uid}")
        if uid is not None and hello.get("CapEff", "0" * 16).strip("0"):
            result.grader_notes.append(f"WARNING: the worker kept capabilities {hello.get('CapEff')}")

    def _take_case(self, header: dict, payload: bytes, expected_ids: dict[str, PlannedCase],
                   results: dict[str, TaskResult], reported: set[str]) -> None:
        from instructor.worker import ProtocolError, split_arrays

        case_id = header.get("case")
        planned = expected_ids.get(case_id) if isinstance(case_id, str) else None
        if planned is None or header.get("task") != planned.task or case_id in reported:
            return  # unknown, mislabelled or repeated: ignored
        reported.add(case_id)
        target = next(c for c in results[planned.task].cases if c.id == case_id)
        if header.get("status") != "ok":
            target.kind = str(header.get("kind", "exception"))[:40]
            target.message = str(header.get("message", "failed"))[:1000]
            return
        try:
            arrays = split_arrays(header, payload)
        except ProtocolError as error:
            target.kind, target.message = "bad_output", f"malformed result ({error})"
            return
        with np.load(planned.expected, allow_pickle=False) as stored:
            expected = {key: stored[key] for key in stored.files}
        problem = compare_case(arrays, expected, rtol=planned.rtol, atol=planned.atol, hidden=planned.hidden)
        target.passed = not problem
        target.kind = "ok" if not problem else "wrong"
        target.message = problem

    def _fail_open(self, task_result: TaskResult, reported: set[str], kind: str, message: str) -> None:
        for case in task_result.cases:
            if case.id not in reported and case.kind in ("missing",):
                case.kind, case.message = kind, message
                reported.add(case.id)

    def _score(self, task_result: TaskResult) -> None:
        """Points for one task from its cases.

        A *check* is a public case together with its hidden variants (same code, other inputs). By
        default a check earns its share of the task's points only when all its variants pass, so
        hard-coding the public reference values earns nothing; ``[grading] credit = "case"`` gives
        credit per case instead, and tasks listed in ``all_or_nothing`` need every check.
        """
        cases = task_result.cases
        if not cases:
            task_result.score = 0.0
            task_result.message = "not graded: this task has no cases (instructor: check tests/cases_*.py)"
            return
        groups: dict[str, list[CaseResult]] = {}
        for case in cases:
            groups.setdefault(case.id.split("#")[0] if self.credit == "group" else case.id, []).append(case)
        passed = sum(all(case.passed for case in group) for group in groups.values())
        fraction = passed / len(groups)
        if task_result.task.id in self.all_or_nothing:
            fraction = float(passed == len(groups))
        task_result.score = round(task_result.task.points * fraction, 4)
        unit = "checks" if self.credit == "group" else "cases"
        if passed == len(groups):
            task_result.message = f"all {len(groups)} {unit} passed" + (
                f" ({len(cases)} cases with the hidden ones)" if self.credit == "group" else "")
            return
        kinds = {case.kind for case in cases if not case.passed}
        if kinds == {"policy"}:
            message = next(c.message for c in cases if not c.passed)
            task_result.message = message if "import policy" in message else "refused by the import policy: " + message
            return
        if kinds == {"not_implemented"}:
            task_result.message = "not implemented (" + first_line(next(c.message for c in cases if not c.passed)) + ")"
            return
        failed = next(case for case in cases if not case.passed)
        base = failed.id.split("#")[0]
        label = f"hidden variant {failed.id.split('#hidden')[1]} of {base}" if failed.hidden else base
        task_result.message = f"{passed}/{len(groups)} {unit} passed; first failure ({label}): {failed.message}"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class SetupError(SystemExit):
    """The grader cannot grade fairly on this machine: nobody's grade may be written."""


def preflight_report(grader: Grader, check: SubmissionResult) -> str:
    """What the TA reads when the reference solution does not score full marks in the sandbox."""
    lines = [f"GRADING STOPPED, no grades written: the reference solution of {grader.manifest.id} scored "
             f"{check.score:g} / {check.max_score:g} in this machine's sandbox. Every student would lose those "
             f"points for a problem of the grader's set-up, not of their code.",
             f"  {grader.mode.summary()}", *(f"  {note}" for note in [*grader.notes, *check.grader_notes, *check.notes])]
    lines += [f"  reference solution failed {failure}" for failure in grader.reference_failures]
    lines += [f"  {task.task.id}: {task.score:g} / {task.max_score:g}: {task.message}"
              for task in check.tasks if task.score < task.max_score]
    text = "\n".join(lines)
    hints = ["What to check:"]
    if "failed to start" in text or "did not start" in text:
        hints.append("  - the worker's Python cannot start in the sandbox: run the grader with the Python that has "
                     "numpy and torch (`python -c 'import numpy, torch'`), and compare with `--sandbox none`")
    if "time limit" in text or "timed out" in text:
        hints.append("  - a time limit is too tight for this machine: raise --case-timeout / --task-timeout")
    if "memory" in text:
        hints.append("  - a memory limit is too tight for this machine (sandbox.Limits)")
    hints.append(f"  - grade the reference solution alone: python -m instructor release {grader.manifest.id} --out key "
                 f"--solutions, then python -m instructor grade {grader.manifest.id} key")
    return text + "\n" + "\n".join(hints)


# ---- reports ------------------------------------------------------------------------------------


def table(result: SubmissionResult, header_notes: list[str] = ()) -> str:
    lines = [f"== {result.name}: {result.score:g} / {result.max_score:g} points ({result.seconds:.1f} s)"]
    lines += [f"   {note}" for note in (*header_notes, *result.notes)]
    width = max([len(t.task.id) for t in result.tasks] + [4])
    lines.append(f"   {'task':<{width}}  {'points':>6}  {'max':>4}  message")
    for task in result.tasks:
        lines.append(f"   {task.task.id:<{width}}  {task.score:>6.2f}  {task.max_score:>4g}  {task.message}")
    return "\n".join(lines)


def case_lines(task: TaskResult) -> list[str]:
    lines = []
    for case in task.cases:
        label = case.id if not case.hidden else "hidden " + case.id.split("#")[1].replace("hidden", "") + " of " + case.id.split("#")[0]
        lines.append(f"{'PASS' if case.passed else 'FAIL'}  {label}" + ("" if case.passed else f": {case.message}"))
    return lines


def gradescope_json(result: SubmissionResult, header_notes: list[str] = ()) -> dict:
    tests = []
    for task in result.tasks:
        output = [task.message, *case_lines(task)]
        if task.log.strip():
            output += ["", "output printed by your code (first lines):", task.log.strip()[:2000]]
        tests.append({
            "name": f"{task.task.id}: {task.task.title}" if task.task.title else task.task.id,
            "score": task.score,
            "max_score": task.max_score,
            "status": "passed" if task.score >= task.max_score else "failed",
            "output": "\n".join(output),
            "visibility": "visible",
        })
    return {
        "score": round(result.score, 4),
        "execution_time": round(result.seconds, 2),
        "output": "\n".join([*header_notes, *result.notes]) or "graded",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_csv(path: Path, results: list[SubmissionResult], tasks: list[Task], *, fingerprint: str = "",
              grader_notes: list[str] = ()) -> None:
    """The gradebook: a row per submission, with the seed's fingerprint and the TA's notes on the machine."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["submission", "score", "max_score", *(task.id for task in tasks), "seconds", "notes",
                     "seed_fingerprint", "grader_notes"])
    for result in results:
        scores = {task.task.id: task.score for task in result.tasks}
        writer.writerow([result.name, f"{result.score:g}", f"{result.max_score:g}",
                         *(f"{scores.get(task.id, 0):g}" for task in tasks), f"{result.seconds:.1f}",
                         " | ".join(result.notes), fingerprint, " | ".join([*grader_notes, *result.grader_notes])])
    write_atomic(path, buffer.getvalue())


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a new temporary file in the same folder and a rename.

    A reader never sees half a file, and a symbolic link planted at ``path`` is replaced, never
    followed (the temporary file is created with O_EXCL, and a rename does not follow links).
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:60]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def unsafe_output(path: Path, what: str) -> str:
    """Why the grader refuses to write ``what`` at ``path`` ('' when it may).

    Its folder must be owned by this user or root and writable by no one else: in a folder every
    user can write to (such as /tmp), a submission could have planted a link or a file there.
    """
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    info = os.stat(folder)
    if info.st_mode & stat.S_IWOTH or info.st_uid not in (0, os.getuid()):
        return (f"{what} {path}: its folder {folder} can be written by other users (a submission's code could "
                f"plant a link there); write results into a folder of your own, e.g. {Path.home() / 'grades'}")
    return ""


# ---- building and running -----------------------------------------------------------------------


def build_trees(assignment: str, folder: Path) -> tuple[Path, Path]:
    """The stub handout and the reference solution of an assignment, built into ``folder``."""
    from instructor import release

    handout = release.build(assignment, folder / "handout", force=True).root
    reference = release.build(assignment, folder / "reference", solutions=True, force=True).root
    return handout, reference


def unique_names(submissions: list[Path]) -> list[str]:
    """A report name per submission: its folder or zip name, numbered where two are the same."""
    names, seen = [], {}
    for path in submissions:
        path = Path(path)
        name = printable(path.stem if path.suffix == ".zip" else path.name)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def grade_all(grader: Grader, submissions: list[Path], jobs: int = 1, on_result=None,
              names: list[str] | None = None) -> list[SubmissionResult]:
    """Grade submissions with ``jobs`` workers at a time; results in the submissions' order."""
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(max(jobs, 1)):
        slots.put(slot)

    names = names or unique_names(submissions)

    def one(item: tuple[Path, str]) -> SubmissionResult:
        path, name = item
        slot = slots.get()
        try:
            outcome = grader.grade(path, slot=slot)
            outcome.name = name
        finally:
            slots.put(slot)
        if on_result:
            on_result(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        return list(pool.map(one, zip(submissions, names)))


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment id (a file name in assignments/ without .toml)")
    parser.add_argument("submissions", nargs="+", type=Path, help="submission folders or zip files")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="Gradescope results.json (a folder of <name>.json for several submissions)")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="gradebook CSV, one row per submission")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                        help="auto: bubblewrap when usable, else namespaces of the worker's own (as root); "
                             "none: do not use bubblewrap")
    parser.add_argument("--insecure", action="store_true",
                        help="grade even where the worker cannot be isolated (every result says so)")
    parser.add_argument("--task", action="append", dest="tasks", metavar="ID", help="grade only this task (repeatable)")
    parser.add_argument("--hidden", type=int, default=None, metavar="N", help="hidden variants per public case")
    parser.add_argument("--seed", type=int, default=None,
                        help="secret seed of the hidden cases (default: the assignment's, kept in grading-secrets/; "
                             "see python -m instructor seed)")
    parser.add_argument("--task-timeout", type=float, default=sandbox.Limits.task_timeout, help="seconds per task")
    parser.add_argument("--case-timeout", type=float, default=sandbox.Limits.case_timeout, help="seconds per case")
    parser.add_argument("--quiet", action="store_true", help="print only one line per submission")
    parser.add_argument("--handout", type=Path, help="a prebuilt handout (default: build it now)")
    parser.add_argument("--reference", type=Path, help="a prebuilt reference solution (default: build it now)")


def run(args) -> int:
    """Grade. A submission's results are written as soon as it is graded; when the grader cannot
    grade on this machine (no manifest, a broken build, a failed preflight) it stops before any
    grade is given, tells the TA why on stderr, writes no results and returns 2. Results never
    go into a folder other users can write, and are written atomically, never through a link."""
    start = time.monotonic()
    problems = [problem for path, what in ((args.json, "--json"), (args.csv, "--csv")) if path
                for problem in [unsafe_output(path, what)] if problem]
    if problems:
        for problem in problems:
            print(f"the grader refuses to write results: {problem}", file=sys.stderr)
        return 2
    build_dir = Path(tempfile.mkdtemp(prefix="grade-build-"))
    try:
        return _run(args, build_dir, start)
    except (SystemExit, Exception) as error:  # noqa: BLE001 - the TA gets a message, never a traceback alone
        if isinstance(error, SetupError):
            print(error, file=sys.stderr)
        else:
            print(f"GRADING STOPPED, no grades written: the grader could not grade: {error}", file=sys.stderr)
        if not isinstance(error, SystemExit):
            import traceback

            traceback.print_exc()
        return 2
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


def _run(args, build_dir: Path, start: float) -> int:
    def tell_ta(line: str) -> None:  # notes on the machine: never in a student's results
        print(line, file=sys.stderr, flush=True)

    manifest = load(args.assignment)
    mode = sandbox.detect(args.sandbox, insecure=getattr(args, "insecure", False))
    limits = sandbox.Limits(task_timeout=args.task_timeout, case_timeout=args.case_timeout)
    for line in [mode.summary(), *mode.notes]:
        tell_ta(line)
    secret = args.seed if args.seed is not None else seeds.load_or_draw(manifest.id, log=tell_ta)
    if args.handout and args.reference:
        handout, reference = args.handout, args.reference
    else:
        handout, reference = build_trees(manifest.id, build_dir)
    with Grader(manifest, handout=handout, reference=reference, mode=mode, limits=limits, secret=secret,
                hidden_per_case=args.hidden, tasks=args.tasks) as grader:
        grader.prepare()
        grader.preflight()
        tell_ta(f"hidden cases: seed fingerprint {grader.fingerprint}" + (" (from --seed)" if args.seed is not None else ""))
        header = [f"hidden cases drawn with the seed of fingerprint {grader.fingerprint}"]
        names = unique_names(args.submissions)
        targets = dict(zip(names, _json_targets(args.json, names))) if args.json else {}

        def show(result: SubmissionResult) -> None:
            if args.quiet:
                print(f"{result.name}: {result.score:g} / {result.max_score:g} ({result.seconds:.1f} s)", flush=True)
            else:
                print(table(result), flush=True)
            if result.name in targets:  # written as soon as graded: an interrupted batch keeps them
                write_atomic(targets[result.name], json.dumps(gradescope_json(result, header), indent=2))

        results = grade_all(grader, args.submissions, jobs=args.jobs, on_result=show, names=names)
        if args.csv:
            write_csv(args.csv, results, grader.tasks, fingerprint=grader.fingerprint,
                      grader_notes=[mode.summary(), *grader.notes])
    elapsed = time.monotonic() - start
    print(f"graded {len(results)} submission(s) in {elapsed:.1f} s "
          f"({elapsed / max(len(results), 1):.1f} s each, --jobs {args.jobs})")
    return 0


MAX_NAME = 80  # characters of a results file's name taken from the submission's name


def file_name(name: str) -> str:
    """A short, safe file name for a report name: letters, digits, ``._-``; hashed where changed."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "submission"
    if safe != name or len(safe) > MAX_NAME:
        safe = f"{safe[:MAX_NAME]}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
    return safe


def _json_targets(path: Path, names: list[str]) -> list[Path]:
    """``path`` itself for one submission given a ``.json`` name, else ``<path>/<name>.json`` each."""
    if len(names) == 1 and path.suffix == ".json":
        path.parent.mkdir(parents=True, exist_ok=True)
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    return [path / f"{file_name(name)}.json" for name in names]
