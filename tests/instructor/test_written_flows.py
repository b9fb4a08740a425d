"""written/flows.md (ift6135-a3 3.2-3.10): planar log-determinants against numerical Jacobians."""

from __future__ import annotations

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_flows as calc

FILE = "written/flows.md"


def random_layer(rng, d):
    u, w = rng.standard_normal(d), rng.standard_normal(d)
    if u @ w < -1:  # keep it invertible, as the implementation's adjustment of u does
        u = u - (1 + u @ w) * w / (w @ w) + 0.5 * w / (w @ w)
    return u, w, float(rng.standard_normal())


@pytest.mark.parametrize("d", [2, 5])
def test_planar_logdet_matches_a_numerical_jacobian(d):
    rng = np.random.default_rng(d)
    u, w, b = random_layer(rng, d)
    z = rng.standard_normal((4, d))
    for row, logdet in zip(z, calc.planar_logdet(z, u, w, b)):
        jac = calc.numeric_jacobian(lambda v: calc.planar(v[None], u, w, b)[0], row)
        assert logdet == pytest.approx(np.log(abs(np.linalg.det(jac))), abs=1e-7)


@pytest.mark.parametrize("k, d", [(3, 2), (4, 3)])
def test_stacked_log_density_matches_the_jacobian_of_the_composition(k, d):
    rng = np.random.default_rng(10 + k)
    layers = [random_layer(rng, d) for _ in range(k)]
    u0 = rng.standard_normal((3, d))

    def flow(v):
        return calc.stacked_log_density(v[None], layers)[0][0]

    _, log_q = calc.stacked_log_density(u0, layers)
    for row, value in zip(u0, log_q):
        base = -0.5 * row @ row - 0.5 * d * np.log(2 * np.pi)
        jac = calc.numeric_jacobian(flow, row)
        assert value == pytest.approx(base - np.log(abs(np.linalg.det(jac))), abs=1e-6)


def test_example_determinants_on_the_hyperplane_and_far_from_it():
    for u, w, b in calc.EXAMPLES.values():
        on_plane = np.zeros(2)  # w^T z + b = 0 there
        jac = calc.numeric_jacobian(lambda v: calc.planar(v[None], u, w, b)[0], on_plane)
        assert np.linalg.det(jac) == pytest.approx(calc.jacobian_on_hyperplane(u, w), abs=1e-6)
        far = np.array([5.0, 0.3])  # tanh(15) = 1 to 12 digits: a pure translation by +u
        np.testing.assert_allclose(calc.planar(far[None], u, w, b)[0], far + u, atol=1e-10)


def test_invertibility_condition():
    """Along w, a = w^T z + b maps to a + (w^T u) tanh(a): monotone iff w^T u >= -1."""
    a = np.linspace(-3, 3, 601)
    for wu, monotone in ((-0.9, True), (-1.0, True), (2.0, True), (-1.5, False)):
        assert bool(np.all(np.diff(a + wu * np.tanh(a)) >= 0)) == monotone


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    check_numbers(answer(FILE, "flows-planar-effect"), numbers["flows-planar-effect"], "flows-planar-effect")
    for qid in ("flows-planar-fit-samples", "flows-planar-fit-density"):  # the tables of the kit's run
        check_numbers(answer(FILE, qid), numbers[qid], qid)
    for qid in ("flows-planar-logdet", "flows-planar-stack-density", "flows-vae-posterior"):
        check_numbers(answer(FILE, qid), [], qid)
