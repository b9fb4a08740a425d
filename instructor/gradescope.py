"""``python -m instructor gradescope ASSIGNMENT``: the Gradescope autograder zip of an assignment.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it builds the
image, then ``/autograder/run_autograder`` for every submission (uploaded to
``/autograder/submission``), and reads ``/autograder/results/results.json``.

The zip holds the grader (the instructor package's grading modules only), the manifest, the
assignment's secret seed of the hidden cases (:mod:`instructor.seeds`: Gradescope scores as the
instructor's own machine does), the prebuilt stub handout and reference solution without what
grading never reads (written questions and answers, READMEs, public tests and their stored
values), ``requirements.txt``, and the two scripts. ``setup.sh`` installs the requirements into
a virtual environment (``/autograder/venv``; Ubuntu 22.04 and 24.04 refuse system-wide ``pip``).
``run_autograder`` makes the source readable by root alone (the worker runs as another uid),
grades the submission, and writes a results file even when the grader itself fails.
"""

from __future__ import annotations

import stat
import tempfile
import zipfile
from pathlib import Path

from instructor import ROOT, seeds
from instructor.manifest import load

GRADER_MODULES = ("__init__.py", "__main__.py", "manifest.py", "grade.py", "sandbox.py", "worker.py", "policy.py",
                  "seeds.py")

SETUP = """#!/usr/bin/env bash
# Gradescope image set-up: bubblewrap (the worker's sandbox), and a virtual environment with the
# kit's requirements. A venv, not the system Python: Ubuntu 24.04 refuses system-wide pip
# installs (PEP 668). It lies next to source/, which run_autograder makes private: the worker,
# running as another uid, must be able to read it.
set -euo pipefail
cd "$(dirname "$0")"
VENV="$(cd .. && pwd)/venv"
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3 python3-venv
fi
python3 -m venv "$VENV"
# CPU wheels of torch: the grader never needs a GPU, and they are a fraction of the size.
"$VENV/bin/python" -m pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
"$VENV/bin/python" -c "import numpy, torch"  # a broken install fails the image build, not every submission
"""

RUN = """#!/usr/bin/env bash
# Grade /autograder/submission; always leave a valid /autograder/results/results.json.
# Every path is relative to this script, so a copy of the tree anywhere works the same.
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$HERE/source"
RESULTS="$HERE/results/results.json"
PYTHON="${{AUTOGRADER_PYTHON:-$HERE/venv/bin/python}}"
[ -x "$PYTHON" ] || PYTHON=python3
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
    # The grader stopped before grading (its message, above, is for the staff): not the student's fault.
    printf '{{"score": 0, "output": "The autograder could not run on this machine (exit status %s): a problem with the autograder, not with your submission. Your instructor can see why and will regrade.", "tests": [], "stdout_visibility": "hidden"}}\\n' "$status" > "$RESULTS"
fi
exit 0
"""


def build_zip(assignment: str, out: Path, seed: int | None = None) -> Path:
    """Write the autograder zip of ``assignment`` to ``out`` and return its path.

    ``seed`` is the secret of the hidden cases; by default the assignment's kept one (drawn now
    if it has none), so that Gradescope and the instructor's own gradings agree.
    """
    from instructor import release

    manifest = load(assignment)
    seed = seeds.load_or_draw(manifest.id) if seed is None else seed
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
            secret = seeds.write(manifest.id, seed, Path(folder) / "secrets")
            archive.write(secret, seeds.path(manifest.id, seeds.SECRETS_DIR).relative_to(ROOT).as_posix())
            for tree, prefix in ((handout, "build/handout"), (reference, "build/reference")):
                for path in sorted(tree.rglob("*")):
                    name = path.relative_to(tree).as_posix()
                    if path.is_file() and "__pycache__" not in path.parts and graded(name):
                        archive.write(path, f"{prefix}/{name}")
    return out


def graded(name: str) -> bool:
    """Whether grading may read this file of a handout tree. Left out: the written questions and
    answers, Markdown, the manifest and project files, the public test files and their stored
    values (the grader computes every expected value afresh); kept: every module and data file
    the graded code or the cases could load, and the cases with their harness."""
    parts = name.split("/")
    if parts[0] in ("written", "assignments") or name.endswith(".md") or name in NOT_READ:
        return False
    if parts[0] == "tests" and len(parts) > 1:
        return parts[1] == "__init__.py" or parts[1] == "harness.py" or parts[1].startswith("cases_")
    return True


NOT_READ = ("pyproject.toml", "requirements.txt", "conftest.py", ".gitignore")


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
    parser.add_argument("--seed", type=int, default=None,
                        help="secret seed of the hidden cases (default: the assignment's kept one)")


def run(args) -> int:
    out = args.out or ROOT / "dist" / f"{args.assignment}-autograder.zip"
    path = build_zip(args.assignment, out, seed=args.seed)
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    seed = args.seed if args.seed is not None else seeds.read(args.assignment)
    print(f"wrote {path} ({count} files, {path.stat().st_size / 1e6:.1f} MB), hidden-case seed fingerprint "
          f"{seeds.fingerprint(seed)}: upload it as the Gradescope autograder of {args.assignment}")
    return 0
