"""Instructor tools: build handouts, regenerate reference values, grade submissions.

Never shipped to students. Run as ``python -m instructor COMMAND``; see ``--help``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the instructor's copy of the kit
