"""written/gan_optimum.md: D* against a grid search, C(theta) = -log 4 + 2 JS, and printed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_gan_optimum as calc

FILE = "written/gan_optimum.md"


@pytest.mark.parametrize("a, b", [(0.3, 0.6), (1.0, 1.0), (2.5, 0.1), (0.05, 3.0)])
def test_optimal_discriminator_is_the_grid_maximiser(a, b):
    assert calc.grid_argmax(a, b) == pytest.approx(a / (a + b), abs=1e-5)  # grid step 5e-6


def random_distribution(rng, k=12, zeros=0):
    p = rng.random(k)
    p[:zeros] = 0.0
    return p / p.sum()


@pytest.mark.parametrize("seed", range(4))
def test_d_star_maximises_v_and_gives_minus_log4_plus_2js(seed):
    rng = np.random.default_rng(seed)
    p_x, p_g = random_distribution(rng), random_distribution(rng, zeros=3)
    d_star = calc.optimal_discriminator(p_x, p_g)
    best = calc.value(p_x, p_g, d_star)
    assert best == pytest.approx(-math.log(4) + 2 * calc.js(p_x, p_g), abs=1e-12)
    for _ in range(50):  # no perturbed discriminator does better
        other = np.clip(d_star + rng.normal(scale=0.05, size=d_star.shape), 1e-6, 1 - 1e-6)
        assert calc.value(p_x, p_g, other) <= best + 1e-12


def test_equal_distributions_give_one_half_and_minus_log4():
    p = random_distribution(np.random.default_rng(7))
    np.testing.assert_allclose(calc.optimal_discriminator(p, p), 0.5)
    assert calc.value(p, p, calc.optimal_discriminator(p, p)) == pytest.approx(-math.log(4), abs=1e-12)


def test_generator_optimum_is_the_data_distribution():
    rng = np.random.default_rng(3)
    p_x, start = random_distribution(rng), random_distribution(rng)
    ts = np.linspace(0.0, 1.0, 101)  # p_t = (1 - t) start + t p_x
    costs = [calc.value(p_x, q, calc.optimal_discriminator(p_x, q)) for q in ((1 - t) * start + t * p_x for t in ts)]
    assert int(np.argmin(costs)) == len(ts) - 1
    assert min(costs) == pytest.approx(-math.log(4), abs=1e-12)
    assert np.all(np.diff(costs) < 0)  # and the cost decreases all the way along the path


def test_js_lies_between_zero_and_log2():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    q = np.array([0.0, 0.0, 0.3, 0.7])
    assert calc.js(p, q) == pytest.approx(math.log(2), abs=1e-12)  # disjoint supports
    assert calc.js(p, p) == 0.0


def test_answers_print_the_computed_numbers():
    numbers = calc.numbers()
    check_numbers(answer(FILE, "gan-opt-discriminator"), [], "gan-opt-discriminator")
    check_numbers(answer(FILE, "gan-opt-equal-distributions"), [numbers["value_at_optimum"]], "gan-opt-equal-distributions")
    check_numbers(answer(FILE, "gan-opt-minimax"), numbers, "gan-opt-minimax")
