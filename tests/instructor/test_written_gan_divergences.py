"""written/gan_divergences.md: D*, C(p_G) = 2 JSD - log 4, KL/JS/W1 of shifted uniforms; printed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_gan_divergences as calc
from written import calc_gan_optimum as optimum

FILE = "written/gan_divergences.md"


@pytest.mark.parametrize("a, b", [(0.2, 0.7), (3.0, 1.0)])
def test_optimal_discriminator_by_grid_search(a, b):
    assert optimum.grid_argmax(a, b) == pytest.approx(a / (a + b), abs=1e-5)


def test_value_at_the_optimal_discriminator_is_2jsd_minus_log4():
    rng = np.random.default_rng(5)
    for _ in range(5):
        p, q = rng.dirichlet(np.ones(9)), rng.dirichlet(np.ones(9))
        value = optimum.value(p, q, optimum.optimal_discriminator(p, q))
        assert value == pytest.approx(2 * optimum.js(p, q) - math.log(4), abs=1e-12)
        assert value > -math.log(4)
    assert optimum.value(p, p, optimum.optimal_discriminator(p, p)) == pytest.approx(-math.log(4), abs=1e-12)


def test_kl_between_the_uniforms_is_infinite():
    assert calc.mass_where_other_vanishes("P1", "P2") == pytest.approx(0.5, abs=1e-4)
    assert calc.mass_where_other_vanishes("P1", "P3") == pytest.approx(1.0, abs=1e-4)
    for q in ("P2", "P3"):  # smoothing the target by eps: the KL grows without bound as eps -> 0
        values = [calc.kl_against_smoothed("P1", q, eps) for eps in (1e-2, 1e-4, 1e-8, 1e-16)]
        assert np.all(np.diff(values) > 1.0) and values[-1] > 15


def test_w1_by_cdf_area_quantiles_and_duality():
    for q, expected in (("P2", 0.5), ("P3", 1.0)):
        assert calc.w1("P1", q) == pytest.approx(expected, abs=1e-4)
        assert calc.w1_by_quantiles("P1", q) == pytest.approx(expected, abs=1e-9)
        assert calc.kantorovich_lower_bound("P1", q) == pytest.approx(expected, abs=1e-4)


def test_w1_from_samples():
    rng = np.random.default_rng(6)
    x = np.sort(rng.uniform(0.0, 1.0, 200_000))
    for q, (a, b) in (("P2", calc.UNIFORMS["P2"]), ("P3", calc.UNIFORMS["P3"])):
        y = np.sort(rng.uniform(a, b, 200_000))
        assert np.mean(np.abs(x - y)) == pytest.approx(calc.w1("P1", q), abs=5e-3)  # sorted matching is optimal in 1-D


@pytest.mark.parametrize("shift", [0.25, 0.5, 1.0, 1.5, 2.0])  # the grid covers [-1, 3]
def test_js_of_a_shift_saturates_at_log2(shift):
    expected = min(shift, 1.0) * math.log(2)
    assert calc.js((0.0, 1.0), (shift, 1.0 + shift)) == pytest.approx(expected, abs=1e-4)


def test_answers_print_the_computed_numbers():
    numbers = calc.numbers()
    for qid in ("gan-div-classical-cost", "gan-div-distribution-form", "gan-div-optimal-discriminator"):
        check_numbers(answer(FILE, qid), [], qid)
    for qid, expected in numbers.items():
        check_numbers(answer(FILE, qid), expected, qid)
