"""Import policy of submitted files, checked on their source (AST) before anything runs.

A submitted file may import the standard library, the libraries the assignment's manifest allows
(``allowed_imports``), and the kit's own modules of the handout. A few parts of the standard
library have no use in graded numerical code and are the tools of attacks on the grader (network,
processes, native code, signals, the import machinery), so they are refused too, as are calls that
import or run code built at run time (``__import__``, ``exec``, ``eval``). This is a first line of
defence that gives a clear message; the sandbox contains whatever gets past it.

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
DYNAMIC_CALLS = frozenset({"__import__", "exec", "eval"})


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


def check_source(file: str, source: str, *, allowed: frozenset[str], kit_modules: frozenset[str]) -> list[Violation]:
    """Every policy violation in one file's source (a syntax error is one violation)."""
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
