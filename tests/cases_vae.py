"""Graded cases of ``vae.py``: the IFT6135 likelihood toolkit and the CS446 Bernoulli VAE.

Inputs come from NumPy generators; so do the decoder's weights (``fill_parameters`` with a seed
that is part of the inputs). Everything runs in float32, as in training.

Deterministic functions are compared with the reference solution's outputs and gradients.
The two samplers draw their own noise, so their cases return statistics of many draws (mean,
variance, the average gradient through the reparameterisation) instead of one draw; their
tolerances are sized to the Monte-Carlo error of two independent runs (about 5 standard errors),
and every plausible mistake moves a statistic by several times that.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.harness import Case, fill_parameters, to_numpy

# IFT6135 tasks
BERNOULLI = "log_likelihood_bernoulli"
NORMAL = "log_likelihood_normal"
LME = "log_mean_exp"
KL_ANALYTIC = "kl_gaussian_gaussian_analytic"
KL_MC = "kl_gaussian_gaussian_mc"
# CS446 tasks
DECODER = "decoder"
GAUSS_PDF = "logpdf_diagonal_gaussian"
BERN_PDF = "logpdf_bernoulli"
SAMPLE_GAUSS = "sample_diagonal_gaussian"
SAMPLE_BERN = "sample_Bernoulli"
ELBO = "elbo_loss"

# float32 sums of up to a few hundred terms of order 1 (rounding seen: ~1e-5 relative); values at
# log-variances of +-30 reach 1e13 and are compared relatively.
RTOL, ATOL = 1e-4, 1e-4
DRAWS = 40_000  # draws per entry in the sampler cases
RTOL_STAT, ATOL_STAT = 0.0, 0.12  # ~5 standard errors of the difference of two runs (see each case)


def tensor(array, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.float32, requires_grad=grad)


def _shape(rng: np.random.Generator, hidden: bool, public: tuple) -> tuple:
    """The public shape, or (B, trailing...) with 1-4 examples and one to three trailing sizes."""
    if not hidden:
        return public
    trailing = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    return (int(rng.integers(1, 5)), *trailing)


def _grads(output: torch.Tensor, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Gradients of a fixed random-weighted sum of ``output`` with respect to each named input."""
    weights = torch.linspace(0.5, 1.5, output.numel()).reshape(output.shape)
    grads = torch.autograd.grad((output * weights).sum(), list(inputs.values()), allow_unused=True)
    return {f"grad_{name}": to_numpy(g if g is not None else torch.zeros_like(t))
            for (name, t), g in zip(inputs.items(), grads)}


# ---- IFT6135 toolkit ---------------------------------------------------------------------------


def bernoulli_inputs(public=(3, 2, 5), saturated: bool = False):
    def make(rng, hidden):
        shape = _shape(rng, hidden, public)
        target = rng.integers(0, 2, size=shape).astype(np.float64)
        mu = rng.uniform(0.02, 0.98, size=shape)
        if saturated:  # about a third of the means exactly 0 or 1, always with the matching target
            exact = rng.uniform(size=shape) < 0.35
            mu = np.where(exact, target, mu)
        return {"mu": mu, "target": target}

    return make


def run_bernoulli(inputs):
    from vae import log_likelihood_bernoulli

    mu = tensor(inputs["mu"], grad=True)
    value = log_likelihood_bernoulli(mu, tensor(inputs["target"]))
    return {"value": to_numpy(value), **_grads(value, {"mu": mu})}


def run_bernoulli_value(inputs):
    """Values only: the gradient at a mean of exactly 0 or 1 is not defined."""
    from vae import log_likelihood_bernoulli

    return {"value": to_numpy(log_likelihood_bernoulli(tensor(inputs["mu"]), tensor(inputs["target"])))}


def gaussian_inputs(public=(3, 4), names=("mu", "logvar", "z"), extreme: bool = False):
    """Means and points N(0, 1.5^2); log-variances in [-2, 2], or +-30 when ``extreme``."""

    def make(rng, hidden):
        shape = _shape(rng, hidden, public)
        arrays = {}
        for name in names:
            if name.startswith("logvar"):
                arrays[name] = rng.choice([-30.0, 30.0], size=shape) if extreme else rng.uniform(-2, 2, size=shape)
            else:
                arrays[name] = 1.5 * rng.normal(size=shape)
        return arrays

    return make


def run_normal(inputs):
    from vae import log_likelihood_normal

    named = {name: tensor(inputs[name], grad=True) for name in ("mu", "logvar", "z")}
    value = log_likelihood_normal(named["mu"], named["logvar"], named["z"])
    return {"value": to_numpy(value), **_grads(value, named)}


def lme_inputs(public=(4, 6), offset: float = 0.0, spread: float = 3.0):
    def make(rng, hidden):
        shape = _shape(rng, hidden, public)
        rows = offset + spread * rng.normal(size=shape)
        if offset:  # mix rows near +offset and near -offset
            rows *= np.where(rng.uniform(size=(shape[0],) + (1,) * (len(shape) - 1)) < 0.5, 1.0, -1.0)
        return {"y": rows}

    return make


def run_lme(inputs):
    from vae import log_mean_exp

    y = tensor(inputs["y"], grad=True)
    value = log_mean_exp(y)
    return {"value": to_numpy(value), **_grads(value, {"y": y})}


KL_NAMES = ("mu_q", "logvar_q", "mu_p", "logvar_p")


def run_kl_analytic(inputs):
    from vae import kl_gaussian_gaussian_analytic

    named = {name: tensor(inputs[name], grad=True) for name in KL_NAMES}
    value = kl_gaussian_gaussian_analytic(*named.values())
    return {"value": to_numpy(value), **_grads(value, named)}


def kl_mc_inputs(public=(3, 4), samples: int = 3, extreme: bool = False):
    base = gaussian_inputs(public, KL_NAMES, extreme)

    def make(rng, hidden):
        arrays = base(rng, hidden)
        count = int(rng.integers(1, 6)) if hidden else samples
        size = arrays["mu_q"].shape
        arrays["noise"] = rng.normal(size=(size[0], count, int(np.prod(size[1:]))))
        return arrays

    return make


def run_kl_mc(inputs):
    from vae import kl_gaussian_gaussian_mc

    named = {name: tensor(inputs[name], grad=True) for name in KL_NAMES}
    noise = tensor(inputs["noise"])
    value = kl_gaussian_gaussian_mc(*named.values(), num_samples=noise.shape[1], noise=noise)
    return {"value": to_numpy(value), **_grads(value, {k: named[k] for k in ("mu_q", "logvar_q")})}


# ---- CS446 Bernoulli VAE -------------------------------------------------------------------------


def decoder_inputs(public=(4, 2, 16, 10)):
    """A batch of latents, the layer sizes (B, Z, H, D) and the weights' seed."""

    def make(rng, hidden):
        batch, latent, hidden_units, data = public
        if hidden:
            batch, latent, hidden_units, data = (int(rng.integers(1, 6)), int(rng.integers(1, 4)),
                                                 int(rng.integers(3, 20)), int(rng.integers(2, 30)))
        return {"z": 2.0 * rng.normal(size=(batch, latent)), "hidden_units": np.array(hidden_units),
                "data_dimension": np.array(data), "weight_seed": np.array(rng.integers(2**31))}

    return make


def build_decoder(inputs):
    from vae import Decoder

    decoder = Decoder(inputs["z"].shape[1], int(inputs["hidden_units"]), int(inputs["data_dimension"]))
    fill_parameters(decoder, np.random.default_rng(int(inputs["weight_seed"])))
    return decoder


def run_decoder(inputs):
    decoder = build_decoder(inputs)
    z = tensor(inputs["z"], grad=True)
    p = decoder(z)
    return {"p": to_numpy(p), **_grads(p, {"z": z})}


def latent_inputs(public=(5, 2)):
    def make(rng, hidden):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 5))) if hidden else public
        return {"z": 1.5 * rng.normal(size=shape), "mu": rng.normal(size=shape),
                "sigma_square": rng.uniform(0.2, 3.0, size=shape)}

    return make


def run_gauss_pdf(inputs):
    from vae import VAE

    named = {name: tensor(inputs[name], grad=True) for name in ("z", "mu", "sigma_square")}
    value = VAE.logpdf_diagonal_gaussian(named["z"], named["mu"], named["sigma_square"])
    return {"value": to_numpy(value), **_grads(value, named)}


def pixel_inputs(public=(3, 12), saturated: bool = False):
    def make(rng, hidden):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 40))) if hidden else public
        x = rng.integers(0, 2, size=shape).astype(np.float64)
        p = rng.uniform(0.02, 0.98, size=shape)
        if saturated:
            p = np.where(rng.uniform(size=shape) < 0.35, x, p)
        return {"x": x, "p": p}

    return make


def run_bern_pdf(inputs):
    from vae import VAE

    p = tensor(inputs["p"], grad=True)
    value = VAE.logpdf_bernoulli(tensor(inputs["x"]), p)
    return {"value": to_numpy(value), **_grads(value, {"p": p})}


def run_bern_pdf_value(inputs):
    from vae import VAE

    return {"value": to_numpy(VAE.logpdf_bernoulli(tensor(inputs["x"]), tensor(inputs["p"])))}


def elbo_inputs(public=(4, 2, 10)):
    def make(rng, hidden):
        batch, latent, data = public
        if hidden:
            batch, latent, data = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 30))
        return {"sampled_z": rng.normal(size=(batch, latent)), "mu": rng.normal(size=(batch, latent)),
                "sigma_square": rng.uniform(0.2, 2.0, size=(batch, latent)),
                "x": rng.integers(0, 2, size=(batch, data)).astype(np.float64),
                "p": rng.uniform(0.05, 0.95, size=(batch, data))}

    return make


def oracle_vae():
    """The student's VAE class with its two log-density helpers replaced by torch.distributions.

    ``elbo_loss`` is graded on its own: a mistake in ``logpdf_*`` costs points there, not here.
    The class itself stands in for ``self`` (``elbo_loss`` needs only those static methods), so
    no network is built.
    """
    from torch.distributions import Bernoulli, Normal

    from vae import VAE

    class Oracle(VAE):
        @staticmethod
        def logpdf_bernoulli(x, p):
            return Bernoulli(probs=p).log_prob(x).sum(dim=1)

        @staticmethod
        def logpdf_diagonal_gaussian(z, mu, sigma_square):
            return Normal(mu, sigma_square.sqrt()).log_prob(z).sum(dim=1)

    return Oracle


def run_elbo(inputs):
    from vae import VAE

    names = ("sampled_z", "mu", "sigma_square", "x", "p")
    named = {name: tensor(inputs[name], grad=name != "x") for name in names}
    value = VAE.elbo_loss(oracle_vae(), *named.values())
    return {"value": to_numpy(value), **_grads(value, {k: v for k, v in named.items() if k != "x"})}


def run_sample_gauss(inputs):
    """Statistics of DRAWS reparameterised samples of each entry, and their average gradients.

    mean ~ mu and variance ~ sigma^2 (standard errors <= 0.01 and 0.02 here); d mean(z)/d mu = 1
    exactly; d mean(z^2)/d sigma^2 has expectation 1 (standard error <= 0.02 for these inputs).
    """
    from vae import VAE

    torch.manual_seed(int(inputs["seed"]))
    mu = tensor(inputs["mu"], grad=True)
    sigma_square = tensor(inputs["sigma_square"], grad=True)
    rows, dims = mu.shape
    z = VAE.sample_diagonal_gaussian(mu.repeat(DRAWS, 1), sigma_square.repeat(DRAWS, 1)).view(DRAWS, rows, dims)
    (grad_mu,) = torch.autograd.grad(z.mean(dim=0).sum(), mu, retain_graph=True)
    (grad_var,) = torch.autograd.grad((z ** 2).mean(dim=0).sum(), sigma_square)
    return {"mean": to_numpy(z.mean(dim=0)), "variance": to_numpy(z.var(dim=0)),
            "grad_mu": to_numpy(grad_mu), "grad_sigma_square": to_numpy(grad_var)}


def sample_gauss_inputs(public=(3, 2)):
    def make(rng, hidden):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if hidden else public
        return {"mu": rng.uniform(-2, 2, size=shape), "sigma_square": rng.uniform(0.5, 2.0, size=shape),
                "seed": np.array(rng.integers(2**31))}

    return make


def run_sample_bern(inputs):
    """The frequency of ones over DRAWS draws (standard error <= 0.0025) and the share of 0/1 values."""
    from vae import VAE

    torch.manual_seed(int(inputs["seed"]))
    p = tensor(inputs["p"])
    x = VAE.sample_Bernoulli(p.repeat(DRAWS, 1))
    binary = ((x == 0) | (x == 1)).float().mean()
    return {"frequency": to_numpy(x.view(DRAWS, *p.shape).mean(dim=0)), "binary_share": to_numpy(binary),
            "shape": np.array(x.shape, dtype=np.float64)}


def sample_bern_inputs(public=(2, 6)):
    def make(rng, hidden):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 8))) if hidden else public
        p = rng.uniform(0, 1, size=shape)
        p.flat[0], p.flat[-1] = 0.0, 1.0  # the edges: never / always one
        return {"p": p, "seed": np.array(rng.integers(2**31))}

    return make


CASES = [
    # IFT6135 1.1-1.5
    Case(BERNOULLI, "bernoulli_images", 301, bernoulli_inputs(), run_bernoulli, RTOL, ATOL),
    Case(BERNOULLI, "bernoulli_flat", 302, bernoulli_inputs(public=(4, 9)), run_bernoulli, RTOL, ATOL),
    Case(BERNOULLI, "bernoulli_saturated", 303, bernoulli_inputs(public=(4, 10), saturated=True),
         run_bernoulli_value, RTOL, ATOL),
    Case(NORMAL, "normal_flat", 311, gaussian_inputs(), run_normal, RTOL, ATOL),
    Case(NORMAL, "normal_images", 312, gaussian_inputs(public=(2, 1, 3, 3)), run_normal, RTOL, ATOL),
    Case(NORMAL, "normal_logvar_30", 313, gaussian_inputs(public=(3, 5), extreme=True), run_normal, RTOL, ATOL),
    Case(LME, "lme_small", 321, lme_inputs(), run_lme, RTOL, ATOL),
    Case(LME, "lme_one_sample", 322, lme_inputs(public=(3, 1)), run_lme, RTOL, ATOL),
    Case(LME, "lme_thousand", 323, lme_inputs(public=(4, 5), offset=1000.0), run_lme, RTOL, 1e-3),
    Case(KL_ANALYTIC, "kl_analytic", 331, gaussian_inputs(names=KL_NAMES), run_kl_analytic, RTOL, ATOL),
    Case(KL_ANALYTIC, "kl_analytic_images", 332, gaussian_inputs(public=(2, 2, 3), names=KL_NAMES),
         run_kl_analytic, RTOL, ATOL),
    Case(KL_ANALYTIC, "kl_analytic_logvar_30", 333, gaussian_inputs(public=(2, 8), names=KL_NAMES, extreme=True),
         run_kl_analytic, RTOL, ATOL),
    Case(KL_MC, "kl_mc", 341, kl_mc_inputs(), run_kl_mc, RTOL, ATOL),
    Case(KL_MC, "kl_mc_one_sample", 342, kl_mc_inputs(public=(2, 3), samples=1), run_kl_mc, RTOL, ATOL),
    Case(KL_MC, "kl_mc_images", 343, kl_mc_inputs(public=(2, 2, 2), samples=4), run_kl_mc, RTOL, ATOL),
    Case(KL_MC, "kl_mc_logvar_30", 344, kl_mc_inputs(public=(2, 4), extreme=True), run_kl_mc, RTOL, ATOL),
    # CS446 section 2
    Case(DECODER, "decoder", 401, decoder_inputs(), run_decoder, RTOL, 1e-5),
    Case(DECODER, "decoder_one_example", 402, decoder_inputs(public=(1, 3, 7, 5)), run_decoder, RTOL, 1e-5),
    Case(GAUSS_PDF, "gaussian_logpdf", 411, latent_inputs(), run_gauss_pdf, RTOL, ATOL),
    Case(GAUSS_PDF, "gaussian_logpdf_wide", 412, latent_inputs(public=(2, 7)), run_gauss_pdf, RTOL, ATOL),
    Case(BERN_PDF, "bernoulli_logpdf", 421, pixel_inputs(), run_bern_pdf, RTOL, ATOL),
    Case(BERN_PDF, "bernoulli_logpdf_saturated", 422, pixel_inputs(public=(4, 20), saturated=True),
         run_bern_pdf_value, RTOL, ATOL),
    Case(SAMPLE_GAUSS, "gaussian_sample_statistics", 431, sample_gauss_inputs(), run_sample_gauss,
         RTOL_STAT, ATOL_STAT),
    Case(SAMPLE_BERN, "bernoulli_sample_statistics", 441, sample_bern_inputs(), run_sample_bern, 0.0, 0.015),
    Case(ELBO, "elbo", 451, elbo_inputs(), run_elbo, RTOL, ATOL),
    Case(ELBO, "elbo_one_example", 452, elbo_inputs(public=(1, 3, 6)), run_elbo, RTOL, ATOL),
]
