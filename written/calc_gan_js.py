"""Numbers and checks behind written/gan_js.md (the minimax GAN, its optimal discriminator and JS).

Everything is computed on a uniform 1-D grid with NumPy: densities are arrays of values on the
grid, integrals are Riemann sums with the grid step ``dx``. Natural logarithms throughout.
"""

from __future__ import annotations

import numpy as np

# The grid on which the 1-D checks integrate: wide enough that the Gaussians below have no mass
# outside it, fine enough that a Riemann sum is accurate to about 1e-8.
GRID = np.linspace(-12.0, 12.0, 24001)
DX = float(GRID[1] - GRID[0])


def gaussian(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Density of N(mean, std^2) at x."""
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2.0 * np.pi))


def uniform(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Density of U[low, high) on the grid x, normalised so that its Riemann sum is exactly 1."""
    inside = ((x >= low) & (x < high)).astype(float)
    return inside / (inside.sum() * float(x[1] - x[0]))


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with the convention 0 * log(anything) = 0."""
    out = np.zeros_like(x, dtype=float)
    keep = x > 0
    out[keep] = x[keep] * np.log(y[keep])
    return out


def optimal_discriminator(p_r: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_r / (p_r + p_g); 1/2 where both densities vanish (any value is optimal there)."""
    total = p_r + p_g
    return np.divide(p_r, total, out=np.full_like(total, 0.5), where=total > 0)


def gan_value(d: np.ndarray, p_r: np.ndarray, p_g: np.ndarray, dx: float = DX) -> float:
    """V(D, G) = int p_r log D + p_g log(1 - D) dx, the quantity D maximises (D in (0, 1))."""
    return float(np.sum(_xlogy(p_r, d) + _xlogy(p_g, 1.0 - d)) * dx)


def optimal_value(p_r: np.ndarray, p_g: np.ndarray, dx: float = DX) -> float:
    """V(D*, G), with log D* and log(1 - D*) taken as log p_r/(p_r + p_g) and log p_g/(p_r + p_g).

    (Computing 1 - D* first would round to 0 in the far tails, where p_g << p_r.)
    """
    total = p_r + p_g
    safe = np.where(total > 0, total, 1.0)
    return float(np.sum(_xlogy(p_r, p_r / safe) + _xlogy(p_g, p_g / safe)) * dx)


def kl(p: np.ndarray, q: np.ndarray, dx: float = DX) -> float:
    """KL(p || q) = int p log(p / q) dx on the grid (inf where p has mass and q none)."""
    if np.any((p > 0) & (q == 0)):
        return float("inf")
    ratio = np.divide(p, q, out=np.ones_like(p), where=q > 0)
    return float(np.sum(_xlogy(p, ratio)) * dx)


def js(p: np.ndarray, q: np.ndarray, dx: float = DX) -> float:
    """JS(p, q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2."""
    m = 0.5 * (p + q)
    return 0.5 * kl(p, m, dx) + 0.5 * kl(q, m, dx)


def pointwise_argmax(a: float, b: float, n: int = 200001) -> float:
    """The t in (0, 1) maximising a log t + b log(1 - t), found by brute force on a grid."""
    t = np.linspace(0.0, 1.0, n)[1:-1]
    return float(t[np.argmax(a * np.log(t) + b * np.log1p(-t))])


def disjoint_js(gap: float) -> float:
    """JS between U[0, 1] and U[1 + gap, 2 + gap]: two densities with disjoint supports."""
    return js(uniform(GRID, 0.0, 1.0), uniform(GRID, 1.0 + gap, 2.0 + gap))


def saturation_factors(logit: float) -> tuple[float, float]:
    """|d/dh| of the minimax term log(1 - sigmoid(h)) and of the non-saturating -log sigmoid(h).

    The first is sigmoid(h) = D, the second 1 - sigmoid(h) = 1 - D.
    """
    d = 1.0 / (1.0 + np.exp(-logit))
    return float(d), float(1.0 - d)


# The logit of the "confident discriminator" example in the vanishing-gradient answer.
CONFIDENT_LOGIT = -6.0
# The separations of the disjoint-support example.
GAPS = (1.0, 10.0)


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    minimax, nonsat = saturation_factors(CONFIDENT_LOGIT)
    return {
        "ganjs-jensen-shannon": {
            "log 4": f"{np.log(4.0):.4f}",
            "log 2": f"{np.log(2.0):.4f}",
        },
        "ganjs-vanishing-gradients": {
            "JS of disjoint supports": f"{disjoint_js(GAPS[0]):.4f}",
            "D at the confident logit": f"{minimax:.4f}",
            "1 - D at the confident logit": f"{nonsat:.4f}",
        },
    }
