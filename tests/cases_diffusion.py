"""Cases of diffusion.py's graded functions: ScoreNet, the denoising loss, Langevin dynamics and
the conditional (inpainting) score.

Every random choice is an input: network weights come from NumPy (``fill_parameters``), and so
do the loss's noise and level indices and the sampler's starting points and per-step noise, so
each case has one exact answer. The loss, sampler and conditional-score cases use a small
stand-in score network defined here (not ``ScoreNet``), so each task is graded on its own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.harness import Case, fill_parameters, to_numpy

DIM = 2  # D: points are 2-D


class MockScore(nn.Module):
    """A small score model s(x, sigma) = net([x, sigma]) / sigma, with tanh (so bounded) hidden units.

    Accepts sigma as a float, a 0-d tensor, (N,) or (N, 1), like ScoreNet.
    """

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(DIM + 1, hidden), nn.Tanh(), nn.Linear(hidden, DIM))

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(len(x), 1)
        return self.net(torch.cat([x, sigma], dim=1)) / sigma


def _tensor(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def _mock(inputs: dict) -> MockScore:
    model = MockScore()
    fill_parameters(model, np.random.default_rng(int(inputs["weight_seed"])))
    return model


def _levels(rng: np.random.Generator, count: int, low: float, high: float) -> np.ndarray:
    """``count`` distinct noise levels in [low, high], largest first."""
    return np.sort(np.exp(rng.uniform(np.log(low), np.log(high), size=count)))[::-1].copy()


# ---- ScoreNet ------------------------------------------------------------------------------------


def score_net_inputs(n_layers=8, latent_dim=128, points=6, sigma_kind="column"):
    """A ScoreNet's size, its weights' seed, points and their noise levels in one of the three forms."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        layers, width, size = n_layers, latent_dim, points
        if hidden:
            layers, width, size = int(rng.integers(2, 10)), int(rng.integers(3, 40)), int(rng.integers(1, 9))
        sigma = {"column": rng.uniform(0.01, 1.0, size=(size, 1)),
                 "float": np.array(rng.uniform(0.01, 1.0))}[sigma_kind]
        return {"n_layers": np.array(layers), "latent_dim": np.array(width), "weight_seed": rng.integers(2**31),
                "x": rng.normal(size=(size, DIM)), "sigma": sigma}

    return make


def run_score_net(inputs: dict) -> dict:
    """The scores of a ScoreNet with NumPy weights, and the shapes of its parameters in order."""
    from diffusion import ScoreNet

    model = ScoreNet(n_layers=int(inputs["n_layers"]), latent_dim=int(inputs["latent_dim"]))
    fill_parameters(model, np.random.default_rng(int(inputs["weight_seed"])))
    sigma = inputs["sigma"]
    sigma = float(sigma) if sigma.ndim == 0 else _tensor(sigma)
    with torch.no_grad():
        scores = model(_tensor(inputs["x"]), sigma)
    shapes = [dim for p in model.parameters() for dim in (p.ndim, *p.shape, 1, 1)[:3]]  # (ndim, rows, cols)
    return {"scores": to_numpy(scores), "parameter_shapes": np.array(shapes, dtype=np.int64)}


# ---- compute_denoising_loss -------------------------------------------------------------------------


def loss_inputs(points=8, levels=(0.5, 0.2, 0.05), scale=1.0):
    """Data, noise levels, the noise z and each point's level index, and the mock's weights."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, sigmas = points, np.asarray(levels, dtype=np.float64)
        if hidden:
            size = int(rng.integers(1, 12))
            sigmas = _levels(rng, int(rng.integers(1, 6)), 0.01, 1.0)
        return {"x": scale * rng.normal(size=(size, DIM)), "sigmas": sigmas,
                "noise": rng.normal(size=(size, DIM)), "sigma_index": rng.integers(0, len(sigmas), size=size),
                "weight_seed": rng.integers(2**31)}

    return make


def run_loss(inputs: dict) -> dict:
    """The loss and its gradient with respect to every parameter of the score model (flattened)."""
    from diffusion import compute_denoising_loss

    model = _mock(inputs)
    loss = compute_denoising_loss(model, _tensor(inputs["x"]), _tensor(inputs["sigmas"]),
                                  noise=_tensor(inputs["noise"]),
                                  sigma_index=torch.as_tensor(inputs["sigma_index"], dtype=torch.long))
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)])
    return {"loss": to_numpy(loss), "score_grad": to_numpy(flat)}


# ---- langevin_dynamics_sample ---------------------------------------------------------------------


def langevin_inputs(samples=5, levels=(0.5, 0.25, 0.1), iterations=4, eps=0.01):
    """Starting points, levels, steps per level, step size, the noise of every step, mock weights."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, sigmas, steps, step_size = samples, np.asarray(levels, dtype=np.float64), iterations, eps
        if hidden:
            size, steps = int(rng.integers(1, 8)), int(rng.integers(1, 6))
            sigmas = _levels(rng, int(rng.integers(1, 5)), 0.05, 0.6)
            step_size = float(rng.uniform(0.002, 0.02))
        return {"init": rng.normal(size=(size, DIM)), "sigmas": sigmas, "iterations": np.array(steps),
                "eps": np.array(step_size), "noise": rng.normal(size=(len(sigmas) * steps, size, DIM)),
                "weight_seed": rng.integers(2**31)}

    return make


def _run_langevin(inputs: dict, return_traj: bool) -> torch.Tensor:
    from diffusion import langevin_dynamics_sample

    init = _tensor(inputs["init"])
    return langevin_dynamics_sample(_mock(inputs), len(init), _tensor(inputs["sigmas"]),
                                    iterations=int(inputs["iterations"]), eps=float(inputs["eps"]),
                                    return_traj=return_traj, init=init, noise=_tensor(inputs["noise"]))


def run_langevin(inputs: dict) -> dict:
    return {"samples": to_numpy(_run_langevin(inputs, return_traj=False))}


def run_langevin_trajectory(inputs: dict) -> dict:
    return {"trajectory": to_numpy(_run_langevin(inputs, return_traj=True))}


# ---- conditional_score -----------------------------------------------------------------------------


def conditional_inputs(points=6, weight=2.0, sigma=0.3):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, lam, level = points, weight, sigma
        if hidden:
            size, lam, level = int(rng.integers(1, 9)), float(rng.uniform(0.5, 50.0)), float(rng.uniform(0.05, 1.0))
        return {"x": rng.normal(size=(size, DIM)), "x_known": rng.normal(size=(size, DIM)),
                "mask": rng.integers(0, 2, size=(size, DIM)).astype(np.float64), "sigma": np.array(level),
                "weight": np.array(lam), "weight_seed": rng.integers(2**31)}

    return make


def run_conditional(inputs: dict) -> dict:
    from diffusion import conditional_score

    with torch.no_grad():
        scores = conditional_score(_mock(inputs), _tensor(inputs["x"]), float(inputs["sigma"]),
                                   _tensor(inputs["x_known"]), _tensor(inputs["mask"]), weight=float(inputs["weight"]))
    return {"scores": to_numpy(scores)}


# Langevin runs compound float32 rounding over many steps, and correct implementations order
# the step's arithmetic differently: compare to 1e-4.
LANGEVIN_TOL = {"rtol": 1e-4, "atol": 1e-4}

CASES = [
    Case("score_net", "score_net_handout_size", seed=31, make_inputs=score_net_inputs(), run=run_score_net),
    Case("score_net", "score_net_small_float_sigma", seed=32,
         make_inputs=score_net_inputs(n_layers=3, latent_dim=5, points=4, sigma_kind="float"), run=run_score_net),
    Case("score_net", "score_net_two_layers", seed=33, make_inputs=score_net_inputs(n_layers=2, latent_dim=7),
         run=run_score_net),
    Case("compute_denoising_loss", "loss_three_levels", seed=41, make_inputs=loss_inputs(), run=run_loss),
    Case("compute_denoising_loss", "loss_one_level", seed=42, make_inputs=loss_inputs(points=5, levels=(0.3,)),
         run=run_loss),
    Case("compute_denoising_loss", "loss_tiny_levels", seed=43,
         make_inputs=loss_inputs(points=10, levels=(0.01, 0.002), scale=0.1), run=run_loss, rtol=1e-3),
    Case("langevin_dynamics_sample", "langevin_one_step", seed=51,
         make_inputs=langevin_inputs(levels=(0.3,), iterations=1), run=run_langevin, **LANGEVIN_TOL),
    Case("langevin_dynamics_sample", "langevin_annealed", seed=52, make_inputs=langevin_inputs(), run=run_langevin,
         **LANGEVIN_TOL),
    Case("langevin_dynamics_sample", "langevin_trajectory", seed=53,
         make_inputs=langevin_inputs(samples=3, levels=(0.4, 0.2), iterations=3), run=run_langevin_trajectory,
         **LANGEVIN_TOL),
    Case("langevin_dynamics_sample", "langevin_handout_levels", seed=54,
         make_inputs=langevin_inputs(samples=4, levels=tuple(np.geomspace(0.3, 0.01, 10)), iterations=2, eps=1e-4),
         run=run_langevin, **LANGEVIN_TOL),
    Case("conditional_score", "conditional_handout_weight", seed=61, make_inputs=conditional_inputs(),
         run=run_conditional),
    Case("conditional_score", "conditional_strong_weight", seed=62,
         make_inputs=conditional_inputs(points=5, weight=25.0, sigma=0.1), run=run_conditional),
]
