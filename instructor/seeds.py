"""``python -m instructor seed ASSIGNMENT``: the secret seed of an assignment's hidden cases.

The grader draws every hidden case's inputs from one secret seed per assignment
(:func:`instructor.worker.hidden_seed`), so a regrade, a second TA's machine and Gradescope all
give a submission the same score, and two students with the same bug the same grade. The seed is
drawn the first time it is needed and kept in ``grading-secrets/<assignment>.seed`` at the root
of the instructor's copy: git-ignored, never copied into a handout, copied into the Gradescope
zip when it is built. Draw a new one for a new term (``--new``): last term's hidden inputs may
have circulated. ``grade --seed N`` overrides it for one run.

Reports never show the seed, only its *fingerprint*: a short hash that tells whether two
gradings used the same seed and says nothing about the seed itself.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from pathlib import Path

from instructor import ROOT

SECRETS_DIR = ROOT / "grading-secrets"  # git-ignored; the release never reads it


def path(assignment: str, folder: Path | None = None) -> Path:
    return Path(folder or SECRETS_DIR) / f"{assignment}.seed"


def fingerprint(seed: int) -> str:
    """12 hex digits naming the seed: equal for equal seeds, and no help in guessing it."""
    return hashlib.sha256(f"hidden-case seed fingerprint/{int(seed)}".encode()).hexdigest()[:12]


def read(assignment: str, folder: Path | None = None) -> int | None:
    """The kept seed, or None when there is none yet; a clear error when the file is damaged."""
    file = path(assignment, folder)
    if not file.exists():
        return None
    lines = [line.strip() for line in file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    try:
        (value,) = lines
        return int(value)
    except ValueError:
        raise SystemExit(f"{file}: expected one line with the seed (an integer); restore it from your backup, "
                         f"or draw a new one with `python -m instructor seed {assignment} --new` "
                         f"(scores of hidden cases will then differ from earlier gradings)") from None


def write(assignment: str, seed: int, folder: Path | None = None) -> Path:
    """Keep ``seed`` as the assignment's secret (readable by its owner only)."""
    file = path(assignment, folder)
    file.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(file.parent, 0o700)
    text = (f"# Secret seed of the hidden grading cases of {assignment}, drawn {datetime.date.today()}.\n"
            f"# Keep it private and keep it all term: every grading of {assignment} uses it.\n"
            f"# For a new term: python -m instructor seed {assignment} --new\n"
            f"{int(seed)}\n")
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return file


def draw() -> int:
    return secrets.randbits(63)


def load_or_draw(assignment: str, folder: Path | None = None, log=print) -> int:
    """The assignment's kept seed, drawn and kept now if it has none."""
    seed = read(assignment, folder)
    if seed is None:
        seed = draw()
        file = write(assignment, seed, folder)
        log(f"drew the hidden-case seed of {assignment} (fingerprint {fingerprint(seed)}) and kept it in {file}: "
            f"keep that file private and keep it all term")
    return seed


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment id (a file name in assignments/ without .toml)")
    parser.add_argument("--new", action="store_true",
                        help="draw a new seed (a new term): hidden cases, and so their scores, change")


def run(args) -> int:
    from instructor.manifest import load

    manifest = load(args.assignment)
    old = read(manifest.id)
    if args.new or old is None:
        if old is not None:  # kept, so that last term's grades can still be reproduced with --seed
            path(manifest.id).rename(path(manifest.id).with_suffix(f".{fingerprint(old)}.old"))
        seed = draw()
        file = write(manifest.id, seed)
        was = f" (was {fingerprint(old)})" if old is not None else ""
        print(f"{manifest.id}: new hidden-case seed, fingerprint {fingerprint(seed)}{was}, kept in {file}")
    else:
        print(f"{manifest.id}: hidden-case seed fingerprint {fingerprint(old)}, kept in {path(manifest.id)}")
    return 0
