"""Numbers and checks behind written/gan_divergences.md (GAN optimum; KL, JS and W1 of uniforms).

P_1 = U[0, 1], P_2 = U[0.5, 1.5], P_3 = U[1, 2]: P_2 and P_3 are P_1 shifted by 0.5 and by 1.
Integrals are computed numerically on a fine grid (trapezoidal rule), never from the closed forms.
"""

from __future__ import annotations

import math

import numpy as np

UNIFORMS = {"P1": (0.0, 1.0), "P2": (0.5, 1.5), "P3": (1.0, 2.0)}
GRID = np.linspace(-1.0, 3.0, 400_001)  # covers every support with room to spare; step 1e-5


def bounds(dist: str | tuple[float, float]) -> tuple[float, float]:
    """(a, b) of U[a, b], given by its name in UNIFORMS or directly."""
    return UNIFORMS[dist] if isinstance(dist, str) else dist


def density(name, x: np.ndarray) -> np.ndarray:
    a, b = bounds(name)
    return np.where((x >= a) & (x <= b), 1.0 / (b - a), 0.0)


def cdf(name, x: np.ndarray) -> np.ndarray:
    a, b = bounds(name)
    return np.clip((x - a) / (b - a), 0.0, 1.0)


def mass_where_other_vanishes(p: str, q: str) -> float:
    """P_p({x : q(x) = 0}): positive mass there makes KL(P_p || P_q) infinite."""
    return float(np.trapezoid(density(p, GRID) * (density(q, GRID) == 0), GRID))


def kl_against_smoothed(p: str, q: str, eps: float) -> float:
    """KL(P_p || (1 - eps) P_q + eps U[-1, 3]): finite for eps > 0, and it diverges as eps -> 0."""
    wide = 1.0 / (GRID[-1] - GRID[0])
    dp = density(p, GRID)
    dq = (1 - eps) * density(q, GRID) + eps * wide
    integrand = np.where(dp > 0, dp * np.log(np.where(dp > 0, dp, 1.0) / dq), 0.0)
    return float(np.trapezoid(integrand, GRID))


def w1(p: str, q: str) -> float:
    """W1 in one dimension: the area between the two CDFs, integral of |F_p - F_q|."""
    return float(np.trapezoid(np.abs(cdf(p, GRID) - cdf(q, GRID)), GRID))


def w1_by_quantiles(p: str, q: str, n: int = 200_001) -> float:
    """W1 as the mean distance between matched quantiles (the monotone transport plan)."""
    u = np.linspace(0.0, 1.0, n)
    (a1, b1), (a2, b2) = bounds(p), bounds(q)
    return float(np.trapezoid(np.abs((a1 + u * (b1 - a1)) - (a2 + u * (b2 - a2))), u))


def kantorovich_lower_bound(p: str, q: str) -> float:
    """E_q[f] - E_p[f] for the 1-Lipschitz f(x) = x: a lower bound on W1 (Kantorovich-Rubinstein)."""
    mean = lambda name: float(np.trapezoid(GRID * density(name, GRID), GRID))  # noqa: E731
    return mean(q) - mean(p)


def js(p: str, q: str) -> float:
    """Jensen-Shannon divergence by numerical integration."""
    dp, dq = density(p, GRID), density(q, GRID)
    m = (dp + dq) / 2

    def kl_to_m(d):
        return np.trapezoid(np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0) / np.where(m > 0, m, 1.0)), 0.0), GRID)

    return float(0.5 * kl_to_m(dp) + 0.5 * kl_to_m(dq))


def interval(name: str) -> str:
    a, b = UNIFORMS[name]
    return f"U[{a:g}, {b:g}]"


def numbers() -> dict[str, dict[str, str]]:
    """Every number the answers print, per question, formatted as printed."""
    shift2 = UNIFORMS["P2"][0] - UNIFORMS["P1"][0]
    return {
        "gan-div-optimal-generator": {"log4": f"{math.log(4):.4f}"},
        "gan-div-uniform-kl-w1": {
            "p2": interval("P2"),
            "w12": rf"\mathbb{{W}}_1(\mathbb{{P}}_1, \mathbb{{P}}_2) = {w1('P1', 'P2'):.1f}",
            "w13": rf"\mathbb{{W}}_1(\mathbb{{P}}_1, \mathbb{{P}}_3) = {w1('P1', 'P3'):.0f}",
            "shift2": f"shifted by {shift2:g}",
            "mass2": f"probability {round(mass_where_other_vanishes('P1', 'P2'), 3):g}",
            "half_way": f"[{UNIFORMS['P1'][0]:g}, {UNIFORMS['P2'][0]:g})",
            "js12": rf"\tfrac{{1}}{{2}}\log 2 \approx {js('P1', 'P2'):.4f}",
            "js13": rf"\log 2 \approx {js('P1', 'P3'):.4f}",
        },
    }
