"""Assignment manifests: ``assignments/<id>.toml`` (tasks, points, files, written questions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from instructor import ROOT

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the same parser, installed as tomli (requirements.txt)
    import tomli as tomllib

ASSIGNMENT_DIR = ROOT / "assignments"


@dataclass(frozen=True)
class Task:
    id: str  # the task id of the solution block(s), test markers and the stub's error
    file: str  # the file holding its solution block(s)
    points: float
    title: str = ""
    provided: bool = False  # a task this assignment gives away: its solution stays in the handout


@dataclass(frozen=True)
class Written:
    id: str  # the question's id in its topic file (<!-- QUESTION id -->)
    file: str  # the topic file under written/
    points: float = 0


@dataclass(frozen=True)
class Manifest:
    id: str
    title: str
    models: tuple[str, ...] = ()
    submit: tuple[str, ...] = ()
    allowed_imports: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    written: tuple[Written, ...] = ()
    extra: dict = field(default_factory=dict)  # keys this loader does not interpret

    @property
    def points(self) -> float:
        return sum(task.points for task in self.tasks if not task.provided)

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(f"{self.id} has no task {task_id!r}; its tasks: {', '.join(t.id for t in self.tasks)}")


def available() -> list[str]:
    """Ids of every assignment with a manifest, sorted."""
    return sorted(path.stem for path in ASSIGNMENT_DIR.glob("*.toml"))


def load(assignment: str) -> Manifest:
    """The manifest of one assignment; a clear error listing the valid ids for an unknown one."""
    path = ASSIGNMENT_DIR / f"{assignment}.toml"
    if not path.exists():
        raise SystemExit(f"unknown assignment {assignment!r}; valid choices: {', '.join(available())}")
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    known = {"id", "title", "models", "submit", "allowed_imports", "files", "tasks", "written"}
    if data.get("id") != assignment:
        raise SystemExit(f"{path}: its id is {data.get('id')!r}, expected {assignment!r}")
    return Manifest(
        id=data["id"],
        title=data.get("title", ""),
        models=tuple(data.get("models", ())),
        submit=tuple(data.get("submit", ())),
        allowed_imports=tuple(data.get("allowed_imports", ())),
        files=tuple(data.get("files", ())),
        tasks=tuple(Task(**task) for task in data.get("tasks", ())),
        written=tuple(Written(**item) for item in data.get("written", ())),
        extra={key: value for key, value in data.items() if key not in known},
    )
