"""Where the autograder's worker runs: a bubblewrap sandbox, or a loud plain-process fallback.

The sandbox (Debian package ``bubblewrap``) gives the worker:

* a read-only view of the system (``/usr`` and the Python installation) and nothing else of the
  host: the submission merged into a fresh handout, the inputs the grader wrote, ``worker.py``;
  no instructor files, no other submission, no expected values;
* its own pid, network, IPC and UTS namespaces: no network, and ``/proc`` shows only its own
  processes (not the grader's command line or memory); the worker is pid 1 there, so a child
  cannot kill it;
* small size-capped ``tmpfs`` folders for its work and ``/tmp``;
* an unprivileged uid of its own, different from the grader's, when the grader runs as root (as
  on Gradescope): one unused uid per parallel job, so that the process-count limit and the final
  clean-up (kill everything of that uid) touch only that job;
* resource limits (memory, processes, file size, CPU) set by the worker on itself before it
  drops privileges; wall-clock limits per case and per task enforced by the worker's supervisor,
  with the grader's own watchdog (time and total memory) above it.

Without a usable bubblewrap, a grader running as root (as on Gradescope) isolates the worker
itself: util-linux ``unshare`` gives it its own mount, pid, network, IPC and UTS namespaces, and
the worker, still root there, builds its file system from nothing before it drops to its uid
(:func:`fallback_layout`, carried out by the worker's ``isolate``): the system and the Python
read-only (bound with readable parent folders, so a Python under a private ``/root`` still works
for the unprivileged uid), its handout copy and the cases' inputs read-only, private size-capped
``tmpfs`` folders for its work, ``/tmp``, ``/var/tmp`` and ``/dev/shm``, a few device nodes, its
own ``/proc``. Home folders, ``/srv``, ``/opt``, the grader's files and every other submission are
simply not there. Where no such isolation is possible (no bubblewrap and not root, or the Python
unreadable to another uid), ``grade`` refuses and says what to install or change; ``--insecure``
grades in a plain subprocess with the limits alone, and every result says so.

The size of the temporary folders counts against the memory watchdog's limit, and after every
run the files a worker uid left in the host's shared temporary folders (possible only with
``--insecure``) are removed.
"""

from __future__ import annotations

import os
import shutil
import stat
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from instructor import ROOT

WORKER = Path(__file__).resolve().parent / "worker.py"
UID_BASE = 2_000_000_000  # worker uids lie above this, far from any account a system hands out
MOUNT = Path("/sandbox")  # where the worker sees its files inside bubblewrap
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "fonts", "alternatives", "os-release", "mime.types")


@dataclass(frozen=True)
class Limits:
    """Per-submission limits; the defaults fit cscd84-a4 with a wide margin."""

    case_timeout: float = 30.0  # seconds of wall time for one case
    task_timeout: float = 60.0  # seconds of wall time for all the cases of one task
    startup_timeout: float = 60.0  # seconds for the worker to start and import numpy/torch
    memory_mb: int = 3072  # RLIMIT_DATA of each process (heap and private mappings)
    address_space_mb: int = 16384  # RLIMIT_AS of each process (torch maps ~3 GiB at import)
    total_memory_mb: int = 6144  # the grader's watchdog: resident memory of the whole sandbox
    processes: int = 64  # RLIMIT_NPROC (threads count) for the worker's uid
    file_size_mb: int = 16  # RLIMIT_FSIZE: the largest file the worker may write
    tmpfs_mb: int = 64  # size of the work folder and of /tmp in the sandbox
    open_files: int = 256  # RLIMIT_NOFILE
    log_keep: int = 4000  # bytes of a task's stdout/stderr kept for the report
    log_limit: int = 4 << 20  # a task that prints more is stopped
    result_limit: int = 64 << 20  # bytes of results one task may send

    def as_request(self) -> dict:
        return asdict(self)


@dataclass
class Mode:
    """How workers will run on this machine, and what the report must say about it."""

    kind: str  # "bwrap", "unshare" (the worker builds its own file system) or "subprocess" (--insecure)
    drop: bool  # whether the worker switches to an unprivileged uid of its own
    notes: list[str] = field(default_factory=list)  # lines every report shows
    python_paths: tuple[str, ...] = ()  # folders the worker needs to import numpy/torch
    namespaces: bool = False  # subprocess only: own pid/network namespaces through unshare(1)

    @property
    def kill_all(self) -> bool:
        """Whether kill(-1) from the worker reaches only its own processes."""
        return self.kind in ("bwrap", "unshare") or self.drop or self.namespaces

    @property
    def isolated(self) -> bool:
        """Whether the worker sees only its own files (a mount namespace of its own)."""
        return self.kind in ("bwrap", "unshare")

    @property
    def insecure(self) -> bool:
        return not self.isolated

    def summary(self) -> str:
        if self.kind == "bwrap":
            who = "as an unprivileged uid of its own" if self.drop else f"as the grader's uid {os.getuid()} (the grader is not root)"
            return f"sandbox: bubblewrap (no network, private /proc, read-only system), worker runs {who}"
        if self.kind == "unshare":
            return ("sandbox: namespaces without bubblewrap (own mount, pid and network namespaces, read-only system, "
                    "private temporary folders), worker runs as an unprivileged uid of its own")
        who = "as an unprivileged uid of its own" if self.drop else "AS THE GRADER'S OWN USER"
        extra = ", own pid and network namespaces" if self.namespaces else ""
        return (f"INSECURE: graded without isolation (--insecure): plain subprocess with resource limits{extra}, "
                f"worker runs {who} and can read this machine's files")


# ---- what the worker needs to see ---------------------------------------------------------------


GRADER_TEMP_PREFIXES = ("grade-", "gradescope-")  # the grader's own folders in the temp folder


def python_paths() -> tuple[str, ...]:
    """The Python installation and the folders its packages come from, minus the instructor's files.

    Whatever Python runs the grader is what the worker runs, so its installation is bound into the
    sandbox wherever it lies: a virtual environment under the temp folder or inside the kit (a
    ``.venv`` next to the instructor's files) included. What stays out is the instructor's own
    files: no path that holds the kit or the temp folder, nothing inside the kit but the Python
    installation, and none of the grader's own folders in the temp folder (its builds of the
    reference solution, its expected values).
    """
    installs = {os.path.normpath(p) for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
                for p in (os.path.abspath(prefix), os.path.realpath(prefix))}
    installs.add(os.path.dirname(os.path.abspath(sys.executable)))
    candidates = [*installs, *map(os.path.dirname, _link_chain(sys.executable)), *(p for p in sys.path if p)]
    kit = {str(ROOT), str(ROOT.resolve())}
    temp = {tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}
    installs = {i for i in installs if not any(_inside(k, i) for k in kit | temp)}
    found: list[str] = []
    for candidate in candidates:
        for path in {os.path.abspath(candidate), os.path.realpath(candidate)}:
            if not os.path.exists(path) or path in found or any(_inside(p, path) for p in kit | temp):
                continue  # missing, known, or it would show the whole kit or temp folder
            installed = any(_inside(path, i) for i in installs)
            if any(_inside(path, k) for k in kit) and not installed:
                continue  # the instructor's files
            if any(_inside(path, folder) and os.path.relpath(path, folder).startswith(GRADER_TEMP_PREFIXES)
                   for folder in temp) and not installed:
                continue  # the grader's own folders
            found.append(path)
    return tuple(found)


def _link_chain(path: str) -> list[str]:
    """``path`` and every file its symbolic links lead through (a venv's python -> a venv's python ->
    the real one): the sandbox must show each of them for the exec to succeed."""
    chain = [os.path.abspath(path)]
    while os.path.islink(chain[-1]) and len(chain) < 40:
        chain.append(os.path.normpath(os.path.join(os.path.dirname(chain[-1]), os.readlink(chain[-1]))))
    return chain + [os.path.realpath(path)]


def worker_syspath() -> list[str]:
    """sys.path entries the worker adds after start (packages outside the default path)."""
    return [path for path in python_paths() if os.path.isdir(path) and path in sys.path]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _world_accessible(path: str) -> bool:
    """Whether another, unprivileged uid can reach and read ``path``."""
    path = os.path.realpath(path)
    parts = Path(path).parents
    for parent in parts:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH) and (not stat.S_ISDIR(mode) or bool(mode & stat.S_IXOTH))


# ---- detection ----------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def bwrap_problem() -> str:
    """Why bubblewrap cannot be used here ('' when it can), found by starting a tiny sandbox."""
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    command = [exe, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--unshare-ipc",
               "--unshare-uts", "--as-pid-1", "--die-with-parent", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "--", "/bin/true"]
    if os.geteuid() == 0:
        command[1:1] = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap failed to start: {error}"
    if result.returncode != 0:
        return f"bubblewrap is installed but cannot create a sandbox here: {result.stderr.strip()[:300]}"
    return ""


def detect(requested: str = "auto", insecure: bool = False) -> Mode:
    """The mode to grade in: ``auto`` (bubblewrap when usable, else namespaces of our own),
    ``bwrap`` (required), ``none`` (no bubblewrap).

    Without bubblewrap the worker's isolation needs root (for the mount namespace and the uid
    switch) and a Python another uid can read; failing that, grading is refused with what to
    change, unless ``insecure`` (``--insecure``) asks for a plain subprocess with limits.
    """
    paths = python_paths()
    root = os.geteuid() == 0
    notes: list[str] = []
    problem = bwrap_problem() if requested != "none" else "disabled with --sandbox none"
    if requested == "bwrap" and problem:
        raise SystemExit(f"--sandbox bwrap: {problem}")
    if not problem:
        return Mode("bwrap", drop=root, notes=notes, python_paths=paths)
    why = isolation_problem(paths)
    if not why:
        notes.append(f"note: no bubblewrap ({problem}); the worker is isolated by namespaces of its own")
        return Mode("unshare", drop=True, notes=notes, python_paths=paths, namespaces=True)
    if not insecure:
        raise SystemExit(
            f"no way to isolate the submissions' code here: {problem}, and {why}. Install bubblewrap "
            "(Debian/Ubuntu: apt-get install bubblewrap), or run the grader as root (e.g. in a container), "
            "or pass --insecure to grade without isolation (every result then says so)")
    notes.append(f"WARNING: INSECURE (--insecure): no sandbox ({problem}; {why}); the worker runs as a plain "
                 "subprocess with resource limits only: it can see this machine's files and network")
    drop = False
    if root:
        blocked = [p for p in (os.path.realpath(sys.executable), *paths) if not _world_accessible(p)]
        if blocked:
            notes.append(f"WARNING: cannot drop privileges: the unprivileged worker could not read "
                         f"{blocked[0]}; the worker runs AS ROOT")
        else:
            drop = True
    else:
        notes.append(f"WARNING: the grader is not root, so the worker runs as the same user (uid {os.getuid()})")
    namespaces = root and not unshare_problem()
    if not namespaces and not drop:
        notes.append("WARNING: no pid namespace either: a submission could signal any process of this user")
    if drop and _world_accessible(str(ROOT)):
        notes.append(f"WARNING: the instructor's files in {ROOT} are readable by other users, so the "
                     "worker can read them: make them private (chmod -R go-rwx)")
    return Mode("subprocess", drop=drop, notes=notes, python_paths=paths, namespaces=namespaces)


def isolation_problem(paths: tuple[str, ...]) -> str:
    """Why the worker cannot isolate itself without bubblewrap ('' when it can)."""
    if os.geteuid() != 0:
        return "the grader is not root (needed for a mount namespace and a uid switch without bubblewrap)"
    problem = unshare_problem(("--mount", "--propagation", "private"))
    if problem:
        return f"unshare cannot create namespaces here ({problem})"
    unreadable = [path for path in (os.path.realpath(sys.executable), *paths) if not _readable_inside(path)]
    if unreadable:
        return (f"{unreadable[0]} cannot be read by another uid (the worker's), even with readable parent "
                "folders: make the Python installation world-readable (chmod -R a+rX)")
    return ""


def _readable_inside(path: str) -> bool:
    """Whether another uid can read ``path`` once its parent folders are made traversable."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH) and (not stat.S_ISDIR(mode) or bool(mode & stat.S_IXOTH))


UNSHARE = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts"]


@lru_cache(maxsize=None)
def unshare_problem(extra: tuple[str, ...] = ()) -> str:
    """Why util-linux unshare(1) cannot give the fallback its own namespaces ('' when it can)."""
    exe = shutil.which("unshare")
    if not exe:
        return "unshare (util-linux) is not installed"
    try:
        result = subprocess.run([exe, *extra, *UNSHARE, "--", "/bin/true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return "" if result.returncode == 0 else result.stderr.strip()[:300]


# ---- uids ---------------------------------------------------------------------------------------


def uid_in_use(uid: int) -> bool:
    """Whether an account or a running process has this uid."""
    import pwd

    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    return bool(processes_of_uid(uid))


def processes_of_uid(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


class UidPool:
    """Worker uids of one grading run: one per job slot, unused by any account or process.

    Each run draws its own block at random in [UID_BASE, UID_BASE + 2**31), so two graders on
    one machine (two TAs, or CI next to a batch) never share a uid: the process limit and the
    final "kill every process of this uid" then only ever touch one worker's processes.
    """

    SLOTS = 64

    def __init__(self):
        import secrets

        self.base = UID_BASE + secrets.randbelow((1 << 31) // self.SLOTS - 1) * self.SLOTS
        self.taken: dict[int, int] = {}

    def uid(self, slot: int) -> int:
        if slot not in self.taken:
            uid = self.base + slot % self.SLOTS
            while uid_in_use(uid):
                uid = UidPool().base + slot % self.SLOTS
            self.taken[slot] = uid
        return self.taken[slot]


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (only ever a worker uid we chose), until none is left."""
    import signal

    if os.geteuid() != 0:
        return
    for _ in range(20):
        pids = processes_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# ---- the command line ---------------------------------------------------------------------------


@dataclass
class Launch:
    argv: list[str]
    cwd: str | None
    env: dict[str, str]


def worker_env(work: str, tmp: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(work, ".matplotlib"),
    }


def worker_arguments(handout: str, request: str, work: str, channel: int, uid: int | None, kill_all: bool) -> list[str]:
    args = ["student", "--handout", handout, "--request", request, "--channel", str(channel), "--workdir", work,
            "--kill-scope", "all" if kill_all else "group"]
    if uid is not None:
        args += ["--uid", str(uid), "--gid", str(uid)]
    for path in worker_syspath():
        args += ["--syspath", path]
    return args


def build_launch(mode: Mode, *, handout: Path, inputs: Path, request: Path, work: Path, uid: int | None,
                 channel: int, limits: Limits, worker: Path = WORKER) -> Launch:
    """The command that starts a worker on ``handout`` with ``request`` and the cases' ``inputs``.

    ``worker`` is the worker script to run: outside bubblewrap it must be a copy the worker's uid
    can read (the instructor's own files should not be).
    """
    python = sys.executable
    box = str(MOUNT)
    inside = worker_arguments(f"{box}/handout", f"{box}/request.json", f"{box}/work", channel,
                              uid if mode.drop else None, kill_all=True)
    files = _filesystem(mode, handout=handout, inputs=inputs, request=request, worker=worker, limits=limits)
    if mode.kind == "unshare":
        # The worker, root in its new namespaces, mounts ``files`` on a tmpfs over ``work`` (an
        # empty folder of the grader's), moves its root there, then drops to its uid.
        layout = json.dumps({"root": str(work), "args": files, "script": f"{box}/worker.py"})
        return Launch(argv=[shutil.which("unshare") or "unshare", "--mount", "--propagation", "private", *UNSHARE,
                            "--", python, "-I", "-B", str(worker), *inside, "--isolate", layout],
                      cwd="/", env=worker_env(f"{box}/work", "/tmp"))
    if mode.kind != "bwrap":
        prefix = [shutil.which("unshare") or "unshare", *UNSHARE, "--"] if mode.namespaces else []
        return Launch(
            argv=[*prefix, python, "-I", "-B", str(worker), *worker_arguments(
                str(handout), str(request), str(work), channel, uid if mode.drop else None,
                kill_all=mode.kill_all)],
            cwd=str(work),
            env=worker_env(str(work), str(work)),
        )
    argv = [shutil.which("bwrap") or "bwrap",
            "--die-with-parent", "--new-session", "--as-pid-1",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        # Only what the worker needs to switch to its uid; it is gone after the switch.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += [*files, "--chdir", f"{box}/work", "--clearenv"]
    for key, value in worker_env(f"{box}/work", "/tmp").items():
        argv += ["--setenv", key, value]
    argv += ["--", python, "-I", "-B", f"{box}/worker.py", *inside]
    return Launch(argv=argv, cwd=None, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


TEMPORARY_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # private, size-capped tmpfs folders in the sandbox


def _filesystem(mode: Mode, *, handout: Path, inputs: Path, request: Path, worker: Path, limits: Limits) -> list[str]:
    """What the worker sees, in bubblewrap's options (the namespace fallback reads the same list):
    the system and the Python read-only, its files under /sandbox, private size-capped tmpfs."""
    box, size = str(MOUNT), str(limits.tmpfs_mb << 20)
    args = _system_binds()
    # /tmp first: a virtual environment under the temp folder is then bound on top of it.
    args += ["--size", size, "--tmpfs", "/tmp", "--chmod", "1777", "/tmp"]
    args += _python_binds(mode.python_paths, existing=("/tmp",))
    args += ["--perms", "0755", "--dir", box,
             "--ro-bind", str(worker), f"{box}/worker.py",
             "--ro-bind", str(handout), f"{box}/handout",
             "--ro-bind", str(inputs), f"{box}/inputs",
             "--ro-bind", str(request), f"{box}/request.json",
             "--size", size, "--tmpfs", f"{box}/work", "--chmod", "1777", f"{box}/work",
             "--proc", "/proc", "--dev", "/dev"]
    for folder in TEMPORARY_DIRS[1:]:
        args += ["--size", size, "--tmpfs", folder, "--chmod", "1777", folder]
    return args


def inputs_view(mode: Mode, inputs: Path) -> str:
    """Where the worker finds the cases' inputs (the request names them relative to it)."""
    return f"{MOUNT}/inputs" if mode.isolated else str(inputs)


def _system_binds() -> list[str]:
    args = []
    for name in SYSTEM_DIRS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_binds(paths: tuple[str, ...], existing: tuple[str, ...] = ()) -> list[str]:
    """Bind each Python folder read-only at its own path, creating readable parent folders
    (except those in ``existing``, already mounted)."""
    covered = [f"/{name}" for name in SYSTEM_DIRS] + ["/etc"]
    made: set[str] = {"/", *existing}
    args: list[str] = []
    for path in sorted(set(paths), key=len):
        if any(_inside(path, done) for done in covered):
            continue
        for parent in reversed(Path(path).parents):
            parent_text = str(parent)
            if parent_text in made or any(_inside(parent_text, done) for done in covered):
                continue
            args += ["--perms", "0755", "--dir", parent_text]
            made.add(parent_text)
        args += ["--ro-bind", path, path]
        covered.append(path)
    return args


# ---- the grader's view of a running worker -------------------------------------------------------


def process_tree(root_pid: int) -> list[int]:
    """``root_pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def resident_mb(pids: list[int]) -> float:
    """Resident memory of these processes, MiB (shared pages counted once per process)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total / (1 << 20)


def temporary_mb(pids: list[int]) -> float:
    """MiB held in the private tmpfs folders of the sandbox these processes run in (seen from
    the host through /proc/<pid>/root; tmpfs pages are memory no process's resident size shows)."""
    host = {}
    for folder in (*TEMPORARY_DIRS, f"{MOUNT}/work"):
        try:
            host[folder] = os.stat(folder).st_dev
        except OSError:
            host[folder] = None
    for pid in pids:
        total, seen = 0, set()
        try:
            for folder in host:
                path = f"/proc/{pid}/root{folder}"
                info = os.stat(path)
                if info.st_dev == host[folder] or info.st_dev in seen:
                    continue
                seen.add(info.st_dev)
                usage = os.statvfs(path)
                total += (usage.f_blocks - usage.f_bfree) * usage.f_frsize
        except OSError:
            continue  # gone, or not ours to look into: try the next process
        return total / (1 << 20)
    return 0.0


def remove_files_of_uid(uid: int, roots: tuple[str, ...] = TEMPORARY_DIRS) -> list[str]:
    """Delete what ``uid`` (a worker's) left in the host's shared temporary folders; the paths.

    A uid can only create files in folders it may write: world-writable ones (walked) and its own
    (removed whole). Links are removed, never followed.
    """
    removed = []

    def sweep(folder: str, depth: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        continue
                removed.append(entry.path)
            elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH and depth < 8:
                sweep(entry.path, depth + 1)

    if os.geteuid() == 0:
        for root in roots:
            sweep(root, 0)
    return removed


def prepare_dir(path: Path, *, private: bool) -> Path:
    """A folder the worker may read (``private=False``) or only the grader (``private=True``)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700 if private else 0o755)
    return path


def make_readable(root: Path) -> None:
    """Let the worker's uid read a tree the grader wrote: folders 0755, files 0644, no links."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.chmod(path, 0o644)


# ---- running one worker -------------------------------------------------------------------------


@dataclass
class RunRecord:
    """What one worker run sent back, and how it ended."""

    hello: dict | None = None
    cases: list[tuple[dict, bytes]] = field(default_factory=list)  # case frames, in arrival order
    started: list[str] = field(default_factory=list)  # task ids, in the order the worker began them
    ended: dict[str, dict] = field(default_factory=dict)  # task id -> its task_end frame
    done: bool = False  # the worker said it finished every task
    failure: str = ""  # why the run stopped early ('' when it did not)
    output: str = ""  # the worker's own stdout/stderr (not the student's), first bytes
    seconds: float = 0.0

    @property
    def running(self) -> str | None:
        """The task that was running when the run stopped, if any."""
        open_tasks = [task for task in self.started if task not in self.ended]
        return open_tasks[-1] if open_tasks else None


def run_worker(mode: Mode, *, handout: Path, inputs: Path, request: Path, work: Path, uid: int | None,
               limits: Limits, tasks: int, worker: Path = WORKER) -> RunRecord:
    """Start a worker on one request, read its frames under the grader's watchdog, clean up."""
    import selectors
    import time

    from instructor.worker import FrameReader, ProtocolError

    record = RunRecord()
    start = time.monotonic()
    channel_r, channel_w = os.pipe()
    launch = build_launch(mode, handout=handout, inputs=inputs, request=request, work=work, uid=uid,
                          channel=channel_w, limits=limits, worker=worker)
    try:
        process = subprocess.Popen(launch.argv, cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(channel_w,),
                                   start_new_session=True)
    except OSError as error:
        os.close(channel_r)
        os.close(channel_w)
        record.failure = f"the worker could not be started: {error}"
        return record
    os.close(channel_w)
    reader = FrameReader(limits.result_limit + (1 << 20))
    selector = selectors.DefaultSelector()
    os.set_blocking(channel_r, False)
    os.set_blocking(process.stdout.fileno(), False)
    selector.register(channel_r, selectors.EVENT_READ, "channel")
    selector.register(process.stdout, selectors.EVENT_READ, "output")
    output = bytearray()
    received = 0
    budget = limits.result_limit * max(tasks, 1) + (8 << 20)
    deadline = start + limits.startup_timeout + tasks * (limits.task_timeout + 10)
    task_since = start
    next_memory_check = start
    open_streams = 2
    try:
        while open_streams:
            now = time.monotonic()
            if now > deadline:
                record.failure = "the worker ran past the grader's overall time limit"
                break
            if record.running and now - task_since > limits.task_timeout + 15:
                record.failure = f"task {record.running} ran past its time limit and was stopped by the grader"
                break
            if record.hello is None and now - start > limits.startup_timeout:
                record.failure = f"the worker did not start within {limits.startup_timeout:.0f} s"
                break
            if now >= next_memory_check:
                next_memory_check = now + 0.25
                tree = process_tree(process.pid)
                used = resident_mb(tree) + (temporary_mb(tree[1:]) if mode.isolated else 0.0)
                if used > limits.total_memory_mb:
                    record.failure = (f"the sandbox used {used:.0f} MiB of memory (its temporary folders "
                                      f"included), above the limit of {limits.total_memory_mb} MiB; stopped")
                    break
            for key, _ in selector.select(timeout=0.1):
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "output":
                    if len(output) < 8000:
                        output += data[: 8000 - len(output)]
                    continue
                received += len(data)
                if received > budget:
                    record.failure = "the worker sent more data than allowed; stopped"
                    open_streams = 0
                    break
                try:
                    frames = reader.feed(data)
                except ProtocolError as error:
                    record.failure = f"the worker's result stream was corrupted ({error})"
                    open_streams = 0
                    break
                for header, payload in frames:
                    kind = header.get("type")
                    if kind == "hello" and record.hello is None:
                        record.hello = header
                    elif kind == "task_start" and isinstance(header.get("task"), str):
                        record.started.append(header["task"])
                        task_since = time.monotonic()
                    elif kind == "task_end" and isinstance(header.get("task"), str):
                        record.ended[header["task"]] = header
                    elif kind == "case":
                        record.cases.append((header, payload))
                    elif kind == "done":
                        record.done = True
    finally:
        selector.close()
        _stop(process, uid if mode.drop else None)
        os.close(channel_r)
        process.stdout.close()
        record.output = output.decode("utf-8", "replace")
        record.seconds = time.monotonic() - start
    if not record.done and not record.failure:
        code = process.returncode
        how = f"killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
        record.failure = f"the worker stopped early ({how})"
    return record


def _stop(process: subprocess.Popen, uid: int | None) -> None:
    """Kill the worker's process group (and every process of its uid), and reap it."""
    import signal

    for target in (lambda: os.killpg(process.pid, signal.SIGKILL), lambda: process.kill()):
        try:
            target()
        except (ProcessLookupError, PermissionError, OSError):
            pass
    if uid is not None:
        kill_uid(uid)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    if uid is not None:
        remove_files_of_uid(uid)
