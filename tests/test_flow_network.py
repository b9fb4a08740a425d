"""Public tests of flow_network.py: MADE, MAF and planar flows.

Run one task's tests with ``pytest --task made_forward`` (or ``made_inverse``, ``maf_log_probs``).
Besides the stored reference values, the tests check properties every correct flow has: the two
directions invert each other and their log-determinants cancel, each log-determinant equals
log|det J| of the Jacobian computed by autograd, MADE is autoregressive, and a MAF's density
integrates to one. A test of one direction that also needs the other calls the direction under
test first, so a stub fails with its own task's name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import flow_network
from tests.cases_flow_network import CASES
from tests.harness import case_params, check_case, fill_parameters

FORWARD = pytest.mark.task("made_forward")
INVERSE = pytest.mark.task("made_inverse")
LOG_PROBS = pytest.mark.task("maf_log_probs")

TOL = 1e-4  # float32 through a few small layers: rounding error seen ~1e-6


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("flow_network", case)


# ---- helpers ---------------------------------------------------------------------------------


def made(dim=3, hidden=8, n_hidden=1, seed=0) -> flow_network.MADE:
    block = flow_network.MADE(dim, hidden, n_hidden)
    fill_parameters(block, np.random.default_rng(seed))
    return block


def points(batch, dim, seed, scale=1.0) -> torch.Tensor:
    return torch.tensor(scale * np.random.default_rng(seed).normal(size=(batch, dim)), dtype=torch.float32)


def jacobians(fn, inputs: torch.Tensor) -> torch.Tensor:
    """Per-example Jacobians (B, D, D) of a map applied to one point at a time (autograd)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda v: fn(v[None])[0][0], row) for row in inputs])


def autograd_log_det(fn, inputs: torch.Tensor) -> torch.Tensor:
    return torch.linalg.slogdet(jacobians(fn, inputs).double())[1]


# ---- made_forward -----------------------------------------------------------------------------


@FORWARD
@pytest.mark.parametrize("dim, n_hidden", [(2, 1), (4, 2)])
def test_forward_solves_the_autoregressive_equations(dim, n_hidden):
    # x must satisfy x_i = mu_i(x_<i) + z_i exp(alpha_i(x_<i)) with mu, alpha from the network *at x*.
    block = made(dim, n_hidden=n_hidden, seed=dim)
    z = points(6, dim, seed=1)
    x, log_det = block.forward(z)
    assert x.shape == z.shape and log_det.shape == (6,), (
        f"forward returns x (B, D) and log_det (B,), got {tuple(x.shape)} and {tuple(log_det.shape)}")
    mu, alpha = block.net(x).chunk(2, dim=1)
    torch.testing.assert_close(x, mu + z * torch.exp(alpha), rtol=TOL, atol=TOL,
                               msg="x_i != mu_i(x_<i) + z_i * exp(alpha_i(x_<i)) at the returned x")
    torch.testing.assert_close(log_det, alpha.sum(dim=1), rtol=TOL, atol=TOL,
                               msg="log|det dx/dz| = sum_i alpha_i, per example")


@FORWARD
def test_forward_log_det_is_log_abs_det_of_the_jacobian():
    block = made(3, seed=3)
    z = points(4, 3, seed=2)
    _, log_det = block.forward(z)
    expected = autograd_log_det(block.forward, z)
    np.testing.assert_allclose(log_det.detach().double(), expected, rtol=TOL, atol=TOL,
                               err_msg="forward's log_det must be log|det dx/dz| of each example")


@FORWARD
def test_forward_is_autoregressive():
    """x_i depends on z_j for j <= i only: the Jacobian dx/dz is lower triangular."""
    block = made(4, seed=4)
    jac = jacobians(block.forward, points(3, 4, seed=3))
    upper = torch.triu(jac, diagonal=1)
    assert torch.all(upper == 0), f"dx_i/dz_j must be 0 for j > i; largest: {upper.abs().max():.3g}"
    assert torch.all(torch.diagonal(jac, dim1=1, dim2=2) > 0), "dx_i/dz_i = exp(alpha_i) > 0"


@FORWARD
def test_inverse_undoes_forward_and_the_log_dets_cancel():
    block = made(3, n_hidden=2, seed=5)
    z = points(8, 3, seed=4, scale=2.0)
    x, forward_log_det = block.forward(z)
    z_again, inverse_log_det = block.inverse(x)
    torch.testing.assert_close(z_again, z, rtol=TOL, atol=TOL, msg="inverse(forward(z)) must give back z")
    torch.testing.assert_close(forward_log_det + inverse_log_det, torch.zeros(8), rtol=0, atol=TOL,
                               msg="the log-determinants of forward and inverse must cancel")


@FORWARD
def test_forward_trains():
    block = made(2, seed=6)
    z = points(5, 2, seed=5).requires_grad_(True)
    x, log_det = block.forward(z)
    (x.sum() + log_det.sum()).backward()
    assert z.grad is not None and torch.all(torch.isfinite(z.grad)), "gradients must flow from x back to z"
    last = block.net[-1].weight.grad
    assert last is not None and last.abs().sum() > 0, "gradients must reach the network's weights"


# ---- made_inverse -----------------------------------------------------------------------------


@INVERSE
@pytest.mark.parametrize("dim", [2, 4])
def test_inverse_standardises_with_one_network_pass(dim):
    block = made(dim, seed=10 + dim)
    x = points(6, dim, seed=6)
    z, log_det = block.inverse(x)
    assert z.shape == x.shape and log_det.shape == (6,), (
        f"inverse returns z (B, D) and log_det (B,), got {tuple(z.shape)} and {tuple(log_det.shape)}")
    mu, alpha = block.net(x).chunk(2, dim=1)
    torch.testing.assert_close(z * torch.exp(alpha) + mu, x, rtol=TOL, atol=TOL,
                               msg="z_i = (x_i - mu_i) / exp(alpha_i): alpha is the log standard deviation")
    torch.testing.assert_close(log_det, -alpha.sum(dim=1), rtol=TOL, atol=TOL,
                               msg="log|det dz/dx| = -sum_i alpha_i, per example")


@INVERSE
def test_inverse_log_det_is_log_abs_det_of_the_jacobian():
    block = made(3, seed=12)
    x = points(4, 3, seed=7, scale=1.5)
    _, log_det = block.inverse(x)
    np.testing.assert_allclose(log_det.detach().double(), autograd_log_det(block.inverse, x), rtol=TOL, atol=TOL,
                               err_msg="inverse's log_det must be log|det dz/dx| of each example")


@INVERSE
def test_inverse_is_autoregressive():
    """z_i depends on x_j for j <= i only, and the network's mu_i, alpha_i on x_j for j < i only."""
    block = made(4, n_hidden=2, seed=13)
    x = points(3, 4, seed=8)
    jac = jacobians(block.inverse, x)
    assert torch.all(torch.triu(jac, diagonal=1) == 0), "dz_i/dx_j must be 0 for j > i"
    net_jac = torch.stack([torch.autograd.functional.jacobian(lambda v: block.net(v[None])[0], row) for row in x])
    for half in (net_jac[:, :4], net_jac[:, 4:]):  # mu, then alpha
        assert torch.all(torch.triu(half) == 0), "the provided masks: mu_i and alpha_i see x_j for j < i only"


@INVERSE
def test_forward_undoes_inverse():
    block = made(3, seed=14)
    x = points(8, 3, seed=9, scale=2.0)
    z, inverse_log_det = block.inverse(x)
    x_again, forward_log_det = block.forward(z)
    torch.testing.assert_close(x_again, x, rtol=TOL, atol=TOL, msg="forward(inverse(x)) must give back x")
    torch.testing.assert_close(forward_log_det + inverse_log_det, torch.zeros(8), rtol=0, atol=TOL,
                               msg="the log-determinants of inverse and forward must cancel")


# ---- maf_log_probs -----------------------------------------------------------------------------


def maf(dim=2, hidden=8, n_flows=3, seed=20, scale=1.0) -> flow_network.MAF:
    model = flow_network.MAF(dim, hidden, 1, n_flows)
    fill_parameters(model, np.random.default_rng(seed))
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(scale)
    return model


def per_point_log_probs(model, x: torch.Tensor) -> torch.Tensor:
    """log p of each row: log_probs of batches of one point."""
    with torch.no_grad():
        return torch.stack([model.log_probs(row[None]) for row in x])


@LOG_PROBS
def test_log_probs_is_the_batch_mean_of_per_example_values():
    model = maf()
    x = points(7, 2, seed=10)
    value = model.log_probs(x)
    assert value.shape == (), f"log_probs returns a scalar (the batch mean), got shape {tuple(value.shape)}"
    singles = per_point_log_probs(model, x)
    assert float(value.detach()) == pytest.approx(float(singles.mean()), abs=TOL), "the mean over the batch, not the sum"
    assert float(singles.std()) > 0.1, "different points must get different densities"


@LOG_PROBS
def test_identity_blocks_give_the_standard_normal():
    # With every weight and bias 0, each MADE has mu = 0, alpha = 0: x is its own base point.
    model = maf(scale=0.0)
    x = points(5, 2, seed=11, scale=2.0)
    expected = (-0.5 * (x**2).sum(dim=1) - np.log(2 * np.pi)).mean()
    assert float(model.log_probs(x).detach()) == pytest.approx(float(expected), abs=TOL), "log N(x; 0, I) summed over D"


@LOG_PROBS
def test_density_integrates_to_one():
    model = maf(n_flows=2, seed=21, scale=0.7)
    edge, cells = 7.0, 71  # midpoint rule on [-7, 7]^2, cells of 0.2 x 0.2
    centres = -edge + (np.arange(cells) + 0.5) * (2 * edge / cells)
    grid = torch.tensor(np.stack(np.meshgrid(centres, centres), axis=-1).reshape(-1, 2), dtype=torch.float32)
    density = torch.exp(per_point_log_probs(model, grid).double())
    total = float(density.sum()) * (2 * edge / cells) ** 2
    assert total == pytest.approx(1.0, abs=0.02), f"the density integrates to {total:.4f} over the plane, not 1"


@LOG_PROBS
def test_log_probs_matches_the_change_of_variables_through_the_blocks():
    model = maf(dim=3, n_flows=3, seed=22)
    x = points(5, 3, seed=12)
    value = model.log_probs(x).detach()
    total = autograd_log_det(lambda v: (model_to_base(model, v), None), x)
    base = model_to_base(model, x)
    expected = (-0.5 * (base.double() ** 2).sum(dim=1) - 1.5 * np.log(2 * np.pi) + total).mean()
    assert float(value) == pytest.approx(float(expected), abs=TOL), (
        "log p(x) = log N(z; 0, I) + log|det dz/dx| with z = the data pushed through every block's inverse, in order")


def model_to_base(model, x):
    """The base point of each row of x: every map's inverse, in the order of ``model.nf``."""
    for flow in model.nf:
        x, _ = flow.inverse(x)
    return x


@LOG_PROBS
def test_log_probs_trains():
    model = maf(seed=23)
    loss = model.loss(points(16, 2, seed=13))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0, (
        "the loss must be differentiable with respect to every block's weights")
