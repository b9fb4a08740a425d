"""Public tests of train.py: the gradient penalty and the WGAN objectives.

Run one task's tests with ``pytest --task compute_gradient_penalty`` (or ``train_step_wgan``).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import train
from tests.cases_train import CASES, MockGAN, LR
from tests.harness import case_params, check_case, check_promises, devices, fill_parameters

PENALTY = pytest.mark.task("compute_gradient_penalty")
WGAN = pytest.mark.task("train_step_wgan")


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("train", case)


# ---- compute_gradient_penalty: properties every correct implementation has -----------------


class FixedCritic(nn.Module):
    """A GAN whose critic is a given function of the image (parameters: one scale ``a``)."""

    def __init__(self, score):
        super().__init__()
        self.score = score
        self.a = nn.Parameter(torch.tensor(1.0))
        self.discriminator = self  # what train.py's steps optimise

    def discriminate(self, images):
        return self.a * self.score(images).reshape(len(images), 1)


def _images(seed, shape=(5, 2, 3, 3)):
    rng = np.random.default_rng(seed)
    real = torch.tensor(rng.normal(size=shape), dtype=torch.float32)
    fake = torch.tensor(rng.normal(size=shape), dtype=torch.float32)
    eps = torch.tensor(rng.uniform(size=(shape[0], 1, 1, 1)), dtype=torch.float32)
    return real, fake, eps


@PENALTY
def test_penalty_is_zero_for_a_unit_norm_linear_critic():
    real, fake, eps = _images(0)
    weight = torch.tensor(np.random.default_rng(1).normal(size=real[0].numel()), dtype=torch.float32)
    weight = weight / weight.norm()  # gradient norm exactly 1 everywhere
    model = FixedCritic(lambda x: x.flatten(1) @ weight)
    penalty = train.compute_gradient_penalty(model, real, fake, eps)
    assert penalty.shape == (), f"the penalty must be a scalar, got shape {tuple(penalty.shape)}"
    assert abs(penalty.item()) < 1e-10, f"a 1-Lipschitz linear critic has zero penalty, got {penalty.item()}"


@PENALTY
@pytest.mark.parametrize("norm", [0.25, 3.0])
def test_penalty_of_a_linear_critic_is_the_squared_norm_gap(norm):
    real, fake, eps = _images(2)
    weight = torch.ones(real[0].numel()) * norm / np.sqrt(real[0].numel())  # ||w|| = norm
    model = FixedCritic(lambda x: x.flatten(1) @ weight)
    penalty = train.compute_gradient_penalty(model, real, fake, eps).item()
    assert penalty == pytest.approx((norm - 1) ** 2, rel=1e-5), "for D(x) = w.x the penalty is (||w|| - 1)^2"


@PENALTY
def test_penalty_uses_per_example_gradients_at_the_real_first_interpolates():
    # D(x) = ||x||^2 / 2 has gradient x, so the penalty is mean_n (||x_hat_n|| - 1)^2 with
    # x_hat_n = eps_n real_n + (1 - eps_n) fake_n: it checks the mixing order and the per-example norm.
    real, fake, eps = _images(3)
    model = FixedCritic(lambda x: 0.5 * (x.flatten(1) ** 2).sum(1))
    x_hat = eps * real + (1 - eps) * fake
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty = train.compute_gradient_penalty(model, real, fake, eps)
    assert penalty.item() == pytest.approx(float(expected), rel=1e-5), (
        "expected mean over examples of (||grad D(x_hat_n)|| - 1)^2 with x_hat = eps*real + (1-eps)*fake"
    )


@PENALTY
def test_penalty_trains_the_critic():
    real, fake, eps = _images(4)
    model = FixedCritic(lambda x: 0.5 * (x.flatten(1) ** 2).sum(1))
    penalty = train.compute_gradient_penalty(model, real, fake, eps)
    assert penalty.requires_grad, "the penalty must stay differentiable (torch.autograd.grad(..., create_graph=True))"
    (grad,) = torch.autograd.grad(penalty, model.a)
    # d/da mean_n (a r_n - 1)^2 with r_n = ||x_hat_n||
    radii = (eps * real + (1 - eps) * fake).flatten(1).norm(dim=1)
    assert float(grad) == pytest.approx(float((2 * (radii - 1) * radii).mean()), rel=1e-4)


@PENALTY
@pytest.mark.parametrize("device", devices())
def test_penalty_keeps_the_inputs_dtype_and_device(device):
    # A scalar tensor (shape ()) of the images' dtype, on their device; float64 shows new
    # tensors made with torch's default float32.
    real, fake, eps = (t.to(device, torch.float64) for t in _images(6))
    model = MockGAN((2, 3, 3))
    fill_parameters(model, np.random.default_rng(6))
    model.to(device, torch.float64)
    penalty = train.compute_gradient_penalty(model, real, fake, eps)
    check_promises("compute_gradient_penalty", penalty, shape=(), like=real)


@PENALTY
def test_penalty_leaves_its_inputs_alone():
    real, fake, eps = _images(5)
    copies = [t.clone() for t in (real, fake, eps)]
    model = FixedCritic(lambda x: x.flatten(1).sum(1))
    train.compute_gradient_penalty(model, real, fake, eps)
    for before, after in zip(copies, (real, fake, eps)):
        assert torch.equal(before, after) and not after.requires_grad, "the inputs must not be modified"


# ---- train_step_wgan: the objectives as written in the handout --------------------------------


def _wgan_setup(seed=7, batch=6):
    rng = np.random.default_rng(seed)
    model = MockGAN((1, 3, 3))
    fill_parameters(model, rng)
    optimizer = {
        "discriminator": torch.optim.SGD(model.discriminator.parameters(), lr=LR),
        "generator": torch.optim.SGD(model.generator.parameters(), lr=LR),
    }
    batch = {
        "train_X": torch.tensor(rng.uniform(-1, 1, size=(batch, 1, 3, 3)), dtype=torch.float32),
        "noise": torch.tensor(rng.normal(size=(batch, 5)), dtype=torch.float32),
        "eps": torch.tensor(rng.uniform(size=(batch, 1, 1, 1)), dtype=torch.float32),
    }
    return model, optimizer, batch


@WGAN
def test_wgan_losses_follow_the_handout():
    model, optimizer, batch = _wgan_setup()
    before = copy.deepcopy(model)
    info = train.train_step_wgan(batch, model, optimizer, gp=0.0)
    with torch.no_grad():
        fake = before.generate(batch["noise"])
        real_mean = before.discriminate(batch["train_X"]).mean()
        fake_mean = before.discriminate(fake).mean()
        # the generator loss uses the critic *after* its update, on the generator *before* its own
        gen = model.discriminator(fake).mean()
    assert info["discriminator_loss"] == pytest.approx(float(real_mean - fake_mean), rel=1e-5, abs=1e-6), (
        "L_D = mean D(real) - mean D(G(z)) (real first, as written in the handout)"
    )
    assert info["generator_loss"] == pytest.approx(float(gen), rel=1e-5, abs=1e-6), "L_G = mean D(G(z))"
    assert info["gp_loss"] == 0.0


@WGAN
def test_wgan_step_descends_both_objectives():
    model, optimizer, batch = _wgan_setup(seed=8)
    before = copy.deepcopy(model)
    train.train_step_wgan(batch, model, optimizer, gp=0.0)
    with torch.no_grad():
        fake = before.generate(batch["noise"])
        gap = lambda m: float(m.discriminate(batch["train_X"]).mean() - m.discriminate(fake).mean())  # noqa: E731
        assert gap(model) < gap(before), "one SGD step on L_D must lower mean D(real) - mean D(fake)"
        critic = model.discriminator
        assert float(critic(model.generate(batch["noise"])).mean()) < float(critic(fake).mean()), (
            "one SGD step on L_G must lower mean D(G(z))"
        )


@WGAN
@pytest.mark.parametrize("device", devices())
def test_wgan_step_returns_floats_for_any_dtype_and_device(device):
    model, optimizer, batch = _wgan_setup(seed=10)
    model.to(device, torch.float64)
    batch = {key: value.to(device, torch.float64) for key, value in batch.items()}
    info = train.train_step_wgan(batch, model, optimizer, gp=10.0)
    for key in ("discriminator_loss", "gp_loss", "generator_loss"):
        assert type(info[key]) is float, f"train_step_wgan: {key} must be a Python float (.item()), got {type(info[key])}"
    assert info["gp_loss"] > 0, "train_step_wgan: with gp = 10 the penalty must be computed and logged"
    check_promises("train_step_wgan: fake_images", info["fake_images"], shape=(6, 1, 3, 3),
                   like=batch["train_X"].cpu().numpy())


def test_vanilla_gan_step_runs_and_updates():
    model, optimizer, batch = _wgan_setup(seed=9)
    before = [p.clone() for p in model.parameters()]
    info = train.train_step_gan(batch, model, optimizer)
    assert {"discriminator_loss", "generator_loss", "fake_images"} <= set(info)
    assert info["fake_images"].shape == (6, 1, 3, 3)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "every weight should move"
