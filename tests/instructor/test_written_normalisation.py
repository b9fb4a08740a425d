"""written/normalisation.md: the SLN gradient formulas against autograd, and the printed example."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.instructor.written_numbers import answer, check_numbers
from written import calc_normalisation as calc

FILE = "written/normalisation.md"

ACTIVATIONS = {  # (sigma, sigma') pairs; smooth ones check the formulas everywhere
    "tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    "softplus": (torch.nn.functional.softplus, torch.sigmoid),
    "relu": (torch.relu, calc.relu_derivative),
}


def off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    return matrix - torch.diag(torch.diagonal(matrix))


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pre_sln_formula_matches_autograd(name, seed):
    act, dact = ACTIVATIONS[name]
    h = torch.from_numpy(np.random.default_rng(seed).normal(size=6))  # float64, no zeros a.s.
    auto = off_diagonal(calc.jacobian(lambda v: calc.pre_sln(v, act), h))
    torch.testing.assert_close(calc.pre_sln_closed_form(h, dact), auto, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_post_sln_formula_matches_autograd(name, seed):
    act, dact = ACTIVATIONS[name]
    h = torch.from_numpy(np.random.default_rng(seed).normal(size=6))
    auto = off_diagonal(calc.jacobian(lambda v: calc.post_sln(v, act), h))
    torch.testing.assert_close(calc.post_sln_closed_form(h, act, dact), auto, rtol=1e-10, atol=1e-12)


def test_relu_example_columns_match_autograd():
    h = torch.tensor(calc.EXAMPLE_H, dtype=torch.float64)
    exact = calc.example_columns()
    pre = calc.jacobian(calc.pre_sln, h)[:, calc.DEAD]
    post = calc.jacobian(calc.post_sln, h)[:, calc.DEAD]
    torch.testing.assert_close(pre, torch.tensor([float(v) for v in exact["pre"]], dtype=torch.float64))
    assert torch.count_nonzero(post) == 0 and torch.count_nonzero(pre) > 0
    assert float(h.norm()) == float(exact["norm"][0])


def test_revival_step_matches_autograd():
    h = torch.tensor(calc.EXAMPLE_H, dtype=torch.float64, requires_grad=True)
    loss = -(calc.pre_sln(h)[1] + calc.pre_sln(h)[2])
    (grad,) = torch.autograd.grad(loss, h)
    assert grad[calc.DEAD].item() == pytest.approx(float(calc.revival_step()), rel=1e-12)
    assert grad[calc.DEAD].item() < 0  # descent increases h_1: the dead unit moves towards life
    post = -(calc.post_sln(h)[1] + calc.post_sln(h)[2])
    (grad_post,) = torch.autograd.grad(post, h)
    assert grad_post[calc.DEAD].item() == 0.0


def test_answers_print_the_computed_numbers():
    check_numbers(answer(FILE, "ln-relu-revival"), calc.numbers(), "ln-relu-revival")
    for qid in ("ln-preln-gradient", "ln-postln-gradient"):
        check_numbers(answer(FILE, qid), [], qid)  # pure derivations: no decimals
