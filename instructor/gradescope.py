"""``python -m instructor gradescope ASSIGNMENT``: the Gradescope autograder zip of an assignment.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds the
image, then ``/autograder/run_autograder`` for every submission (uploaded to
``/autograder/submission``), and reads ``/autograder/results/results.json``.

The zip holds the grader (the instructor package's grading modules only), the manifest, the
prebuilt stub handout and reference solution, ``requirements.txt``, and the two scripts.
``run_autograder`` makes the source readable by root alone (the worker runs as another uid),
grades the submission, and writes a results file even when the grader itself fails.
"""

from __future__ import annotations

import stat
import tempfile
import zipfile
from pathlib import Path

from instructor import ROOT
from instructor.manifest import load

GRADER_MODULES = ("__init__.py", "__main__.py", "manifest.py", "grade.py", "sandbox.py", "worker.py", "policy.py")

SETUP = """#!/usr/bin/env bash
# Gradescope image set-up: bubblewrap (the worker's sandbox), Python and the kit's requirements.
set -euo pipefail
cd "$(dirname "$0")"
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3 python3-pip
fi
# CPU wheels of torch: the grader never needs a GPU, and they are a fraction of the size.
python3 -m pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Grade /autograder/submission; always leave a valid /autograder/results/results.json.
# Every path is relative to this script, so a copy of the tree anywhere works the same.
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$HERE/source"
RESULTS="$HERE/results/results.json"
PYTHON="${{AUTOGRADER_PYTHON:-python3}}"
mkdir -p "$HERE/results"
rm -f "$RESULTS"
# The reference solution must be readable by the grader (root) alone: the worker runs as another uid.
chmod -R go-rwx "$SOURCE" 2>/dev/null || true
cd "$SOURCE"
"$PYTHON" -m instructor grade {assignment} "$HERE/submission" \\
    --handout "$SOURCE/build/handout" --reference "$SOURCE/build/reference" \\
    --json "$RESULTS" --jobs 1
status=$?
if [ ! -s "$RESULTS" ]; then
    printf '{{"score": 0, "output": "The autograder failed (exit status %s) before writing results; please tell your instructor.", "tests": []}}\\n' "$status" > "$RESULTS"
fi
exit 0
"""


def build_zip(assignment: str, out: Path) -> Path:
    """Write the autograder zip of ``assignment`` to ``out`` and return its path."""
    from instructor import release

    manifest = load(assignment)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradescope-") as folder:
        handout = release.build(assignment, Path(folder) / "handout").root
        reference = release.build(assignment, Path(folder) / "reference", solutions=True).root
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_text(archive, "setup.sh", SETUP, executable=True)
            _add_text(archive, "run_autograder", RUN.format(assignment=manifest.id), executable=True)
            for name in GRADER_MODULES:
                archive.write(ROOT / "instructor" / name, f"instructor/{name}")
            archive.write(ROOT / "assignments" / f"{manifest.id}.toml", f"assignments/{manifest.id}.toml")
            archive.write(ROOT / "requirements.txt", "requirements.txt")
            for tree, prefix in ((handout, "build/handout"), (reference, "build/reference")):
                for path in sorted(tree.rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        archive.write(path, f"{prefix}/{path.relative_to(tree).as_posix()}")
    return out


def _add_text(archive: zipfile.ZipFile, name: str, text: str, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, text)


def unpack(archive: Path, autograder: Path) -> Path:
    """Lay the zip out as Gradescope does: ``source/`` plus ``run_autograder`` next to it."""
    source = autograder / "source"
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(source)
        for info in handle.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (source / info.filename).chmod(mode)
    runner = autograder / "run_autograder"
    runner.write_bytes((source / "run_autograder").read_bytes())
    runner.chmod(0o755)
    (autograder / "submission").mkdir(exist_ok=True)
    (autograder / "results").mkdir(exist_ok=True)
    return runner


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment id (a file name in assignments/ without .toml)")
    parser.add_argument("--out", type=Path, help="zip to write (default dist/<assignment>-autograder.zip)")


def run(args) -> int:
    out = args.out or ROOT / "dist" / f"{args.assignment}-autograder.zip"
    path = build_zip(args.assignment, out)
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    print(f"wrote {path} ({count} files, {path.stat().st_size / 1e6:.1f} MB): upload it as the "
          f"Gradescope autograder of {args.assignment}")
    return 0
