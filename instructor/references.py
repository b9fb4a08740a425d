"""``python -m instructor references``: write ``tests/reference/<module>.npz`` from the solutions.

Every case of ``tests/cases_<module>.py`` is run on its public inputs with the reference
solution (this repository's code) and its outputs are stored under ``<case name>/<output>``.
"""

from __future__ import annotations

import numpy as np

from instructor import ROOT


def case_modules() -> list[str]:
    """Module names that have cases, from ``tests/cases_<module>.py``."""
    return sorted(path.stem.removeprefix("cases_") for path in (ROOT / "tests").glob("cases_*.py"))


def compute(module: str) -> dict[str, np.ndarray]:
    """The reference outputs of every case of one module, keyed ``<case>/<output>``."""
    from tests.harness import load_cases

    values: dict[str, np.ndarray] = {}
    for case in load_cases(module):
        for key, value in case.run(case.public_inputs()).items():
            values[f"{case.name}/{key}"] = np.asarray(value)
    return values


def configure(parser) -> None:
    parser.add_argument("modules", nargs="*", help="modules to regenerate (default: all with cases)")


def run(args) -> int:
    from tests.harness import reference_path

    modules = args.modules or case_modules()
    unknown = sorted(set(modules) - set(case_modules()))
    if unknown:
        print(f"no cases for {unknown}; modules with cases: {', '.join(case_modules())}")
        return 2
    for module in modules:
        values = compute(module)
        path = reference_path(module)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **values)
        print(f"wrote {path.relative_to(ROOT)} ({len(values)} arrays)")
    return 0
