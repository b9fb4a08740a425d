"""written/wasserstein_dirac.md (cs236-hw3 5.1-5.4): Gaussian KL, its limit, W1, bounded-slope critics."""

from __future__ import annotations

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_wasserstein_dirac as calc

FILE = "written/wasserstein_dirac.md"


@pytest.mark.parametrize("theta, theta0, eps", [(1.0, 0.0, 1.0), (0.3, -0.2, 0.1), (2.0, 1.0, 0.01)])
def test_kl_closed_form_matches_numerical_integration(theta, theta0, eps):
    assert calc.kl_numeric(theta, theta0, eps) == pytest.approx(calc.kl_closed_form(theta, theta0, eps), rel=1e-6)


def test_kl_derivative_matches_finite_differences():
    for eps in calc.EPSILONS:
        step = 1e-6
        fd = (calc.kl_closed_form(1 + step, 0, eps) - calc.kl_closed_form(1 - step, 0, eps)) / (2 * step)
        assert fd == pytest.approx(calc.kl_derivative(1, 0, eps), rel=1e-6)


@pytest.mark.parametrize("eps", calc.EPSILONS)
def test_w1_does_not_depend_on_the_width(eps):
    # two independent samples of 100001 points: the quantile noise is about eps / 300
    assert calc.w1_by_quantiles(calc.THETA, calc.THETA0, eps) == pytest.approx(abs(calc.THETA - calc.THETA0), abs=0.01 * eps + 1e-9)


def test_unbounded_critics_drive_ld_to_minus_infinity():
    values = [calc.critic_objective(calc.scaled_critic(c, 1.0, 0.0), 1.0, 0.0) for c in (1, 10, 100, 1000)]
    assert values == [-1.0, -10.0, -100.0, -1000.0]


@pytest.mark.parametrize("theta, theta0", [(1.0, 0.0), (-0.5, 2.0)])
def test_no_slope_bounded_critic_beats_minus_w1(theta, theta0):
    rng = np.random.default_rng(0)
    bound = -abs(theta - theta0)
    best = calc.critic_objective(calc.optimal_lipschitz_critic(theta, theta0), theta, theta0)
    assert best == pytest.approx(bound, abs=1e-12)
    for _ in range(500):
        assert calc.critic_objective(calc.random_lipschitz_critic(rng), theta, theta0) >= bound - 1e-12


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    check_numbers(answer(FILE, "wdirac-kl-limit"), numbers["wdirac-kl-limit"], "wdirac-kl-limit")
    for qid in ("wdirac-gaussian-kl", "wdirac-unbounded-critic", "wdirac-lipschitz-critic"):
        check_numbers(answer(FILE, qid), [], qid)
