"""written/maf.md (cs236-hw3 1.4): the entropy bound of the standardised moons data; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from instructor import written
from tests.instructor.written_numbers import answer, check_numbers
from written import calc_flows as calc

FILE = "written/maf.md"


def moons_sample(n, rng, noise=calc.MOONS_NOISE):
    """Noisy moons as sklearn's make_moons draws them (angles on a fine grid, shuffled here)."""
    t = rng.uniform(0.0, np.pi, n)
    outer = rng.integers(0, 2, n) == 0
    x = np.where(outer, np.cos(t), 1 - np.cos(t))
    y = np.where(outer, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))


def test_moons_variances_match_a_large_sample():
    data = moons_sample(400_000, np.random.default_rng(0))
    np.testing.assert_allclose(data.var(axis=0), calc.moons_variances(), rtol=0.01)


def test_entropy_quadrature_matches_a_monte_carlo_estimate():
    """-mean log p over fresh samples, p being the exact mixture density on a fine curve grid."""
    rng = np.random.default_rng(1)
    x = moons_sample(2000, rng)
    grid = calc.moon_curve((np.arange(1200) + 0.5) * np.pi / 1200)
    noise = calc.MOONS_NOISE
    logits = -np.sum((x[:, None, :] - grid[None]) ** 2, axis=-1) / (2 * noise**2)
    top = logits.max(axis=1, keepdims=True)
    log_p = top[:, 0] + np.log(np.exp(logits - top).mean(axis=1)) - np.log(2 * np.pi * noise**2)
    monte_carlo = -log_p.mean() - 0.5 * np.log(np.prod(calc.moons_variances()))
    standard_error = log_p.std() / np.sqrt(len(log_p))  # about 0.016
    assert calc.moons_entropy() == pytest.approx(monte_carlo, abs=4 * standard_error)


def test_entropy_quadrature_has_converged():
    assert calc.moons_entropy() == pytest.approx(calc.moons_entropy(curve_points=400, hermite_nodes=10), abs=2e-3)


def test_answers_print_the_computed_numbers():
    topic = written.parse(FILE)
    given = ["0.05", "1.2"]  # the data's noise level and the handout's hint, both stated outside the answer
    outside = "\n".join(topic.passages) + topic.questions["maf-moons-samples"].text.split("<!-- BEGIN SOLUTION -->")[0]
    assert all(value in outside for value in ["1.2"]), "the handout's hint must be quoted in the context"
    check_numbers(answer(FILE, "maf-moons-samples"), [*calc.answer_numbers()["maf-moons-samples"].values(), *given],
                  "maf-moons-samples")
