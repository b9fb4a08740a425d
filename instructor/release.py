"""``python -m instructor release ASSIGNMENT --out DIR``: build a student handout.

The handout holds the manifest's files with every graded solution block replaced by its stub,
the reference values of the public tests it ships, the assignment's written questions without
their answers, and a README written for students. Instructor-only tests, other assignments'
manifests and every written answer stay behind. ``--solutions`` builds the same tree with the
solutions kept (what the release tests and the grader compare against).

A handout holds only its own assignment. Shared files are pruned first (``instructor/prune.py``
states the rule): definitions, tests, cases and ``main.MODELS`` entries that belong to other
assignments are left out, with everything that uses them, and the stored reference values keep
only the cases of this assignment's tasks. Then every solution block left is stubbed, except
those of this assignment's ``provided`` tasks (and of all its tasks with ``--solutions``); another
assignment's solution is never kept, not even as provided code.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from instructor import ROOT
from instructor.blocks import PY_BEGIN, is_distinctive, strip_file
from instructor.manifest import Manifest, available, load
from instructor.prune import PruneError, module_of, prune


class ReleaseError(RuntimeError):
    """The manifest and the sources disagree; the message says where."""


@dataclass
class Handout:
    """What a build produced, for the caller's checks."""

    root: Path
    manifest: Manifest
    files: list[str] = field(default_factory=list)
    # every line the build removed, by the file it was removed from
    solution_lines: dict[str, list[str]] = field(default_factory=dict)
    # "file:line names" of each definition left out as another assignment's (see prune.py)
    left_out: list[str] = field(default_factory=list)


def _reference_files(files: tuple[str, ...]) -> list[str]:
    """The stored reference values of every case module the handout ships."""
    found = []
    for name in files:
        path = Path(name)
        if path.parent == Path("tests") and path.name.startswith("cases_"):
            found.append(f"tests/reference/{path.stem.removeprefix('cases_')}.npz")
    return found


def student_readme(manifest: Manifest, has_written: bool) -> str:
    """The handout's README: set-up, what to implement, how to test and what to submit.

    Sections an assignment has nothing for (no code tasks yet, no models) are left out.
    """
    tasks = [task for task in manifest.tasks if not task.provided]
    parts = [f"# {manifest.title}\n"]
    if tasks:
        parts.append("```\npip install -r requirements.txt\npytest\n```\n")
    if manifest.models:
        models = ", ".join(f"`{m}`" for m in manifest.models)
        parts.append(f"Then train a model and make the figures for your report, e.g. "
                     f"`python main.py --model {manifest.models[0]}` (models of this assignment: {models}; "
                     f"`python main.py --help` lists every option).\n")
    if tasks:
        rows = "\n".join(f"| `{t.id}` | `{t.file}` | {t.points:g} | {t.title} |" for t in tasks)
        parts.append(f"""## What to implement

Each graded function raises `NotImplementedError` naming its task until you implement it. Its
docstring is the full specification: shapes, formula, reduction.

| task | file | points | what |
|---|---|---|---|
{rows}

Run one task's public tests with `pytest --task TASK` (or `pytest -m TASK`). Passing the public
tests is necessary, not sufficient: the grader also runs hidden cases with other shapes and values.
""")
    if has_written:
        parts.append(f"## Written questions\n\nThey are in `written/{manifest.id}.md`.\n")
    if manifest.submit:
        allowed = ", ".join(manifest.allowed_imports) or "nothing else"
        narrower = "".join(f" `{file}` may use only the standard library and "
                           f"{', '.join(rules.get('allowed_imports', ())) or 'nothing else'}."
                           for file, rules in sorted(manifest.extra.get("policy", {}).items()))
        parts.append(f"""## What to submit

Only these files: {", ".join(f"`{name}`" for name in manifest.submit)}. Everything else is replaced by
the original handout when grading. Use only the standard library, the kit's own modules and
{allowed}.{narrower} The grader enforces this while your code runs, whatever way a module is
reached (another module's attribute, `sys.modules`, `importlib`, `pickle`, ...): code that uses
something it may not use loses the tasks of its file. For the same reason graded code may not
call `exec`, `eval`, `compile` or `__import__`, under any name. Save your files as UTF-8 with
no other encoding declared.
""")
    return "\n".join(parts)


def build(assignment: str, out: Path, *, solutions: bool = False, force: bool = False) -> Handout:
    """Build the handout of ``assignment`` into ``out`` and return what was built.

    Raises ReleaseError when ``out`` is not empty (unless ``force``), when a listed file is
    missing, or when a task of the manifest has no solution block in its file.
    """
    manifest = load(assignment)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out} is not empty; choose a new folder or pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    handout = Handout(root=out, manifest=manifest)
    own = {task.id for task in manifest.tasks}
    keep = own if solutions else {task.id for task in manifest.tasks if task.provided}
    found_tasks: dict[str, set[str]] = {}

    texts = {}
    for name in manifest.files:
        source = ROOT / name
        if not source.exists():
            raise ReleaseError(f"{assignment}: listed file {name} does not exist")
        texts[name] = source.read_text()
    task_owners, model_owners = owners()
    try:
        pruned = prune(assignment, texts, task_owners, model_owners, kit_modules())
    except PruneError as error:
        raise ReleaseError(f"{assignment}: {error}") from None
    handout.left_out = pruned.left_out

    for name in manifest.files:
        text = pruned.texts[name]
        tasks = {m["task"] for line in text.splitlines() if (m := PY_BEGIN.match(line))}
        stripped = strip_file(name, text, keep=frozenset(tasks & keep))
        found_tasks[name] = set(stripped.tasks)
        handout.solution_lines[name] = stripped.solution_lines
        _write(out / name, stripped.text)
        handout.files.append(name)

    for task in manifest.tasks:
        if task.id not in found_tasks.get(task.file, set()):
            raise ReleaseError(f"{assignment}: task {task.id} has no solution block in {task.file}")

    for name in _reference_files(manifest.files):
        if not (ROOT / name).exists():
            raise ReleaseError(f"{name} is missing: run `python -m instructor references`")
        _write_references(ROOT / name, out / name, own)
        handout.files.append(name)

    _write(out / f"assignments/{manifest.id}.toml", (ROOT / f"assignments/{manifest.id}.toml").read_text())
    handout.files.append(f"assignments/{manifest.id}.toml")

    has_written = bool(manifest.written)
    if has_written:
        from instructor import written

        text = written.answer_key(manifest) if solutions else written.assemble(manifest)
        _write(out / "written" / f"{manifest.id}.md", text)
        handout.files.append(f"written/{manifest.id}.md")
        for image in written.images(text):  # figures of the worked answers: the answer key only
            source = ROOT / "written" / image
            if not source.exists():
                raise ReleaseError(f"written/{image}, shown in the answers of {manifest.id}, does not exist")
            _copy(source, out / "written" / image)
            handout.files.append(f"written/{image}")
        if not solutions:
            key = written.answer_key(manifest)
            shown = set(text.splitlines())
            handout.solution_lines["written answers"] = [line for line in key.splitlines() if line not in shown]

    _write(out / "README.md", student_readme(manifest, has_written))
    handout.files.append("README.md")
    _write(out / ".gitignore", (ROOT / ".gitignore").read_text())
    return handout


def owners() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Task id -> the assignments whose manifests list it; model name -> likewise."""
    tasks: dict[str, set[str]] = {}
    models: dict[str, set[str]] = {}
    for assignment in available():
        manifest = load(assignment)
        for task in manifest.tasks:
            tasks.setdefault(task.id, set()).add(manifest.id)
        for model in manifest.models:
            models.setdefault(model, set()).add(manifest.id)
    return tasks, models


def kit_modules() -> set[str]:
    """Dotted names of the kit's own Python modules (shipped in some handout or not)."""
    paths = [*ROOT.glob("*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("instructor/*.py"),
             *ROOT.glob("bench/*.py"), *ROOT.glob("written/*.py")]
    names = {module_of(str(path.relative_to(ROOT))) for path in paths}
    return names | {"tests", "instructor"}


def _write_references(source: Path, target: Path, tasks: set[str]) -> None:
    """Copy a reference file, keeping only the values of cases of ``tasks``."""
    import numpy as np

    from tests.harness import load_cases

    module = source.stem
    case_tasks = {case.name: case.task for case in load_cases(module)}
    target.parent.mkdir(parents=True, exist_ok=True)
    with np.load(source, allow_pickle=False) as stored:
        kept = {key: stored[key] for key in stored.files if case_tasks.get(key.split("/", 1)[0]) in tasks}
        everything = len(kept) == len(stored.files)
    if everything:
        _copy(source, target)  # nothing to leave out: the file as generated
    else:
        np.savez_compressed(target, **kept)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def leaks(handout: Handout) -> list[str]:
    """Every distinctive removed line found anywhere in the handout, as 'file: line'.

    A solution line that also appears in the provided code of its *own* file (a check written
    twice, say ``if cls_token is None:``) was never hidden, so only appearances in other files
    count there: a test or a written question repeating a solution is a leak.
    """
    removed: dict[str, set[str]] = {}  # line -> files it was removed from
    for source, lines in handout.solution_lines.items():
        for line in lines:
            if is_distinctive(line):
                removed.setdefault(line.strip(), set()).add(source)
    found = []
    for path in sorted(handout.root.rglob("*")):
        if not path.is_file() or path.suffix in (".npz", ".pdf", ".png"):
            continue
        name = str(path.relative_to(handout.root))
        for line in path.read_text(errors="replace").splitlines():
            sources = removed.get(line.strip(), set())
            if sources - {name}:
                found.append(f"{name}: {line.strip()} (a solution line of {', '.join(sorted(sources))})")
    return found


def solution_texts() -> dict[str, tuple[set[str], set[str]]]:
    """Every instructor file with solutions: path -> (its solution lines, its public lines).

    Python files of the kit and the written topic files; lines are stripped of indentation.
    """
    paths = [*ROOT.glob("*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("written/*.md")]
    found = {}
    for path in paths:
        text = path.read_text()
        if "BEGIN SOLUTION" not in text:
            continue
        name = str(path.relative_to(ROOT))
        stripped = strip_file(name, text)
        found[name] = ({line.strip() for line in stripped.solution_lines},
                       {line.strip() for line in stripped.text.splitlines()})
    return found


def foreign_leaks(handout: Handout) -> list[str]:
    """Lines of any solution block of any assignment found in the handout, as 'file: line'.

    A line counts unless it is also public in the instructor's version of the same file (code
    written twice, once inside a block and once outside, was never hidden) or, for the written
    questions, in any topic file, or belongs to a task this assignment provides.
    """
    sources = solution_texts()
    provided = {task.id for task in handout.manifest.tasks if task.provided}
    allowed_everywhere: set[str] = set()
    for name in {task.file for task in handout.manifest.tasks if task.provided}:
        text = (ROOT / name).read_text()
        kept = strip_file(name, text, keep=frozenset(provided)).text
        allowed_everywhere |= {line.strip() for line in kept.splitlines()}
    secret: dict[str, set[str]] = {}
    for name, (solution, _) in sources.items():
        for line in solution:
            if is_distinctive(line):
                secret.setdefault(line, set()).add(name)
    written_public = set().union(*(public for name, (_, public) in sources.items() if name.endswith(".md")))
    found = []
    for path in sorted(handout.root.rglob("*")):
        if not path.is_file() or path.suffix in (".npz", ".pdf", ".png"):
            continue
        name = str(path.relative_to(handout.root))
        public = sources[name][1] if name in sources else set()
        if (ROOT / name).exists() and name not in sources:
            public = {line.strip() for line in (ROOT / name).read_text().splitlines()}
        if name.endswith(".md"):
            public = public | written_public
        for line in path.read_text(errors="replace").splitlines():
            text = line.strip()
            if text in secret and text not in public and text not in allowed_everywhere:
                found.append(f"{name}: {text} (a solution line of {', '.join(sorted(secret[text]))})")
    return found


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment id (a file name in assignments/ without .toml)")
    parser.add_argument("--out", required=True, type=Path, help="folder to build the handout in")
    parser.add_argument("--solutions", action="store_true", help="keep the solutions (for TAs and tests)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")


def run(args) -> int:
    try:
        handout = build(args.assignment, args.out, solutions=args.solutions, force=args.force)
    except ReleaseError as error:
        print(f"error: {error}")
        return 1
    problems = [] if args.solutions else leaks(handout) + foreign_leaks(handout)
    if problems:
        print("error: solution lines leaked into the handout:\n  " + "\n  ".join(problems))
        return 1
    tasks = [t for t in handout.manifest.tasks if not t.provided]
    print(f"built {handout.manifest.id} in {handout.root}: {len(handout.files)} files, "
          f"{len(tasks)} graded tasks ({handout.manifest.points:g} points)"
          + ("" if args.solutions else ", solutions stripped")
          + (f", {len(handout.left_out)} definitions of other assignments left out" if handout.left_out else ""))
    return 0
