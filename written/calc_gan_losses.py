"""Numbers and checks behind written/gan_losses.md (saturation, optimal logits, KL, projection D).

1-D densities live on the grid of calc_gan_js; integrals are Riemann sums. Natural logarithms.
"""

from __future__ import annotations

import functools

import numpy as np

from written.calc_format import latex_sci
from written.calc_gan_js import DX, GRID, gaussian, kl, optimal_discriminator


def sigmoid(h):
    return 1.0 / (1.0 + np.exp(-np.asarray(h, dtype=float)))


def minimax_grad(h):
    """d/dh log(1 - sigmoid(h)) = -sigmoid(h): the factor multiplying dh/dtheta in the minimax loss."""
    return -sigmoid(h)


def nonsaturating_grad(h):
    """d/dh [-log sigmoid(h)] = -(1 - sigmoid(h)) = -sigmoid(-h)."""
    return -sigmoid(-np.asarray(h, dtype=float))


# Logits of a fake sample the discriminator rejects more and more confidently.
LOGITS = (-2.0, -5.0, -10.0)


def pointwise_argmin(a: float, b: float, n: int = 200001) -> float:
    """The t in (0, 1) minimising f(t) = -a log t - b log(1 - t), by brute force on a grid."""
    t = np.linspace(0.0, 1.0, n)[1:-1]
    return float(t[np.argmin(-a * np.log(t) - b * np.log1p(-t))])


def discriminator_loss(d: np.ndarray, p_data: np.ndarray, p_model: np.ndarray, dx: float = DX) -> float:
    """L_D = -int p_data log D + p_model log(1 - D) dx, for D with values in (0, 1)."""
    return float(-np.sum(p_data * np.log(d) + p_model * np.log1p(-d)) * dx)


def optimal_logits(p_data: np.ndarray, p_model: np.ndarray) -> np.ndarray:
    """logit(D*) = log D* - log(1 - D*), computed from D* itself (not from the claimed formula)."""
    d = optimal_discriminator(p_data, p_model)
    return np.log(d) - np.log1p(-d)


def combined_generator_loss(p_data: np.ndarray, p_model: np.ndarray, dx: float = DX) -> float:
    """L_G = E_{p_model}[log(1 - D*) - log D*] with D* the optimal discriminator, on the grid."""
    total = p_data + p_model
    log_d = np.log(p_data / total)
    log_1md = np.log(p_model / total)
    return float(np.sum(p_model * (log_1md - log_d)) * dx)


def entropy(p: np.ndarray, dx: float = DX) -> float:
    """Differential entropy -int p log p dx."""
    keep = p > 0
    return float(-np.sum(p[keep] * np.log(p[keep])) * dx)


def cross_entropy(p: np.ndarray, q: np.ndarray, dx: float = DX) -> float:
    """-int p log q dx: the expected negative log-likelihood of the model q on data from p."""
    keep = p > 0
    return float(-np.sum(p[keep] * np.log(q[keep])) * dx)


# The forward/reverse KL example: data = equal mixture of N(-MODE, 1) and N(+MODE, 1); the model
# is one Gaussian N(mu, sigma^2) fitted by brute force on a grid of (mu, sigma).
MODE = 3.0
_KL_GRID = np.linspace(-16.0, 16.0, 1601)  # coarser than GRID: the search evaluates many KLs


def bimodal_data(x: np.ndarray = _KL_GRID) -> np.ndarray:
    return 0.5 * gaussian(x, -MODE, 1.0) + 0.5 * gaussian(x, MODE, 1.0)


def _kl_table(mus: np.ndarray, sigmas: np.ndarray, direction: str) -> np.ndarray:
    """KL for every (mu, sigma) pair, shape (len(mus), len(sigmas)), in log space on _KL_GRID."""
    x, dx = _KL_GRID, float(_KL_GRID[1] - _KL_GRID[0])
    log_p = np.log(bimodal_data(x))
    out = np.empty((len(mus), len(sigmas)))
    for i, mu in enumerate(mus):
        z = (x[None, :] - mu) / sigmas[:, None]
        log_q = -0.5 * z**2 - np.log(sigmas[:, None] * np.sqrt(2.0 * np.pi))  # (S, X)
        if direction == "forward":
            out[i] = np.sum(np.exp(log_p) * (log_p - log_q), axis=1) * dx
        else:
            out[i] = np.sum(np.exp(log_q) * (log_q - log_p), axis=1) * dx
    return out


@functools.lru_cache(maxsize=None)  # pure and slow-ish: the tests ask for it twice
def fit_single_gaussian(direction: str) -> tuple[float, float, float]:
    """(mu, sigma, KL) of the Gaussian minimising KL(data || model) ("forward") or KL(model || data)
    ("reverse"): a coarse search over mu in [0, 4] (the problem is symmetric in mu) and sigma in
    [0.5, 4], then a fine search around the best coarse point (resolution 0.002)."""
    mus, sigmas = np.linspace(0.0, 4.0, 41), np.linspace(0.5, 4.0, 36)
    table = _kl_table(mus, sigmas, direction)
    i, j = np.unravel_index(np.argmin(table), table.shape)
    mus = np.clip(np.linspace(mus[i] - 0.1, mus[i] + 0.1, 101), 0.0, None)
    sigmas = np.linspace(sigmas[j] - 0.1, sigmas[j] + 0.1, 101)
    table = _kl_table(mus, sigmas, direction)
    i, j = np.unravel_index(np.argmin(table), table.shape)
    return float(mus[i]), float(sigmas[j]), float(table[i, j])


# ----------------------------------------------------------------------------------------------
# Projection discriminator: the log ratio of two unit Gaussians in feature space is linear.

def projection_parameters(mu: np.ndarray, mu_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (m, p) with rows (mu_y - mu_hat_y)^T and b (m,) with b_y = (||mu_hat_y||^2 - ||mu_y||^2)/2,
    from mu, mu_hat of shape (m, p) (class means of the data and of the model in the p features)."""
    return mu - mu_hat, 0.5 * (np.sum(mu_hat**2, axis=1) - np.sum(mu**2, axis=1))


def gaussian_log_ratio(phi: np.ndarray, mean_a: np.ndarray, mean_b: np.ndarray) -> np.ndarray:
    """log N(phi | mean_a, I) - log N(phi | mean_b, I), row by row: shapes (B, p) -> (B,)."""
    return -0.5 * np.sum((phi - mean_a) ** 2, axis=1) + 0.5 * np.sum((phi - mean_b) ** 2, axis=1)


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    grads = {}
    for h in LOGITS:
        grads[f"D at h={h:g}"] = latex_sci(float(sigmoid(h))) if sigmoid(h) < 1e-3 else f"{sigmoid(h):.2g}"
        decimals = max(2, 1 - int(np.floor(np.log10(sigmoid(h)))))  # enough to show 1 - D differs from 1
        grads[f"1-D at h={h:g}"] = f"{sigmoid(-h):.{decimals}f}"
        grads[f"h={h:g}"] = f"{h:g}"
    fwd = fit_single_gaussian("forward")
    rev = fit_single_gaussian("reverse")
    return {
        "ganloss-minimax-saturation": grads,
        "ganloss-nll-forward-kl": {
            "mode": f"{MODE:g}",
            "forward mu": f"{fwd[0]:.2f}",
            "forward sigma": f"{fwd[1]:.2f}",
            "forward KL": f"{fwd[2]:.2f}",
            "reverse mu": f"{rev[0]:.2f}",
            "reverse sigma": f"{rev[1]:.2f}",
            "reverse KL": f"{rev[2]:.2f}",
        },
    }
