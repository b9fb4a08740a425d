"""Every listed plausible mistake makes its task's public tests fail (instructor only)."""

from __future__ import annotations

import importlib
import shutil

import pytest

from tests.instructor.mutation import ROOT, Mutation, apply, copy_kit, run_task_tests


def all_mutations() -> list[Mutation]:
    found: list[Mutation] = []
    for path in sorted((ROOT / "tests" / "instructor").glob("mutations_*.py")):
        found += importlib.import_module(f"tests.instructor.{path.stem}").MUTATIONS
    return found


MUTATIONS = all_mutations()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return copy_kit(tmp_path_factory.mktemp("kit") / "kit")


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[f"{m.task}:{m.why}" for m in MUTATIONS])
def test_mutation_is_caught(mutation, pristine, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(pristine, kit)
    apply(mutation, kit)
    result = run_task_tests(kit, mutation)
    assert result.returncode == 1, (
        f"the public tests of {mutation.task} did not catch: {mutation.why}\n"
        f"(pytest exit {result.returncode})\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    )


def test_each_task_has_three_mutations():
    import tomllib

    for manifest in sorted((ROOT / "assignments").glob("*.toml")):
        tasks = tomllib.loads(manifest.read_text()).get("tasks", [])
        for task in tasks:
            if task.get("provided"):
                continue
            count = sum(m.task == task["id"] for m in MUTATIONS)
            assert count >= 3, f"{manifest.stem}: task {task['id']} has {count} mutation checks, needs 3"
