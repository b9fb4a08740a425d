"""Numbers and checks behind written/flows.md (MAF samples on moons; planar flows; flow posteriors).

Planar transformation (Rezende and Mohamed, 2015): f(z) = z + u h(w^T z + b), h = tanh, with
z, u, w of size d (batch-first arrays (B, d)) and a scalar b.
"""

from __future__ import annotations

import functools

import numpy as np


def planar(z: np.ndarray, u: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """f(z) = z + u tanh(w^T z + b); z (B, d), u and w (d,) -> (B, d)."""
    return z + np.tanh(z @ w + b)[:, None] * u[None, :]


def planar_logdet(z: np.ndarray, u: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """log |det df/dz| = log |1 + h'(w^T z + b) u^T w| with h' = 1 - tanh^2; (B, d) -> (B,)."""
    slope = 1.0 - np.tanh(z @ w + b) ** 2
    return np.log(np.abs(1.0 + slope * (u @ w)))


def numeric_jacobian(f, z: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of f: (d,) -> (d,) at one point z; shape (d, d)."""
    d = z.shape[0]
    jac = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = step
        jac[:, j] = (f(z + e) - f(z - e)) / (2 * step)
    return jac


def stacked_log_density(u0: np.ndarray, layers) -> tuple[np.ndarray, np.ndarray]:
    """Push u0 (B, d), drawn from N(0, I), through planar layers [(u, w, b), ...].

    Returns (u_k, log q_k(u_k)) with log q_k(u_k) = log N(u0; 0, I) - sum_j log|det J_j(u_{j-1})|.
    """
    d = u0.shape[1]
    log_q = -0.5 * np.sum(u0**2, axis=1) - 0.5 * d * np.log(2 * np.pi)
    z = u0
    for u, w, b in layers:
        log_q = log_q - planar_logdet(z, u, w, b)
        z = planar(z, u, w, b)
    return z, log_q


# Three example transformations of the "effect" question, in 2-D with the hyperplane x_1 = 0.
EXAMPLES = {
    "expansion": (np.array([1.0, 0.0]), np.array([3.0, 0.0]), 0.0),
    "contraction": (np.array([-0.3, 0.0]), np.array([3.0, 0.0]), 0.0),
    "shear": (np.array([0.0, 1.0]), np.array([3.0, 0.0]), 0.0),
}


def jacobian_on_hyperplane(u: np.ndarray, w: np.ndarray) -> float:
    """det df/dz at a point with w^T z + b = 0 (where h' = 1): 1 + u^T w."""
    return float(1.0 + u @ w)


# ----------------------------------------------------------------------------------------------
# The moons data of the MAF question: sklearn's make_moons (two half circles, Gaussian noise 0.05
# on each coordinate), then standardised per coordinate. The differential entropy of that
# distribution is the lowest expected negative log-likelihood any model can reach on it.

MOONS_NOISE = 0.05


def _moon_curve(t: np.ndarray) -> np.ndarray:
    """Both half circles at parameters t in [0, pi]: shape (2 len(t), 2)."""
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    return np.concatenate([outer, inner])


def moons_variances(noise: float = MOONS_NOISE) -> tuple[float, float]:
    """Per-coordinate variance of the noisy moons (t uniform on [0, pi], each moon with prob 1/2).

    x: E x = 1/2, E x^2 = (1/2 + 3/2)/2 = 1;  y: E y = 1/4, E y^2 = (1/2 + 3/4 - 2/pi)/2.
    """
    var_x = 1.0 - 0.25 + noise**2
    var_y = 0.5 * (0.5 + 0.75 - 2.0 / np.pi) - 0.0625 + noise**2
    return var_x, var_y


@functools.lru_cache(maxsize=None)  # pure and slow-ish: the tests ask for it twice
def moons_entropy(noise: float = MOONS_NOISE, curve_points: int = 300, hermite_nodes: int = 8) -> float:
    """Differential entropy (nats) of the standardised moons distribution, by deterministic quadrature.

    H = -E log p(x), x = c(t) + noise * e, t uniform on [0, pi] (midpoint rule, ``curve_points``
    per moon), e ~ N(0, I_2) (Gauss-Hermite rule, ``hermite_nodes`` per axis), where
    p(x) = mean over the curve of N(x; c(t'), noise^2 I) uses the same fine grid of t'. The curve
    spacing (pi / curve_points) is far below the noise, so the mixture is accurate. Standardising
    divides each coordinate by its std, which lowers the entropy by log(std_x std_y).
    """
    curve = _moon_curve((np.arange(curve_points) + 0.5) * np.pi / curve_points)  # (2P, 2), both moons
    nodes, weights = np.polynomial.hermite_e.hermegauss(hermite_nodes)  # for exp(-e^2 / 2)
    weights = weights / weights.sum()
    e = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), axis=-1).reshape(-1, 2)  # (N^2, 2)
    w = np.outer(weights, weights).reshape(-1)  # (N^2,)
    centres = curve[::3]  # every third curve point as the data centre: still far finer than the noise
    x = (centres[:, None, :] + noise * e[None]).reshape(-1, 2)  # (C N^2, 2)
    log_p = np.empty(len(x))
    for start in range(0, len(x), 2000):
        chunk = x[start:start + 2000]
        logits = -np.sum((chunk[:, None, :] - curve[None]) ** 2, axis=-1) / (2 * noise**2)
        top = logits.max(axis=1, keepdims=True)
        log_p[start:start + 2000] = (top[:, 0] + np.log(np.exp(logits - top).mean(axis=1))
                                     - np.log(2 * np.pi * noise**2))
    entropy = -np.mean(log_p.reshape(len(centres), -1) @ w)
    var_x, var_y = moons_variances(noise)
    return float(entropy - 0.5 * np.log(var_x * var_y))


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    dets = {f"det on hyperplane, {name}": f"{jacobian_on_hyperplane(u, w):g}" for name, (u, w, _) in EXAMPLES.items()}
    dets.update({f"u, {name}": f"({u[0]:g}, {u[1]:g})" for name, (u, w, _) in EXAMPLES.items()})
    dets["w"] = "(3, 0)"
    dets["density factor, contraction"] = f"{1 / jacobian_on_hyperplane(*EXAMPLES['contraction'][:2]):g}"
    return {
        "maf-moons-samples": {"entropy": f"{moons_entropy():.2f}"},
        "flows-planar-effect": dets,
    }
