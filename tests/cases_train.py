"""Cases of train.py's graded functions: the gradient penalty and the WGAN step.

A small mock GAN stands in for the real models: its critic is a two-layer network (so the
penalty's per-example gradients differ between examples) on small C x H x W images, with
weights drawn from NumPy.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.harness import Case, fill_parameters, to_numpy

LR = 0.05  # SGD step of the WGAN cases: large enough that a wrong gradient moves weights visibly


class MockGAN(nn.Module):
    """A tiny GAN with the interface train.py expects (generate, discriminate, sample_noise)."""

    def __init__(self, image_shape=(3, 4, 4), noise_dim=5, hidden=16, linear_critic=False):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.noise_dim = noise_dim
        size = int(np.prod(image_shape))
        self.generator = nn.Sequential(nn.Linear(noise_dim, hidden), nn.Tanh(), nn.Linear(hidden, size))
        if linear_critic:
            self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(size, 1))
        else:
            self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(size, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def sample_noise(self, batch_size):
        return torch.randn(batch_size, self.noise_dim)

    def generate(self, noise):
        return self.generator(noise).view(len(noise), *self.image_shape)

    def discriminate(self, images):
        return self.discriminator(images)


def _shapes(rng: np.random.Generator, hidden: bool, batch: int, image: tuple) -> tuple[int, tuple]:
    if not hidden:
        return batch, image
    return int(rng.integers(2, 9)), (int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6)))


def _arrays(**values) -> dict:
    return {key: np.asarray(value) for key, value in values.items()}


# ---- gradient penalty ------------------------------------------------------------------------


def penalty_inputs(batch=4, image=(3, 4, 4), eps=None, scale=1.0):
    """Inputs of a penalty case: images, mixing weights and the critic's weights."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, shape = _shapes(rng, hidden, batch, image)
        mix = rng.uniform(0, 1, size=(size, 1, 1, 1)) if eps is None else np.full((size, 1, 1, 1), eps)
        return _arrays(
            real=scale * rng.normal(size=(size, *shape)),
            fake=scale * rng.normal(size=(size, *shape)),
            eps=mix,
            weight_seed=rng.integers(2**31),
            image_shape=np.array(shape),
        )

    return make


def _mock(inputs: dict, linear_critic=False) -> MockGAN:
    model = MockGAN(tuple(int(s) for s in inputs["image_shape"]), linear_critic=linear_critic)
    fill_parameters(model, np.random.default_rng(int(inputs["weight_seed"])))
    return model


def _tensor(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def run_penalty(inputs: dict) -> dict:
    """The penalty and its gradient with respect to every critic parameter (flattened)."""
    from train import compute_gradient_penalty

    model = _mock(inputs)
    penalty = compute_gradient_penalty(model, _tensor(inputs["real"]), _tensor(inputs["fake"]), _tensor(inputs["eps"]))
    params = list(model.discriminator.parameters())
    grads = torch.autograd.grad(penalty, params, allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)])
    return {"penalty": to_numpy(penalty), "critic_grad": to_numpy(flat)}


# ---- WGAN step -------------------------------------------------------------------------------


def wgan_inputs(batch=4, image=(3, 4, 4), noise_dim=5):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, shape = _shapes(rng, hidden, batch, image)
        return _arrays(
            train_X=rng.uniform(-1, 1, size=(size, *shape)),
            noise=rng.normal(size=(size, noise_dim)),
            eps=rng.uniform(0, 1, size=(size, 1, 1, 1)),
            weight_seed=rng.integers(2**31),
            image_shape=np.array(shape),
        )

    return make


def run_wgan_step(inputs: dict) -> dict:
    """One train_step_wgan with gp = 0 and SGD: the logged losses and the updated weights."""
    from train import train_step_wgan

    model = _mock(inputs)
    optimizer = {
        "discriminator": torch.optim.SGD(model.discriminator.parameters(), lr=LR),
        "generator": torch.optim.SGD(model.generator.parameters(), lr=LR),
    }
    batch = {"train_X": _tensor(inputs["train_X"]), "noise": _tensor(inputs["noise"]), "eps": _tensor(inputs["eps"])}
    info = train_step_wgan(batch, model, optimizer, gp=0.0)
    flat = lambda module: to_numpy(torch.cat([p.detach().flatten() for p in module.parameters()]))  # noqa: E731
    return {
        "discriminator_loss": np.asarray(info["discriminator_loss"], dtype=np.float64),
        "generator_loss": np.asarray(info["generator_loss"], dtype=np.float64),
        "gp_loss": np.asarray(info["gp_loss"], dtype=np.float64),
        "fake_images": np.asarray(info["fake_images"], dtype=np.float64),
        "critic_after": flat(model.discriminator),
        "generator_after": flat(model.generator),
    }


CASES = [
    Case("compute_gradient_penalty", "penalty_small", seed=11, make_inputs=penalty_inputs(), run=run_penalty,
         isolates="the penalty and its gradient in the critic's weights (which exists only with create_graph=True)"),
    Case("compute_gradient_penalty", "penalty_one_example", seed=12, make_inputs=penalty_inputs(batch=1), run=run_penalty,
         isolates="a batch of one, where per-example and whole-batch norms agree: if only this passes, "
                  "suspect the axis of the norm or the reduction over the batch"),
    Case("compute_gradient_penalty", "penalty_eps_one", seed=13, make_inputs=penalty_inputs(eps=1.0), run=run_penalty,
         isolates="eps = 1, so the interpolates are the real images (eps weights the real image)"),
    Case("compute_gradient_penalty", "penalty_eps_zero", seed=14, make_inputs=penalty_inputs(eps=0.0), run=run_penalty,
         isolates="eps = 0, so the interpolates are the generated images"),
    Case("compute_gradient_penalty", "penalty_large_images", seed=15,
         make_inputs=penalty_inputs(batch=6, image=(1, 8, 8), scale=3.0), run=run_penalty,
         isolates="larger images of scale 3: gradient norms far from 1, (norm - 1) squared, not norm squared"),
    Case("train_step_wgan", "wgan_small", seed=21, make_inputs=wgan_inputs(), run=run_wgan_step,
         isolates="one step with gp = 0 and SGD: both logged losses (their signs) and the weights after both updates"),
    Case("train_step_wgan", "wgan_batch_eight", seed=22, make_inputs=wgan_inputs(batch=8, image=(1, 5, 5)),
         run=run_wgan_step, isolates="as wgan_small with a batch of 8: a sum where the handout takes a mean grows with B"),
]
