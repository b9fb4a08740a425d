"""written/contrastive.md (cs446-sp24 section 3): the InfoNCE bound on a Gaussian pair; printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_contrastive as calc

FILE = "written/contrastive.md"


def test_infonce_bound_is_below_the_mutual_information_and_log_n():
    table = calc.infonce_table()
    mi = calc.gaussian_mutual_information(calc.RHO)
    values = [table[n] for n in calc.BATCH_SIZES]
    for n, value in table.items():
        assert value < min(mi, np.log(n))
    assert values == sorted(values)  # tighter with larger batches
    assert values[-1] == pytest.approx(mi, abs=0.02)


def test_critic_shift_by_a_function_of_x_leaves_the_loss_unchanged():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(8), rng.standard_normal(8)
    f = calc.log_density_ratio(x, y, 0.5)
    shifted = f + 3.0 * x[:, None] ** 2  # adds c(x_i) to row i
    def loss(g):
        return -np.mean(np.diag(g) - np.log(np.exp(g).sum(axis=1)))
    assert loss(shifted) == pytest.approx(loss(f), abs=1e-12)


def test_mutual_information_closed_form_matches_a_grid_integral():
    rho, grid = calc.RHO, np.linspace(-8, 8, 801)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    log_joint = -0.5 * (x**2 - 2 * rho * x * y + y**2) / (1 - rho**2) - np.log(2 * np.pi * np.sqrt(1 - rho**2))
    log_marg = -0.5 * (x**2 + y**2) - np.log(2 * np.pi)
    mi = np.sum(np.exp(log_joint) * (log_joint - log_marg)) * (grid[1] - grid[0]) ** 2
    assert mi == pytest.approx(calc.gaussian_mutual_information(rho), abs=1e-6)


def test_answers_print_the_computed_numbers():
    numbers = calc.answer_numbers()
    for qid in ("contrastive-downstream-eval", "contrastive-clip-zero-shot"):
        check_numbers(answer(FILE, qid), [], qid)
    for qid in ("contrastive-mae-bert-masking", "contrastive-infonce-bound"):
        check_numbers(answer(FILE, qid), numbers[qid], qid)
