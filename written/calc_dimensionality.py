"""Numbers and checks behind written/dimensionality.md (volume of high-dimensional balls).

Letters: d the dimension, r the radius, c the thickness of the outer shell.
"""

from __future__ import annotations

import math

import numpy as np

DIMENSIONS = (2, 10, 500)  # the dimensions the questions ask about
SHELL = 0.01  # c / r in the first question
INNER = 0.5  # the inner ball of the second question has radius r / 2
HALF = 0.5  # "half of the volume" in the answer's extra remark
LATENT_D = 500  # dimension of the Gaussian illustrating the third question
PIXELS = 784  # a 28 x 28 image


def ball_volume(d: int, r: float = 1.0) -> float:
    """V_d(r): pi^k / k! r^d for d = 2k, and 2 k! (4 pi)^k / (2k + 1)! r^d for d = 2k + 1.

    Evaluated through logarithms (lgamma(n + 1) = log n!) so that d = 500 does not overflow.
    """
    k, odd = divmod(d, 2)
    if odd:
        log_c = math.log(2) + math.lgamma(k + 1) + k * math.log(4 * math.pi) - math.lgamma(2 * k + 2)
    else:
        log_c = k * math.log(math.pi) - math.lgamma(k + 1)
    return math.exp(log_c + d * math.log(r))


def ball_volume_as_printed(d: int, r: float = 1.0) -> float:
    """The handout's odd-d formula, 2 k! (4 pi^k) / (2k + 1)! r^d (with the slip), for comparison."""
    k, odd = divmod(d, 2)
    assert odd
    return 2 * math.factorial(k) * (4 * math.pi**k) / math.factorial(2 * k + 1) * r**d


def ball_volume_gamma(d: int, r: float = 1.0) -> float:
    """The textbook form pi^(d/2) / Gamma(d/2 + 1) r^d."""
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1) * r**d


def shell_fraction(d: int, c_over_r: float = SHELL) -> float:
    """Fraction of the volume between radii r - c and r: 1 - (1 - c/r)^d."""
    return 1.0 - (1.0 - c_over_r) ** d


def inner_fraction(d: int, ratio: float = INNER) -> float:
    """Fraction of the volume within radius ratio * r: ratio^d."""
    return ratio**d


def dimension_for_half_in_shell(c_over_r: float = SHELL) -> int:
    """The smallest d with at least half the volume in the outer shell: (1 - c/r)^d <= 1/2."""
    return math.ceil(math.log(HALF) / math.log(1.0 - c_over_r))


def mean_radius_fraction(d: int) -> float:
    """E[R] / r for a point uniform in the ball: P(R <= t r) = t^d, so E[R] = d / (d + 1) r."""
    return d / (d + 1)


def uniform_in_ball(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n points uniform in the unit ball: a uniform direction times a radius U^(1/d)."""
    direction = rng.standard_normal((n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * rng.random((n, 1)) ** (1.0 / d)


def rejection_in_ball(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, float]:
    """Points of the cube [-1, 1]^d that fall in the unit ball, and the accepted fraction."""
    cube = rng.uniform(-1.0, 1.0, size=(n, d))
    inside = np.sum(cube**2, axis=1) <= 1.0
    return cube[inside], float(inside.mean())


def sci(value: float, digits: int = 3) -> str:
    """LaTeX scientific notation with `digits` significant digits: 3.05 \\times 10^{-151}."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def numbers() -> dict[str, dict[str, str]]:
    """Every number the answers print, per question, formatted as printed."""
    shell = {f"f_{d}": f"{shell_fraction(d):.4f}" for d in DIMENSIONS}
    shell.update({f"p_{d}": f"| {d} | {(1 - SHELL) ** d:.4f} | {shell_fraction(d):.4f} |" for d in DIMENSIONS})
    shell.update(keep=f"({1 - SHELL:.2f})^d", c_over_r=f"c/r = {SHELL}", half_d=f"d = {dimension_for_half_in_shell()}",
                 v5=r"\tfrac{8\pi^2}{15}", v5_printed=r"\tfrac{2\pi^2}{15}",
                 v5_decimal=f"{ball_volume(5):.4f}", v5_printed_decimal=f"{ball_volume_as_printed(5):.4f}")
    small, tiny = inner_fraction(DIMENSIONS[1]), inner_fraction(DIMENSIONS[2])
    inner = {
        "f_2": f"{inner_fraction(DIMENSIONS[0]):.2f}",
        "f_10": rf"\tfrac{{1}}{{{round(1 / small)}}} \approx {sci(small)}",
        "f_500": rf"2^{{-{DIMENSIONS[2]}}} \approx {sci(tiny)}",
    }
    d = DIMENSIONS[2]
    discussion = {
        "mean_radius": f"{mean_radius_fraction(d):.3f}",
        "deep": rf"({1 - SHELL:.2f})^{{{d}}} \approx {inner_fraction(d, 1 - SHELL):.4f}",
        "sqrt2": f"{math.sqrt(2):.3f}",
        "gauss_norm": rf"\sqrt{{{LATENT_D}}} \approx {math.sqrt(LATENT_D):.2f}",
        "gauss_sd": f"{math.sqrt(0.5):.2f}",
        "midpoint": rf"\sqrt{{{LATENT_D // 2}}} \approx {math.sqrt(LATENT_D / 2):.2f}",
        "pixels": rf"\sqrt{{{PIXELS}}} = {math.isqrt(PIXELS)}",
        "log2": f"{math.log(2):.4f}",
    }
    return {"dim-shell-fraction": shell, "dim-inner-ball": inner, "dim-high-dim-sampling": discussion}
