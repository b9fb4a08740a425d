"""Every listed plausible mistake makes its task's public tests fail (instructor only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.instructor.mutation import ROOT, all_mutations, apply, run_edited_copy

MUTATIONS = all_mutations()


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[f"{Path(m.file).stem}:{m.task}:{m.why}" for m in MUTATIONS])
def test_mutation_is_caught(mutation, pristine, tmp_path):
    result = run_edited_copy(pristine, tmp_path, mutation.file, mutation.task, lambda text: apply(mutation, text))
    assert result.returncode == 1, (
        f"the public tests of {mutation.task} did not catch: {mutation.why}\n"
        f"(pytest exit {result.returncode})\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    )
    assert not mutation.named or mutation.named_by in result.stdout, (
        f"the public tests of {mutation.task} caught {mutation.why!r} but did not say {mutation.named_by!r}:\n"
        f"{result.stdout[-3000:]}"
    )


def test_each_task_has_three_mutations():
    from instructor.manifest import available, load

    for assignment in available():
        for task in load(assignment).tasks:
            if task.provided:
                continue
            count = sum(m.task == task.id for m in MUTATIONS)
            assert count >= 3, f"{assignment}: task {task.id} has {count} mutation checks, needs 3"
