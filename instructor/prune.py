"""Which code of a shared file belongs in one assignment's handout: the pruning rule of the release.

Several assignments share files (``train.py``, ``main.py``, ``gan.py``, the tests). A handout
holds only its own assignment: the release leaves out what belongs to other assignments and
everything that depends on it, so no handout ships another assignment's solution, not even as
provided code. The rule works on *units* of a Python file:

* each top-level statement (a function or class with its decorators, an assignment, an import),
  with the comment lines directly above it (no blank line between);
* each element of a top-level list, tuple or dict literal that is written on lines of its own
  (e.g. one ``Case(...)`` of ``CASES``, one entry of ``main.MODELS``).

A unit **belongs to** assignments when

1. it holds a solution block (``# BEGIN SOLUTION task``): the assignments whose manifests list
   that task;
2. it names a task in a test marker or a case: ``pytest.mark.task("id")`` or ``Case("id", ...)``,
   with the id as a string or a module-level constant; or it is such a constant (``TASK = "id"``);
3. it carries an explicit marker, a comment line ``# ASSIGNMENT: id [id ...]`` among the comment
   lines directly above it, for provided code only some assignments use (handouts never show
   the marker lines);
4. it is an entry of ``main.py``'s ``MODELS``: the assignments whose manifests list that model.

A unit that belongs to some assignments, but not to this one, is left out. So is every unit that
**uses** something left out: a name defined only by left-out units of the same file, ``mod.NAME``
or ``from mod import NAME`` of a left-out definition of another kit module, or a kit module the
handout does not ship. This repeats until nothing more goes (a definition whose only purpose was
another assignment's goes with it). ``from mod import a, b`` loses only the names that went.
A unit belonging to no assignment in particular is shared and stays.

Solution blocks of other assignments' tasks inside a unit this assignment keeps (a class with
methods graded in two assignments) become stubs; they are never kept as provided code. A block
whose task no manifest lists is an error, as is a unit to leave out that shares a line with one
to keep.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from instructor.blocks import PY_BEGIN

MARKER = re.compile(r"^[ \t]*# ASSIGNMENTS?: *(?P<ids>[\w.\- ,]+?)\s*$")
REGISTRY = ("main.py", "MODELS")  # the file and dict whose entries are models of the manifests


class PruneError(ValueError):
    """The sources cannot be pruned as the rule says; the message names the file and line."""


@dataclass
class Unit:
    """One piece of a file that is kept or left out as a whole."""

    file: str
    start: int  # first line (1-based), decorators and attached comments included
    end: int  # last line
    node: ast.AST
    defines: set[str] = field(default_factory=set)  # module-level names it binds
    owners: set[str] = field(default_factory=set)  # assignments it belongs to (empty: shared)
    imports: list[tuple[str, str, str]] = field(default_factory=list)  # top-level from-imports: (module, name, bound as)
    clean_edges: bool = True  # nothing else shares its first and last lines
    removed: bool = False
    dropped: set[str] = field(default_factory=set)  # bound names of ``imports`` that were left out

    def where(self) -> str:
        return f"{self.file}:{self.start}"


def module_of(path: str) -> str | None:
    """``tests/cases_gan.py`` -> ``tests.cases_gan``; None for a file that is not Python."""
    if not path.endswith(".py"):
        return None
    name = path[:-3].replace("/", ".")
    return name.removesuffix(".__init__")


def _task_of_call(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The task id a ``pytest.mark.task(X)`` or ``Case(X, ...)`` call names, if any."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in ("task", "Case"):
        return None
    arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "task"), None)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name):
        return constants.get(arg.id)
    return None


def _bound_names(node: ast.AST) -> set[str]:
    """Names a top-level statement binds in its module."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    names = set()
    for target in targets:
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _local_names(node: ast.AST) -> set[str]:
    """Names bound inside a unit's own scopes (arguments, assignments, loops, local imports)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub is not node:
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)) and sub is not node:
            names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
    return names


class FileUnits:
    """The units of one Python file and what they use."""

    def __init__(self, name: str, text: str, kit_modules: set[str]):
        self.name = name
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.module = module_of(name)
        try:
            self.tree = ast.parse(text, filename=name)
        except SyntaxError as error:
            raise PruneError(f"{name}:{error.lineno}: cannot parse ({error.msg})") from None
        self.kit_modules = kit_modules
        self.constants = {
            target.id: node.value.value
            for node in self.tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)
        }
        self.module_aliases = {}  # local name -> kit module, from ``import mod`` anywhere in the file
        for sub in ast.walk(self.tree):
            if isinstance(sub, ast.Import):
                for alias in sub.names:
                    if alias.name in kit_modules and (alias.asname or "." not in alias.name):
                        self.module_aliases[alias.asname or alias.name] = alias.name
        self.units: list[Unit] = []
        for node in self.tree.body:
            unit = self._unit(node)
            elements = self._elements(node)
            if elements:  # the statement itself is only its target: each element is judged alone
                unit.node = node.targets[0] if isinstance(node, ast.Assign) else node.target
                unit.container = True
            self.units.append(unit)
            self.units.extend(elements)

    # -- building units ---------------------------------------------------------------------

    def _attached_start(self, first: int) -> int:
        """The first line of the comment lines directly above line ``first``."""
        start = first
        while start > 1 and self.lines[start - 2].lstrip().startswith("#") and not PY_BEGIN.match(self.lines[start - 2]):
            start -= 1
        return start

    def _comment_end(self, node: ast.stmt) -> int:
        """The last line of a statement, with the indented comments that close its body
        (``# END SOLUTION`` after a function's last statement)."""
        end = number = node.end_lineno
        while number < len(self.lines):
            line = self.lines[number]
            number += 1
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            if not line.lstrip().startswith("#") or indent <= node.col_offset:
                break
            end = number
        return end

    def _unit(self, node: ast.stmt) -> Unit:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        unit = Unit(self.name, self._attached_start(first), self._comment_end(node), node, defines=_bound_names(node))
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            unit.imports = [(node.module or "", a.name, a.asname or a.name) for a in node.names]
        return unit

    def _elements(self, node: ast.stmt) -> list[Unit]:
        """Units for the elements of a top-level list, tuple or dict literal, one per element."""
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.List, ast.Tuple)):
            pieces = [(element, element) for element in value.elts]
        elif isinstance(value, ast.Dict) and None not in value.keys:
            pieces = list(zip(value.keys, value.values))
        else:
            return []
        units = []
        for first, last in pieces:
            start, end = first.lineno, last.end_lineno
            before = self.lines[start - 1][:first.col_offset]
            after = self.lines[end - 1][last.end_col_offset:].strip()
            clean = not before.strip() and (after in ("", ",") or after.startswith(("#", ", #", ",  #")))
            unit = Unit(self.name, self._attached_start(start) if clean else start, end, last, clean_edges=clean)
            unit.key = first  # the dict key (or the element itself)
            units.append(unit)
        if isinstance(value, ast.Dict) and (self.name, _target_name(node)) == REGISTRY:
            for unit in units:
                unit.registry = unit.key.value if isinstance(unit.key, ast.Constant) else None
        return units

    # -- what units use -----------------------------------------------------------------------

    def tasks_in(self, unit: Unit) -> set[str]:
        """Task ids of the solution blocks and of the task markers and cases inside a unit."""
        tasks = set()
        for number in range(unit.start, unit.end + 1):
            begin = PY_BEGIN.match(self.lines[number - 1])
            if begin and not getattr(unit, "container", False):
                tasks.add(begin["task"])
        for sub in ast.walk(unit.node):
            if isinstance(sub, ast.Call):
                task = _task_of_call(sub, self.constants)
                if task:
                    tasks.add(task)
        node = unit.node
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            tasks.add(node.value.value)  # TASK = "id": a task's name for its tests (kept if not a task id)
        return tasks

    def marked_owners(self, unit: Unit) -> set[str]:
        """Assignment ids of ``# ASSIGNMENT:`` comment lines attached above a unit."""
        owners = set()
        for number in range(unit.start, unit.end + 1):
            if self.lines[number - 1].strip() and not self.lines[number - 1].lstrip().startswith("#"):
                break  # only the comment lines above the code
            found = MARKER.match(self.lines[number - 1])
            if found:
                owners |= set(found["ids"].replace(",", " ").split())
        return owners

    def references(self, unit: Unit) -> tuple[set[str], set[tuple[str, str]]]:
        """What a unit uses: free names of this module, and (kit module, name) pairs
        (``name`` is "*" for a whole module it imports)."""
        if hasattr(unit, "uses"):
            return unit.uses
        node = unit.node
        local = _local_names(node) if not unit.imports else set()
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local
        module_aliases = self.module_aliases
        pairs = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in module_aliases:
                pairs.add((module_aliases[sub.value.id], sub.attr))
            elif isinstance(sub, ast.Import) and sub is not node:
                pairs |= {(a.name, "*") for a in sub.names if a.name in self.kit_modules}
            elif isinstance(sub, ast.ImportFrom) and sub is not node and sub.level == 0 and sub.module in self.kit_modules:
                pairs |= {(sub.module, a.name) for a in sub.names}
        if isinstance(node, ast.Import):
            pairs |= {(a.name, "*") for a in node.names if a.name in self.kit_modules}
        unit.uses = (names, pairs)
        return unit.uses

    def kept_names(self) -> set[str]:
        names = set()
        for unit in self.units:
            if not unit.removed:
                names |= unit.defines - unit.dropped
        return names

    def removed_names(self) -> set[str]:
        gone = set()
        for unit in self.units:
            gone |= unit.defines if unit.removed else unit.dropped
        return gone - self.kept_names()

    # -- the result ---------------------------------------------------------------------------

    def pruned_text(self) -> str:
        drop: set[int] = set()
        replace: dict[int, str] = {}
        for unit in self.units:
            if unit.removed:
                drop |= set(range(unit.start, unit.end + 1))
                after = unit.end + 1  # and the blank lines that separated it from what follows
                while after <= len(self.lines) and not self.lines[after - 1].strip() and unit.start > 1 \
                        and not self.lines[unit.start - 2].strip():
                    drop.add(after)
                    after += 1
            elif unit.dropped:
                node = unit.node
                kept = [a for a in node.names if (a.asname or a.name) not in unit.dropped]
                indent = self.lines[node.lineno - 1][:node.col_offset]
                names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in kept)
                replace[node.lineno] = f"{indent}from {node.module} import {names}\n"
                drop |= set(range(node.lineno + 1, node.end_lineno + 1))
        drop |= {number for number, line in enumerate(self.lines, start=1) if MARKER.match(line)}  # instructor-only
        out = []
        for number, line in enumerate(self.lines, start=1):
            if number in replace:
                out.append(replace[number])
            elif number not in drop:
                out.append(line)
        return "".join(out)


def _target_name(node: ast.stmt) -> str | None:
    target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
    return target.id if isinstance(target, ast.Name) else None


@dataclass
class Pruned:
    """The pruned text of every shipped Python file, and what was left out (for messages)."""

    texts: dict[str, str]
    left_out: list[str]  # "file:line name" of each unit left out


def prune(assignment: str, files: dict[str, str], task_owners: dict[str, set[str]],
          model_owners: dict[str, set[str]], kit_modules: set[str]) -> Pruned:
    """Leave out of ``files`` (shipped name -> instructor text) what ``assignment`` must not hold.

    Args:
        assignment: the handout's assignment id.
        files: every file the handout ships, by path; only ``.py`` files are pruned.
        task_owners: task id -> the assignments whose manifests list it.
        model_owners: model name -> the assignments whose manifests list it.
        kit_modules: dotted names of every Python module of the kit (shipped or not).
    """
    known = set().union(*task_owners.values(), *model_owners.values(), {assignment})
    parsed = {name: FileUnits(name, text, kit_modules) for name, text in files.items() if name.endswith(".py")}
    shipped = {f.module: f for f in parsed.values()}

    for source in parsed.values():
        for unit in source.units:
            tasks = source.tasks_in(unit)
            for number in range(unit.start, unit.end + 1):
                begin = PY_BEGIN.match(source.lines[number - 1])
                if begin and begin["task"] not in task_owners:
                    raise PruneError(f"{source.name}:{number}: solution block of task {begin['task']!r}, which no "
                                     f"manifest lists: add it to its assignment's [[tasks]]")
            unit.owners = set().union(*(task_owners.get(task, set()) for task in tasks))
            marked = source.marked_owners(unit)
            unknown = marked - known
            if unknown:
                raise PruneError(f"{unit.where()}: # ASSIGNMENT names unknown assignments {sorted(unknown)}")
            unit.owners |= marked
            registry = getattr(unit, "registry", False)
            if registry is not False:
                unit.owners = model_owners.get(registry, set()) or {"(no manifest lists this model)"}

    def gone(module: str, name: str) -> bool:
        if module not in kit_modules:
            return False
        if module not in shipped:
            return True
        return name != "*" and name in shipped[module].removed_names()

    changed = True
    while changed:
        changed = False
        for source in parsed.values():
            removed_here = source.removed_names()
            for unit in source.units:
                if unit.removed:
                    continue
                if unit.owners and assignment not in unit.owners:
                    unit.removed = changed = True
                    continue
                if unit.imports:
                    dropped = {bound for module, name, bound in unit.imports if gone(module, name)}
                    if dropped != unit.dropped:
                        unit.dropped, changed = dropped, True
                        if dropped >= {bound for _, _, bound in unit.imports}:
                            unit.removed = True
                    continue
                names, pairs = source.references(unit)
                if names & removed_here or any(gone(module, name) for module, name in pairs):
                    unit.removed = changed = True
                    removed_here = source.removed_names()

    left_out = []
    for source in parsed.values():
        for unit in source.units:
            if unit.removed and not unit.clean_edges:
                raise PruneError(f"{unit.where()}: this element belongs to another assignment's handout, but "
                                 f"shares a line with its neighbours: put it on lines of its own")
            if unit.removed:
                names = ", ".join(sorted(unit.defines)) or ast.get_source_segment(source.text, unit.node)[:40].split("\n")[0]
                left_out.append(f"{unit.where()} {names}")
    texts = dict(files)
    texts.update({name: source.pruned_text() for name, source in parsed.items()})
    return Pruned(texts=texts, left_out=left_out)
