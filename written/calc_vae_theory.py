"""Numbers and checks behind written/vae_theory.md (VAE derivations).

Letters: G the data dimension, K the number of latent values of a discrete toy model.
Toy models keep every expectation exact: discrete latents for the bound and the Lagrangian, and a
one-dimensional linear-Gaussian model for the two estimators of the ELBO.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


# --- Gaussian decoder with unit variance ----------------------------------------------------------

def gaussian_nll(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """-log N(x; mean, I) = 0.5 ||x - mean||^2 + (G/2) log(2 pi), over the last axis."""
    g = x.shape[-1]
    return 0.5 * np.sum((x - mean) ** 2, axis=-1) + 0.5 * g * math.log(2 * math.pi)


# --- encoder output size --------------------------------------------------------------------------

LATENT = 2  # z in R^2


def encoder_outputs(latent: int, covariance: str) -> int:
    """Numbers the encoder must output for q(z|x) = N(mu(x), Sigma): the mean, plus Sigma's free entries."""
    free = {"identity": 0, "diagonal": latent, "full": latent * (latent + 1) // 2}[covariance]
    return latent + free


# --- Bernoulli decoder ----------------------------------------------------------------------------

def bernoulli_log_likelihood(x: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """log prod_j y_j^{x_j} (1 - y_j)^{1 - x_j} = sum_j [x_j log y_j + (1 - x_j) log(1 - y_j)]."""
    return np.sum(x * np.log(y_hat) + (1 - x) * np.log1p(-y_hat), axis=-1)


# --- discrete latent: Jensen bound, KL, Lagrangian ------------------------------------------------

def kl(q: np.ndarray, p: np.ndarray) -> float:
    """KL(q || p) for probability vectors (infinite when q has mass where p has none)."""
    mask = q > 0
    if np.any(p[mask] == 0):
        return math.inf
    return float(np.sum(q[mask] * np.log(q[mask] / p[mask])))


def elbo_discrete(q: np.ndarray, prior: np.ndarray, likelihood: np.ndarray) -> float:
    """sum_z q(z) log p(x|z) - KL(q || p(z)) for one x; likelihood[z] = p(x|z)."""
    return float(np.sum(q * np.log(likelihood))) - kl(q, prior)


def log_evidence(prior: np.ndarray, likelihood: np.ndarray) -> float:
    """log p(x) = log sum_z p(z) p(x|z)."""
    return float(np.log(np.sum(prior * likelihood)))


def posterior(prior: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
    """p(z|x) = p(x|z) p(z) / sum_z' p(x|z') p(z'): the stationary point of the Lagrangian."""
    joint = prior * likelihood
    return joint / joint.sum()


def lagrangian_gradient(q: np.ndarray, lam: float, prior: np.ndarray, likelihood: np.ndarray) -> np.ndarray:
    """d/dq(z) of sum q log p(x|z) - sum q log(q / p(z)) - lam (sum q - 1)."""
    return np.log(likelihood) - np.log(q / prior) - 1.0 - lam


BER_A, BER_B = 0.5, 0.1  # the Bernoulli pair showing that KL is not symmetric


def bernoulli_kl(a: float, b: float) -> float:
    """KL(Ber(a) || Ber(b))."""
    return a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))


# --- Gaussians with equal variance ----------------------------------------------------------------

def kl_equal_variance(mu_q: float, mu_p: float, sigma: float) -> float:
    """KL(N(mu_q, sigma^2) || N(mu_p, sigma^2)) = (mu_q - mu_p)^2 / (2 sigma^2)."""
    return (mu_q - mu_p) ** 2 / (2 * sigma**2)


def kl_by_quadrature(mu_q: float, mu_p: float, sigma: float, points: int = 400_001) -> float:
    """The same KL by the trapezoidal rule on +-12 standard deviations around mu_q."""
    z = np.linspace(mu_q - 12 * sigma, mu_q + 12 * sigma, points)
    log_q = -0.5 * ((z - mu_q) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
    log_p = -0.5 * ((z - mu_p) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
    return float(np.trapezoid(np.exp(log_q) * (log_q - log_p), z))


# --- the two forms of the ELBO as Monte-Carlo estimators -------------------------------------------
# Model: p(z) = N(0, 1), p(x|z) = N(z, 1); posterior p(z|x) = N(x/2, 1/2). Encoder q = N(m, s^2).
# Eq. 1 estimator: log p(x|z) - KL(q || p(z)) with the KL in closed form; Eq. 2: log p(x|z) + log p(z) - log q(z).
# Both are evaluated at one reparameterised draw z = m + s eps, eps ~ N(0, 1).

TOY_X = 1


def estimator_samples(x: float, m: float, s2: float, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Single-sample estimates of the ELBO by Eq. 1 and by Eq. 2 for each eps."""
    s = math.sqrt(s2)
    z = m + s * eps
    log_lik = -0.5 * math.log(2 * math.pi) - 0.5 * (x - z) ** 2
    log_prior = -0.5 * math.log(2 * math.pi) - 0.5 * z**2
    log_q = -0.5 * math.log(2 * math.pi * s2) - 0.5 * eps**2
    kl_closed = 0.5 * (s2 + m**2 - 1 - math.log(s2))
    return log_lik - kl_closed, log_lik + log_prior - log_q


def estimator_variances(x: Fraction, m: Fraction, s2: Fraction) -> tuple[Fraction, Fraction]:
    """Exact variances of the two single-sample estimators (derivation in the answer).

    Eq. 1: Var[-(x - z)^2 / 2] with x - z ~ N(x - m, s^2): s^4 / 2 + (x - m)^2 s^2.
    Eq. 2: the estimate is const + s (x - 2m) eps + (1/2 - s^2) eps^2: s^2 (x - 2m)^2 + 2 (1/2 - s^2)^2.
    """
    eq1 = s2**2 / 2 + (x - m) ** 2 * s2
    eq2 = s2 * (x - 2 * m) ** 2 + 2 * (Fraction(1, 2) - s2) ** 2
    return eq1, eq2


ENCODERS = {  # (m, s^2) of the two encoders compared in the answer
    "narrow": (Fraction(0), Fraction(1, 4)),
    "posterior": (Fraction(TOY_X, 2), Fraction(1, 2)),
}


def frac(value: Fraction) -> str:
    return "0" if value == 0 else rf"\tfrac{{{value.numerator}}}{{{value.denominator}}}"


def numbers() -> dict[str, dict[str, str]]:
    """Every number the answers print, per question, formatted as printed."""
    narrow = estimator_variances(Fraction(TOY_X), *ENCODERS["narrow"])
    post = estimator_variances(Fraction(TOY_X), *ENCODERS["posterior"])
    return {
        "vae-encoder-output-dim": {
            "identity": f"**{encoder_outputs(LATENT, 'identity')} numbers**",
            "diagonal": f"{encoder_outputs(LATENT, 'diagonal')} numbers",
            "full": f"{encoder_outputs(LATENT, 'full')} numbers",
        },
        "vae-kl-properties": {
            "a": rf"\mathrm{{Ber}}({BER_A})", "b": rf"\mathrm{{Ber}}({BER_B})",
            "forward": f"{bernoulli_kl(BER_A, BER_B):.4f}",
            "reverse": f"{bernoulli_kl(BER_B, BER_A):.4f}",
        },
        "vae-elbo-two-forms": {
            **{f"q_{name}": rf"\mathcal{{N}}({frac(m)}, {frac(s2)})" for name, (m, s2) in ENCODERS.items()},
            "x": f"x = {TOY_X}",
            "narrow_eq1": frac(narrow[0]), "narrow_eq2": frac(narrow[1]),
            "post_eq1": frac(post[0]), "post_eq2": frac(post[1]),
        },
    }
