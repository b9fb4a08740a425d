"""Public tests of ``vae.py``: stored reference values and properties of every graded function.

IFT6135 tasks: ``log_likelihood_bernoulli``, ``log_likelihood_normal``, ``log_mean_exp``,
``kl_gaussian_gaussian_analytic``, ``kl_gaussian_gaussian_mc``. CS446 tasks: ``decoder``,
``logpdf_diagonal_gaussian``, ``logpdf_bernoulli``, ``sample_diagonal_gaussian``,
``sample_Bernoulli``, ``elbo_loss``. Run one task's tests with ``pytest --task TASK``.

Properties: agreement with ``torch.distributions`` on inputs of several shapes, the Monte-Carlo
KL converging to the closed form, extreme inputs where the plain formulas give inf or NaN, and
the samplers' statistics and gradients (never one exact random draw).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

import vae
from tests.cases_vae import CASES, oracle_vae
from tests.harness import case_params, check_case, fill_parameters

BERNOULLI = pytest.mark.task("log_likelihood_bernoulli")
NORMAL = pytest.mark.task("log_likelihood_normal")
LME = pytest.mark.task("log_mean_exp")
KL_ANALYTIC = pytest.mark.task("kl_gaussian_gaussian_analytic")
KL_MC = pytest.mark.task("kl_gaussian_gaussian_mc")
DECODER = pytest.mark.task("decoder")
GAUSS_PDF = pytest.mark.task("logpdf_diagonal_gaussian")
BERN_PDF = pytest.mark.task("logpdf_bernoulli")
SAMPLE_GAUSS = pytest.mark.task("sample_diagonal_gaussian")
SAMPLE_BERN = pytest.mark.task("sample_Bernoulli")
ELBO = pytest.mark.task("elbo_loss")

SHAPES = [(4, 6), (3, 2, 5), (2, 1, 4, 4)]  # (B, D) and image-like (B, ...) inputs


def draw(seed: int, shape, low=None, high=None, scale: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    values = rng.uniform(low, high, size=shape) if low is not None else scale * rng.normal(size=shape)
    return torch.tensor(values, dtype=dtype)


def per_example(values: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension after the first: (B, ...) -> (B,)."""
    return values.reshape(values.shape[0], -1).sum(dim=1)


def assert_close(got, want, what: str, rtol=1e-5, atol=1e-4):
    got, want = torch.as_tensor(got), torch.as_tensor(want)
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    assert torch.isfinite(got).all(), f"{what}: got NaN or inf: {got}"
    np.testing.assert_allclose(got.detach().double().numpy(), want.detach().double().numpy(), rtol=rtol, atol=atol,
                               err_msg=what)


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("vae", case)


# ---- log_likelihood_bernoulli ------------------------------------------------------------------


@BERNOULLI
@pytest.mark.parametrize("shape", SHAPES)
def test_bernoulli_agrees_with_torch_distributions(shape):
    mu = draw(1, shape, 0.01, 0.99)
    target = torch.bernoulli(draw(2, shape, 0, 1))
    want = per_example(Bernoulli(probs=mu).log_prob(target))
    assert_close(vae.log_likelihood_bernoulli(mu, target), want,
                 "log_likelihood_bernoulli: one value per example, summed over every other dimension")


@BERNOULLI
def test_bernoulli_at_certain_pixels_is_zero_not_nan():
    # means of exactly 0 and 1 with the matching targets: each pixel is certain, log 1 = 0
    target = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    got = vae.log_likelihood_bernoulli(target.clone(), target)
    assert torch.isfinite(got).all(), f"log_likelihood_bernoulli at mu = target in {{0, 1}}: got {got} (0 * log 0 is 0)"
    assert_close(got, torch.zeros(2), "log_likelihood_bernoulli at mu = target in {0, 1} must be 0", atol=1e-5)


@BERNOULLI
def test_bernoulli_impossible_pixel_is_very_unlikely():
    got = vae.log_likelihood_bernoulli(torch.tensor([[1.0, 0.5]]), torch.tensor([[0.0, 1.0]]))
    assert not torch.isnan(got).any() and float(got[0]) < -15, (
        f"log_likelihood_bernoulli: a pixel of mean exactly 1 observed as 0 has probability 0 (log -inf), got {got}"
    )


# ---- log_likelihood_normal ---------------------------------------------------------------------


@NORMAL
@pytest.mark.parametrize("shape", SHAPES)
def test_normal_agrees_with_torch_distributions(shape):
    mu, logvar, z = draw(3, shape), draw(4, shape, -2, 2), draw(5, shape, scale=2.0)
    want = per_example(Normal(mu, torch.exp(0.5 * logvar)).log_prob(z))
    assert_close(vae.log_likelihood_normal(mu, logvar, z), want,
                 "log_likelihood_normal(mu, logvar, z): logvar is the log of the variance")


@NORMAL
@pytest.mark.parametrize("logvar_value", [-30.0, 30.0])
def test_normal_with_extreme_log_variances_stays_finite(logvar_value):
    mu, z = draw(6, (3, 5)), draw(7, (3, 5))
    logvar = torch.full((3, 5), logvar_value)
    want = per_example(Normal(mu.double(), torch.exp(0.5 * logvar.double())).log_prob(z.double()))
    assert_close(vae.log_likelihood_normal(mu, logvar, z), want,
                 f"log_likelihood_normal with log-variance {logvar_value}: work in log space", rtol=1e-4)


# ---- log_mean_exp ------------------------------------------------------------------------------


@LME
def test_log_mean_exp_agrees_with_logsumexp():
    y = draw(8, (5, 7), scale=4.0)
    assert_close(vae.log_mean_exp(y), torch.logsumexp(y, dim=1) - math.log(7),
                 "log_mean_exp(y): log of the mean over dim 1 of exp(y)")


@LME
@pytest.mark.parametrize("offset", [1000.0, -1000.0])
def test_log_mean_exp_of_huge_values_is_finite(offset):
    y = offset + draw(9, (3, 6))
    want = torch.logsumexp(y.double(), dim=1) - math.log(6)
    assert_close(vae.log_mean_exp(y), want, f"log_mean_exp near {offset}: shift by the row maximum", atol=1e-3)


@LME
def test_log_mean_exp_of_a_constant_row_is_that_constant():
    y = torch.tensor([[2.5] * 4, [-7.0] * 4])
    assert_close(vae.log_mean_exp(y), torch.tensor([2.5, -7.0]), "log_mean_exp of K equal values (a mean, not a sum)")


# ---- kl_gaussian_gaussian_analytic -------------------------------------------------------------


def gaussians(seed: int, shape, spread: float = 2.0):
    return draw(seed, shape), draw(seed + 1, shape, -spread, spread), draw(seed + 2, shape), draw(seed + 3, shape, -spread, spread)


@KL_ANALYTIC
@pytest.mark.parametrize("shape", SHAPES)
def test_analytic_kl_agrees_with_torch_distributions(shape):
    mu_q, logvar_q, mu_p, logvar_p = gaussians(10, shape)
    want = per_example(kl_divergence(Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))))
    assert_close(vae.kl_gaussian_gaussian_analytic(mu_q, logvar_q, mu_p, logvar_p), want,
                 "kl_gaussian_gaussian_analytic: KL(q || p), q first", rtol=1e-4)


@KL_ANALYTIC
def test_analytic_kl_is_zero_for_equal_distributions_and_positive_otherwise():
    mu, logvar, _, _ = gaussians(14, (4, 3))
    assert_close(vae.kl_gaussian_gaussian_analytic(mu, logvar, mu, logvar), torch.zeros(4),
                 "KL(q || q) must be 0", atol=1e-5)
    kl = vae.kl_gaussian_gaussian_analytic(*gaussians(15, (6, 3)))
    assert (kl > 0).all(), f"KL(q || p) of different Gaussians must be positive, got {kl}"


@KL_ANALYTIC
def test_analytic_kl_with_extreme_log_variances_in_many_dimensions():
    # 8 dimensions at log-variance +-30: a determinant exp(+-240) overflows float32 (and float64 at
    # higher D); the sum of log-variances does not.
    signs = torch.tensor([[1.0, -1.0] * 4, [-1.0, 1.0] * 4])
    mu_q, mu_p = draw(16, (2, 8)), draw(17, (2, 8))
    logvar_q, logvar_p = 30.0 * signs, -30.0 * signs.flip(0)
    want = per_example(kl_divergence(Normal(mu_q.double(), torch.exp(0.5 * logvar_q.double())),
                                     Normal(mu_p.double(), torch.exp(0.5 * logvar_p.double()))))
    assert_close(vae.kl_gaussian_gaussian_analytic(mu_q, logvar_q, mu_p, logvar_p), want,
                 "kl_gaussian_gaussian_analytic at log-variances +-30 in 8 dimensions", rtol=1e-4)


# ---- kl_gaussian_gaussian_mc -------------------------------------------------------------------


@KL_MC
def test_mc_kl_with_given_noise_is_the_sample_average():
    mu_q, logvar_q, mu_p, logvar_p = gaussians(20, (3, 4))
    noise = draw(24, (3, 5, 4))
    q = Normal(mu_q.unsqueeze(1), torch.exp(0.5 * logvar_q).unsqueeze(1))
    p = Normal(mu_p.unsqueeze(1), torch.exp(0.5 * logvar_p).unsqueeze(1))
    z = q.loc + q.scale * noise  # (B, K, D)
    want = (q.log_prob(z) - p.log_prob(z)).sum(dim=2).mean(dim=1)
    got = vae.kl_gaussian_gaussian_mc(mu_q, logvar_q, mu_p, logvar_p, num_samples=5, noise=noise)
    assert_close(got, want, "kl_gaussian_gaussian_mc: mean over the K samples z = mu_q + sigma_q * noise "
                 "of log q(z) - log p(z), summed over dimensions", rtol=1e-4)


@KL_MC
def test_mc_kl_converges_to_the_analytic_kl():
    torch.manual_seed(0)
    mu_q, logvar_q, mu_p, logvar_p = gaussians(30, (3, 2, 2), spread=1.0)
    samples = 20_000
    estimate = vae.kl_gaussian_gaussian_mc(mu_q, logvar_q, mu_p, logvar_p, num_samples=samples)
    exact = per_example(kl_divergence(Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))))
    assert estimate.shape == (3,), f"kl_gaussian_gaussian_mc: shape {tuple(estimate.shape)}, expected (B,) = (3,)"
    # the spread of one sample's log-ratio, to size the tolerance: 5 standard errors of the mean
    q = Normal(mu_q, torch.exp(0.5 * logvar_q))
    z = q.sample((4000,))
    ratios = (q.log_prob(z) - Normal(mu_p, torch.exp(0.5 * logvar_p)).log_prob(z)).flatten(2).sum(dim=2)
    tolerance = 5 * ratios.std(dim=0) / math.sqrt(samples)
    assert ((estimate - exact).abs() < tolerance).all(), (
        f"kl_gaussian_gaussian_mc with {samples} samples: {estimate.tolist()}, closed form {exact.tolist()}, "
        f"allowed error {tolerance.tolist()}"
    )


@KL_MC
def test_mc_kl_gradients_reach_q_through_the_samples():
    torch.manual_seed(1)
    mu_q, logvar_q, mu_p, logvar_p = gaussians(40, (2, 3), spread=0.5)
    mu_q.requires_grad_(True)
    logvar_q.requires_grad_(True)
    estimate = vae.kl_gaussian_gaussian_mc(mu_q, logvar_q, mu_p, logvar_p, num_samples=20_000).sum()
    grads = torch.autograd.grad(estimate, (mu_q, logvar_q))
    exact = vae_free_kl(mu_q, logvar_q, mu_p, logvar_p)
    want = torch.autograd.grad(exact, (mu_q, logvar_q))
    for name, got, expected in zip(("mu_q", "logvar_q"), grads, want):
        assert_close(got, expected, f"kl_gaussian_gaussian_mc: gradient with respect to {name} (reparameterise the "
                     "samples of q)", rtol=0.1, atol=0.1)


def vae_free_kl(mu_q, logvar_q, mu_p, logvar_p):
    """KL(q || p) summed over everything, by torch.distributions (a reference for gradients)."""
    return kl_divergence(Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))).sum()


@KL_MC
def test_mc_kl_with_extreme_log_variances_stays_finite():
    mu_q, mu_p = draw(50, (2, 4)), draw(51, (2, 4))
    logvar_q = torch.tensor([[30.0, -30.0, 30.0, -30.0], [-30.0, -30.0, 30.0, 30.0]])
    got = vae.kl_gaussian_gaussian_mc(mu_q, logvar_q, mu_p, logvar_q.flip(1), num_samples=4)
    assert torch.isfinite(got).all(), f"kl_gaussian_gaussian_mc at log-variances +-30: got {got} (work in log space)"


# ---- Decoder -----------------------------------------------------------------------------------


@DECODER
def test_decoder_layers_follow_the_handout():
    decoder = vae.Decoder()
    shapes = [tuple(p.shape) for p in decoder.parameters()]
    assert shapes == [(500, 2), (500,), (784, 500), (784,)], (
        f"Decoder(): parameters {shapes}; expected fc1 = Linear(2, 500) then fc2 = Linear(500, 784), defined in that order"
    )


@DECODER
def test_decoder_outputs_probabilities_of_every_pixel():
    decoder = vae.Decoder(3, 20, 30)
    fill_parameters(decoder, np.random.default_rng(0))
    p = decoder(draw(60, (5, 3), scale=3.0))
    assert p.shape == (5, 30), f"Decoder(3, 20, 30): output shape {tuple(p.shape)}, expected (B, D) = (5, 30)"
    assert ((p >= 0) & (p <= 1)).all(), "Decoder: outputs must be probabilities (sigmoid last)"


# ---- logpdf_diagonal_gaussian, logpdf_bernoulli ------------------------------------------------


@GAUSS_PDF
@pytest.mark.parametrize("dims", [1, 2, 6])
def test_gaussian_logpdf_agrees_with_torch_distributions(dims):
    z, mu, sigma_square = draw(70, (4, dims), scale=2.0), draw(71, (4, dims)), draw(72, (4, dims), 0.1, 4.0)
    want = Normal(mu, sigma_square.sqrt()).log_prob(z).sum(dim=1)
    assert_close(vae.VAE.logpdf_diagonal_gaussian(z, mu, sigma_square), want,
                 "logpdf_diagonal_gaussian(z, mu, sigma_square): sigma_square is the variance")


@BERN_PDF
def test_bernoulli_logpdf_agrees_with_torch_distributions():
    p = draw(80, (3, 50), 0.01, 0.99)
    x = torch.bernoulli(draw(81, (3, 50), 0, 1))
    assert_close(vae.VAE.logpdf_bernoulli(x, p), Bernoulli(probs=p).log_prob(x).sum(dim=1),
                 "logpdf_bernoulli(x, p): summed over the pixels")


@BERN_PDF
def test_bernoulli_logpdf_of_a_saturated_sigmoid_is_finite():
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    p = torch.sigmoid(torch.tensor([[40.0, -200.0, 3.0], [-200.0, -1.0, 40.0]]))  # exactly 1.0 / 0.0 in float32
    got = vae.VAE.logpdf_bernoulli(x, p)
    want = Bernoulli(logits=torch.tensor([[40.0, -200.0, 3.0], [-200.0, -1.0, 40.0]])).log_prob(x).sum(dim=1)
    assert_close(got, want, "logpdf_bernoulli where the sigmoid rounds to 0 or 1 (0 log 0 = 0)", atol=1e-4)


# ---- sample_diagonal_gaussian, sample_Bernoulli ------------------------------------------------


@SAMPLE_GAUSS
def test_gaussian_samples_have_the_asked_mean_and_variance():
    torch.manual_seed(2)
    mu = torch.tensor([[0.5, -2.0, 3.0]]).repeat(50_000, 1)
    sigma_square = torch.tensor([[0.25, 1.0, 4.0]]).repeat(50_000, 1)
    z = vae.VAE.sample_diagonal_gaussian(mu, sigma_square)
    assert z.shape == mu.shape, f"sample_diagonal_gaussian: shape {tuple(z.shape)}, expected {tuple(mu.shape)}"
    # standard errors: mean sigma/224 <= 0.009; variance sigma^2 sqrt(2/N) <= 0.025
    assert_close(z.mean(dim=0), mu[0], "sample_diagonal_gaussian: the mean of many samples must be mu", atol=0.045)
    assert_close(z.var(dim=0), sigma_square[0], "sample_diagonal_gaussian: the variance of many samples must be "
                 "sigma_square (the variance, not the standard deviation)", rtol=0.03, atol=0)
    assert not torch.equal(z[0], z[1]), "sample_diagonal_gaussian: every row needs its own noise"


@SAMPLE_GAUSS
def test_gaussian_samples_are_reparameterised():
    torch.manual_seed(3)
    mu = torch.zeros(40_000, 2, requires_grad=True)
    sigma_square = torch.full((40_000, 2), 2.0, requires_grad=True)
    z = vae.VAE.sample_diagonal_gaussian(mu, sigma_square)
    assert z.requires_grad, "sample_diagonal_gaussian: the sample must be differentiable in mu and sigma_square"
    grad_mu, grad_var = torch.autograd.grad((z + z ** 2).sum(), (mu, sigma_square))
    # d(z + z^2)/d mu = 1 + 2z, mean 1; d(z^2)/d sigma^2 = z eps / sigma = eps^2, mean 1 (SE 0.007)
    assert_close(grad_mu.mean(), torch.tensor(1.0), "sample_diagonal_gaussian: gradient with respect to mu", atol=0.05)
    assert_close(grad_var.mean(), torch.tensor(1.0), "sample_diagonal_gaussian: gradient with respect to sigma_square "
                 "(z = mu + sqrt(sigma_square) * eps)", atol=0.05)


@SAMPLE_BERN
def test_bernoulli_samples_are_binary_with_the_asked_frequency():
    torch.manual_seed(4)
    p = torch.tensor([[0.0, 0.1, 0.5, 0.9, 1.0]]).repeat(40_000, 1)
    x = vae.VAE.sample_Bernoulli(p)
    assert x.shape == p.shape and x.dtype == p.dtype, (
        f"sample_Bernoulli: got {tuple(x.shape)} {x.dtype}, expected {tuple(p.shape)} {p.dtype}"
    )
    assert ((x == 0) | (x == 1)).all(), "sample_Bernoulli: every value must be 0 or 1"
    assert (x[:, 0] == 0).all() and (x[:, 4] == 1).all(), "sample_Bernoulli: p = 0 gives 0 and p = 1 gives 1, always"
    assert_close(x.mean(dim=0), p[0], "sample_Bernoulli: the frequency of ones must be p (SE <= 0.0025)", atol=0.0125)


# ---- elbo_loss ---------------------------------------------------------------------------------


def elbo_arguments(seed: int, batch=4, latent=2, data=12):
    return (draw(seed, (batch, latent)), draw(seed + 1, (batch, latent)), draw(seed + 2, (batch, latent), 0.2, 2.0),
            torch.bernoulli(draw(seed + 3, (batch, data), 0, 1)), draw(seed + 4, (batch, data), 0.05, 0.95))


@ELBO
def test_elbo_is_the_batch_mean_of_three_log_densities():
    z, mu, sigma_square, x, p = elbo_arguments(90)
    got = vae.VAE.elbo_loss(oracle_vae(), z, mu, sigma_square, x, p)
    assert got.shape == (), f"elbo_loss must return a scalar, got shape {tuple(got.shape)}"
    terms = (Bernoulli(probs=p).log_prob(x).sum(1) + Normal(0.0, 1.0).log_prob(z).sum(1)
             - Normal(mu, sigma_square.sqrt()).log_prob(z).sum(1))
    assert_close(got, terms.mean(), "elbo_loss = mean over the batch of log p(x|z) + log p(z) - log q(z|x)")


@ELBO
def test_elbo_is_a_mean_over_the_batch_not_a_sum():
    args = elbo_arguments(95, batch=3)
    once = vae.VAE.elbo_loss(oracle_vae(), *args)
    twice = vae.VAE.elbo_loss(oracle_vae(), *(torch.cat([a, a]) for a in args))
    assert_close(twice, once, "elbo_loss: repeating the batch must not change a batch mean")


@ELBO
def test_elbo_trains_the_encoder_and_the_decoder():
    z, mu, sigma_square, x, p = (t.requires_grad_(True) for t in elbo_arguments(97))
    x.requires_grad_(False)
    value = vae.VAE.elbo_loss(oracle_vae(), z, mu, sigma_square, x, p)
    grads = torch.autograd.grad(value, (z, mu, sigma_square, p), allow_unused=True)
    for name, grad in zip(("sampled_z", "mu", "sigma_square", "p"), grads):
        assert grad is not None and grad.abs().sum() > 0, f"elbo_loss: no gradient reaches {name}"
