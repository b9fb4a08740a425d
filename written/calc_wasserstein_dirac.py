"""Numbers and checks behind written/wasserstein_dirac.md (KL versus W1 for two narrow Gaussians).

p_theta = N(theta, eps^2), p_data = N(theta0, eps^2) in 1-D; eps -> 0 gives two point masses.
"""

from __future__ import annotations

import numpy as np

# The worked example: the two centres one unit apart, widths shrinking by factors of 10.
THETA, THETA0 = 1.0, 0.0
EPSILONS = (1.0, 0.1, 0.01)


def kl_closed_form(theta: float, theta0: float, eps: float) -> float:
    """KL(N(theta, eps^2) || N(theta0, eps^2)) = (theta - theta0)^2 / (2 eps^2)."""
    return (theta - theta0) ** 2 / (2.0 * eps**2)


def kl_derivative(theta: float, theta0: float, eps: float) -> float:
    """d/dtheta of the KL above: (theta - theta0) / eps^2."""
    return (theta - theta0) / eps**2


def kl_numeric(theta: float, theta0: float, eps: float, points: int = 200001) -> float:
    """The same KL by a Riemann sum of p log(p/q) over theta +- 12 eps, in log space."""
    x = np.linspace(theta - 12 * eps, theta + 12 * eps, points)
    log_p = -0.5 * ((x - theta) / eps) ** 2 - np.log(eps * np.sqrt(2 * np.pi))
    log_q = -0.5 * ((x - theta0) / eps) ** 2 - np.log(eps * np.sqrt(2 * np.pi))
    return float(np.sum(np.exp(log_p) * (log_p - log_q)) * (x[1] - x[0]))


def w1_by_quantiles(theta: float, theta0: float, eps: float, n: int = 100001) -> float:
    """W1 in 1-D is the integral over u in (0, 1) of |F_p^{-1}(u) - F_q^{-1}(u)|; the quantiles of
    N(c, eps^2) are c + eps * (standard-normal quantile), estimated here from sorted samples."""
    rng = np.random.default_rng(0)
    base = np.sort(rng.standard_normal(n))
    return float(np.mean(np.abs((theta + eps * base) - (theta0 + eps * np.sort(rng.standard_normal(n))))))


def critic_objective(d, theta: float, theta0: float) -> float:
    """L_D = D(theta) - D(theta0) for the two point masses (the quantity the critic minimises)."""
    return float(d(theta) - d(theta0))


def scaled_critic(scale: float, theta: float, theta0: float):
    """D_c(x) = c * sign(theta0 - theta) * x: an unbounded family with L_D = -c |theta - theta0|."""
    direction = np.sign(theta0 - theta)
    return lambda x: scale * direction * x


def random_lipschitz_critic(rng: np.random.Generator, low: float = -3.0, high: float = 3.0, pieces: int = 60):
    """A random continuous piecewise-linear function with every slope in [-1, 1]."""
    knots = np.linspace(low, high, pieces + 1)
    slopes = rng.uniform(-1.0, 1.0, pieces)
    values = np.concatenate([[rng.normal()], np.cumsum(slopes * np.diff(knots))])
    values[1:] += values[0]
    return lambda x: float(np.interp(x, knots, values))


def optimal_lipschitz_critic(theta: float, theta0: float):
    """D*(x) = sign(theta0 - theta) * x: slope +-1, rising towards the data."""
    direction = np.sign(theta0 - theta)
    return lambda x: float(direction * x)


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    table = {}
    for eps in EPSILONS:
        table[f"eps={eps:g}"] = f"{eps:g}"
        table[f"KL, eps={eps:g}"] = f"{kl_closed_form(THETA, THETA0, eps):g}"
        table[f"dKL, eps={eps:g}"] = f"{kl_derivative(THETA, THETA0, eps):g}"
    table["W1"] = f"{abs(THETA - THETA0):g}"
    return {"wdirac-kl-limit": table}
