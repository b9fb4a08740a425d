"""Public tests of flow_network.py: MADE, MAF and planar flows.

Run one task's tests with ``pytest --task made_forward`` (or ``made_inverse``, ``maf_log_probs``,
``planar_transformation``, ``get_logdet``, ``loss1``, ``loss2``).
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
PLANAR = pytest.mark.task("planar_transformation")
LOGDET = pytest.mark.task("get_logdet")
LOSS1 = pytest.mark.task("loss1")
LOSS2 = pytest.mark.task("loss2")

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


def assert_round_trip(first, second, start: torch.Tensor, what: str) -> None:
    """``second(first(start))`` gives back ``start`` and the two log-determinants cancel."""
    middle, first_log_det = first(start)
    again, second_log_det = second(middle)
    torch.testing.assert_close(again, start, rtol=TOL, atol=TOL, msg=f"{what} must give back its input")
    torch.testing.assert_close(first_log_det + second_log_det, torch.zeros(len(start)), rtol=0, atol=TOL,
                               msg=f"the log-determinants of the two directions of {what} must cancel")


@FORWARD
def test_inverse_undoes_forward_and_the_log_dets_cancel():
    block = made(3, n_hidden=2, seed=5)
    assert_round_trip(block.forward, block.inverse, points(8, 3, seed=4, scale=2.0), "inverse(forward(z))")


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
    assert_round_trip(block.inverse, block.forward, points(8, 3, seed=9, scale=2.0), "forward(inverse(x))")


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
    assert float(value) == pytest.approx(float(expected.detach()), abs=TOL), (
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


# ---- planar flows: helpers -------------------------------------------------------------------


def planar(u, w, b) -> flow_network.PlanarTransformation:
    """A planar layer with the given raw parameters (u and w as lists, b a number)."""
    layer = flow_network.PlanarTransformation(len(u))
    with torch.no_grad():
        layer.u.copy_(torch.tensor([u], dtype=torch.float32))
        layer.w.copy_(torch.tensor([w], dtype=torch.float32))
        layer.b.fill_(b)
    return layer


FOLDING = ([-1.5, -0.5], [1.5, 0.5], 0.2)  # raw w^T u = -2.5: folds the plane unless u is constrained


def along_w(layer, n=201, reach=4.0) -> torch.Tensor:
    """Points on the line through the origin in the direction of w, ordered along it."""
    direction = layer.w.detach()[0] / layer.w.detach().norm()
    return torch.linspace(-reach, reach, n)[:, None] * direction[None, :]


# ---- planar_transformation -------------------------------------------------------------------


@PLANAR
def test_planar_moves_points_along_u_by_tanh():
    layer = planar([0.5, 1.0], [2.0, 1.0], -0.5)
    z = points(6, 2, seed=30)
    out = layer(z)
    assert out.shape == z.shape, f"f(z) has the shape of z, {tuple(z.shape)}; got {tuple(out.shape)}"
    u_hat = layer.constrained_u().detach()  # here w^T u >= -1, so it is u itself
    expected = z + u_hat * torch.tanh(z @ layer.w.detach().T + layer.b.detach())
    torch.testing.assert_close(out, expected, rtol=TOL, atol=TOL, msg="f(z) = z + u tanh(w^T z + b)")


@PLANAR
def test_planar_far_from_the_hyperplane_is_a_translation_by_u():
    layer = planar([0.3, 0.7], [3.0, 0.0], 0.0)
    far = torch.tensor([[6.0, 0.5], [-6.0, -1.0]])
    torch.testing.assert_close(layer(far), far + torch.tensor([[0.3, 0.7], [-0.3, -0.7]]), rtol=0, atol=1e-6,
                               msg="tanh(w^T z + b) = +-1 far from the hyperplane: f(z) = z +- u")


@PLANAR
def test_planar_uses_the_constrained_u_and_stays_invertible():
    layer = planar(*FOLDING)
    line = along_w(layer)
    moved = layer(line) @ (layer.w.detach()[0] / layer.w.detach().norm())  # positions along w
    assert torch.all(torch.diff(moved) > 0), (
        "with w^T u < -1 the layer must use constrained_u(): the map along w must stay increasing (invertible)")
    torch.testing.assert_close(layer(line) - line, layer.constrained_u().detach()
                               * torch.tanh(line @ layer.w.detach().T + layer.b.detach()), rtol=TOL, atol=TOL)


@PLANAR
def test_planar_trains_every_parameter():
    layer = planar([0.5, 1.0], [2.0, 1.0], -0.5)
    z = points(4, 2, seed=31).requires_grad_(True)
    layer(z).pow(2).sum().backward()
    for name in ("u", "w", "b"):
        grad = getattr(layer, name).grad
        assert grad is not None and grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert z.grad is not None


# ---- get_logdet ------------------------------------------------------------------------------


@LOGDET
@pytest.mark.parametrize("params", [([0.5, 1.0], [2.0, 1.0], -0.5), FOLDING, ([1.0, 2.0, -0.5], [0.5, 0.5, 1.0], 0.3)],
                         ids=["plain", "constrained", "3d"])
def test_logdet_is_log_abs_det_of_the_jacobian(params):
    layer = planar(*params)
    z = points(5, len(params[0]), seed=32)
    logdet = layer.get_logdet(z)
    assert logdet.shape == (5, 1), f"get_logdet returns (B, 1), got {tuple(logdet.shape)}"
    expected = autograd_log_det(lambda v: (layer(v), None), z)
    np.testing.assert_allclose(logdet.detach()[:, 0].double(), expected, rtol=TOL, atol=TOL,
                               err_msg="log|det df/dz| = log|1 + h'(w^T z + b) w^T u_hat| at each point")


@LOGDET
def test_logdet_vanishes_far_from_the_hyperplane():
    layer = planar([0.3, 0.7], [3.0, 0.0], 0.0)
    logdet = layer.get_logdet(torch.tensor([[8.0, 0.5], [-8.0, 2.0]]))
    torch.testing.assert_close(logdet, torch.zeros(2, 1), rtol=0, atol=1e-6, msg="h' = 0 there: a translation")


@LOGDET
def test_logdet_on_the_hyperplane_is_log_of_one_plus_w_u():
    layer = planar([1.0, 0.0], [3.0, 0.0], 0.0)  # w^T u = 3: the density drops fourfold on z1 = 0
    logdet = layer.get_logdet(torch.tensor([[0.0, -1.0], [0.0, 2.0]]))
    torch.testing.assert_close(logdet, torch.full((2, 1), float(np.log(4.0))), rtol=TOL, atol=TOL)


@LOGDET
def test_logdet_trains_every_parameter():
    layer = planar([0.5, 1.0], [2.0, 1.0], -0.5)
    layer.get_logdet(points(4, 2, seed=33)).sum().backward()
    for name in ("u", "w", "b"):
        grad = getattr(layer, name).grad
        assert grad is not None and grad.abs().sum() > 0, f"no gradient reaches {name}"


# ---- loss1 -----------------------------------------------------------------------------------


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    dim = z.shape[1]
    return torch.distributions.MultivariateNormal(torch.zeros(dim), torch.eye(dim)).log_prob(z)


@LOSS1
def test_loss1_is_the_per_example_negative_log_likelihood():
    z0, logdet = points(6, 3, seed=34), points(6, 1, seed=35)
    loss = flow_network.loss1(z0, logdet)
    assert loss.shape == (6, 1), f"loss1 returns one value per example, (B, 1); got {tuple(loss.shape)}"
    expected = -(standard_normal_log_prob(z0)[:, None] + logdet)
    torch.testing.assert_close(loss, expected, rtol=TOL, atol=TOL, msg="-log N(z0; 0, I) - logdet")


@LOSS1
def test_loss1_of_an_affine_flow_is_a_normalised_density():
    # g(x) = A x + c has log|det| = log|det A|: exp(-loss1) must integrate to 1 over the plane.
    A = torch.tensor([[1.5, 0.4], [-0.3, 0.8]])
    c = torch.tensor([0.5, -0.2])
    edge, cells = 8.0, 160
    centres = -edge + (torch.arange(cells) + 0.5) * (2 * edge / cells)
    grid = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1).reshape(-1, 2)
    logdet = torch.full((len(grid), 1), float(torch.linalg.slogdet(A)[1]))
    density = torch.exp(-flow_network.loss1(grid @ A.T + c, logdet).double())
    total = float(density.sum()) * (2 * edge / cells) ** 2
    assert total == pytest.approx(1.0, abs=1e-3), f"exp(-loss1) integrates to {total:.4f}, not 1"


# ---- loss2 -----------------------------------------------------------------------------------


@LOSS2
def test_loss2_is_the_per_sample_reverse_kl_term():
    z0, logdet = points(6, 2, seed=36), points(6, 1, seed=37)
    energy = torch.linspace(0.0, 3.0, 6)
    loss = flow_network.loss2(energy, z0, logdet)
    assert loss.shape == (6, 1), f"loss2 returns one value per sample, (B, 1); got {tuple(loss.shape)}"
    expected = standard_normal_log_prob(z0)[:, None] - logdet + energy[:, None]
    torch.testing.assert_close(loss, expected, rtol=TOL, atol=TOL, msg="log N(z0; 0, I) - logdet + U(z_K)")


@LOSS2
def test_loss2_of_a_flow_that_matches_the_target_is_minus_log_z_for_every_sample():
    # Target N(m, s^2 I) given by its energy |z - m|^2 / (2 s^2), Z = 2 pi s^2; the flow z = m + s z0
    # reproduces it exactly, so log q(z_K) + U(z_K) = -log Z for every sample (KL = 0).
    m, s = torch.tensor([1.0, -2.0]), 0.7
    z0 = points(8, 2, seed=38, scale=2.0)
    z = m + s * z0
    energy = ((z - m) ** 2).sum(dim=1) / (2 * s**2)
    logdet = torch.full((8, 1), 2 * np.log(s))
    loss = flow_network.loss2(energy, z0, logdet)
    torch.testing.assert_close(loss, torch.full((8, 1), -float(np.log(2 * np.pi * s**2))), rtol=TOL, atol=TOL,
                               msg="with q = p the loss is -log Z at every sample")
