"""Numbers and checks behind written/diffusion.md (DDPM forward process, ELBO, posterior, inpainting).

Notation as in the questions: alpha_t = 1 - beta_t, abar_t = alpha_1 * ... * alpha_t (abar_0 = 1).
Schedules are NumPy arrays ``betas`` with betas[t - 1] = beta_t, t = 1..T. Everything is scalar
(1-D data) unless said otherwise: the forward process acts on each coordinate independently.
"""

from __future__ import annotations

import numpy as np

# The linear schedule of Ho et al. (2020), "Denoising diffusion probabilistic models", Sec. 4:
# T = 1000 steps, beta rising linearly from 1e-4 to 0.02. Used only as a worked example.
HO_T = 1000
HO_BETA_1 = 1e-4
HO_BETA_T = 0.02


def linear_betas(steps: int = HO_T, beta_1: float = HO_BETA_1, beta_last: float = HO_BETA_T) -> np.ndarray:
    """beta_1..beta_T rising linearly; shape (T,)."""
    return np.linspace(beta_1, beta_last, steps)


def alpha_bars(betas: np.ndarray) -> np.ndarray:
    """abar_0..abar_T, shape (T + 1,), with abar_0 = 1 (no noise yet)."""
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def marginal_by_recursion(betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient of x_0 and variance of q(x_t | x_0), t = 0..T, stepping the chain one step at a time.

    x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) eps_t  gives  m_t = sqrt(alpha_t) m_{t-1} and
    v_t = alpha_t v_{t-1} + beta_t, starting from m_0 = 1, v_0 = 0.
    """
    m, v = [1.0], [0.0]
    for beta in betas:
        m.append(np.sqrt(1.0 - beta) * m[-1])
        v.append((1.0 - beta) * v[-1] + beta)
    return np.array(m), np.array(v)


def sample_chain(x0: float, betas: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n independent runs of the forward chain from x_0; returns x_0..x_T, shape (n, T + 1)."""
    out = np.empty((n, len(betas) + 1))
    out[:, 0] = x0
    for t, beta in enumerate(betas, start=1):
        out[:, t] = np.sqrt(1.0 - beta) * out[:, t - 1] + np.sqrt(beta) * rng.standard_normal(n)
    return out


def posterior(betas: np.ndarray, t: int) -> tuple[float, float, float]:
    """q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, var) for t >= 2: returns (c0, ct, var).

    c0 = sqrt(abar_{t-1}) beta_t / (1 - abar_t), ct = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t),
    var = (1 - abar_{t-1}) beta_t / (1 - abar_t).
    """
    ab = alpha_bars(betas)
    beta, alpha = betas[t - 1], 1.0 - betas[t - 1]
    c0 = np.sqrt(ab[t - 1]) * beta / (1.0 - ab[t])
    ct = np.sqrt(alpha) * (1.0 - ab[t - 1]) / (1.0 - ab[t])
    var = (1.0 - ab[t - 1]) * beta / (1.0 - ab[t])
    return float(c0), float(ct), float(var)


def posterior_by_conditioning(betas: np.ndarray, t: int) -> tuple[float, float, float]:
    """The same (c0, ct, var), from the joint Gaussian of (x_{t-1}, x_t) given x_0 and the
    textbook conditioning rule E[a | b] = E a + Cov(a, b) / Var(b) (b - E b); independent of the
    completing-the-square derivation of the answer."""
    ab = alpha_bars(betas)
    alpha = 1.0 - betas[t - 1]
    var_prev, var_t = 1.0 - ab[t - 1], 1.0 - ab[t]  # Var(x_{t-1} | x_0), Var(x_t | x_0)
    cov = np.sqrt(alpha) * var_prev  # Cov(x_{t-1}, x_t | x_0)
    ct = cov / var_t
    c0 = np.sqrt(ab[t - 1]) - ct * np.sqrt(ab[t])  # E x_{t-1} - ct E x_t, per unit of x_0
    return float(c0), float(ct), float(var_prev - cov**2 / var_t)


def posterior_mean_eps_form(x_t: np.ndarray, eps: np.ndarray, betas: np.ndarray, t: int) -> np.ndarray:
    """(x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t), where x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
    ab = alpha_bars(betas)
    return (x_t - betas[t - 1] / np.sqrt(1.0 - ab[t]) * eps) / np.sqrt(1.0 - betas[t - 1])


# ----------------------------------------------------------------------------------------------
# The ELBO on a model small enough to have an exact likelihood: T = 2, 1-D, linear-Gaussian reverse
# model p(x_2) = N(0, 1), p(x_1 | x_2) = N(a2 x_2, s2^2), p(x_0 | x_1) = N(a1 x_1, s1^2).

def _log_normal(x, mean, var):
    return -0.5 * (np.log(2.0 * np.pi * var) + (x - mean) ** 2 / var)


def _kl_normal(m1, v1, m2, v2):
    """KL(N(m1, v1) || N(m2, v2)) for scalars."""
    return 0.5 * (np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1.0)


def toy_log_likelihood(x0: float, a1: float, s1: float, a2: float, s2: float) -> float:
    """Exact log p(x_0) of the toy reverse model: x_0 ~ N(0, a1^2 (a2^2 + s2^2) + s1^2)."""
    return float(_log_normal(x0, 0.0, a1**2 * (a2**2 + s2**2) + s1**2))


def toy_elbo_monte_carlo(x0, betas, a1, s1, a2, s2, n, rng) -> float:
    """E_{q(x_1, x_2 | x_0)} [log p(x_0, x_1, x_2) - log q(x_1, x_2 | x_0)], by sampling the chain."""
    x = sample_chain(x0, betas, n, rng)
    x1, x2 = x[:, 1], x[:, 2]
    log_p = _log_normal(x2, 0.0, 1.0) + _log_normal(x1, a2 * x2, s2**2) + _log_normal(x0, a1 * x1, s1**2)
    log_q = _log_normal(x1, np.sqrt(1 - betas[0]) * x0, betas[0]) + _log_normal(x2, np.sqrt(1 - betas[1]) * x1, betas[1])
    return float(np.mean(log_p - log_q))


def toy_elbo_decomposed(x0, betas, a1, s1, a2, s2) -> tuple[float, float, float]:
    """The three terms of the decomposition in closed form: (reconstruction, prior KL, denoising KL).

    ELBO = E_q[log p(x_0 | x_1)] - KL(q(x_2 | x_0) || p(x_2)) - E_q[KL(q(x_1 | x_2, x_0) || p(x_1 | x_2))].
    """
    ab = alpha_bars(betas)
    m1, v1 = np.sqrt(ab[1]) * x0, 1.0 - ab[1]  # q(x_1 | x_0)
    m2, v2 = np.sqrt(ab[2]) * x0, 1.0 - ab[2]  # q(x_2 | x_0)
    recon = -0.5 * np.log(2 * np.pi * s1**2) - ((x0 - a1 * m1) ** 2 + a1**2 * v1) / (2 * s1**2)
    prior = _kl_normal(m2, v2, 0.0, 1.0)
    c0, ct, var = posterior(betas, 2)
    # mean gap c0 x_0 + (ct - a2) x_2 with x_2 ~ N(m2, v2): its second moment
    gap2 = (c0 * x0 + (ct - a2) * m2) ** 2 + (ct - a2) ** 2 * v2
    denoise = 0.5 * (np.log(s2**2 / var) + (var + gap2) / s2**2 - 1.0)
    return float(recon), float(prior), float(denoise)


# ----------------------------------------------------------------------------------------------
# Inpainting with the conditional score s(x) - 2 (x - x_known) * M.

def conditional_score(score: np.ndarray, x: np.ndarray, x_known: np.ndarray, mask: np.ndarray,
                      weight: float = 2.0) -> np.ndarray:
    """s(x | x_known) = s(x) - weight * (x - x_known) * M; weight 2 for p(x_known | x) ∝ exp(-||(x - x_known) * M||^2)."""
    return score - weight * (x - x_known) * mask


def gaussian_prior_posterior(x_known: float, observed: bool) -> tuple[float, float]:
    """Posterior mean and variance of one coordinate under the prior N(0, 1) and the soft
    observation exp(-M (x - x_known)^2): precision 1 + 2M, mean 2M x_known / (1 + 2M)."""
    m = 1.0 if observed else 0.0
    return 2.0 * m * x_known / (1.0 + 2.0 * m), 1.0 / (1.0 + 2.0 * m)


def langevin_inpaint(x_known: np.ndarray, mask: np.ndarray, n: int, steps: int, step: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Unadjusted Langevin with the conditional score, the prior being N(0, I) (score -x).

    Returns n samples, shape (n, d): x <- x + step * s(x | x_known) + sqrt(2 step) z.
    """
    x = rng.standard_normal((n, x_known.shape[0]))
    for _ in range(steps):
        s = conditional_score(-x, x, x_known, mask)
        x = x + step * s + np.sqrt(2.0 * step) * rng.standard_normal(x.shape)
    return x


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    ab = alpha_bars(linear_betas())
    return {
        "diffusion-forward-marginal": {
            "abar_T": f"{ab[-1] * 1e5:.2f}",  # written as  x \times 10^{-5}
            "sqrt abar_T": f"{np.sqrt(ab[-1]):.4f}",
            "sqrt(1 - abar_T)": f"{np.sqrt(1 - ab[-1]):.5f}",
            "T": f"{HO_T}",
            "beta_1": "10^{-4}",
            "beta_T": f"{HO_BETA_T}",
        },
    }
