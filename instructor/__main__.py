"""``python -m instructor COMMAND``: the instructor's tools, one module per command.

Each command module defines ``configure(parser)`` and ``run(args) -> int``; it is imported only
when chosen, so a missing optional dependency of one command never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "release": ("instructor.release", "build the student handout of an assignment"),
    "references": ("instructor.references", "regenerate tests/reference/*.npz from the solutions"),
    "grade": ("instructor.grade", "grade submissions in a sandbox (table, results.json, CSV)"),
    "gradescope": ("instructor.gradescope", "build the Gradescope autograder zip of an assignment"),
    "seed": ("instructor.seeds", "show, or draw anew for a new term, the secret seed of the hidden cases"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = {}
    wanted = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if wanted == [name]:  # import only the chosen command
            modules[name] = importlib.import_module(module_name)
            modules[name].configure(sub)
    args = parser.parse_args(argv)
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
