"""Fixtures of the instructor suite."""

from __future__ import annotations

import pytest

from tests.instructor.mutation import copy_kit


@pytest.fixture(scope="session")
def pristine(tmp_path_factory):
    """One untouched copy of the kit per test session, for tests that edit copies of it."""
    return copy_kit(tmp_path_factory.mktemp("kit") / "kit")
