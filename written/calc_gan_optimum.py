"""Numbers and checks behind written/gan_optimum.md (the optimal discriminator and the GAN optimum).

V(D, p_theta) = E_{p_x}[log D(x)] + E_{p_theta}[log(1 - D(x))], evaluated here on finite sample
spaces (probability vectors of length K), where every expectation is an exact sum.
"""

from __future__ import annotations

import math

import numpy as np


def pointwise(a: float, b: float, y: np.ndarray) -> np.ndarray:
    """The integrand at one x: a log y + b log(1 - y), with a = p_x(x), b = p_theta(x), y = D(x)."""
    return a * np.log(y) + b * np.log1p(-y)


def grid_argmax(a: float, b: float, points: int = 200_001) -> float:
    """Maximise the integrand over a fine grid of D(x) in (0, 1)."""
    y = np.linspace(0.0, 1.0, points)[1:-1]
    return float(y[np.argmax(pointwise(a, b, y))])


def optimal_discriminator(p_x: np.ndarray, p_theta: np.ndarray) -> np.ndarray:
    """D*(x) = p_x(x) / (p_x(x) + p_theta(x)) wherever the denominator is positive (else 1/2)."""
    total = p_x + p_theta
    return np.divide(p_x, total, out=np.full_like(total, 0.5), where=total > 0)


def value(p_x: np.ndarray, p_theta: np.ndarray, d: np.ndarray) -> float:
    """V(D, p_theta) on a finite space; terms with zero weight count as zero."""
    real = np.where(p_x > 0, p_x * np.log(np.where(p_x > 0, d, 1.0)), 0.0)
    fake = np.where(p_theta > 0, p_theta * np.log1p(-np.where(p_theta > 0, d, 0.0)), 0.0)
    return float(real.sum() + fake.sum())


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) on a finite space (assumes q > 0 wherever p > 0)."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def js(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def numbers() -> dict[str, str]:
    """Every number the answers print, formatted as printed."""
    return {
        "value_at_optimum": f"{-math.log(4):.4f}",
        "js_max": f"{math.log(2):.4f}",
    }
