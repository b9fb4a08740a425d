"""written/diffusion.md (cs446-sp24 section 2): q(x_t|x_0), the forward posterior, the ELBO and the
inpainting score, each checked independently of the derivation; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_diffusion as calc

FILE = "written/diffusion.md"
SHORT = np.array([0.05, 0.2, 0.1, 0.4, 0.3])  # an irregular 5-step schedule


@pytest.mark.parametrize("betas", [SHORT, calc.linear_betas()], ids=["short", "ho"])
def test_closed_form_marginal_matches_the_recursion(betas):
    m, v = calc.marginal_by_recursion(betas)
    ab = calc.alpha_bars(betas)
    np.testing.assert_allclose(m, np.sqrt(ab), rtol=1e-12)
    np.testing.assert_allclose(v, 1 - ab, rtol=1e-10, atol=1e-15)


def test_closed_form_marginal_matches_simulated_chains():
    rng = np.random.default_rng(0)
    x = calc.sample_chain(1.5, SHORT, 200_000, rng)[:, -1]
    ab = calc.alpha_bars(SHORT)[-1]
    # standard errors: 0.0022 for the mean, 0.0032 for the variance
    assert x.mean() == pytest.approx(np.sqrt(ab) * 1.5, abs=0.01)
    assert x.var() == pytest.approx(1 - ab, abs=0.015)


@pytest.mark.parametrize("betas, t", [(SHORT, 2), (SHORT, 5), (calc.linear_betas(), 2), (calc.linear_betas(), 700)])
def test_posterior_matches_gaussian_conditioning(betas, t):
    np.testing.assert_allclose(calc.posterior(betas, t), calc.posterior_by_conditioning(betas, t), rtol=1e-9)


def test_posterior_matches_a_regression_on_simulated_chains():
    rng = np.random.default_rng(1)
    t, x0 = 4, 0.8
    chain = calc.sample_chain(x0, SHORT, 400_000, rng)
    prev, cur = chain[:, t - 1], chain[:, t]
    slope = np.cov(prev, cur)[0, 1] / cur.var()
    intercept = prev.mean() - slope * cur.mean()
    residual = (prev - intercept - slope * cur).var()
    c0, ct, var = calc.posterior(SHORT, t)
    assert slope == pytest.approx(ct, abs=0.01)
    assert intercept == pytest.approx(c0 * x0, abs=0.01)
    assert residual == pytest.approx(var, rel=0.02)


def test_eps_form_of_the_posterior_mean():
    rng = np.random.default_rng(2)
    betas, t = calc.linear_betas(), 300
    ab = calc.alpha_bars(betas)
    x0, eps = rng.standard_normal(16), rng.standard_normal(16)
    xt = np.sqrt(ab[t]) * x0 + np.sqrt(1 - ab[t]) * eps
    c0, ct, _ = calc.posterior(betas, t)
    np.testing.assert_allclose(calc.posterior_mean_eps_form(xt, eps, betas, t), c0 * x0 + ct * xt, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("params", [(0.8, 0.6, 0.5, 0.7), (1.1, 0.3, 0.9, 1.2)])
def test_elbo_decomposition_and_bound_on_a_two_step_model(params):
    betas, x0 = np.array([0.3, 0.5]), 1.2
    rng = np.random.default_rng(3)
    sampled = calc.toy_elbo_monte_carlo(x0, betas, *params, 400_000, rng)
    recon, prior, denoise = calc.toy_elbo_decomposed(x0, betas, *params)
    decomposed = recon - prior - denoise
    assert sampled == pytest.approx(decomposed, abs=0.01)  # Monte-Carlo standard error about 0.002
    assert decomposed < calc.toy_log_likelihood(x0, *params)
    assert prior > 0 and denoise > 0


def test_conditional_score_term_is_the_gradient_of_the_observation_model():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal(6), requires_grad=True)
    known = rng.standard_normal(6)
    mask = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    log_lik = -(((x - torch.tensor(known)) * torch.tensor(mask)) ** 2).sum()
    (grad,) = torch.autograd.grad(log_lik, x)
    score = rng.standard_normal(6)
    expected = calc.conditional_score(score, x.detach().numpy(), known, mask) - score
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-12)


def test_langevin_with_the_conditional_score_samples_the_posterior():
    rng = np.random.default_rng(5)
    known, mask = np.array([1.5, 0.0]), np.array([1.0, 0.0])
    x = calc.langevin_inpaint(known, mask, 2000, 1000, 0.01, rng)
    for i, observed in enumerate((True, False)):
        mean, var = calc.gaussian_prior_posterior(known[i], observed)
        assert x[:, i].mean() == pytest.approx(mean, abs=0.06)  # sampling error + step-size bias
        assert x[:, i].var() == pytest.approx(var, rel=0.1)
    assert calc.gaussian_prior_posterior(3.0, True) == pytest.approx((2.0, 1 / 3))  # the 2/3 and 1/3 of the answer


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    for qid in ("diffusion-elbo", "diffusion-likelihood", "diffusion-posterior-mean", "diffusion-inpainting-score"):
        check_numbers(answer(FILE, qid), numbers.get(qid, {}), qid)
    check_numbers(answer(FILE, "diffusion-forward-marginal"), numbers["diffusion-forward-marginal"], "forward-marginal")
