"""written/gan_losses.md (cs236-hw3 2.1, 3.1-3.4, 4.1): each identity checked numerically; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_gan_js as grid
from written import calc_gan_losses as calc

FILE = "written/gan_losses.md"
P_DATA = grid.gaussian(grid.GRID, 0.0, 1.0)
P_MODEL = grid.gaussian(grid.GRID, 1.0, 1.5)


def test_saturation_factors_match_autograd():
    h = torch.tensor([-10.0, -5.0, -2.0, 0.0, 4.0], dtype=torch.float64, requires_grad=True)
    (g_minimax,) = torch.autograd.grad(torch.log1p(-torch.sigmoid(h)).sum(), h)
    (g_nonsat,) = torch.autograd.grad((-torch.nn.functional.logsigmoid(h)).sum(), h)
    np.testing.assert_allclose(g_minimax.numpy(), calc.minimax_grad(h.detach().numpy()), rtol=1e-12)
    np.testing.assert_allclose(g_nonsat.numpy(), calc.nonsaturating_grad(h.detach().numpy()), rtol=1e-12)


def test_minimax_generator_gradient_vanishes_through_a_generator():
    """The whole chain: a generator G_theta(z) = theta z and a fixed linear logit h(x) = 3 x - 12."""
    z = torch.linspace(0.5, 1.5, 11, dtype=torch.float64)
    for theta0, small in ((0.0, True), (3.0, False)):
        theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        h = 3 * theta * z - 12
        (g,) = torch.autograd.grad(torch.log1p(-torch.sigmoid(h)).mean(), theta)
        assert (abs(float(g)) < 1e-3) == small


@pytest.mark.parametrize("a, b", [(0.3, 0.5), (2.0, 0.05), (0.01, 4.0)])
def test_pointwise_minimiser(a, b):
    assert calc.pointwise_argmin(a, b) == pytest.approx(a / (a + b), abs=1e-5)


def test_one_sided_densities_have_their_infimum_at_the_boundary():
    """Where only one density is positive, f(t) decreases towards the end of (0, 1) the answer names."""
    t = np.array([0.5, 0.9, 0.99, 0.999999])
    only_data = -2.0 * np.log(t)  # b = 0: infimum 0 as t -> 1, never attained
    only_model = -3.0 * np.log(1 - (1 - t))  # a = 0, evaluated at 1 - t: infimum 0 as t -> 0
    assert np.all(np.diff(only_data) < 0) and np.all(only_data > 0) and only_data[-1] < 1e-5
    assert np.all(np.diff(only_model) < 0) and np.all(only_model > 0)
    assert "infimum is approached" in answer(FILE, "ganloss-optimal-discriminator")


def test_optimal_discriminator_minimises_ld_with_a_bernoulli_kl_excess():
    d_star = grid.optimal_discriminator(P_DATA, P_MODEL)
    best = calc.discriminator_loss(d_star, P_DATA, P_MODEL)
    rng = np.random.default_rng(0)
    for _ in range(10):
        other = np.clip(d_star + 0.1 * np.sin(rng.uniform(0.5, 3.0) * grid.GRID + rng.uniform(0, 6)), 1e-6, 1 - 1e-6)
        kl_bern = d_star * np.log(d_star / other) + (1 - d_star) * np.log((1 - d_star) / (1 - other))
        excess = np.sum((P_DATA + P_MODEL) * kl_bern) * grid.DX
        assert calc.discriminator_loss(other, P_DATA, P_MODEL) - best == pytest.approx(excess, rel=1e-6)
        assert excess > 0


def test_optimal_logits_are_the_log_density_ratio():
    keep = (np.abs(grid.GRID) < 6)
    np.testing.assert_allclose(calc.optimal_logits(P_DATA, P_MODEL)[keep],
                               np.log(P_DATA[keep] / P_MODEL[keep]), atol=1e-9)


def test_combined_generator_loss_is_the_reverse_kl():
    closed = np.log(1.0 / 1.5) + (1.5**2 + 1.0**2) / 2 - 0.5  # KL(N(1, 1.5^2) || N(0, 1)) in closed form
    assert calc.combined_generator_loss(P_DATA, P_MODEL) == pytest.approx(closed, abs=1e-8)
    assert grid.kl(P_MODEL, P_DATA) == pytest.approx(closed, abs=1e-8)


def test_nll_is_forward_kl_plus_entropy():
    nll = calc.cross_entropy(P_DATA, P_MODEL)
    assert nll == pytest.approx(grid.kl(P_DATA, P_MODEL) + calc.entropy(P_DATA), abs=1e-9)
    assert calc.entropy(P_DATA) == pytest.approx(0.5 * np.log(2 * np.pi * np.e), abs=1e-9)


def test_forward_and_reverse_kl_optima_differ():
    mu_f, sigma_f, kl_f = calc.fit_single_gaussian("forward")
    mu_r, sigma_r, kl_r = calc.fit_single_gaussian("reverse")
    # forward KL = moment matching: mean 0, variance 1 + MODE^2
    assert mu_f == pytest.approx(0.0, abs=0.01) and sigma_f == pytest.approx(np.sqrt(1 + calc.MODE**2), abs=0.01)
    assert mu_r == pytest.approx(calc.MODE, abs=0.05) and sigma_r == pytest.approx(1.0, abs=0.05)
    assert kl_r == pytest.approx(np.log(2), abs=0.01)  # one of two modes dropped


def test_projection_discriminator_identity():
    rng = np.random.default_rng(1)
    m, p, batch = 5, 7, 32  # classes, feature dimension, examples
    mu, mu_hat = rng.standard_normal((m, p)), rng.standard_normal((m, p))
    phi, labels = rng.standard_normal((batch, p)), rng.integers(0, m, batch)
    a, b = calc.projection_parameters(mu, mu_hat)
    one_hot = np.eye(m)[labels]
    logits = np.sum(one_hot * (phi @ a.T + b), axis=1)
    np.testing.assert_allclose(logits, calc.gaussian_log_ratio(phi, mu[labels], mu_hat[labels]), rtol=1e-10, atol=1e-10)


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    for qid in ("ganloss-minimax-saturation", "ganloss-nll-forward-kl"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
    for qid in ("ganloss-optimal-discriminator", "ganloss-logit-density-ratio", "ganloss-reverse-kl",
                "ganloss-projection-discriminator"):
        check_numbers(answer(FILE, qid), [], qid)
