"""written/vae_theory.md: each derivation against torch or an exact/numerical check; printed numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_vae_theory as calc

FILE = "written/vae_theory.md"


def test_gaussian_nll_is_half_squared_error_plus_constant():
    rng = np.random.default_rng(0)
    x, mean = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    torch_nll = -torch.distributions.Normal(torch.from_numpy(mean), 1.0).log_prob(torch.from_numpy(x)).sum(-1)
    np.testing.assert_allclose(calc.gaussian_nll(x, mean), torch_nll.numpy(), rtol=1e-12)


def test_gaussian_and_squared_error_objectives_share_their_minimiser():
    # Decoder D_theta(z) = tanh(theta z) on a grid of theta; same z samples for both objectives.
    rng = np.random.default_rng(1)
    x = np.array([0.3, -0.8, 0.5])
    z = rng.normal(loc=[0.5, -1.0, 0.8], scale=0.3, size=(4000, 3))
    thetas = np.linspace(-3, 3, 601)
    nll = [calc.gaussian_nll(x, np.tanh(t * z)).mean() for t in thetas]
    sq = [np.sum((x - np.tanh(t * z)) ** 2, axis=-1).mean() for t in thetas]
    assert np.argmin(nll) == np.argmin(sq)
    np.testing.assert_allclose(np.array(nll), 0.5 * np.array(sq) + 1.5 * math.log(2 * math.pi), rtol=1e-12)


def test_bernoulli_likelihood_matches_torch():
    rng = np.random.default_rng(2)
    y_hat = rng.uniform(0.01, 0.99, size=(4, 9))
    x = (rng.random((4, 9)) < 0.5).astype(float)
    expected = torch.distributions.Bernoulli(probs=torch.from_numpy(y_hat)).log_prob(torch.from_numpy(x)).sum(-1)
    np.testing.assert_allclose(calc.bernoulli_log_likelihood(x, y_hat), expected.numpy(), rtol=1e-12)


def toy_model(seed, k=7):
    rng = np.random.default_rng(seed)
    prior = rng.random(k) + 0.1
    return prior / prior.sum(), rng.uniform(0.01, 0.9, size=k)  # p(z), p(x|z) for one fixed x


@pytest.mark.parametrize("seed", range(4))
def test_jensen_bound_and_its_gap(seed):
    prior, likelihood = toy_model(seed)
    q = np.random.default_rng(100 + seed).dirichlet(np.ones(len(prior)))
    log_px = calc.log_evidence(prior, likelihood)
    bound = calc.elbo_discrete(q, prior, likelihood)
    assert bound <= log_px
    assert log_px - bound == pytest.approx(calc.kl(q, calc.posterior(prior, likelihood)), abs=1e-12)
    # q = prior (no encoder): the gap is KL(prior || posterior), as 1(f) says
    assert log_px - calc.elbo_discrete(prior, prior, likelihood) == pytest.approx(
        calc.kl(prior, calc.posterior(prior, likelihood)), abs=1e-12)


def test_without_an_encoder_the_best_bernoulli_output_is_the_mean_image():
    # q(z|x) = p(z): for every z the decoder output is scored against the whole data set.
    rng = np.random.default_rng(8)
    data = (rng.random((200, 16)) < rng.random(16)).astype(float)
    mean = data.mean(axis=0).clip(1e-6, 1 - 1e-6)
    best = calc.bernoulli_log_likelihood(data, mean).sum()
    for _ in range(100):
        other = np.clip(mean + rng.normal(scale=0.05, size=16), 1e-6, 1 - 1e-6)
        assert calc.bernoulli_log_likelihood(data, other).sum() < best


def test_encoder_output_sizes():
    assert [calc.encoder_outputs(calc.LATENT, c) for c in ("identity", "diagonal", "full")] == [2, 4, 5]
    sigma = torch.tensor([[2.0, 0.3], [0.3, 1.0]])  # a full 2 x 2 covariance has 3 free entries (its Cholesky factor)
    assert int(torch.count_nonzero(torch.linalg.cholesky(sigma))) == 3


def test_kl_properties():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    assert calc.kl(q, p) > 0 and calc.kl(p, p) == 0.0
    assert calc.kl(q, p) != pytest.approx(calc.kl(p, q))
    assert calc.kl(np.array([0.5, 0.5]), np.array([1.0, 0.0])) == math.inf
    # additivity over independent parts
    p2, q2 = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3))
    assert calc.kl(np.outer(q, q2).ravel(), np.outer(p, p2).ravel()) == pytest.approx(calc.kl(q, p) + calc.kl(q2, p2))
    bern = lambda a: np.array([1 - a, a])  # noqa: E731
    assert calc.bernoulli_kl(calc.BER_A, calc.BER_B) == pytest.approx(calc.kl(bern(calc.BER_A), bern(calc.BER_B)))


@pytest.mark.parametrize("name", calc.ENCODERS)
def test_estimator_variances_closed_form_and_sampled(name):
    m, s2 = calc.ENCODERS[name]
    eq1, eq2 = calc.estimator_variances(Fraction(calc.TOY_X), m, s2)
    eps = np.random.default_rng(4).normal(size=400_000)
    one, two = calc.estimator_samples(float(calc.TOY_X), float(m), float(s2), eps)
    assert one.var() == pytest.approx(float(eq1), abs=0.01)  # standard error of the variance ~ 1e-3
    assert two.var() == pytest.approx(float(eq2), abs=0.01)
    assert one.mean() == pytest.approx(two.mean(), abs=0.01)  # both estimate the same ELBO
    # the ELBO itself, in closed form for this model
    x, m_, s2_ = float(calc.TOY_X), float(m), float(s2)
    elbo = -0.5 * math.log(2 * math.pi) - 0.5 * ((x - m_) ** 2 + s2_) - 0.5 * (s2_ + m_**2 - 1 - math.log(s2_))
    assert one.mean() == pytest.approx(elbo, abs=0.005)


def test_the_posterior_encoder_is_the_true_posterior():
    m, s2 = calc.ENCODERS["posterior"]  # p(z) = N(0,1), p(x|z) = N(z,1): p(z|x) = N(x/2, 1/2)
    assert (m, s2) == (Fraction(calc.TOY_X, 2), Fraction(1, 2))


@pytest.mark.parametrize("mu_q, mu_p, sigma", [(0.3, -1.2, 0.7), (2.0, 2.0, 1.5), (-1.0, 4.0, 3.0)])
def test_kl_of_equal_variance_gaussians(mu_q, mu_p, sigma):
    closed = calc.kl_equal_variance(mu_q, mu_p, sigma)
    assert calc.kl_by_quadrature(mu_q, mu_p, sigma) == pytest.approx(closed, abs=1e-9)
    torch_kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu_q, sigma),
                                                 torch.distributions.Normal(mu_p, sigma))
    assert float(torch_kl) == pytest.approx(closed, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_lagrangian_stationary_point_is_the_posterior_and_the_maximum(seed):
    prior, likelihood = toy_model(seed)
    q_star = calc.posterior(prior, likelihood)
    lam = calc.log_evidence(prior, likelihood) - 1
    np.testing.assert_allclose(calc.lagrangian_gradient(q_star, lam, prior, likelihood), 0.0, atol=1e-12)
    best = calc.elbo_discrete(q_star, prior, likelihood)
    assert best == pytest.approx(calc.log_evidence(prior, likelihood), abs=1e-12)
    # no other distribution does better, and mirror ascent on the simplex converges to q_star
    rng = np.random.default_rng(200 + seed)
    for q in rng.dirichlet(np.ones(len(prior)), size=500):
        assert calc.elbo_discrete(q, prior, likelihood) <= best + 1e-12
    q = np.full(len(prior), 1 / len(prior))
    for _ in range(300):
        q = q * np.exp(0.2 * calc.lagrangian_gradient(q, 0.0, prior, likelihood))
        q /= q.sum()
    np.testing.assert_allclose(q, q_star, atol=1e-9)


def test_answers_print_the_computed_numbers():
    numbers = calc.numbers()
    for qid in ("vae-encoder-output-dim", "vae-kl-properties", "vae-elbo-two-forms"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
    for qid in ("vae-gaussian-decoder-l2", "vae-bernoulli-decoder", "vae-jensen-bound",
                "vae-why-encoder", "vae-kl-self", "vae-kl-equal-variance", "vae-optimal-q-lagrangian", "vae-which-q"):
        check_numbers(answer(FILE, qid), [], qid)
