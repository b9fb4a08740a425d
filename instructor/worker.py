"""The autograder's worker: evaluates graded cases and sends back plain arrays.

This file runs *outside* the instructor's package, as a script (``python -I worker.py``), and
imports only the standard library, NumPy and the handout. It has two modes.

``student``
    Runs inside the sandbox on a submission. It is a small supervisor ("zygote"): it drops to
    the unprivileged uid it is given, imports the trusted heavy libraries once (NumPy, torch),
    then forks one child per task. The child imports the student's module, runs that task's
    cases on the inputs the grader wrote, and streams each case's outputs back as ``.npy``
    bytes. The supervisor enforces the per-case and per-task time limits and the output caps,
    kills whatever the child left running, and forwards the results to the grader, tagged with
    the task it started. A child that dies or hangs costs the case it was on; the supervisor
    carries on with the task's remaining cases in a fresh child while time remains.

``reference``
    Trusted, never sandboxed: runs the same cases with the instructor's reference solution,
    drawing the public inputs from each case's seed and the hidden ones from the seeds the
    grader chose, and writes inputs and expected outputs as ``.npz`` files for the grader.

Nothing this worker reports is trusted by the grader: it only ever sends arrays, which the grader
checks (dtype, shape, finiteness) and compares with the expected values it computed itself. The
expected values never enter the sandbox.

Wire format (worker -> grader, and child -> supervisor): a sequence of frames, each
``>II`` (header length, payload length), a UTF-8 JSON header, then the payload bytes. A case
result lists its arrays as ``[[key, nbytes], ...]`` and its payload is their ``.npy`` bytes,
back to back.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 16  # a frame's JSON header, bytes
MAX_DEPTH = 16  # nesting of a frame's JSON header (the real ones are 3 deep)
NOT_IMPLEMENTED = "not implemented yet"  # what every stub's NotImplementedError says
CHILD_BROKEN = 70  # exit status of a child whose own grading code failed (after the student's ran)


class ProtocolError(ValueError):
    """A frame stream that does not follow the wire format (or breaks its size limits)."""


# ---- frames -------------------------------------------------------------------------------------


def encode_frame(header: dict, payload: bytes = b"") -> bytes:
    data = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(data), len(payload)) + data + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(fd: int, header: dict, payload: bytes = b"") -> None:
    write_all(fd, encode_frame(header, payload))


class FrameReader:
    """Incremental frame parser with hard limits on header and payload sizes."""

    def __init__(self, max_payload: int):
        self.buffer = bytearray()
        self.max_payload = max_payload

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= PREFIX.size:
            head, size = PREFIX.unpack_from(self.buffer)
            if head > MAX_HEADER or size > self.max_payload:
                raise ProtocolError(f"frame too large (header {head} B, payload {size} B)")
            end = PREFIX.size + head + size
            if len(self.buffer) < end:
                break
            raw = bytes(self.buffer[PREFIX.size:PREFIX.size + head])
            if json_depth(raw) > MAX_DEPTH:
                raise ProtocolError(f"frame header nested deeper than {MAX_DEPTH} levels")
            try:
                header = json.loads(raw)
            except (ValueError, RecursionError) as error:
                raise ProtocolError(f"unreadable frame header: {error}") from None
            if not isinstance(header, dict):
                raise ProtocolError("frame header is not a JSON object")
            frames.append((header, bytes(self.buffer[PREFIX.size + head:end])))
            del self.buffer[:end]
        return frames


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, outside strings (no parsing)."""
    import re

    depth = deepest = 0
    for match in re.finditer(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', raw):
        token = match[0]
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def split_arrays(header: dict, payload: bytes) -> dict[str, bytes]:
    """The ``.npy`` bytes of each output of a case frame, by key (no parsing of the arrays)."""
    listed = header.get("arrays")
    if not isinstance(listed, list):
        raise ProtocolError("case frame without an array list")
    out, offset = {}, 0
    for item in listed:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], int)):
            raise ProtocolError("malformed array entry")
        key, size = item
        if size < 0 or offset + size > len(payload) or key in out:
            raise ProtocolError("array sizes do not match the payload")
        out[key] = payload[offset:offset + size]
        offset += size
    if offset != len(payload):
        raise ProtocolError("payload longer than its arrays")
    return out


# ---- small helpers ------------------------------------------------------------------------------


def describe_exception(exc: BaseException, submitted: tuple[str, ...] = (), limit: int = 600) -> str:
    """``Type: message``, plus where in the submitted files it was raised, kept short."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.basename(frame.filename) in submitted:
            where = f" ({os.path.basename(frame.filename)}, line {frame.lineno}, in {frame.name})"
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({os.path.basename(exc.filename)}, line {exc.lineno})"
    text = text.replace("\n", " | ")
    if len(text) > limit:
        text = text[:limit] + "..."
    return text + where


def is_stub(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError) and NOT_IMPLEMENTED in str(exc)


def npy_bytes(value) -> bytes:
    """One output as ``.npy`` bytes; only plain numeric arrays are accepted."""
    import numpy as np

    array = np.asarray(value)
    if type(array) is not np.ndarray:
        array = np.array(array, copy=True, subok=False)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"is not a real numeric array (dtype {array.dtype})")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(array, order="C", copy=True), allow_pickle=False)
    return buffer.getvalue()


def set_limits(limits: dict, dropping: bool) -> None:
    """Hard resource limits on this process and everything it starts (set before dropping root)."""
    mib = 1 << 20
    wanted = {
        resource.RLIMIT_DATA: int(limits.get("memory_mb", 3072)) * mib,
        resource.RLIMIT_AS: int(limits.get("address_space_mb", 16384)) * mib,
        resource.RLIMIT_FSIZE: int(limits.get("file_size_mb", 16)) * mib,
        resource.RLIMIT_NOFILE: int(limits.get("open_files", 256)),
        resource.RLIMIT_CORE: 0,
    }
    if dropping:  # counted per uid: only meaningful for a uid of our own
        wanted[resource.RLIMIT_NPROC] = int(limits.get("processes", 64))
    for which, value in wanted.items():
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and hard < value:
            value = hard
        resource.setrlimit(which, (value, value))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become ``uid``/``gid`` for good (only possible, and only done, when started as root)."""
    if uid is None or os.geteuid() != 0:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() == 0 or os.getuid() == 0:
        raise SystemExit("worker: could not drop root privileges")


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SCRIPT = os.path.abspath(__file__)  # where this script is, as the worker's children see it


def isolate(layout: dict) -> None:
    """Build this process's file system from nothing (the fallback without bubblewrap).

    Runs as root in a new mount namespace (and pid namespace: we are its pid 1), before the uid
    switch. ``layout["args"]`` uses bubblewrap's option names (``--ro-bind``, ``--tmpfs``, ...):
    it is the list the grader would give bubblewrap. Everything is mounted on a small tmpfs at
    ``layout["root"]``, which then becomes ``/``; the host's tree is detached. Any failure stops
    the worker: it never runs student code without its isolation.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    root = layout["root"]

    def mount(source, target, fstype, flags, data=None) -> None:
        encode = lambda text: None if text is None else os.fsencode(text)  # noqa: E731
        if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"mount {source} on {target}: {os.strerror(number)}")

    def at(path: str) -> str:
        return root + path

    def directory(path: str, mode: int = 0o755) -> None:
        missing = []
        current = at(path)
        while not os.path.lexists(current):
            missing.append(current)
            current = os.path.dirname(current)
        for folder in reversed(missing):
            os.mkdir(folder)
            os.chmod(folder, mode if folder == at(path) else 0o755)

    def bind(source: str, target: str, read_only: bool = True) -> None:
        if os.path.isdir(source):
            directory(target)
        else:
            directory(os.path.dirname(target))
            if not os.path.lexists(at(target)):
                open(at(target), "w").close()
        mount(source, at(target), None, MS_BIND | MS_REC)
        flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
        mount(None, at(target), None, flags)

    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    args = list(layout["args"])
    perms, size = 0o755, None
    while args:
        option = args.pop(0)
        if option in ("--ro-bind", "--ro-bind-try"):
            source, target = args.pop(0), args.pop(0)
            if os.path.exists(source):
                bind(source, target)
            elif option == "--ro-bind":
                raise OSError(f"{source} does not exist")
        elif option == "--symlink":
            target, link = args.pop(0), args.pop(0)
            directory(os.path.dirname(link))
            os.symlink(target, at(link))
        elif option == "--perms":
            perms = int(args.pop(0), 8)
        elif option == "--size":
            size = int(args.pop(0))
        elif option == "--dir":
            directory(args.pop(0), perms)
            perms = 0o755
        elif option == "--tmpfs":
            target = args.pop(0)
            directory(target)
            options = f"mode={perms:o}" + (f",size={size}" if size else "")
            mount("tmpfs", at(target), "tmpfs", MS_NOSUID | MS_NODEV, options)
            perms, size = 0o755, None
        elif option == "--chmod":
            mode, target = int(args.pop(0), 8), args.pop(0)
            os.chmod(at(target), mode)
        elif option == "--proc":
            target = args.pop(0)
            directory(target)
            mount("proc", at(target), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif option == "--dev":
            target = args.pop(0)
            directory(target)
            mount("tmpfs", at(target), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m")
            for name in DEVICES:
                if os.path.exists(f"/dev/{name}"):
                    open(at(f"{target}/{name}"), "w").close()
                    mount(f"/dev/{name}", at(f"{target}/{name}"), None, MS_BIND)
            for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                               ("stderr", "/proc/self/fd/2")):
                os.symlink(link, at(f"{target}/{name}"))
        else:
            raise OSError(f"unknown layout option {option}")
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    os.chdir(root)
    if libc.syscall(PIVOT_ROOT.get(os.uname().machine, -1), b".", b".") == 0:
        libc.umount2(b".", 2)  # MNT_DETACH: the host's tree is gone from this namespace
    else:
        os.chroot(".")
    os.chdir("/")
    global SCRIPT
    SCRIPT = layout.get("script", SCRIPT)


PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}  # syscall numbers


def capability_status() -> dict:
    """The effective capabilities and no_new_privs flag, from /proc (for the grader's report)."""
    found = {}
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("CapEff", "CapPrm", "NoNewPrivs"):
                    found[key] = value.strip()
    except OSError:
        pass
    return found


def die_with_parent() -> None:
    """SIGKILL us when our parent dies (Linux; re-armed after the uid switch, which clears it).

    The kernel only delivers it when the parent may signal us (same uid, or CAP_KILL), which bwrap's
    outer process, root without capabilities, may not: the supervisor also watches its channel to
    the grader and stops everything when the grader's end closes.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - an optional hardening step
        pass


def become_subreaper() -> None:
    """Orphans of our children re-parent to us, so we can reap and kill them (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # noqa: BLE001 - an optional hardening step
        pass


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---- student mode: the supervisor ---------------------------------------------------------------


class Supervisor:
    """Runs each task of the request in forked children and forwards their results."""

    def __init__(self, args, request: dict, startup: set[str] = frozenset(), brought: dict | None = None):
        self.args = args
        self.request = request
        self.channel = args.channel
        self.submitted = tuple(request.get("submitted", ()))
        limits = request.get("limits", {})
        self.case_timeout = float(limits.get("case_timeout", 30))
        self.task_timeout = float(limits.get("task_timeout", 60))
        self.log_keep = int(limits.get("log_keep", 4000))
        self.log_limit = int(limits.get("log_limit", 4 << 20))
        self.result_limit = int(limits.get("result_limit", 64 << 20))
        self.kill_all = args.kill_scope == "all"
        self.script = SCRIPT
        self.context = {"workdir": args.workdir, "inputs_dir": request.get("inputs_dir", "."),
                        "submitted": list(self.submitted), "handout": args.handout,
                        "submitted_files": list(request.get("submitted_files", ())),
                        "syspath": [path for path in sys.path if path != args.handout],
                        "preload": list(request.get("preload", ()))}
        self.libraries = loaded_libraries(startup)
        self.brought = brought or {}

    def with_dependencies(self, task: dict) -> dict:
        """The task, its policy also allowing what its allowed libraries loaded here when imported
        (dependencies their packages do not declare, e.g. torch loads tqdm)."""
        rules = task.get("policy")
        if not rules:
            return task
        allowed = set(rules.get("allowed", ()))
        for library in sorted(allowed & set(self.brought)):
            allowed |= self.brought[library]
        return {**task, "policy": {**rules, "allowed": sorted(allowed)}}

    def needs_fresh_process(self, task: dict) -> bool:
        """Whether this process has loaded a library the task's file may not use (then its child
        must be a new interpreter, which never imported it, rather than a fork of this one)."""
        rules = task.get("policy")
        if not rules:
            return False
        allowed = set(rules.get("allowed", ())) | set(rules.get("kit", ()))
        return bool(self.libraries - allowed)

    def send(self, header: dict, payload: bytes = b"") -> None:
        send(self.channel, header, payload)

    def run(self) -> None:
        for task in self.request["tasks"]:
            self.send({"type": "task_start", "task": task["id"]})
            start = time.monotonic()
            notes = self.run_task(task)
            self.send({"type": "task_end", "task": task["id"], "seconds": round(time.monotonic() - start, 3), **notes})
        self.send({"type": "done"})

    def run_task(self, task: dict) -> dict:
        pending = list(task["cases"])
        deadline = time.monotonic() + self.task_timeout
        log = bytearray()
        log_total = 0
        children = 0
        problems: list[str] = []
        while pending:
            left = deadline - time.monotonic()
            if left <= 0.5:
                for case in pending:
                    self.case_error(task, case, "timeout", "not run: the task's time limit was used up")
                break
            children += 1
            outcome = self.run_child(task, pending, left, log)
            log_total += outcome["log_total"]
            done = outcome["done"]
            pending = [case for case in pending if case["id"] not in done]
            if outcome["import_error"]:
                for case in pending:
                    self.case_error(task, case, outcome["import_kind"], outcome["import_error"])
                problems.append(outcome["import_error"])
                break
            if outcome["problem"]:
                problems.append(outcome["problem"])
                current = outcome["current"]
                if current is None:
                    # It died before starting a case (while importing): nothing will go better.
                    for case in pending:
                        self.case_error(task, case, outcome["kind"], outcome["problem"])
                    break
                self.case_error(task, current, outcome["kind"], outcome["problem"])
                pending = [case for case in pending if case["id"] != current["id"]]
            elif pending:  # it stopped cleanly without reporting them: running it again would not help
                for case in pending:
                    self.case_error(task, case, "missing", "the worker never reported this case")
                break
        text = log[: self.log_keep].decode("utf-8", "replace")
        return {"log": text, "log_bytes": log_total, "children": children, "problems": problems[:5]}

    def case_error(self, task: dict, case: dict, kind: str, message: str) -> None:
        self.send({"type": "case", "task": task["id"], "case": case["id"], "status": "error",
                   "kind": kind, "message": message[:1000]})

    def run_child(self, task: dict, cases: list[dict], time_left: float, log: bytearray) -> dict:
        result_r, result_w = os.pipe()
        log_r, log_w = os.pipe()
        task = self.with_dependencies(task)
        fresh = self.needs_fresh_process(task)
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            try:
                os.close(result_r)
                os.close(log_r)
                child_setup(result_w, log_w, time_left)
                if fresh:
                    os.set_inheritable(result_w, True)
                    spec = {"context": self.context, "task": task, "cases": cases, "result_fd": result_w}
                    os.execv(sys.executable, [sys.executable, "-I", "-B", self.script, "child", "--handout",
                                              self.args.handout, "--request", "-", "--spec", json.dumps(spec)])
                child_main(self.context, task, cases, result_w)
            finally:
                os._exit(CHILD_BROKEN)
        os.close(result_w)
        os.close(log_w)
        try:
            return self.supervise(pid, task, cases, result_r, log_r, time_left, log)
        finally:
            os.close(result_r)
            os.close(log_r)
            self.cleanup(pid)

    def supervise(self, pid, task, cases, result_r, log_r, time_left, log) -> dict:
        by_id = {case["id"]: case for case in cases}
        outcome = {"done": set(), "current": None, "problem": "", "kind": "", "import_error": "",
                   "import_kind": "", "log_total": 0}
        reader = FrameReader(self.result_limit)
        received = 0
        start = time.monotonic()
        task_deadline = start + time_left
        case_deadline = task_deadline
        importing = True
        finished = 0.0
        streams = {result_r: "result", log_r: "log"}
        status = None
        for fd in streams:
            os.set_blocking(fd, False)

        def fail(kind: str, message: str) -> dict:
            outcome["kind"], outcome["problem"] = kind, message
            return outcome

        drain_until = None
        while True:
            now = time.monotonic()
            if status is None:
                waited, raw = os.waitpid(pid, os.WNOHANG)
                if waited:
                    status = raw
            if status is not None:
                drain_until = drain_until or now + 0.5  # what it wrote just before exiting
                if not streams or now >= drain_until:
                    break
            limit = min(case_deadline, task_deadline)
            if finished:
                limit = min(limit, finished + 2.0)  # it said it was done: it must exit now
            if status is None and now >= limit:
                self.kill(pid)
                if finished:
                    return outcome
                which = "case" if case_deadline < task_deadline else "task"
                seconds = self.case_timeout if which == "case" else time_left
                doing = "importing the module" if importing else "running this case"
                return fail("timeout", f"timed out after {seconds:.0f} s while {doing} (the {which}'s time limit)")
            timeout = 0.0 if status is not None else min(0.05, max(0.0, limit - now))
            poller = select.poll()
            for fd in streams:
                poller.register(fd, select.POLLIN)
            poller.register(self.channel, 0)  # only errors: the grader closed its end (it died)
            try:
                events = poller.poll(timeout * 1000)
            except InterruptedError:
                continue
            if any(fd == self.channel for fd, _ in events):
                self.kill(pid)
                self.cleanup(pid)
                os._exit(1)  # nobody is listening any more
            ready = [fd for fd, _ in events if fd in streams]
            if status is not None and not ready:
                break
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    del streams[fd]
                    continue
                if streams[fd] == "log":
                    outcome["log_total"] += len(data)
                    if len(log) < self.log_keep:
                        log += data[: self.log_keep - len(log)]
                    if outcome["log_total"] > self.log_limit:
                        self.kill(pid)
                        return fail("output", f"printed more than {self.log_limit >> 20} MiB; stopped")
                    continue
                received += len(data)
                if received > self.result_limit:
                    self.kill(pid)
                    return fail("output", f"sent more than {self.result_limit >> 20} MiB of results; stopped")
                try:
                    frames = reader.feed(data)
                except ProtocolError as error:
                    self.kill(pid)
                    return fail("crash", f"the result stream was corrupted ({error})")
                for header, payload in frames:
                    kind = header.get("type")
                    if kind == "imported":
                        importing = False
                    elif kind == "import_error":
                        self.kill(pid)
                        outcome["import_error"] = str(header.get("message", ""))[:1000]
                        outcome["import_kind"] = str(header.get("kind", "import"))
                        return outcome
                    elif kind == "case_begin":
                        case = by_id.get(header.get("case"))
                        if case is None or case["id"] in outcome["done"]:
                            continue
                        outcome["current"] = case
                        case_deadline = time.monotonic() + self.case_timeout
                    elif kind == "case":
                        case = by_id.get(header.get("case"))
                        if case is None or case["id"] in outcome["done"]:
                            continue
                        forwarded = {key: header[key] for key in ("status", "kind", "message", "arrays", "seconds")
                                     if key in header}
                        self.send({"type": "case", "task": task["id"], "case": case["id"], **forwarded}, payload)
                        outcome["done"].add(case["id"])
                        outcome["current"] = None
                        case_deadline = task_deadline
                    elif kind == "finished":
                        finished = time.monotonic()
        if finished:
            return outcome
        if status is None:
            _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory or process limit, or by itself)"}
            message = f"the process was killed by {name}{why.get(name, '')}"
        else:
            message = f"the process exited with code {os.WEXITSTATUS(status)}"
            if os.WEXITSTATUS(status) == CHILD_BROKEN:
                message = ("the grading code in this process failed after the submitted code ran (did it "
                           "replace built-in, NumPy or torch functions?)")
        doing = "while importing the module" if importing else "before finishing its cases"
        return fail("crash", f"{message} {doing}")

    def kill(self, pid: int) -> None:
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def cleanup(self, pid: int) -> None:
        """Kill the child and everything it started, and reap them."""
        self.kill(pid)
        if self.kill_all:
            # Every other process this uid may signal belongs to this sandbox (unique uid or own
            # pid namespace): kill(-1) reaches them all, never ourselves.
            for _ in range(50):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                except PermissionError:
                    break
                reap()
                time.sleep(0.01)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        reap()


def child_setup(result_w: int, log_w: int, time_left: float) -> None:
    """In a new child: its own process group, output to the log pipe, default signals, a CPU limit."""
    os.setpgid(0, 0)
    os.dup2(log_w, 1)
    os.dup2(log_w, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.closerange(3, result_w)
    os.closerange(result_w + 1, 1024)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(number, signal.SIG_DFL)
    seconds = int(time_left) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or hard > seconds + 1:
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def child_main(context: dict, task: dict, cases: list[dict], result_w: int) -> None:
    """In the child: enforce the file's policy, import the student's module and run the cases,
    streaming results."""
    submitted = tuple(context["submitted"])
    guard = None
    if task.get("policy"):
        guard = PolicyGuard(task["policy"], context)
        sys.addaudithook(guard.hook)

    def out(header: dict, payload: bytes = b"") -> None:
        send(result_w, header, payload)

    def finish() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - the student may have replaced them
                pass
        os._exit(0)

    def failure(exc: BaseException, default: str) -> tuple[str, str]:
        refusal = guard.refusal(exc) if guard else ""
        if refusal:
            return "policy", refusal
        return ("not_implemented" if is_stub(exc) else default), describe_exception(exc, submitted)

    os.chdir(context["workdir"])
    module = task["module"]
    try:
        importlib.import_module(module)
    except BaseException as exc:  # noqa: BLE001 - anything at import costs this task only
        kind, message = failure(exc, "import")
        out({"type": "import_error", "kind": kind,
             "message": message if kind == "policy" else f"importing {module}.py failed: {message}"})
        finish()
    out({"type": "imported"})
    import numpy as np

    loaded: dict[str, dict] = {}
    for case in cases:
        out({"type": "case_begin", "case": case["id"]})
        try:
            if case["module"] not in loaded:
                cases_module = importlib.import_module(f"tests.cases_{case['module']}")
                loaded[case["module"]] = {item.name: item for item in cases_module.CASES}
            runner = loaded[case["module"]][case["name"]]
            path = os.path.join(context.get("inputs_dir", "."), os.path.basename(case["inputs"]))
            with np.load(path, allow_pickle=False) as stored:
                inputs = {key: stored[key] for key in stored.files}
        except BaseException as exc:  # noqa: BLE001
            out({"type": "case", "case": case["id"], "status": "error", "kind": "setup",
                 "message": f"could not prepare the case: {describe_exception(exc, submitted)}"})
            continue
        start = time.perf_counter()
        try:
            outputs = runner.run(inputs)
            if not isinstance(outputs, dict):
                raise TypeError(f"the case returned {type(outputs).__name__}, not a dict of arrays")
            arrays, chunks = [], []
            for key, value in outputs.items():
                try:
                    data = npy_bytes(value)
                except BaseException as exc:  # noqa: BLE001
                    raise TypeError(f"output {key!r} {exc}") from None
                arrays.append([str(key), len(data)])
                chunks.append(data)
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
            kind, message = failure(exc, "exception")
            out({"type": "case", "case": case["id"], "status": "error", "kind": kind, "message": message})
            continue
        out({"type": "case", "case": case["id"], "status": "ok", "arrays": arrays,
             "seconds": round(time.perf_counter() - start, 4)}, b"".join(chunks))
    out({"type": "finished"})
    finish()


def fresh_child_main(args) -> int:
    """A task's child as a new interpreter (started by the supervisor's forked child, limits, uid
    and pipes already in place): load only what the file may use, then run as :func:`child_main`."""
    spec = json.loads(args.spec)
    context, task = spec["context"], spec["task"]
    sys.path[:] = [context["handout"], *context["syspath"]]
    allowed = set(task["policy"].get("allowed", ()))
    for name in context.get("preload", ()):
        if name.split(".")[0] in allowed:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported when the graded code needs it
                pass
    child_main(context, task, spec["cases"], int(spec["result_fd"]))
    return CHILD_BROKEN


def loaded_libraries(startup=frozenset()) -> set[str]:
    """Top-level names of the installed libraries (modules from a site-packages folder) this
    process has loaded, beyond ``startup``: what any interpreter here loads when it starts."""
    found = set()
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        where = getattr(module, "__file__", None) or ""
        if top in startup or top in sys.stdlib_module_names or not isinstance(where, str):
            continue
        if f"{os.sep}site-packages{os.sep}" in where or f"{os.sep}dist-packages{os.sep}" in where:
            found.add(top)
    return found


class PolicyRefusal(ModuleNotFoundError):
    """Raised by the policy's audit hook. A ModuleNotFoundError, so that a library's optional
    imports degrade quietly whichever they catch: torch catches only ModuleNotFoundError around
    ``import colorama``, which a clean Linux install (Gradescope's) does not have."""


class PolicyGuard:
    """The audit hook that enforces one file's import policy in the process running its code.

    * a library outside the allow-list (and outside the kit's modules) is never loaded: its import
      event is refused, and so is opening any file inside it, so no route of the import machinery
      (``importlib``, ``pydoc``, ``pickle``, ``code``, a loader made by hand) gets it;
    * a denied standard-library module is refused when the submitted code asks for it;
    * ``compile``, ``exec``, ``eval`` and the making of code objects are refused when the
      submitted code itself calls them, under whatever name.
    """

    CODE_EVENTS = frozenset({"compile", "exec", "code.__new__", "marshal.loads", "marshal.load"})

    def __init__(self, rules: dict, context: dict):
        import sysconfig

        self.file = rules.get("file", "this file")
        self.allowed = frozenset(rules.get("allowed", ())) | frozenset(rules.get("kit", ()))
        self.listed = ", ".join(rules.get("listed", ())) or "no library"
        self.denied = frozenset(rules.get("denied", ()))
        self.stdlib = frozenset(sys.stdlib_module_names)
        self.libraries = sorted({os.path.realpath(path) for path in sys.path
                                 if os.path.basename(path) in ("site-packages", "dist-packages")}, key=len, reverse=True)
        self.stdlib_dir = os.path.realpath(sysconfig.get_paths()["stdlib"])
        handout = context.get("handout", ".")
        self.submitted = frozenset(os.path.realpath(os.path.join(handout, name))
                                   for name in context.get("submitted_files", ()))
        self.refused: list[str] = []

    def refuse(self, what: str) -> None:
        message = (f"the import policy refuses {what}: {self.file} may use only {self.listed}, the standard "
                   "library and the kit's modules")
        self.refused.append(message)
        raise PolicyRefusal(message)

    def refusal(self, exc: BaseException) -> str:
        """The policy's message when ``exc`` came from a refusal ('' otherwise)."""
        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if isinstance(exc, PolicyRefusal):
                return str(exc)
            exc = exc.__cause__ or exc.__context__
        return ""

    def from_submission(self) -> bool:
        """Whether the nearest frame outside the import machinery belongs to a submitted file."""
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<frozen importlib") or f"{os.sep}importlib{os.sep}" in name
                    or name == __file__):
                return os.path.realpath(name) in self.submitted if name.startswith(os.sep) else False
            frame = frame.f_back
        return False

    def called_by_submission(self) -> bool:
        frame = sys._getframe(2)  # this check <- the hook <- the code that called the builtin
        return frame is not None and os.path.realpath(frame.f_code.co_filename) in self.submitted

    def library_of(self, path: str) -> str | None:
        """The top-level module a file inside site-packages belongs to (None: not a library file)."""
        for root in self.libraries:
            if path.startswith(root + os.sep):
                parts = path[len(root) + 1:].split(os.sep)
                first = parts[1] if parts[0] == "__pycache__" and len(parts) > 1 else parts[0]
                if first.endswith((".dist-info", ".egg-info", ".pth")):
                    return None
                return first.split(".")[0].split("-")[0]
        return None

    def check_path(self, raw) -> None:
        if isinstance(raw, int):
            return
        path = os.path.realpath(os.fsdecode(raw))
        library = self.library_of(path)
        if library is not None and library not in self.allowed:
            self.refuse(f"{library} (it opened {path})")
        if library is None and path.startswith(self.stdlib_dir + os.sep):
            parts = path[len(self.stdlib_dir) + 1:].split(os.sep)
            first = parts[1] if parts[0] == "__pycache__" and len(parts) > 1 else parts[0]
            if first.split(".")[0] in self.denied and self.from_submission():
                self.refuse(f"the module {first.split('.')[0]!r}")

    def hook(self, event: str, args: tuple) -> None:
        # The checks below raise no audit event of their own kinds, so the hook never recurses.
        if event == "import":
            top = str(args[0]).split(".")[0]
            if top in self.stdlib:
                if top in self.denied and self.from_submission():
                    self.refuse(f"the module {args[0]!r}")
            elif top not in self.allowed:
                self.refuse(f"{top}")
            if len(args) > 1 and isinstance(args[1], (str, bytes)):
                self.check_path(args[1])
        elif event in ("open", "ctypes.dlopen"):
            if args and args[0] is not None:
                self.check_path(args[0])
        elif event in self.CODE_EVENTS and self.called_by_submission():
            self.refuse(f"{event.split('.')[0]}() (graded code may not compile or run code it builds)")


def student_main(args) -> int:
    if args.isolate:
        try:
            isolate(json.loads(args.isolate))
        except Exception as error:  # noqa: BLE001 - never run without the isolation asked for
            print(f"worker: could not isolate the sandbox: {error}", file=sys.stderr)
            return 1
    with open(args.request) as handle:
        request = json.load(handle)
    set_limits(request.get("limits", {}), dropping=args.uid is not None and os.geteuid() == 0)
    parent = os.getppid()
    drop_privileges(args.uid, args.gid)
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 1
    os.umask(0o077)
    for path in args.syspath or []:
        if path not in sys.path:
            sys.path.append(path)
    sys.path.insert(0, args.handout)
    startup = loaded_libraries()  # what every interpreter here loads (a fresh child too)
    preloaded = []
    brought: dict[str, set[str]] = {}  # library -> the other libraries importing it loaded
    for name in request.get("preload", ["numpy"]):
        before = loaded_libraries(startup)
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except Exception:  # noqa: BLE001 - a missing optional library is reported, not fatal
            pass
        top = name.split(".")[0]
        brought.setdefault(top, set()).update(loaded_libraries(startup) - before - {top})
    if os.getpid() != 1:
        become_subreaper()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    send(args.channel, {"type": "hello", "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
                        "pid": os.getpid(), "preloaded": preloaded, "python": sys.version.split()[0],
                        **capability_status()})
    Supervisor(args, request, startup, brought).run()
    return 0


# ---- reference mode (trusted) -------------------------------------------------------------------


def hidden_seed(secret: int, case_id: str) -> int:
    """The seed of a hidden case: derived from the run's secret, so unknowable without it."""
    import hashlib

    digest = hashlib.sha256(f"{secret}/{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def reference_main(args) -> int:
    """List the cases of the graded tasks, draw their inputs and compute the expected outputs.

    Public inputs come from each case's own seed; each public case also gets ``hidden_per_case``
    hidden variants whose seeds derive from the run's secret. Writes ``<n>.in.npz`` and
    ``<n>.out.npz`` per case and ``summary.json`` listing them (errors included).
    """
    import numpy as np

    sys.path.insert(0, args.handout)
    os.chdir(args.handout)
    with open(args.request) as handle:
        request = json.load(handle)
    tasks = set(request["tasks"])
    secret = int(request["secret"])
    summary = []
    for module in request["modules"]:
        try:
            cases = importlib.import_module(f"tests.cases_{module}").CASES
        except Exception as exc:  # noqa: BLE001 - reported to the instructor
            summary.append({"id": f"{module}/*", "module": module, "status": "error",
                            "message": f"tests/cases_{module}.py: {describe_exception(exc, ())}"})
            continue
        for runner in cases:
            if runner.task not in tasks:
                continue
            base = f"{module}/{runner.name}"
            variants = [(base, None)] + [(f"{base}#hidden{k + 1}", hidden_seed(secret, f"{base}#hidden{k + 1}"))
                                         for k in range(int(request["hidden_per_case"]))]
            for case_id, seed in variants:
                entry = {"id": case_id, "module": module, "name": runner.name, "task": runner.task,
                         "hidden": seed is not None}
                try:
                    inputs = runner.public_inputs() if seed is None else runner.hidden_inputs(seed)
                    inputs = {key: np.asarray(value) for key, value in inputs.items()}
                    stem = os.path.join(args.out, f"{len(summary):05d}")
                    np.savez(stem + ".in.npz", **inputs)
                    outputs = runner.run({key: value.copy() for key, value in inputs.items()})
                    np.savez(stem + ".out.npz", **{key: np.asarray(value) for key, value in outputs.items()})
                    entry.update(status="ok", inputs=stem + ".in.npz", expected=stem + ".out.npz",
                                 rtol=float(runner.rtol), atol=float(runner.atol))
                except Exception as exc:  # noqa: BLE001 - reported to the instructor, case dropped
                    entry.update(status="error", message=describe_exception(exc, ()))
                summary.append(entry)
    with open(os.path.join(args.out, "summary.json"), "w") as handle:
        json.dump(summary, handle)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="autograder worker (run by the grader)")
    parser.add_argument("mode", choices=["student", "reference", "child"])
    parser.add_argument("--handout", required=True)
    parser.add_argument("--request", required=True)
    parser.add_argument("--channel", type=int, default=1)
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--out", default=".")
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--kill-scope", choices=["all", "group"], default="group")
    parser.add_argument("--syspath", action="append")
    parser.add_argument("--spec", help="child mode: what to run, as JSON")
    parser.add_argument("--isolate", help="student mode: the file system to build first (as root), as JSON")
    args = parser.parse_args(argv)
    if args.mode == "child":
        return fresh_child_main(args)
    if args.mode == "reference":
        return reference_main(args)
    return student_main(args)


if __name__ == "__main__":
    sys.exit(main())
