"""Public tests of diffusion.py: the score network, the denoising loss, annealed Langevin
dynamics and the conditional (inpainting) score.

Run one task's tests with ``pytest --task langevin_dynamics_sample`` (or ``score_net``,
``compute_denoising_loss``, ``conditional_score``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import diffusion
from tests.cases_diffusion import CASES, MockScore
from tests.harness import case_params, check_case, fill_parameters

SCORE_NET = pytest.mark.task("score_net")
LOSS = pytest.mark.task("compute_denoising_loss")
LANGEVIN = pytest.mark.task("langevin_dynamics_sample")
CONDITIONAL = pytest.mark.task("conditional_score")


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("diffusion", case)


class GaussianScore(nn.Module):
    r"""The exact score of N(mean, var I) blurred by noise of level sigma: -(x - mean) / (var + sigma^2).

    Records every sigma it is called with (as a column), for the tests that look at them.
    """

    def __init__(self, mean=(0.0, 0.0), var=1.0):
        super().__init__()
        self.mean, self.var = torch.tensor(mean), var
        self.calls: list[torch.Tensor] = []

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1).expand(len(x), 1)
        self.calls.append(sigma.detach().clone())
        return -(x - self.mean) / (self.var + sigma**2)


def _gaussian(seed, n, dim=2):
    return torch.tensor(np.random.default_rng(seed).normal(size=(n, dim)), dtype=torch.float32)


# ---- ScoreNet ------------------------------------------------------------------------------------


@SCORE_NET
def test_score_net_layers_are_the_handouts():
    net = diffusion.ScoreNet()
    modules = list(net.net)
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    assert len(linears) == 8, f"ScoreNet() needs 8 linear layers, found {len(linears)}"
    assert (linears[0].in_features, linears[-1].out_features) == (3, 2), "input [x1, x2, sigma], output a 2-D score"
    assert all(m.in_features == 128 for m in linears[1:]) and all(m.out_features == 128 for m in linears[:-1])
    kinds = ["linear" if isinstance(m, nn.Linear) else type(m).__name__ for m in modules]
    assert kinds == ["linear"] + ["Softplus", "linear"] * 7, f"expected Softplus between linear layers only, got {kinds}"


@SCORE_NET
@pytest.mark.parametrize("n_layers, width", [(2, 5), (4, 16)])
def test_score_net_size_follows_its_arguments(n_layers, width):
    net = diffusion.ScoreNet(n_layers=n_layers, latent_dim=width)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == n_layers
    assert [m.out_features for m in linears] == [width] * (n_layers - 1) + [2]


@SCORE_NET
def test_score_net_accepts_every_form_of_sigma():
    net = diffusion.ScoreNet(n_layers=3, latent_dim=6)
    fill_parameters(net, np.random.default_rng(0))
    x = _gaussian(1, 5)
    with torch.no_grad():
        as_float, as_scalar = net(x, 0.2), net(x, torch.tensor(0.2))
        as_column = net(x, torch.full((5, 1), 0.2))
    assert as_float.shape == (5, 2)
    assert torch.allclose(as_float, as_scalar) and torch.allclose(as_float, as_column)


@SCORE_NET
def test_score_net_trains():
    net = diffusion.ScoreNet(n_layers=3, latent_dim=6)
    net(_gaussian(2, 4), 0.1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


# ---- compute_denoising_loss ---------------------------------------------------------------------


def _loss(score, x, sigmas, seed=0):
    """The loss with noise and levels drawn from NumPy (so every implementation sees the same)."""
    rng = np.random.default_rng(seed)
    noise = torch.tensor(rng.normal(size=tuple(x.shape)), dtype=torch.float32)
    index = torch.tensor(rng.integers(0, len(sigmas), size=len(x)))
    return diffusion.compute_denoising_loss(score, x, sigmas, noise=noise, sigma_index=index)


@LOSS
def test_loss_of_the_exact_score_is_the_analytic_value():
    # Data N(0, I) in 2-D blurred by sigma is N(0, (1 + sigma^2) I), with score -x~/(1 + sigma^2).
    # Then s + z/sigma = (z - sigma x)/(sigma (1 + sigma^2)), and the loss is
    # E[sigma^2/2 * 2 (1 + sigma^2) / (sigma^2 (1 + sigma^2)^2)] = E[1 / (1 + sigma^2)] over the levels.
    sigmas = torch.tensor([1.0, 0.5, 0.1])
    loss = _loss(GaussianScore(), _gaussian(3, 20_000), sigmas)
    expected = float((1 / (1 + sigmas**2)).mean())
    assert loss.shape == (), f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert float(loss) == pytest.approx(expected, rel=0.03), (
        "with lambda = sigma^2 the exact score's loss is the mean of 1/(1 + sigma^2) over the levels "
        f"({expected:.4f}); got {float(loss):.4f}"
    )


@LOSS
@pytest.mark.parametrize("wrong_var", [0.5, 2.0])
def test_the_exact_score_has_a_smaller_loss_than_a_wrong_one(wrong_var):
    x, sigmas = _gaussian(4, 5_000), torch.tensor([0.8, 0.3, 0.05])
    exact, wrong = _loss(GaussianScore(), x, sigmas, seed=5), _loss(GaussianScore(var=wrong_var), x, sigmas, seed=5)
    assert float(exact) < float(wrong), (
        f"denoising score matching is minimised by the true score: loss {float(exact):.4f} for it, "
        f"{float(wrong):.4f} for the score of the wrong variance {wrong_var}"
    )


@LOSS
def test_loss_is_a_mean_over_the_batch():
    x, sigmas = _gaussian(6, 10), torch.tensor([0.4, 0.2])
    one = _loss(GaussianScore(var=0.3), x, sigmas, seed=7)
    rng = np.random.default_rng(7)
    noise = torch.tensor(rng.normal(size=(10, 2)), dtype=torch.float32)
    index = torch.tensor(rng.integers(0, 2, size=10))
    twice = diffusion.compute_denoising_loss(GaussianScore(var=0.3), torch.cat([x, x]), sigmas,
                                             noise=torch.cat([noise, noise]), sigma_index=torch.cat([index, index]))
    assert float(twice) == pytest.approx(float(one), rel=1e-5), "repeating the batch must not change a mean"


@LOSS
def test_loss_draws_a_level_per_point_and_standard_noise_when_none_are_given():
    torch.manual_seed(0)
    score, sigmas = GaussianScore(), torch.tensor([0.9, 0.3, 0.1, 0.03])
    x = torch.zeros(8000, 2)
    loss = diffusion.compute_denoising_loss(score, x, sigmas)
    assert torch.isfinite(loss)
    used = torch.cat(score.calls).flatten()
    assert len(used) == len(x), "the score network must be called once, on the whole batch, with one sigma per point"
    counts = torch.stack([(used == s).sum() for s in sigmas])
    assert int(counts.sum()) == len(x), "every point's sigma must be one of the levels"
    assert counts.min() > 0.2 * len(x), f"levels must be drawn uniformly per point, got counts {counts.tolist()}"


@LOSS
def test_loss_trains_the_score_model():
    model = MockScore()
    fill_parameters(model, np.random.default_rng(8))
    loss = _loss(model, _gaussian(9, 16), torch.tensor([0.5, 0.1]))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()), (
        "the loss must be differentiable with respect to the score network's parameters"
    )


# ---- langevin_dynamics_sample ----------------------------------------------------------------------


@LANGEVIN
def test_without_noise_a_step_is_gradient_ascent_on_log_p():
    # log p of a two-component Gaussian mixture, differentiated by autograd.
    means, var = torch.tensor([[1.0, 0.5], [-1.0, -0.5]]), 0.4

    def log_p(x):
        squared = ((x[:, None, :] - means[None]) ** 2).sum(-1)  # (n, 2 components)
        return torch.logsumexp(-squared / (2 * var), dim=1)

    def score(x, sigma):
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(log_p(x).sum(), x)
        return grad

    init, eps = _gaussian(10, 6), 0.05
    x = diffusion.langevin_dynamics_sample(score, 6, torch.tensor([0.2]), iterations=1, eps=eps, init=init,
                                           noise=torch.zeros(1, 6, 2))
    expected = init + eps * score(init, None)
    assert torch.allclose(x, expected, atol=1e-6), "with z = 0 one step is x + eps * grad log p(x)"
    assert torch.all(log_p(x) > log_p(init)), "a small gradient step must increase log p"


@LANGEVIN
def test_step_sizes_are_annealed_largest_level_first():
    # A constant score c: without noise each step at level i moves by alpha_i * c exactly.
    c = torch.tensor([1.0, -2.0])
    sigmas, eps, steps = torch.tensor([0.5, 0.2, 0.1]), 1e-3, 3
    trajectory = diffusion.langevin_dynamics_sample(lambda x, s: c.expand_as(x), 2, sigmas, iterations=steps,
                                                    eps=eps, return_traj=True, init=torch.zeros(2, 2),
                                                    noise=torch.zeros(len(sigmas) * steps, 2, 2))
    moves = torch.diff(torch.cat([torch.zeros(2, 1, 2), trajectory], dim=1), dim=1)  # (2, L*T, 2)
    alphas = (eps * sigmas**2 / sigmas[-1] ** 2).repeat_interleave(steps)  # (L*T,)
    assert torch.allclose(moves, alphas[None, :, None] * c, rtol=1e-5), (
        "step k at level i must be alpha_i = eps * sigma_i^2 / sigma_L^2 times the score, levels in the given "
        f"order; expected step sizes {alphas.tolist()}, got {(moves[0, :, 0] / c[0]).tolist()}"
    )


@LANGEVIN
def test_the_score_is_evaluated_at_each_levels_sigma_in_order():
    score, sigmas = GaussianScore(), torch.tensor([0.6, 0.3, 0.1])
    diffusion.langevin_dynamics_sample(score, 4, sigmas, iterations=2, eps=1e-3)
    used = [float(call.flatten()[0]) for call in score.calls]
    assert used == pytest.approx(sigmas.repeat_interleave(2).tolist()), f"levels used, in order: {used}"


@LANGEVIN
def test_trajectory_shapes_and_its_last_point_is_the_sample():
    sigmas, steps, n = torch.tensor([0.5, 0.25, 0.1, 0.05]), 5, 7
    rng = np.random.default_rng(11)
    init = torch.tensor(rng.normal(size=(n, 2)), dtype=torch.float32)
    noise = torch.tensor(rng.normal(size=(len(sigmas) * steps, n, 2)), dtype=torch.float32)
    kwargs = dict(iterations=steps, eps=0.01, init=init, noise=noise)
    samples = diffusion.langevin_dynamics_sample(GaussianScore(), n, sigmas, **kwargs)
    trajectory = diffusion.langevin_dynamics_sample(GaussianScore(), n, sigmas, return_traj=True, **kwargs)
    assert samples.shape == (n, 2)
    assert trajectory.shape == (n, len(sigmas) * steps, 2), f"expected (n, L*T, 2), got {tuple(trajectory.shape)}"
    assert torch.allclose(trajectory[:, -1], samples), "the trajectory's last point is the returned sample"
    assert not torch.allclose(trajectory[:, 0], init), "the trajectory starts after the first step"
    assert not samples.requires_grad


@LANGEVIN
def test_default_start_is_standard_normal_and_sizes_follow_n_samples():
    torch.manual_seed(1)
    trajectory = diffusion.langevin_dynamics_sample(lambda x, s: torch.zeros_like(x), 4000, torch.tensor([0.1]),
                                                    iterations=1, eps=1e-8, return_traj=True)
    assert trajectory.shape == (4000, 1, 2)
    start = trajectory[:, 0]
    assert start.mean(0).abs().max() < 0.1 and (start.std(0) - 1).abs().max() < 0.1, "start from N(0, I)"


@LANGEVIN
def test_samples_of_a_gaussian_have_its_mean_and_variance():
    # With the exact score of N(mu, v I) blurred by sigma, Langevin dynamics at the last level
    # samples N(mu, (v + sigma_L^2) I) (up to an O(alpha) bias: +1% here). Noise sqrt(alpha)
    # instead of sqrt(2 alpha) halves the variance; no noise collapses it.
    torch.manual_seed(2)
    mean, var, sigmas = (1.0, -0.5), 0.5, torch.tensor([1.0, 0.5])
    samples = diffusion.langevin_dynamics_sample(GaussianScore(mean, var), 4000, sigmas, iterations=150, eps=0.02)
    target = var + float(sigmas[-1]) ** 2
    assert torch.allclose(samples.mean(0), torch.tensor(mean), atol=0.06)
    assert samples.var(0).tolist() == pytest.approx([target, target], rel=0.08), (
        f"expected variance {target:.3f} per coordinate, got {samples.var(0).tolist()}"
    )


# ---- conditional_score ---------------------------------------------------------------------------


@CONDITIONAL
def test_conditional_score_is_the_gradient_of_the_log_posterior():
    # log p(x) of N(0, I) plus log p(x_known | x) = -lambda/2 ||(x - x_known) * M||^2, by autograd.
    rng = np.random.default_rng(12)
    x = torch.tensor(rng.normal(size=(6, 2)), dtype=torch.float32).requires_grad_(True)
    known = torch.tensor(rng.normal(size=(6, 2)), dtype=torch.float32)
    mask = torch.tensor(rng.integers(0, 2, size=(6, 2)), dtype=torch.float32)
    for weight in (2.0, 7.5):
        log_posterior = -0.5 * (x**2).sum() - 0.5 * weight * (((x - known) * mask) ** 2).sum()
        (expected,) = torch.autograd.grad(log_posterior, x)
        got = diffusion.conditional_score(lambda y, s: -y, x.detach(), 0.1, known, mask, weight=weight)
        assert torch.allclose(got, expected, atol=1e-6), f"weight {weight}: got {got}, expected {expected}"


@CONDITIONAL
def test_conditional_score_defaults_to_the_handouts_observation_model():
    x, known = torch.ones(3, 2), torch.zeros(3, 2)
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    got = diffusion.conditional_score(lambda y, s: torch.zeros_like(y), x, 0.1, known, mask)
    assert torch.equal(got, -2 * mask), "exp(-||(x - x_known) * M||^2) pulls by 2 (x - x_known) where observed"


@CONDITIONAL
def test_unobserved_coordinates_keep_the_unconditional_score():
    model = MockScore()
    fill_parameters(model, np.random.default_rng(13))
    x, known = _gaussian(14, 5), _gaussian(15, 5)
    with torch.no_grad():
        free = diffusion.conditional_score(model, x, 0.3, known, torch.zeros(5, 2), weight=9.0)
        assert torch.allclose(free, model(x, 0.3)), "with nothing observed the score is unchanged"
