"""Threat fixtures: submissions that break, cheat or attack, made from the reference solution.

Each :class:`Threat` is one attack from the autograder issue. :func:`make` writes it as a
submission folder: the kit's submitted files with their solution blocks kept (a correct
submission), except that

* ``scope="call"`` replaces the solution block(s) of the target task with the threat's code, so
  the attack runs when the graded function is called;
* ``scope="import"`` appends the code to the target file, so it runs when the file is imported;
* ``scope="file"`` submits the handout's stub of the target file, plus the planted files of a
  stored folder under ``static/`` (each stored as ``<name>.fixture`` so that no tool picks them
  up here).

Every threat touches only the target file (and, for ``call``, only the target task): a correct
grader gives the other tasks full marks and the touched ones none, with a message containing
``expect``. The same threats run on the fake kit (fast) and on cscd84-a4 (end to end).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from instructor.blocks import PY_BEGIN, PY_END, strip_python

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# What an attacker would look for: the instructor's solution and reference values, the
# grader's private folders, the Gradescope source and results, the grader's process.
READ_ATTACK = '''
import os
found = []
for path in SECRETS + ["/etc/shadow", "/autograder/source", "/autograder/results/results.json"]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(16)
        found.append(path)
    except OSError:
        pass
for top in ["/", "/tmp", "/var/tmp", "/sandbox", "/root", "/home", "/work", "/autograder", "/dev/shm"]:
    for folder, dirs, files in os.walk(top):
        depth = folder.count("/")
        dirs[:] = [d for d in dirs if depth < 4 and d not in ("proc", "sys", "dev", "usr", "lib", "site-packages")]
        for name in files + dirs:
            if name.endswith(".out.npz") or name.startswith(("grade-private", "reference-values")):
                found.append(os.path.join(folder, name))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if b"instructor" in command or b"reference" in command:
            found.append(f"/proc/{pid}/cmdline")
raise RuntimeError(f"found: {found}")
'''

WRITE_ATTACK = '''
import os
targets = SECRETS_WRITE + ["/autograder/results/results.json", os.path.join(os.path.dirname(__file__), "PWNED"),
                           "/sandbox/inputs/PWNED", "/sandbox/PWNED", "/PWNED", "/usr/PWNED"]
wrote = []
for path in targets:
    try:
        with open(path, "w") as handle:
            handle.write('{"score": 1000}')
        wrote.append(path)
    except OSError:
        pass
raise RuntimeError(f"wrote: {wrote}")
'''

def writes_stayed_inside(message: str) -> bool:
    """Whether the write attack's report shows nothing written outside the sandbox.

    The sandbox has a private, throwaway ``/tmp``: a kit checked out directly under ``/tmp``
    makes ``/tmp/<kit>.PWNED`` writable *inside* it, which is harmless. So a reported write
    counts as an escape unless it is under ``/tmp/`` and the file is absent on the host.
    """
    import ast
    import os

    match = re.search(r"wrote: (\[.*?\])", message)
    if not match:
        return False
    wrote = ast.literal_eval(match[1])
    return all(path.startswith("/tmp/") and not os.path.exists(path) for path in wrote)


SOCKET_ATTACK = '''
import builtins
network = getattr(builtins, "__imp" + "ort__")("soc" + "ket")
reached = []
for host in [("1.1.1.1", 80), ("127.0.0.1", 22), ("8.8.8.8", 53)]:
    try:
        connection = network.create_connection(host, timeout=1)
        connection.close()
        reached.append(host)
    except OSError:
        pass
raise RuntimeError(f"reached: {reached}")
'''

# Look for a finished copy of the graded file anywhere on the disk (another student's handout in
# a temporary folder, the grader's own kit) that the grader might have left readable.
DISK_WALK = '''
import os
mine = os.path.realpath(__file__)
found, folders = [], 0
for top in ["/"]:
    for folder, dirs, files in os.walk(top):
        folders += 1
        dirs[:] = [d for d in dirs if folder.count("/") < 7 and d not in ("proc", "sys", "usr", "site-packages", "lib")]
        if folders > 20000:
            break
        for name in files:
            path = os.path.join(folder, name)
            if name == os.path.basename(mine) and os.path.realpath(path) != mine:
                try:
                    with open(path) as handle:
                        text = handle.read()
                except OSError:
                    continue
                if "not implemented yet" not in text:
                    found.append(path)
raise RuntimeError(f"found: {found}")
'''

# Fill the temporary folders (they were the host's: 300 MiB in /dev/shm stayed after grading) and
# leave markers behind.
FILL_TEMP = '''
import os
marks, filled = [], {}
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, "grader-threat-marker"), "w") as handle:
            handle.write("left behind")
        marks.append(folder)
    except OSError:
        pass
for folder, megabytes in (("/dev/shm", 300), ("/tmp", 60)):
    written = 0
    try:
        for index in range(megabytes // 8):
            with open(os.path.join(folder, f"grader-threat-fill-{index}"), "wb") as handle:
                handle.write(b"x" * (8 << 20))
            written += 8
    except OSError:
        pass
    filled[folder] = written
raise RuntimeError(f"filled: {filled}, marks: {marks}")
'''

# Plant links where an instructor might write the gradebook (root would follow them).
PLANT_LINKS = '''
import os
planted = []
for path in ("/tmp/gradebook.csv", "/tmp/results.json", "/var/tmp/gradebook.csv", "/dev/shm/gradebook.csv"):
    try:
        os.symlink("/etc/passwd", path)
        planted.append(path)
    except OSError:
        pass
raise RuntimeError(f"planted: {planted}")
'''

# A frame whose JSON header nests 30 000 deep, on every pipe the code can reach.
DEEP_HEADER = '''
import os
import struct
text = b"[" * 30000 + b"]" * 30000
frame = struct.pack(">II", len(text), 0) + text
for fd in os.listdir("/proc/self/fd"):
    if int(fd) > 2:
        try:
            os.write(int(fd), frame)
        except OSError:
            pass
raise RuntimeError("sent")
'''

HOST_MARKERS = ("/tmp/grader-threat-marker", "/var/tmp/grader-threat-marker", "/dev/shm/grader-threat-marker",
                "/tmp/gradebook.csv", "/tmp/results.json", "/var/tmp/gradebook.csv", "/dev/shm/gradebook.csv")


def host_traces() -> list[str]:
    """What the temporary-folder threats would leave on this machine if the sandbox let them."""
    import glob
    import os

    found = [path for path in HOST_MARKERS if os.path.lexists(path)]
    return found + glob.glob("/tmp/grader-threat-fill-*") + glob.glob("/dev/shm/grader-threat-fill-*")


# Ways to reach a library the file may not use (FORBIDDEN) past a check of the source alone; each
# then computes the right answer with it (FORBIDDEN_BODY), so only the policy stands in the way.
ROUTES = {
    "sys_modules": "import sys\nlib = sys.modules[FORBIDDEN]\n",
    "kit_attribute": "from RELAY import FORBIDDEN_NAME as lib\n",
    "built_name": "import builtins\nlib = getattr(builtins, '__imp' + 'ort__')(FORBIDDEN)\n",
    "eval_alias": "run = eval\nlib = run('__imp' + 'ort__(' + repr(FORBIDDEN) + ')')\n",
    "function_type": "import types\nmake = compile\n"
                     "space = {}\ntypes.FunctionType(make('import ' + FORBIDDEN + ' as lib', 'x', 'exec'), space)()\n"
                     "lib = space['lib']\n",
    "pickle": "import pickle\nlib = pickle.loads(b'cbuiltins\\n__import__\\n(V' + FORBIDDEN.encode() + b'\\ntR.')\n",
    "pydoc": "import pydoc\nlib = pydoc.locate(FORBIDDEN)\nassert lib is not None\n",
    "globals_builtins": "table = globals()['__buil' + 'tins__']\n"
                        "lib = (table['__import__'] if isinstance(table, dict) else table.__import__)(FORBIDDEN)\n",
    "interpreter": "import code\nspace = {}\n"
                   "code.InteractiveInterpreter(space).runsource('import ' + FORBIDDEN + ' as lib')\nlib = space['lib']\n",
    "imp": "import imp\nlib = imp.load_module(FORBIDDEN, *imp.find_module(FORBIDDEN))\n",
    "importlib_module": "import sys\nlib = sys.modules['importlib'].import_module(FORBIDDEN)\n",
    "utf7_cookie": "",  # the import hides in a comment that a UTF-7 declaration turns into a line
}

PATCH_EVERYTHING = '''
import builtins
import numpy
import numpy.testing
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.isfinite = lambda x, *args, **kwargs: numpy.ones(numpy.shape(x), dtype=bool)
builtins.abs = lambda x: 0
builtins.max = lambda *args, **kwargs: 0
builtins.isinstance = lambda *args: True
import sys
torch = sys.modules.get("torch")
if torch is not None:
    torch.allclose = lambda *args, **kwargs: True
    torch.equal = lambda *args, **kwargs: True
'''

LIAR = '''
import numpy as np


class _Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype=dtype or float)

    def __float__(self):
        return 0.0


shape = np.shape(LIAR_SHAPE_SOURCE)
return np.zeros(shape).view(_Liar)
'''

LIAR_TENSOR = '''
import sys
import numpy as np
torch = sys.modules.get("torch")
if torch is None:
    raise RuntimeError("torch is not loaded here")


class _LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(tuple(self.shape), dtype=dtype or float)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.zeros(())


return torch.zeros(np.shape(LIAR_SHAPE_SOURCE)).as_subclass(_LyingTensor)
'''

STACK_PEEK = '''
import sys
frame = sys._getframe(1)
loot = None
while frame is not None:
    for name, value in frame.f_locals.items():
        if name in ("expected", "want", "reference", "outputs", "stored") and value is not None:
            loot = value
    frame = frame.f_back
if loot is None:
    raise RuntimeError("no expected value on the stack")
return loot
'''

HARDCODE = '''
import numpy as np
from tests.harness import load_cases, load_reference
for case in load_cases(CASE_MODULE):
    public = case.public_inputs()
    if np.shape(public[ARG_NAME]) == np.shape(ARG_VALUE) and np.allclose(public[ARG_NAME], ARG_VALUE):
        stored = load_reference(CASE_MODULE, case)
        HARDCODE_RETURN
raise RuntimeError("no stored answer for these inputs")
'''

FORGED_FRAMES = '''
import io
import json
import os
import struct
import numpy as np
with open("/sandbox/request.json") as handle:
    request = json.load(handle)
buffer = io.BytesIO()
np.lib.format.write_array(buffer, np.zeros(3))
data = buffer.getvalue()
frames = b""
for task in request["tasks"]:
    for case in task["cases"]:
        header = {"type": "case", "task": task["id"], "case": case["id"], "status": "ok",
                  "arrays": [["out", len(data)], ["sum", len(data)]]}
        text = json.dumps(header).encode()
        frames += struct.pack(">II", len(text), 2 * len(data)) + text + data + data
text = json.dumps({"type": "finished"}).encode()
frames += struct.pack(">II", len(text), 0) + text
for fd in os.listdir("/proc/self/fd"):
    if int(fd) > 2:
        try:
            os.write(int(fd), frames)
        except OSError:
            pass
raise RuntimeError("forged")
'''

FORK_BOMB = '''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'''

MEMORY_BOMB = '''
blobs = []
while True:
    blobs.append(bytearray(1 << 28))
'''

NUMPY_MEMORY_BOMB = '''
import numpy as np
blocks = []
while True:
    blocks.append(np.ones(1 << 27))
'''

PRINT_FLOOD = '''
import sys
chunk = "x" * (1 << 20) + "\\n"
while True:
    sys.stdout.write(chunk)
'''


@dataclass(frozen=True)
class Threat:
    name: str
    what: str  # the attack, in the words
    code: str = ""
    scope: str = "call"  # "call", "import" or "file"
    static: str = ""  # folder under static/ whose files are added to the submission
    expect: str = ""  # a substring of the touched task's message ("a|b": either)
    symlink: bool = False  # submit the target file as a symbolic link to the reference solution
    slow: bool = False  # uses a whole time limit
    policy: bool = False  # refused by the import policy: costs every task of the file
    extra: dict = field(default_factory=dict)


THREATS = [
    Threat("syntax_error", "syntax error", "def broken(:\n    pass\n", scope="import", expect="syntax error"),
    Threat("missing_function", "missing function", scope="file", expect="",
           extra={"rename": True}),
    Threat("changed_signature", "changed signature", "def _unused():\n    pass\n", scope="call",
           expect="", extra={"signature": True}),
    Threat("exception", "exception", "raise ValueError('the student code failed')\n", expect="ValueError"),
    Threat("wrong_shape", "wrong shape", "import numpy\nreturn numpy.zeros((1, 2, 3, 4, 5))\n", expect=""),
    Threat("wrong_dtype", "wrong dtype", "import numpy\nreturn numpy.array(['not', 'numbers'])\n", expect=""),
    Threat("complex_dtype", "wrong dtype (complex)", "import numpy\nreturn numpy.zeros(3) + 1j\n", expect=""),
    Threat("nan", "NaN/inf", "import numpy\nreturn numpy.full((2, 3), numpy.nan)\n", expect=""),
    Threat("inf", "NaN/inf", "import numpy\nreturn numpy.full((2, 3), numpy.inf)\n", expect=""),
    Threat("infinite_loop", "infinite loop", "while True:\n    pass\n", expect="timed out", slow=True),
    Threat("sleep_at_import", "time.sleep", "import time\ntime.sleep(10000)\n", scope="import",
           expect="timed out", slow=True),
    Threat("sys_exit_import", "sys.exit(0) at import", "import sys\nsys.exit(0)\n", scope="import", expect="SystemExit"),
    Threat("sys_exit_call", "sys.exit(0) at call", "import sys\nsys.exit(0)\n", expect="SystemExit"),
    Threat("os_exit_import", "os._exit(0) at import", "import os\nos._exit(0)\n", scope="import", expect="exited"),
    Threat("os_exit_call", "os._exit(0) at call", "import os\nos._exit(0)\n", expect="exited"),
    Threat("kill_parent_import", "os.kill of the parent at import",
           "import os\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\nos.kill(-1, 9)\n", scope="import", expect="",
           extra={"stub_target": True}),
    Threat("kill_parent_call", "os.kill of the parent at call",
           "import os\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\nos.kill(-1, 9)\nraise RuntimeError('still here')\n",
           expect=""),
    Threat("fork_bomb", "fork bomb", FORK_BOMB, expect="", slow=True),
    Threat("memory_bomb", "memory bomb", MEMORY_BOMB, expect="MemoryError|timed out|memory"),
    Threat("numpy_memory_bomb", "memory bomb (NumPy)", NUMPY_MEMORY_BOMB, expect="MemoryError|timed out|memory"),
    Threat("print_flood", "printing gigabytes", PRINT_FLOOD, expect="printed more than"),
    Threat("read_secrets", "reading the reference solution, hidden cases or files outside the sandbox",
           READ_ATTACK, expect="found: []"),
    Threat("write_outside", "writing a results file or anything outside its work folder", WRITE_ATTACK,
           expect="wrote: []"),
    Threat("socket", "opening a socket", SOCKET_ATTACK, expect="reached: []|import policy"),
    Threat("socket_import", "opening a socket (plain import)", "import socket\nsocket.create_connection(('1.1.1.1', 80))\n",
           expect="not allowed", policy=True),
    Threat("monkeypatch", "monkeypatching numpy, torch or builtins comparison functions",
           PATCH_EVERYTHING + "import numpy as np\nreturn np.zeros((2, 3))\n", expect=""),
    Threat("monkeypatch_import", "monkeypatching at import", PATCH_EVERYTHING, scope="import", expect="",
           extra={"stub_target": True}),
    Threat("hardcoded_public", "hard-coding the public reference values", HARDCODE,
           expect="hidden variant|reference/"),  # the Gradescope zip ships no stored values at all
    Threat("lying_array", "returning objects whose __eq__ / __array__ lie", LIAR, expect=""),
    Threat("lying_tensor", "returning a torch.Tensor subclass that lies", LIAR_TENSOR, expect=""),
    Threat("forged_frames", "forged result frames on the worker's own channel", FORGED_FRAMES, expect=""),
    Threat("stack_peek", "reading an expected value from a caller's stack frame", STACK_PEEK, expect=""),
    Threat("planted_files", "a conftest.py, sitecustomize.py or .pth file in the submission", scope="file",
           static="planted_files", expect="not implemented"),
    Threat("pytest_skip", "pytest.skip", "import pytest\npytest.skip('nothing to see')\n", expect="not allowed",
           policy=True),
    Threat("pytest_exit", "pytest.exit", "import pytest\npytest.exit('done', returncode=0)\n", scope="import",
           expect="not allowed", policy=True),
    Threat("forged_reports", "a forged JUnit/JSON report", scope="file", static="forged_reports",
           expect="not implemented"),
    Threat("replaced_handout", "replacing handout files that are not the student's to submit", scope="file",
           static="replaced_handout", expect="not implemented"),
    Threat("symlink_to_reference", "a submitted file that is a link to the reference solution", scope="file",
           symlink=True, expect="not implemented"),
    Threat("disk_walk", "walking the disk for a finished copy of the graded file", DISK_WALK, expect="found: []"),
    Threat("fill_temp", "filling /tmp and /dev/shm and leaving files there", FILL_TEMP, expect="filled:"),
    Threat("plant_links", "planting links where the gradebook may be written", PLANT_LINKS, expect="planted:"),
    Threat("deep_header", "a result frame nested 30 000 deep", DEEP_HEADER, expect="corrupted"),
    Threat("compile_call", "types.FunctionType(compile(...)) using a library the file may not use",
           "import types\nspace = {}\ntypes.FunctionType(compile('import ' + FORBIDDEN + ' as lib', 'x', 'exec'), space)()\n"
           "lib = space['lib']\n" + "FORBIDDEN_BODY", expect="compile() is not allowed", policy=True),
    *[Threat(f"forbidden_{route}", f"a library the file may not use, reached through {route.replace('_', ' ')}",
             code + "FORBIDDEN_BODY", expect="import policy|KeyError" if route in ("sys_modules", "interpreter")
             else "import policy", policy=route == "utf7_cookie", extra={"utf7": route == "utf7_cookie"})
      for route, code in ROUTES.items()],
]


TORCH_ATTENTION = '''
B, T, D = q.shape
S = k.shape[1]
H, K = self.num_heads, self.head_dim
def heads(x, w, n):
    return (lib.as_tensor(x) @ lib.as_tensor(w)).reshape(B, n, H, K).transpose(1, 2)
w = lib.softmax(heads(q, self.params_q, T) @ heads(k, self.params_k, S).transpose(-1, -2) / K ** 0.5, dim=-1)
out = ((w @ heads(v, self.params_v, S)).transpose(1, 2).reshape(B, T, D) @ lib.as_tensor(self.param_out)).numpy()
weights = w.numpy()
'''


@dataclass(frozen=True)
class Target:
    """Where threats aim in one kit."""

    file: str  # the submitted file attacked
    task: str  # the task whose block ``call`` threats replace
    file_tasks: tuple[str, ...]  # every task of that file (what import/file threats touch)
    sources: dict  # submitted file -> its source with solution blocks
    stubs: dict  # submitted file -> the handout's stub version
    reference_file: Path  # the reference solution's copy of the target file (for the link threat)
    secrets: tuple[str, ...] = ()  # paths a leaky sandbox would let the attack read
    liar_shape_source: str = "q"  # the target function's first input: its name as a parameter
    case_input: str = "q"  # ... and its key in the cases' inputs
    case_module: str = "np_attention"  # the cases module of the target task
    hardcode_return: str = 'return (stored.get("out"), stored.get("weights")) if return_weights else stored["out"]'
    forbidden: str = "torch"  # a library the target file may not use, loaded by the grader's worker
    relay: str = "vit"  # a kit module that imports it
    forbidden_body: str = TORCH_ATTENTION  # the right answer, computed with it (``lib``)

    def expected_message(self, threat: Threat, message: str) -> bool:
        if threat.code is WRITE_ATTACK:
            return writes_stayed_inside(message)
        return any(option in message for option in threat.expect.split("|"))

    def touched(self, threat: Threat) -> tuple[str, ...]:
        return (self.task,) if threat.scope == "call" and not threat.policy else self.file_tasks


def replace_block(source: str, task: str, code: str) -> str:
    """Put ``code`` (indented like the block) in place of every solution block of ``task``."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        begin = PY_BEGIN.match(line)
        if begin and begin["task"] == task:
            inside = True
            out.append(line)
            out.append(textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", begin["indent"]))
            continue
        if inside and PY_END.match(line):
            inside = False
        if not inside:
            out.append(line)
    return "".join(out)


def solution(source: str, file: str) -> str:
    """The source with every solution block kept and the markers removed."""
    from instructor.blocks import PY_BEGIN as begin

    tasks = frozenset(m["task"] for line in source.splitlines() if (m := begin.match(line)))
    return strip_python(source, file, keep=tasks).text


def make(threat: Threat, target: Target, dest: Path) -> Path:
    """Write one threat's submission folder (the correct files plus the attack) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for file, source in target.sources.items():
        text = solution(source, file)
        if file == target.file:
            code = threat.code.replace("SECRETS_WRITE", repr([s + ".PWNED" for s in target.secrets]))
            code = code.replace("SECRETS", repr(list(target.secrets)))
            code = code.replace("LIAR_SHAPE_SOURCE", target.liar_shape_source)
            code = code.replace("CASE_MODULE", repr(target.case_module)).replace("ARG_NAME", repr(target.case_input))
            code = code.replace("ARG_VALUE", target.liar_shape_source)
            code = code.replace("HARDCODE_RETURN", target.hardcode_return)
            code = code.replace("FORBIDDEN_BODY", textwrap.dedent(target.forbidden_body).strip("\n") + "\n")
            code = code.replace("FORBIDDEN_NAME", target.forbidden).replace("FORBIDDEN", repr(target.forbidden))
            code = code.replace("RELAY", target.relay)
            if threat.scope == "call":
                marked = replace_block(source, target.task, code)
                if threat.extra.get("signature"):
                    marked = _change_signature(marked, target.task)
                text = solution(marked, file)
            elif threat.scope == "import":
                base = target.stubs[file] if threat.extra.get("stub_target") else text
                text = base + "\n\n" + code
            elif threat.extra.get("rename"):
                text = _rename_definitions(text)
            else:
                text = target.stubs[file]
        path = dest / file
        path.parent.mkdir(parents=True, exist_ok=True)
        if threat.symlink and file == target.file:
            path.symlink_to(target.reference_file)
        elif threat.extra.get("utf7") and file == target.file:
            # A checker that reads the file as UTF-8 sees a comment; Python reads "import ...".
            path.write_bytes(b"# -*- coding: utf-7 -*-\n#+AAo-import " + target.forbidden.encode() + b" as lib\n"
                             + text.encode("utf-7"))
        else:
            path.write_text(text)
    if threat.static:
        for stored in sorted((HERE / "static" / threat.static).rglob("*.fixture")):
            relative = stored.relative_to(HERE / "static" / threat.static).as_posix().removesuffix(".fixture")
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stored, dest / relative)
    return dest


def make_correct(target: Target, dest: Path) -> Path:
    """The reference solution as a submission folder (what every threat starts from)."""
    dest.mkdir(parents=True, exist_ok=True)
    for file, source in target.sources.items():
        (dest / file).write_text(solution(source, file))
    return dest


def _rename_definitions(text: str) -> str:
    """Every top-level def/class renamed: the graded names are missing."""
    import re

    return re.sub(r"^(def|class) (\w+)", r"\1 \2_renamed", text, flags=re.M)


def _change_signature(source: str, task: str) -> str:
    """Drop the parameters of the function that holds the task's block (keeps ``self``)."""
    import re

    lines = source.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if (m := PY_BEGIN.match(line)) and m["task"] == task)
    for back in range(index, -1, -1):
        match = re.match(r"^(\s*)def (\w+)\((self)?", lines[back])
        if match:
            end = back
            while not lines[end].rstrip().endswith(":"):
                end += 1
            first = f"{match[1]}def {match[2]}({'self' if match[3] else ''}):\n"
            lines[back:end + 1] = [first]
            return "".join(lines)
    raise ValueError(f"no function around the block of {task}")


def cscd84_target() -> Target:
    """cscd84-a4: attacks aim at the NumPy attention (2 points, no other task depends on it)."""
    from instructor.blocks import strip_python as strip

    sources = {name: (ROOT / name).read_text() for name in ("train.py", "np_attention.py", "vit.py")}
    stubs = {name: strip(text, name).text for name, text in sources.items()}
    return Target(
        file="np_attention.py", task="multi_head_attention", file_tasks=("multi_head_attention",),
        sources=sources, stubs=stubs, reference_file=ROOT / "np_attention.py",
        secrets=(str(ROOT / "np_attention.py"), str(ROOT / "tests" / "reference" / "np_attention.npz"),
                 str(ROOT / "instructor" / "grade.py"), str(ROOT)),
    )


def fake_target(reference: Path) -> Target:
    """The fake kit: attacks aim at ``add`` in alpha.py (which also holds ``scale``)."""
    from tests.instructor.submissions import fake_kit

    sources = {name: fake_kit.source_with_markers(name) for name in ("alpha.py", "beta.py")}
    stubs = {name: strip_python(text, name).text for name, text in sources.items()}
    return Target(
        file="alpha.py", task="add", file_tasks=("add", "scale"), sources=sources, stubs=stubs,
        reference_file=reference / "alpha.py",
        secrets=(str(reference / "alpha.py"), str(reference), str(ROOT / "np_attention.py")),
        liar_shape_source="a", case_input="a", case_module="alpha", hardcode_return='return stored["sum"]',
        forbidden="tqdm", relay="beta", forbidden_body="assert lib.tqdm\nreturn np.asarray(a) + np.asarray(b)\n",
    )
