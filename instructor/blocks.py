"""Solution blocks: find them in the instructor's source and turn them into stubs.

In Python files a graded body sits between two comment lines::

    # BEGIN SOLUTION compute_gradient_penalty
    ...reference code...
    # END SOLUTION

The release replaces the block with one line, at the block's indentation::

    raise NotImplementedError("compute_gradient_penalty: not implemented yet ...")

A line inside the block of the form ``# STUB: <code>`` is kept in the stub, uncommented
(before the ``raise``), for what the student's version must still define, e.g.
``# STUB: self.layers = None``.

In Markdown files a worked answer sits between ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->``; the release removes it and leaves a short answer prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PY_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<task>[A-Za-z_][\w.\-]*)\s*$")
PY_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
PY_STUB = re.compile(r"^[ \t]*# STUB: (?P<code>.*)$")
MD_BEGIN = re.compile(r"^\s*<!-- BEGIN SOLUTION -->\s*$")
MD_END = re.compile(r"^\s*<!-- END SOLUTION -->\s*$")

MD_PLACEHOLDER = "*Your answer here.*"


class BlockError(ValueError):
    """A malformed solution block (unclosed, nested, or an END without a BEGIN)."""


def stub_message(task: str) -> str:
    """The text of the NotImplementedError a stub raises: it names the task."""
    return f"{task}: not implemented yet (task '{task}'; read the docstring above)"


@dataclass
class Stripped:
    """The result of stripping one file."""

    text: str
    tasks: list[str] = field(default_factory=list)  # task ids of the blocks found, in order
    solution_lines: list[str] = field(default_factory=list)  # every line removed


def strip_python(source: str, path: str = "<source>", keep: frozenset[str] = frozenset()) -> Stripped:
    """Replace every solution block whose task is not in ``keep`` by its stub.

    Blocks of tasks in ``keep`` (tasks provided in this handout) lose only their marker lines.
    """
    out: list[str] = []
    result = Stripped(text="")
    inside: re.Match | None = None
    start_line = 0
    kept_stub: list[str] = []
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = PY_BEGIN.match(line), PY_END.match(line)
        if begin:
            if inside:
                raise BlockError(f"{path}:{number}: BEGIN SOLUTION inside the block opened on line {start_line}")
            inside, start_line, kept_stub = begin, number, []
            result.tasks.append(begin["task"])
            continue
        if end:
            if not inside:
                raise BlockError(f"{path}:{number}: END SOLUTION without a BEGIN SOLUTION")
            task, indent = inside["task"], inside["indent"]
            if task not in keep:
                out.extend(f"{indent}{code}\n" for code in kept_stub)
                out.append(f"{indent}raise NotImplementedError({stub_message(task)!r})\n")
            inside = None
            continue
        if inside:
            stub = PY_STUB.match(line)
            if stub:
                kept_stub.append(stub["code"])
                if inside["task"] in keep:
                    continue  # the provided version has the real code instead
            elif inside["task"] not in keep:
                result.solution_lines.append(line.rstrip("\n"))
                continue
        out.append(line)
    if inside:
        raise BlockError(f"{path}:{start_line}: SOLUTION block for {inside['task']} is never closed")
    result.text = "".join(out)
    return result


def strip_markdown(source: str, path: str = "<source>") -> Stripped:
    """Remove every worked answer, leaving a short prompt in its place."""
    out: list[str] = []
    result = Stripped(text="")
    inside_from = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if MD_BEGIN.match(line):
            if inside_from:
                raise BlockError(f"{path}:{number}: BEGIN SOLUTION inside the block opened on line {inside_from}")
            inside_from = number
            out.append(MD_PLACEHOLDER + "\n")
            continue
        if MD_END.match(line):
            if not inside_from:
                raise BlockError(f"{path}:{number}: END SOLUTION without a BEGIN SOLUTION")
            inside_from = 0
            continue
        if inside_from:
            result.solution_lines.append(line.rstrip("\n"))
            continue
        out.append(line)
    if inside_from:
        raise BlockError(f"{path}:{inside_from}: SOLUTION block is never closed")
    result.text = "".join(out)
    return result


def strip_file(path: str, source: str, keep: frozenset[str] = frozenset()) -> Stripped:
    """Strip a file by its kind: Python blocks in ``.py``, answers in ``.md``, else unchanged."""
    if path.endswith(".py"):
        return strip_python(source, path, keep)
    if path.endswith(".md"):
        return strip_markdown(source, path)
    return Stripped(text=source)


def is_distinctive(line: str) -> bool:
    """Whether a removed line is specific enough that finding it in a handout means a leak.

    Blank lines, lone brackets and very short statements (``return x``, ``else:``) occur in any
    code, so they are not evidence of a leak.
    """
    text = line.strip()
    return len(text) >= 12 and any(ch.isalnum() for ch in text)
