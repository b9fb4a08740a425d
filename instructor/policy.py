"""Import policy of submitted files: checked on their source before anything runs, and enforced
where the code runs.

A submitted file may import the standard library, the libraries the assignment's manifest allows
(``allowed_imports``), and the kit's own modules of the handout. A few parts of the standard
library have no use in graded numerical code and are the tools of attacks on the grader (network,
processes, native code, signals, the import machinery), so they are refused too, as are calls that
import or run code built at run time (``__import__``, ``exec``, ``eval``, ``compile``).

Two layers enforce it:

* :func:`check_bytes` reads the submitted bytes before anything runs and gives the first,
  readable message. It parses the raw bytes as Python does, and refuses any encoding declaration
  other than UTF-8 (a ``utf-7`` cookie can hide an import inside what looks like a comment).
* The worker enforces :func:`runtime_policy` while the code runs. A file whose allow-list is
  narrower than what the worker has loaded (``np_attention.py``: NumPy only) runs in a fresh
  process that never imported the rest, and an audit hook refuses to load any library outside the
  file's allow-list, whatever the route: ``sys.modules``, another module's attribute, a name built
  at run time, an alias of ``eval``/``compile``, ``pickle`` or ``pydoc``. ``exec``, ``eval``,
  ``compile`` and the making of code objects are refused at run time too when the submitted code
  calls them itself (under any name). Denied standard-library modules are refused at run time when
  the submitted code asks for them; what a library loads for itself is the sandbox's to contain.

A manifest may narrow the list for one file, e.g. a NumPy-only exercise::

    [policy."np_attention.py"]
    allowed_imports = ["numpy"]
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass

# Standard-library modules a graded function never needs.
DENIED_STDLIB = frozenset({
    "socket", "ssl", "http", "urllib", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib",
    "socketserver", "xmlrpc", "asyncio", "selectors", "webbrowser",  # network
    "subprocess", "multiprocessing", "concurrent", "pty", "pipes",  # other processes
    "ctypes", "mmap",  # native memory and code
    "signal", "resource",  # the worker's own supervision
    "importlib", "site", "sitecustomize", "usercustomize", "runpy", "zipimport", "pkgutil",  # imports
})
DYNAMIC_CALLS = frozenset({"__import__", "exec", "eval", "compile"})


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


def allowed_for(manifest, file: str, handout_source: str = "") -> frozenset[str]:
    """Top-level packages ``file`` may import besides the standard library and the kit's modules.

    The manifest's ``allowed_imports`` (or the file's own list under ``[policy."<file>"]``), plus
    whatever the handout's own version of the file imports (its provided code may use, say, tqdm).
    """
    rules = manifest.extra.get("policy", {}).get(file, {})
    return frozenset(rules.get("allowed_imports", manifest.allowed_imports)) | imported_modules(handout_source)


def check_bytes(file: str, data: bytes, *, allowed: frozenset[str], kit_modules: frozenset[str]) -> list[Violation]:
    """:func:`check_source` on a file's raw bytes, which must be UTF-8 with no other encoding declared."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if not any(b"coding" in line for line in data.splitlines()[:2]):
            return [Violation(file, 1, "is not UTF-8 text")]
        return [Violation(file, 1, f"unreadable encoding declaration ({error})")]
    if encoding not in ("utf-8", "utf-8-sig"):
        line = next((number for number, text in enumerate(data.splitlines()[:2], 1) if b"coding" in text), 1)
        return [Violation(file, line, f"declares the encoding {encoding!r}: graded files must be UTF-8 "
                                      "(remove the coding line)")]
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        return [Violation(file, data.count(b"\n", 0, error.start) + 1, "is not UTF-8 text")]
    return check_source(file, data, allowed=allowed, kit_modules=kit_modules)


def check_source(file: str, source: str | bytes, *, allowed: frozenset[str], kit_modules: frozenset[str]) -> list[Violation]:
    """Every policy violation in one file's source (a syntax error is one violation).

    Give bytes where you have them (:func:`check_bytes`): Python decodes a file by its encoding
    declaration, and the check must see what Python will run.
    """
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as error:
        return [Violation(file, error.lineno or 0, f"syntax error: {error.msg}")]
    except (ValueError, RecursionError) as error:  # null bytes, absurd nesting
        return [Violation(file, 0, f"cannot be parsed: {error}")]
    stdlib = frozenset(sys.stdlib_module_names)
    problems: list[Violation] = []

    def check_module(name: str, line: int) -> None:
        top = name.split(".")[0]
        if top in kit_modules or top in allowed:
            return
        if top in DENIED_STDLIB:
            problems.append(Violation(file, line, f"import of {name!r} is not allowed in graded code"))
        elif top not in stdlib:
            allowed_text = ", ".join(sorted(allowed)) or "none"
            problems.append(Violation(file, line, f"import of {name!r} is not allowed (allowed: the standard "
                                                  f"library, the kit's modules and {allowed_text})"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(Violation(file, node.lineno, "relative imports are not used in this kit"))
            elif node.module:
                check_module(node.module, node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_CALLS:
            problems.append(Violation(file, node.lineno, f"{node.func.id}() is not allowed in graded code"))
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            problems.append(Violation(file, node.lineno, "__builtins__ is not allowed in graded code"))
    return sorted(problems, key=lambda item: item.line)


def imported_modules(source: str) -> frozenset[str]:
    """Top-level names of every module a source imports (absolute imports only)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return frozenset(names)


def kit_modules(handout_files: list[str]) -> frozenset[str]:
    """Top-level module and package names of a handout, from its file list."""
    names = set()
    for name in handout_files:
        first = name.split("/")[0]
        if "/" in name:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[:-3])
    return frozenset(names)


def runtime_policy(manifest, file: str, handout_source: str, kit: frozenset[str]) -> dict:
    """What the worker enforces while ``file``'s code runs (see the module's docstring).

    ``allowed`` holds top-level module names: the file's allow-list and every library those
    libraries depend on (a library may load its dependencies late, e.g. torch loads sympy).
    """
    allowed = allowed_for(manifest, file, handout_source)
    return {
        "file": file,
        "allowed": sorted(library_closure(allowed)),
        "listed": sorted(allowed - {"__future__"}),
        "kit": sorted(kit),
        "denied": sorted(DENIED_STDLIB),
    }


def library_closure(names: frozenset[str]) -> frozenset[str]:
    """``names`` plus the top-level modules of every distribution they require, recursively."""
    import re
    from importlib import metadata

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    distributions = _packages_distributions()
    modules_of: dict[str, set[str]] = {}
    for module, owners in distributions.items():
        for owner in owners:
            modules_of.setdefault(canonical(owner), set()).add(module)
    todo = [canonical(owner) for name in names for owner in distributions.get(name, ())]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement.replace('"', "").replace("'", ""):
                continue
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match:
                todo.append(canonical(match[1]))
    found = set(names)
    for dist in seen:
        found |= {module for module in modules_of.get(dist, ()) if module.isidentifier()}
    return frozenset(found)


_DISTRIBUTIONS: dict[str, list[str]] = {}


def _packages_distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that install it, as Python 3.11's
    ``importlib.metadata.packages_distributions``: Python 3.10's reads only ``top_level.txt``,
    which newer wheels (torch's among them) no longer ship, so the installed files are read too."""
    import inspect
    from importlib import metadata

    if not _DISTRIBUTIONS:
        for dist in metadata.distributions():
            tops = (dist.read_text("top_level.txt") or "").split()
            if not tops:
                tops = {f.parts[0] if len(f.parts) > 1 else (inspect.getmodulename(str(f)) or str(f))
                        for f in dist.files or ()}  # PackagePath: the file's path in site-packages
                tops = [top for top in tops if "." not in top and top != "__pycache__"]
            for top in tops:
                _DISTRIBUTIONS.setdefault(top, []).append(dist.metadata["Name"])
    return _DISTRIBUTIONS
