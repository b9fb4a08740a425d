"""``python -m instructor references``: write ``tests/reference/<module>.npz`` from the solutions.

Every case of ``tests/cases_<module>.py`` is run on its public inputs with the reference
solution (this repository's code) and its outputs are stored under ``<case name>/<output>``.
So are the outputs of each known mistake of the case's task (the mutation checks of
``tests/instructor/mutations_*.py``) that the case tells apart from the solution, under
``<case name>/mistake/<n>/<output>`` with the mistake in words under ``.../why``: a student
whose outputs match them is told which mistake they look like.
"""

from __future__ import annotations

import numpy as np

from instructor import ROOT


def case_modules() -> list[str]:
    """Module names that have cases, from ``tests/cases_<module>.py``."""
    return sorted(path.stem.removeprefix("cases_") for path in (ROOT / "tests").glob("cases_*.py"))


def compute(module: str) -> dict[str, np.ndarray]:
    """The reference outputs of every case of one module, keyed ``<case>/<output>``."""
    from tests.harness import MISTAKES, error_fingerprint, load_cases, matches
    from tests.instructor.mutation import all_mutations, mutated

    mutations = all_mutations()
    values: dict[str, np.ndarray] = {}
    for case in load_cases(module):
        inputs = case.public_inputs()
        reference = {key: np.asarray(value) for key, value in case.run(inputs).items()}
        values.update({f"{case.name}/{key}": value for key, value in reference.items()})
        number = 0
        for mutation in (m for m in mutations if m.task == case.task):
            try:
                with mutated(mutation), np.errstate(all="ignore"):
                    wrong = {key: np.asarray(value) for key, value in case.run(inputs).items()}
            except Exception as error:  # a mistake that raises is recognised by its error
                wrong = {"error": np.array(error_fingerprint(error))}
            else:
                if wrong.keys() != reference.keys() or matches(wrong, reference, rtol=case.rtol, atol=case.atol):
                    continue  # this case cannot tell the mistake apart
            prefix = f"{case.name}/{MISTAKES}/{number}"
            values[f"{prefix}/why"] = np.array(mutation.why)
            values.update({f"{prefix}/{key}": value for key, value in wrong.items()})
            number += 1
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
