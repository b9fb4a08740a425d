r"""GAN objectives, the gradient penalty, and the kit's one training loop.

Objectives (CSCD84 Assignment 4, section 2.2):

* the vanilla GAN step (provided): binary cross-entropy on the discriminator's logits;
* the Wasserstein GAN step (graded): the critic minimises
  :math:`L_D = \frac1N\sum_n D(x_n) - \frac1N\sum_n D(G(z_n))` plus
  :math:`\lambda L_{GP}`, the generator minimises :math:`L_G = \frac1N\sum_n D(G(z_n))`.
  With this sign convention the critic gives *low* scores to real images and high scores to
  generated ones (it scores "fakeness"); Gulrajani et al. (2017) use the opposite sign, which
  is equivalent. Follow the handout's convention here;
* the gradient penalty (graded) of Gulrajani et al. (2017).

The training loop at the end serves every model of the kit: a model supplies its step
function; the loop owns data, optimisers, progress, sample figures, checkpoints and logs.

Shapes: B batch, C/H/W image channels/height/width, Z noise (any shape ``sample_noise`` gives).
A GAN model here has ``generate(noise) -> (B, C, H, W)``, ``discriminate(images) -> (B, 1)``
logits or critic scores, ``sample_noise(B)``, and submodules ``generator``/``discriminator``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from config import TrainConfig, as_dict

StepInfo = dict  # what a step returns: floats to log, plus "fake_images" (B, C, H, W) numpy

NUM_SAMPLES = 64  # images in each sample grid (8 x 8)


# --------------------------------------------------------------------------------------------
# GAN objectives
# --------------------------------------------------------------------------------------------


def _optimise(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params) -> float:
    """One update: clear old gradients, backpropagate ``loss``, step. Returns the gradient norm."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.detach().flatten() for p in params if p.grad is not None]
    optimizer.step()
    return float(torch.cat(grads).norm()) if grads else 0.0


def train_step_gan(batch: dict, model, optimizer: dict) -> StepInfo:
    r"""One step of the original (non-saturating) GAN: a discriminator update, then a generator one.

    Discriminator: binary cross-entropy with targets 0 for generated and 1 for real images,
    the mean over the B generated plus the mean over the B real logits (the sum of the two
    halves' means, as ``2 * BCE`` over the 2B samples). Generator: BCE of D(G(z)) against 1,
    a mean over B (the non-saturating loss :math:`-\frac1B\sum_n \log\sigma(D(G(z_n)))`).

    Args:
        batch: ``train_X`` real images (B, C, H, W) in [-1, 1]; ``noise`` a batch of
            ``model.sample_noise(B)``.
        model: the GAN (see the module docstring); D returns logits (B, 1).
        optimizer: ``{"discriminator": ..., "generator": ...}``.

    Returns:
        ``discriminator_loss``, ``generator_loss`` (floats), ``grad_norm/discriminator``,
        ``grad_norm/generator`` and ``fake_images`` (B, C, H, W) numpy.
    """
    real = batch["train_X"]
    fake = model.generate(batch["noise"])  # (B, C, H, W)

    logits = model.discriminate(torch.cat([fake.detach(), real]))  # (2B, 1): fakes first
    targets = torch.cat([torch.zeros_like(logits[: len(fake)]), torch.ones_like(logits[len(fake):])])
    disc_loss = 2 * F.binary_cross_entropy_with_logits(logits, targets)  # sum of the halves' means
    d_norm = _optimise(optimizer["discriminator"], disc_loss, model.discriminator.parameters())

    logits = model.discriminate(fake)  # (B, 1)
    gen_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    g_norm = _optimise(optimizer["generator"], gen_loss, model.generator.parameters())

    return {
        "discriminator_loss": disc_loss.item(),
        "generator_loss": gen_loss.item(),
        "grad_norm/discriminator": d_norm,
        "grad_norm/generator": g_norm,
        "fake_images": fake.detach().cpu().numpy(),
    }


def compute_gradient_penalty(model, real_images: torch.Tensor, fake_images: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    r"""The WGAN-GP gradient penalty on random interpolates of real and generated images.

    .. math::
        \hat x_n = \varepsilon_n x^{real}_n + (1 - \varepsilon_n) x^{fake}_n, \qquad
        L_{GP} = \frac1B \sum_{n=1}^{B} \left(\lVert \nabla_{\hat x_n} D(\hat x_n) \rVert_2 - 1\right)^2

    The gradient of each critic score is taken with respect to its own interpolate; its
    Euclidean norm is over all C*H*W entries of that one example (not over the batch).
    The result must stay differentiable with respect to the critic's parameters (the critic
    is trained on it), so build the gradient with ``torch.autograd.grad(..., create_graph=True)``.

    Args:
        model: the GAN; ``model.discriminate(x)`` gives one score per example, shape (B, 1).
        real_images: (B, C, H, W) real images.
        fake_images: (B, C, H, W) generated images (already detached from the generator).
        eps: (B, 1, 1, 1) mixing weights in [0, 1], one per example (broadcast over C, H, W).
            Weight ``eps`` goes to the *real* image and ``1 - eps`` to the fake one.

    Returns:
        A scalar tensor (shape ``()``): the mean over the batch of the squared deviations.
    """
    # BEGIN SOLUTION compute_gradient_penalty
    mix = eps.expand_as(real_images)
    interpolates = (mix * real_images + (1 - mix) * fake_images).detach().requires_grad_(True)
    scores = model.discriminate(interpolates)  # (B, 1)
    # Scores of different examples do not interact, so the gradient of their sum holds, in
    # row n, the gradient of score n with respect to interpolate n.
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    norms = gradients.flatten(start_dim=1).norm(p=2, dim=1)  # (B,)
    return ((norms - 1) ** 2).mean()
    # END SOLUTION


def train_step_wgan(batch: dict, model, optimizer: dict, gp: float) -> StepInfo:
    r"""One WGAN(-GP) step: a critic update, then a generator update (handout section 2.2).

    Critic, minimised over its parameters:

    .. math:: L_D = \frac1B\sum_n D(x_n) - \frac1B\sum_n D(G(z_n)), \qquad
              \text{total} = L_D + \lambda\, L_{GP}

    Generator, minimised over its parameters, with the critic just updated:

    .. math:: L_G = \frac1B\sum_n D(G(z_n))

    Both are plain means over the batch of the critic's scores. Mind the sign: real scores
    come first in :math:`L_D`, so the critic learns to score real images low.

    Args:
        batch: ``train_X`` (B, C, H, W) real images; ``noise`` for ``model.generate``;
            ``eps`` (B, 1, 1, 1) interpolation weights for the penalty.
        model: the GAN; ``model.discriminate`` returns critic scores (B, 1).
        optimizer: ``{"discriminator": ..., "generator": ...}``.
        gp: the penalty weight lambda >= 0 (``--gradient_penalty``); 0 trains a WGAN
            without penalty and skips computing it.

    Returns:
        ``discriminator_loss`` (:math:`L_D`, *without* the penalty term), ``gp_loss``
        (:math:`L_{GP}`, 0 when ``gp`` is 0), ``generator_loss`` (:math:`L_G`), the gradient
        norms ``grad_norm/discriminator`` and ``grad_norm/generator``, and ``fake_images``.
    """
    real = batch["train_X"]
    fake = model.generate(batch["noise"])  # (B, C, H, W)
    size = len(fake)

    scores = model.discriminate(torch.cat([fake.detach(), real]))  # (2B, 1): fakes first
    fake_scores, real_scores = scores[:size], scores[size:]  # (B, 1) each
    # BEGIN SOLUTION train_step_wgan
    disc_loss = real_scores.mean() - fake_scores.mean()
    # END SOLUTION
    if gp:
        # The penalty is differentiated twice. Fused attention kernels (as nn.MultiheadAttention
        # uses them) have no second derivative, so the critic runs on plain matrix products here.
        with sdpa_kernel(SDPBackend.MATH):
            gp_loss = compute_gradient_penalty(model, real, fake.detach(), batch["eps"])
    else:
        gp_loss = torch.zeros((), device=real.device)
    d_norm = _optimise(optimizer["discriminator"], disc_loss + gp * gp_loss, model.discriminator.parameters())

    scores = model.discriminate(fake)  # (B, 1), with the updated critic
    # BEGIN SOLUTION train_step_wgan
    gen_loss = scores.mean()
    # END SOLUTION
    g_norm = _optimise(optimizer["generator"], gen_loss, model.generator.parameters())

    return {
        "discriminator_loss": disc_loss.item(),
        "gp_loss": gp_loss.item(),
        "generator_loss": gen_loss.item(),
        "grad_norm/discriminator": d_norm,
        "grad_norm/generator": g_norm,
        "fake_images": fake.detach().cpu().numpy(),
    }


# --------------------------------------------------------------------------------------------
# What the loop needs from a model: a recipe
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How to train one kind of model with the shared loop.

    Attributes:
        optimizers: ``optimizers(model, config) -> {name: optimizer}``.
        step: ``step(config) -> step_fn``; ``step_fn(batch, model, optimizers) -> StepInfo``.
        make_batch: ``make_batch(images, labels, model, device) -> batch`` for the step.
        samples: ``samples(model, info, device) -> (N, C, H, W)`` images for the figures, or None.
    """

    optimizers: Callable
    step: Callable
    make_batch: Callable
    samples: Callable


def gan_optimizers(model, config: TrainConfig) -> dict:
    betas = (config.beta1, config.beta2)
    return {
        "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=config.lr_discriminator, betas=betas),
        "generator": torch.optim.Adam(model.generator.parameters(), lr=config.lr_generator, betas=betas),
    }


def gan_step(config: TrainConfig) -> Callable:
    """The vanilla GAN without a penalty weight (or with 0), WGAN-GP with one."""
    if not config.gradient_penalty:
        return train_step_gan
    return partial(train_step_wgan, gp=config.gradient_penalty)


def gan_batch(images: torch.Tensor, labels: torch.Tensor, model, device: torch.device) -> dict:
    size = len(images)
    return {
        "train_X": images,
        "train_y": labels,
        "noise": model.sample_noise(size).to(device),
        "eps": torch.rand(size, 1, 1, 1, device=device),
    }


def gan_samples(model, info: StepInfo, device: torch.device):
    """A fresh grid of generated images (evaluation mode, no gradients)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        images = model.generate(model.sample_noise(NUM_SAMPLES).to(device))
    model.train(was_training)
    return images.cpu().numpy()


GAN = Recipe(optimizers=gan_optimizers, step=gan_step, make_batch=gan_batch, samples=gan_samples)


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------


class TrainingError(RuntimeError):
    """A run that cannot go on (bad checkpoint, NaN loss, missing device); the message says why."""


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; an explicit choice must exist."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise TrainingError(f"--device {name} was asked for but is not available here; use --device cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def infinite_batches(dataset, batch_size: int, seed: int):
    """Shuffled batches forever, dropping each epoch's incomplete last batch."""
    if len(dataset) < batch_size:
        raise TrainingError(f"the data set has {len(dataset)} images, fewer than one batch of {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, generator=generator)
    while True:
        yield from loader


def _save_atomic(state: dict, path: Path) -> None:
    """Write a checkpoint so that a crash mid-write never leaves a half-written file behind."""
    partial_path = path.with_suffix(".tmp")
    torch.save(state, partial_path)
    os.replace(partial_path, path)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by this loop, or a clear error saying what is wrong with it."""
    if path.is_dir():
        path = path / "latest.pt"
    if not path.exists():
        raise TrainingError(f"--resume: no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for a damaged file
        raise TrainingError(f"--resume: {path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    missing = {"model", "optimizers", "step", "config"} - set(state) if isinstance(state, dict) else {"everything"}
    if missing:
        raise TrainingError(f"--resume: {path} is not a checkpoint of this kit (missing {', '.join(sorted(missing))})")
    return state


def new_run_folder(config: TrainConfig) -> Path:
    name = config.run_name or f"{config.model.replace(':', '-')}-{datetime.now():%Y%m%d-%H%M%S}"
    folder = Path(config.runs_dir) / name
    suffix = 1
    while folder.exists():  # never write into another run's folder
        suffix += 1
        folder = Path(config.runs_dir) / f"{name}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def _finite_losses(info: StepInfo) -> bool:
    return all(math.isfinite(value) for key, value in info.items() if key.endswith("loss"))


def train(config: TrainConfig, model, recipe: Recipe, dataset, *, progress: bool = True,
          evaluate: Callable[[object], dict] | None = None) -> Path:
    """Train ``model`` on ``dataset`` with ``recipe``'s step; return the run folder.

    Writes into the run folder: ``config.json`` (the resolved settings), ``metrics.csv``
    (averaged scalars every ``log_every`` steps), ``samples/step_NNNNNN.{pdf,png}`` (a grid
    of 64 samples every ``sample_every`` steps and at the end), ``latest.pt`` (every
    ``sample_every`` steps) and ``final.pt``, and ``metrics.json`` (the final scalars).
    A NaN or infinite loss stops the run with a TrainingError and keeps the last good
    ``latest.pt``. ``evaluate(model) -> {name: value}``, if given, adds final quality metrics.
    """
    from tqdm import tqdm

    from plots import save_image_grid

    device = pick_device(config.device)
    seed_everything(config.seed)
    model.to(device)
    optimizers = recipe.optimizers(model, config)
    step_fn = recipe.step(config)
    start = 0

    if config.resume:
        state = load_checkpoint(Path(config.resume))
        if state["config"].get("model") != config.model:
            raise TrainingError(f"--resume: that checkpoint trained {state['config'].get('model')!r}, not {config.model!r}")
        try:
            model.load_state_dict(state["model"])
            for name, optimizer in optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
        except (RuntimeError, KeyError, ValueError) as error:
            raise TrainingError(f"--resume: the checkpoint does not fit this model ({error})") from None
        start = int(state["step"])
        torch.set_rng_state(state["rng"]["torch"])
        folder = Path(config.resume) if Path(config.resume).is_dir() else Path(config.resume).parent
        print(f"resuming {folder} from step {start}")
    else:
        folder = new_run_folder(config)
    (folder / "config.json").write_text(json.dumps(as_dict(config), indent=2) + "\n")

    def checkpoint(step: int) -> dict:
        return {
            "model": model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "step": step,
            "config": as_dict(config),
            "rng": {"torch": torch.get_rng_state()},
        }

    def save_samples(step: int, info: StepInfo) -> None:
        images = recipe.samples(model, info, device)
        if images is not None:
            save_image_grid(images[:NUM_SAMPLES], folder / "samples" / f"step_{step:06d}")

    batches = infinite_batches(dataset, config.batch_size, config.seed + start)
    metrics_path = folder / "metrics.csv"
    sums: dict[str, float] = {}
    count = 0
    info: StepInfo = {}
    started = time.perf_counter()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not progress,
               desc=config.model, dynamic_ncols=True)
    for index in bar:
        step = index + 1
        images, labels = next(batches)
        batch = recipe.make_batch(images.to(device), labels.to(device), model, device)
        info = step_fn(batch, model, optimizers)
        if not _finite_losses(info):
            bar.close()
            losses = {k: v for k, v in info.items() if k.endswith("loss")}
            raise TrainingError(
                f"step {step}: a loss is not finite ({losses}); stopping. The last good checkpoint "
                f"is {folder / 'latest.pt'} (if one was written). Try a smaller learning rate."
            )
        scalars = {k: float(v) for k, v in info.items() if isinstance(v, (int, float))}
        for key, value in scalars.items():
            sums[key] = sums.get(key, 0.0) + value
        count += 1
        bar.set_postfix({k.replace("_loss", ""): f"{v:.3f}" for k, v in scalars.items() if k.endswith("loss")})
        if step % config.log_every == 0 or step == config.steps:
            row = {"step": step, "seconds": round(time.perf_counter() - started, 3),
                   **{k: v / count for k, v in sums.items()}}
            new_file = not metrics_path.exists()
            with metrics_path.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(row))
                if new_file:
                    writer.writeheader()
                writer.writerow(row)
            sums, count = {}, 0
        if step % config.sample_every == 0 and step != config.steps:
            save_samples(step, info)
            _save_atomic(checkpoint(step), folder / "latest.pt")
    bar.close()

    final_step = max(config.steps, start)
    save_samples(final_step, info)
    state = checkpoint(final_step)
    _save_atomic(state, folder / "latest.pt")
    _save_atomic(state, folder / "final.pt")
    elapsed = time.perf_counter() - started
    final = {"step": final_step, "seconds": round(elapsed, 2),
             "steps_per_second": round((final_step - start) / elapsed, 3) if elapsed > 0 else None,
             **{k: v for k, v in info.items() if isinstance(v, float)}}
    if evaluate is not None:
        final.update(evaluate(model))
    (folder / "metrics.json").write_text(json.dumps(final, indent=2) + "\n")
    print("final: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in final.items()))
    print(f"run folder: {folder}")
    return folder
