"""written/dimensionality.md: volume formulas, shell fractions by sampling, and printed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_dimensionality as calc

FILE = "written/dimensionality.md"


@pytest.mark.parametrize("d", range(1, 31))
def test_volume_formula_matches_the_gamma_form(d):
    assert calc.ball_volume(d, 1.7) == pytest.approx(calc.ball_volume_gamma(d, 1.7), rel=1e-12)


def test_the_printed_odd_formula_is_wrong_from_d5():
    assert calc.ball_volume_as_printed(3) == pytest.approx(calc.ball_volume(3), rel=1e-12)
    assert (calc.ball_volume_as_printed(1), calc.ball_volume(1)) == pytest.approx((8, 2), rel=1e-12)
    for d in (5, 7, 9):
        assert calc.ball_volume_as_printed(d) != pytest.approx(calc.ball_volume(d), rel=1e-3)
    assert calc.ball_volume(5) == pytest.approx(8 * math.pi**2 / 15, rel=1e-12)
    assert calc.ball_volume_as_printed(5) == pytest.approx(2 * math.pi**2 / 15, rel=1e-12)


@pytest.mark.parametrize("d", [2, 3, 5, 6])
def test_volume_and_shell_fraction_by_rejection_sampling(d):
    rng = np.random.default_rng(d)
    points, accepted = calc.rejection_in_ball(rng, 400_000, d)
    se = math.sqrt(accepted * (1 - accepted) / 400_000)
    assert accepted * 2**d == pytest.approx(calc.ball_volume(d), abs=5 * se * 2**d)
    radius = np.linalg.norm(points, axis=1)
    for c in (0.01, 0.2, 0.5):
        observed = np.mean(radius > 1 - c)
        expected = calc.shell_fraction(d, c)
        assert observed == pytest.approx(expected, abs=5 * math.sqrt(expected * (1 - expected) / len(radius)) + 1e-9)


@pytest.mark.parametrize("d", calc.DIMENSIONS)
def test_shell_fraction_is_the_volume_ratio(d):
    r = 10.0  # V_500(1) underflows a float; V_500(10) is about 1e304
    for c in (0.01, 0.5):
        ratio = (calc.ball_volume(d, r) - calc.ball_volume(d, r * (1 - c))) / calc.ball_volume(d, r)
        assert calc.shell_fraction(d, c) == pytest.approx(ratio, rel=1e-9)
    assert calc.inner_fraction(d) == pytest.approx(calc.ball_volume(d, r / 2) / calc.ball_volume(d, r), rel=1e-9)


def test_half_the_volume_in_the_outer_percent():
    d = calc.dimension_for_half_in_shell()
    assert calc.shell_fraction(d) >= 0.5 > calc.shell_fraction(d - 1)


def test_high_dimensional_concentration_by_sampling():
    rng = np.random.default_rng(0)
    d, n = calc.DIMENSIONS[-1], 4_000
    points = calc.uniform_in_ball(rng, n, d)
    radius = np.linalg.norm(points, axis=1)
    assert radius.mean() == pytest.approx(calc.mean_radius_fraction(d), abs=1e-3)
    assert np.mean(radius > 1 - calc.SHELL) == pytest.approx(calc.shell_fraction(d), abs=0.006)  # 4.5 s.e.
    gaps = np.linalg.norm(points[: n // 2] - points[n // 2 :], axis=1)
    assert gaps.mean() == pytest.approx(math.sqrt(2), abs=0.01)
    z = rng.standard_normal((n, calc.LATENT_D))
    norms = np.linalg.norm(z, axis=1)
    assert norms.mean() == pytest.approx(math.sqrt(calc.LATENT_D), abs=0.05)  # s.e. 0.011
    assert norms.std() == pytest.approx(math.sqrt(0.5), abs=0.04)  # s.e. 0.008
    midpoints = np.linalg.norm((z[: n // 2] + z[n // 2 :]) / 2, axis=1)
    assert midpoints.mean() == pytest.approx(math.sqrt(calc.LATENT_D / 2), abs=0.05)
    noise = np.linalg.norm(rng.standard_normal((1_000, calc.PIXELS)), axis=1)
    assert noise.mean() == pytest.approx(math.sqrt(calc.PIXELS), abs=0.1)


def test_answers_print_the_computed_numbers():
    for qid, expected in calc.numbers().items():
        check_numbers(answer(FILE, qid), expected, qid)
