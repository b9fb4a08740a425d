"""written/gan_experiments.md (ift6135-a3 2.6, 2.7): the Dirac-GAN claims, simulated; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_gan_experiments as calc

FILE = "written/gan_experiments.md"


def distance(run):
    return float(np.hypot(run["theta"][-1], run["psi"][-1]))


@pytest.mark.parametrize("loss", calc.LOSSES)
def test_unregularised_training_does_not_converge(loss):
    assert distance(calc.train(loss, None, steps=3000)) > 0.9  # started at distance 1


def test_more_critic_steps_widen_the_unregularised_jsd_orbit():
    assert distance(calc.train("jsd", None, steps=3000, critic_iters=5)) > distance(calc.train("jsd", None, steps=3000))


@pytest.mark.parametrize("loss", calc.LOSSES)
@pytest.mark.parametrize("critic_iters", [1, 5])
def test_r1_converges(loss, critic_iters):
    assert distance(calc.train(loss, "r1", steps=3000, critic_iters=critic_iters)) < 0.01


@pytest.mark.parametrize("loss, steps", [("w1", 2000), ("jsd", 20000)])
@pytest.mark.parametrize("lr", [0.05, 0.1])
def test_gp_freezes_the_generator_away_from_the_data(loss, steps, lr):
    run = calc.train(loss, "gp", lr=lr, steps=steps)
    assert abs(run["psi"][-1]) < 0.01
    assert abs(run["theta"][-1]) == pytest.approx(calc.gp_resting_point(loss), rel=0.01)


def test_jacobian_eigenvalues():
    np.testing.assert_allclose(np.sort(calc.eigenvalues("w1", None).imag), [-1, 1], atol=1e-8)
    np.testing.assert_allclose(np.sort(calc.eigenvalues("jsd", None).imag), [-0.25, 0.25], atol=1e-8)
    np.testing.assert_allclose(calc.eigenvalues("w1", "r1", 1.0).real, [-1, -1], atol=1e-4)  # a double root
    np.testing.assert_allclose(np.sort(calc.eigenvalues("jsd", "r1", 1.0).real),
                               np.sort([-1 + np.sqrt(1 - 1 / 16), -1 - np.sqrt(1 - 1 / 16)]), atol=1e-7)


def test_simultaneous_steps_spiral_outwards():
    lr, theta, psi = calc.LR, 1.0, 0.0
    for _ in range(100):
        theta, psi = theta + lr * psi, psi - lr * theta  # simultaneous W1 steps
    assert np.hypot(theta, psi) == pytest.approx(calc.simultaneous_growth(lr) ** 100, rel=1e-9)


def test_ema_gain_matches_the_low_pass_formula():
    alpha, lr = calc.ALPHA_EMA, calc.LR
    omega = np.arccos(1 - lr**2 / 2)  # rotation per step of alternating W1 steps
    gain = (1 - alpha) / abs(1 - alpha * np.exp(1j * omega))
    assert calc.ema_amplitude_ratio(alpha, lr) == pytest.approx(gain, rel=0.1)


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    for qid in ("ganexp-dirac-dynamics", "ganexp-cifar10-metrics"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
