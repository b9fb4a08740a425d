"""Helpers for the written-answer tests: the printed numbers must be the computed ones.

Each ``written/calc_<topic>.py`` computes the numbers its answers print, formatted as printed.
A test checks that (1) every computed string appears in the answer, and (2) every decimal number
the answer prints is one of the computed ones, so no hand-typed value slips in.
"""

from __future__ import annotations

import re

from instructor import written
from instructor.blocks import strip_markdown

DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+")
# Question numbers are not values: "1.1.2", "question 1.3", "(1.3)".
SECTION = re.compile(r"\d+(?:\.\d+){2,}|(?i:question|section|part|§)\s*\d+(?:\.\d+)+|\(\d+\.\d+\)")


def answer(file: str, question_id: str) -> str:
    """The worked answer(s) of one question: the lines inside its solution blocks."""
    text = written.questions(file)[question_id]
    return "\n".join(strip_markdown(text, f"{file}:{question_id}").solution_lines)


def question(file: str, question_id: str) -> str:
    """The question as students see it (answers replaced by the prompt)."""
    return strip_markdown(written.questions(file)[question_id]).text


def decimals(text: str) -> set[str]:
    return set(DECIMAL.findall(SECTION.sub(" ", text)))


def check_numbers(text: str, expected: dict[str, str] | list[str], where: str) -> None:
    """Every expected string is in ``text``; every decimal in ``text`` comes from an expected string."""
    values = list(expected.values()) if isinstance(expected, dict) else list(expected)
    missing = [value for value in values if value not in text]
    assert not missing, f"{where}: computed values not printed as expected: {missing}"
    allowed = set().union(*(decimals(value) for value in values)) if values else set()
    stray = sorted(decimals(text) - allowed)
    assert not stray, f"{where}: decimal numbers not computed by the calc module: {stray}"
