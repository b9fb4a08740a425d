"""written/gan_js.md (cs446-sp24 section 1): D*, V(D*, G) = 2 JS - log 4, saturation; printed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_gan_js as calc

FILE = "written/gan_js.md"


@pytest.mark.parametrize("a, b", [(0.3, 0.5), (1.0, 1.0), (2.0, 0.05), (0.01, 4.0)])
def test_optimal_discriminator_is_the_pointwise_maximiser(a, b):
    assert calc.pointwise_argmax(a, b) == pytest.approx(a / (a + b), abs=1e-5)  # grid step 5e-6


def test_d_star_beats_perturbed_discriminators():
    p_r, p_g = calc.gaussian(calc.GRID, 0.0, 1.0), calc.gaussian(calc.GRID, 1.5, 0.7)
    d_star = np.clip(calc.optimal_discriminator(p_r, p_g), 1e-300, 1 - 1e-16)
    best = calc.optimal_value(p_r, p_g)
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = np.clip(d_star + rng.normal(scale=0.05) * np.sin(rng.uniform(0.5, 3) * calc.GRID), 1e-9, 1 - 1e-9)
        assert calc.gan_value(other, p_r, p_g) < best


@pytest.mark.parametrize("mean, std", [(1.5, 0.7), (0.0, 1.0), (3.0, 1.5)])
def test_value_at_optimum_is_two_js_minus_log4(mean, std):
    p_r, p_g = calc.gaussian(calc.GRID, 0.0, 1.0), calc.gaussian(calc.GRID, mean, std)
    assert calc.optimal_value(p_r, p_g) == pytest.approx(2 * calc.js(p_r, p_g) - math.log(4), abs=1e-8)
    assert -math.log(4) - 1e-9 <= calc.optimal_value(p_r, p_g) <= 1e-9


def test_js_of_disjoint_supports_is_log2_whatever_the_gap():
    for gap in calc.GAPS:
        assert calc.disjoint_js(gap) == pytest.approx(math.log(2), abs=1e-12)


def test_minimax_gradient_factor_is_d_itself():
    h = torch.tensor([calc.CONFIDENT_LOGIT, -2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.log1p(-torch.sigmoid(h)).sum(), h)
    minimax = [calc.saturation_factors(float(v))[0] for v in h.detach()]
    np.testing.assert_allclose(-grad.numpy(), minimax, rtol=1e-12)
    (grad,) = torch.autograd.grad((-torch.nn.functional.logsigmoid(h)).sum(), h)
    nonsat = [calc.saturation_factors(float(v))[1] for v in h.detach()]
    np.testing.assert_allclose(-grad.numpy(), nonsat, rtol=1e-12)


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    check_numbers(answer(FILE, "ganjs-optimal-discriminator"), [], "ganjs-optimal-discriminator")
    for qid in ("ganjs-jensen-shannon", "ganjs-vanishing-gradients"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
