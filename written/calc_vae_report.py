"""Numbers and checks behind written/vae_report.md (validation ELBO, importance-sampled log-likelihood).

The importance-sampling answer is illustrated on a latent-variable model small enough that
log p(x) is exact: z ~ N(0, 1), x | z ~ N(z, S2) in 1-D, so p(x) = N(0, 1 + S2) and the true
posterior is N(x / (1 + S2), S2 / (1 + S2)). The encoder q(z | x) is deliberately imperfect.
"""

from __future__ import annotations

import functools

import numpy as np

S2 = 0.25  # decoder variance of the toy model
X = 2.0  # the observed point
Q_MEAN_SHIFT = -0.6  # q's mean is the true posterior mean plus this
Q_VAR_SCALE = 0.5  # q's variance is this times the true posterior variance (too narrow)
K_VALUES = (10, 200)  # K = 1 is the ELBO itself in expectation
REPEATS = 20000  # independent estimates averaged per K
SEED = 0


def log_normal(x, mean, var):
    return -0.5 * (np.log(2.0 * np.pi * var) + (np.asarray(x) - mean) ** 2 / var)


def exact_log_likelihood(x: float = X) -> float:
    return float(log_normal(x, 0.0, 1.0 + S2))


def encoder(x: float = X) -> tuple[float, float]:
    """(mean, variance) of the imperfect q(z | x)."""
    post_mean, post_var = x / (1.0 + S2), S2 / (1.0 + S2)
    return post_mean + Q_MEAN_SHIFT, Q_VAR_SCALE * post_var


def elbo(x: float = X) -> float:
    """E_q[log p(x | z)] - KL(q(z | x) || N(0, 1)) in closed form."""
    m, v = encoder(x)
    recon = -0.5 * np.log(2 * np.pi * S2) - ((x - m) ** 2 + v) / (2 * S2)
    kl = 0.5 * (v + m**2 - 1.0 - np.log(v))
    return float(recon - kl)


def log_mean_exp(y: np.ndarray, axis: int = -1) -> np.ndarray:
    """log (1/K) sum_k exp(y_k), shifted by the max so that nothing under- or overflows."""
    top = np.max(y, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.mean(np.exp(y - top), axis=axis))


def importance_estimates(k: int, repeats: int, rng: np.random.Generator, x: float = X) -> np.ndarray:
    """``repeats`` independent K-sample estimates log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)."""
    m, v = encoder(x)
    z = m + np.sqrt(v) * rng.standard_normal((repeats, k))
    log_w = log_normal(x, z, S2) + log_normal(z, 0.0, 1.0) - log_normal(z, m, v)
    return log_mean_exp(log_w, axis=1)


@functools.lru_cache(maxsize=None)  # pure and slow-ish: the tests ask for it twice
def importance_table(seed: int = SEED) -> dict[int, float]:
    """K -> average of the K-sample estimate (over REPEATS runs)."""
    rng = np.random.default_rng(seed)
    return {k: float(importance_estimates(k, REPEATS, rng).mean()) for k in K_VALUES}


def float32_exp_floor() -> float:
    """Below this y, exp(y) rounds to 0 in single precision: log of half the smallest positive
    (subnormal) float32, the point where rounding goes down to zero instead of up to it."""
    return float(np.log(float(np.finfo(np.float32).smallest_subnormal) / 2.0))  # in float64


# The handout's target for the validation ELBO (nats per image) and the number of pixels.
TARGET_ELBO = -102.0
PIXELS = 784


def per_pixel(value: float = TARGET_ELBO, pixels: int = PIXELS) -> float:
    """The value a student reports by averaging, not summing, the log-likelihood over pixels."""
    return value / pixels


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    numbers = {
        "log p(x)": f"{exact_log_likelihood():.3f}",
        "ELBO": f"{elbo():.3f}",
        "x": f"{X:g}",
        "decoder variance": f"{S2:g}",
        "float32 floor": f"{float32_exp_floor():.0f}",
    }
    for k, value in importance_table().items():
        numbers[f"K={k}"] = f"{k}"
        numbers[f"estimate, K={k}"] = f"{value:.2f}"  # Monte-Carlo: two decimals are significant
    return {
        "vaereport-elbo-validation": {"per-pixel ELBO": f"{per_pixel():.3f}"},
        "vaereport-importance-sampling": numbers,
    }
