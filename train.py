r"""The kit's one training loop, and the GAN objectives of CSCD84 Assignment 4.

Objectives of CSCD84 Assignment 4 (section 2.2; its handout is the one that holds them):

* the vanilla GAN step (provided): binary cross-entropy on the discriminator's logits;
* the Wasserstein GAN step (graded): the critic minimises
  :math:`L_D = \frac1N\sum_n D(x_n) - \frac1N\sum_n D(G(z_n))` plus
  :math:`\lambda L_{GP}`, the generator minimises :math:`L_G = \frac1N\sum_n D(G(z_n))`.
  With this sign convention the critic gives *low* scores to real images and high scores to
  generated ones (it scores "fakeness"); Gulrajani et al. (2017) use the opposite sign, which
  is equivalent. Follow the handout's convention here;
* the gradient penalty (graded) of Gulrajani et al. (2017).

The training loop at the end (:func:`train`) serves every model of the kit, GAN or not: a
model supplies a :class:`Recipe` (its optimisers, its step, and optional hooks for batches,
figures and evaluation); the loop owns the data order, epochs or steps, progress, checkpoints and
``--resume``, NaN checks, ``metrics.csv`` with a loss-curve figure, and ``metrics.json``.

How a model family plugs in (one recipe here or in its own module, one registry entry in
``main.py``; never a second loop). A toy 2-D density model trained in epochs::

    # in flow_network.py (say)
    def nll_step(config):
        def step(batch, model, optimizers):          # batch: what make_batch returned
            loss = -model.log_prob(batch["x"]).mean()  # (B, 2) points -> scalar
            optimizers["model"].zero_grad(); loss.backward(); optimizers["model"].step()
            return {"nll_loss": loss.item()}         # floats: logged; *loss: NaN-checked
        return step

    def validation_nll(model, run):                  # every epoch: a column of metrics.csv
        with torch.no_grad():
            points = run.data.validation.tensors[0].to(run.device)
            return {"val/nll": -model.log_prob(points).mean().item()}

    def density_figure(model, run):                  # with the figures and at the end
        name = "density" if run.done else f"density_{run.step:06d}"
        draw_density(model, run.figure_path(name))   # the family's own figure: PDF and PNG

    FLOW = train.Recipe(optimizers=train.adam, step=nll_step, evaluate=validation_nll,
                        figures=density_figure)

    # in main.py's MODELS
    "maf": ModelEntry("MADE/MAF on two moons", "flow_network", "MAF", {"blocks": 5},
                      recipe="flow_network:FLOW", data="data:moons_splits",
                      uses=("epochs", "batch_size", "lr", "eval_every"),
                      defaults={"epochs": 5, "batch_size": 100, "lr": 1e-3},
                      presets={"full": {"epochs": 50}}),

where ``data.moons_splits(config)`` returns ``data.Splits(train=TensorDataset(points), validation=...,
test=...)``. A ``TensorDataset`` of one tensor gives each step ``make_batch(points, model,
device)``; without a ``make_batch`` hook the batch is ``{"x": points}`` (``{"x": images, "y":
labels}`` for an image set). A model without data (``data=None`` in its entry) trains for
``--steps`` with ``make_batch(model, device)``.

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
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from config import TrainConfig, as_dict

if TYPE_CHECKING:
    from data import Splits

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


# ASSIGNMENT: cscd84-a4
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
        # The penalty is differentiated twice. Fused attention kernels (nn.MultiheadAttention's
        # with need_weights=False) have no second derivative, so the critic runs on plain matrix
        # products here.
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
    """How to train one kind of model with the shared loop (see the module docstring's example).

    Only ``optimizers`` and ``step`` are required; every hook left as None is skipped.

    Attributes:
        optimizers: ``optimizers(model, config) -> {name: optimizer}`` (:func:`adam` for one
            Adam optimiser at ``--lr``).
        step: ``step(config) -> step_fn``; ``step_fn(batch, model, optimizers) -> StepInfo``:
            one update; the floats it returns are averaged into ``metrics.csv`` and those whose
            name ends in ``loss`` are checked for NaN. Return ``fake_images`` only if
            ``samples`` reads them.
        make_batch: ``make_batch(*data, model, device) -> batch``, where ``data`` is what one
            batch of the training set holds (``images, labels`` for an image set, ``points``
            for a ``TensorDataset`` of points, nothing for a model without data), already on
            ``device``. None: the batch is ``{"x": data[0], "y": data[1]}`` (those present).
        samples: ``samples(model, info, device) -> (N, C, H, W)`` images for the sample grid
            ``samples/step_NNNNNN.{pdf,png}``, or None for no grid.
        sample_range: the (low, high) value range of those images, drawn black to white.
        figures: ``figures(model, run) -> None``: the model's own figures, written with
            ``run.figure_path(name)`` (a path without suffix; save both PDF and PNG). Called
            every ``--sample_every`` steps and once at the end (``run.done`` is then True).
        evaluate: ``evaluate(model, run) -> {name: float}``: held-out metrics (e.g.
            ``val/elbo`` on ``run.data.validation``), logged as columns of ``metrics.csv``
            every ``--eval_every`` steps (0: at the end of each epoch for a model trained in
            epochs, else with the figures) and at the last step; the last values also go to
            ``metrics.json``. Name them ``val/...`` so the loss-curve figure groups them.
        final: ``final(model, run) -> {name: value}``: metrics computed once at the end (a
            Fréchet distance, a test log-likelihood), printed and saved in ``metrics.json``.

    Hooks (``samples`` excepted) run with the model in evaluation mode, restored afterwards;
    wrap their computations in ``torch.no_grad()`` where no gradient is needed. Every hook,
    ``samples`` included, draws its random numbers from a side copy of torch's stream
    (:func:`rng_aside`), so the training run is the same however often they run.
    """

    optimizers: Callable
    step: Callable
    make_batch: Callable | None = None
    samples: Callable | None = None
    sample_range: tuple[float, float] = (-1.0, 1.0)
    figures: Callable | None = None
    evaluate: Callable | None = None
    final: Callable | None = None


def cosine_decay(progress: float) -> float:
    """``--lr_schedule cosine``: from 1 at the start down to 0 at the end along half a cosine period."""
    return 0.5 * (1.0 + math.cos(math.pi * progress))


# --lr_schedule: the factor of every learning rate as a function of progress = steps done / steps
# of the run, in [0, 1). Before each step the loop sets each parameter group's rate to the one its
# optimiser was built with times this factor (so --resume continues the same schedule).
def hold_then_linear(progress: float) -> float:
    """``--lr_schedule hold_then_linear``: 1 for the first half of the run, then straight down to 0
    at the end (a constant rate's progress early on, weights that settle at the end)."""
    return min(1.0, 2.0 * (1.0 - progress))


LR_SCHEDULES: dict[str, Callable[[float], float] | None] = {"constant": None, "cosine": cosine_decay,
                                                            "hold_then_linear": hold_then_linear}


def set_scheduled_lrs(optimizers: dict, initial_lrs: dict, schedule, progress: float) -> None:
    """Set every optimiser's rates to its initial ones times ``schedule(progress)`` (progress = steps
    done / steps in all); nothing with the constant schedule (``schedule`` None)."""
    if schedule is None:
        return
    factor = schedule(progress)
    for name, lrs in initial_lrs.items():
        for group, lr in zip(optimizers[name].param_groups, lrs):
            group["lr"] = lr * factor


@dataclass
class Run:
    """What the hooks of a recipe see of the run in progress.

    Attributes:
        config: the resolved settings.
        device: where the model lives.
        folder: the run folder (``runs/<name>``).
        data: the run's :class:`data.Splits` (train, validation, test, name, info).
        steps_per_epoch: batches in one pass over the training split (None without data).
        total_steps: the step the run ends at.
        step: the number of steps done so far.
        done: True during the calls at the end of the run.
    """

    config: TrainConfig
    device: torch.device
    folder: Path
    data: Splits
    steps_per_epoch: int | None
    total_steps: int
    step: int = 0
    done: bool = False

    @property
    def epoch(self) -> float:
        """Passes over the training split so far (fractional within an epoch; 0 without data)."""
        return self.step / self.steps_per_epoch if self.steps_per_epoch else 0.0

    def figure_path(self, name: str) -> Path:
        """``<run folder>/figures/<name>`` (no suffix), its folder created."""
        path = self.folder / "figures" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def adam(model, config: TrainConfig) -> dict:
    """One Adam optimiser over all parameters, at ``--lr``: ``{"model": optimizer}``."""
    return {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}


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


# What the numbers of a finished GAN run say, in words a student can act on.
BALANCED_LOSS = 2 * math.log(2)  # the vanilla discriminator's loss when it cannot tell real from generated
DISCRIMINATOR_WINS = 0.05  # a vanilla discriminator loss below this: it separates the two perfectly
FAR_FROM_DATA = 500.0  # a Fréchet distance above this is about as far as noise (on MNIST: ~570 for
#                        uniform noise, ~5 between two halves of the real digits)


def diagnose_gan(numbers: dict, config: TrainConfig) -> str | None:
    """A paragraph on a finished GAN run from its logged numbers, or None without a Fréchet distance.

    ``numbers`` holds ``frechet_distance``, ``step`` and ``discriminator_loss`` (best the mean
    of the last logged rows, not one noisy step). A vanilla discriminator whose loss is near 0
    while the samples stay far from the data is a collapsed generator: the original
    objective's failure that WGAN-GP fixes.
    """
    distance, loss = numbers.get("frechet_distance"), numbers.get("discriminator_loss")
    if distance is None or loss is None:
        return None
    steps = numbers.get("step", "all the")
    where = (f"After {steps} steps the samples are at Fréchet distance {distance:.0f} from real images "
             f"(lower is better; on MNIST two halves of the real digits score about 5, uniform noise about 570).")
    wgan_flag = f"python main.py --model {config.model} --gradient_penalty 10"
    if not config.gradient_penalty:
        if loss < DISCRIMINATOR_WINS and distance > FAR_FROM_DATA:
            return (f"{where} The discriminator's loss is {loss:.3g} (about {BALANCED_LOSS:.2f} = 2 ln 2 when it "
                    "cannot tell real from generated): it separates them perfectly, so the original objective "
                    "gives the generator almost no gradient and it has collapsed to one pattern. This is the "
                    "handout's point about the original GAN objective, not a bug in your code. Train the "
                    f"Wasserstein objective with the gradient penalty instead: {wgan_flag}")
        if loss < DISCRIMINATOR_WINS:
            return (f"{where} The discriminator's loss is {loss:.3g}: it is winning, and the generator's "
                    f"gradient may vanish soon (look at the last sample grids); {wgan_flag} is more stable.")
    if distance > FAR_FROM_DATA:
        return (f"{where} The samples are still about as far from the data as noise: train longer (--steps, or "
                "--preset full for the handout's 40 000 steps) and look at the sample grids.")
    return (f"{where} Training is making progress; the handout's figures take 40 000 steps (--preset full).")


def recent_discriminator_loss(metrics_csv: Path, rows: int = 5) -> dict:
    """``{"discriminator_loss": median of the last rows of metrics.csv}``, or {} when the file has none.

    Steadier than the last step's value; a median rather than a mean, because in a short run the
    last rows still hold the loss from before a collapse (0.27, 0.07, 0.002, 0.001 averages to
    0.09, which hides the collapse that the last three rows show)."""
    if not metrics_csv.exists():
        return {}
    with metrics_csv.open(newline="") as handle:
        losses = [float(row["discriminator_loss"]) for row in csv.DictReader(handle) if row.get("discriminator_loss")]
    return {"discriminator_loss": statistics.median(losses[-rows:])} if losses else {}


def frechet_distance(model, run: Run) -> dict:
    """``{"frechet_distance": d}``: the Fréchet distance of 1000 samples to real images of the run's
    data set (``run.data.name``), in the features of the kit's classifier (``metrics.py``); {} with
    ``--smoke`` or without an image set.

    The model's images are taken to lie in ``model.sample_range`` ((-1, 1) when it has none) and
    are mapped to [-1, 1], the range of the reference images."""
    if run.config.smoke or not run.data.name:
        return {}
    import data
    import metrics

    reference = data.load_images(run.data.name, run.config.data_root, transform="plain", verbose=False)
    cache = Path(run.config.data_root) / f"kit-classifier-{run.data.name}.pt"
    evaluator = metrics.FrechetEvaluator(reference, run.device, cache=cache)
    images = metrics.sample_images(model, evaluator.num_images, run.device)
    low, high = getattr(model, "sample_range", (-1.0, 1.0))
    return {"frechet_distance": evaluator((images - low) / (high - low) * 2 - 1)}


def frechet_final(model, run: Run) -> dict:
    """:func:`frechet_distance`, and :func:`diagnose_gan`'s paragraph on it (``diagnosis``)."""
    result = frechet_distance(model, run)
    if not result:
        return {}
    numbers = {"step": run.step, **recent_discriminator_loss(run.folder / "metrics.csv"), **result}
    diagnosis = diagnose_gan(numbers, run.config)  # what the numbers say, in words
    return {**result, **({"diagnosis": diagnosis} if diagnosis else {})}


GAN = Recipe(optimizers=gan_optimizers, step=gan_step, make_batch=gan_batch, samples=gan_samples,
             final=frechet_final)


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


def rng_state(device: torch.device) -> dict:
    """Every random stream a run may draw from (torch's, the GPU's, NumPy's and Python's), in a form
    a ``weights_only`` checkpoint can hold; :func:`restore_rng_state` puts it back."""
    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)],
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict, device: torch.device) -> None:
    """Put back what :func:`rng_state` saved (a checkpoint of an older kit holds torch's alone)."""
    torch.set_rng_state(state["torch"])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal.tolist()), gauss))
    if "numpy" in state:
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def steps_per_epoch(dataset, batch_size: int) -> int | None:
    """Full batches in one pass over ``dataset`` (an incomplete last batch is dropped);
    None without data. A data set smaller than one batch is an error."""
    if dataset is None:
        return None
    if len(dataset) < batch_size:
        raise TrainingError(f"the data set has {len(dataset)} examples, fewer than one batch of {batch_size}")
    return len(dataset) // batch_size


def epoch_batches(dataset, batch_size: int, seed: int, epoch: int, skip: int = 0):
    """The batches of one epoch, as tuples of tensors, in an order fixed by ``(seed, epoch)``.

    ``skip`` leaves out the first batches without loading them, so a resumed run sees the rest
    of its epoch exactly as an uninterrupted run would. A ``TensorDataset`` is sliced directly
    (fast for small examples such as 2-D points); any other dataset goes through a DataLoader.
    """
    usable = len(dataset) // batch_size * batch_size
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    order = order[skip * batch_size:usable]
    if isinstance(dataset, torch.utils.data.TensorDataset):
        for first in range(0, len(order), batch_size):
            index = order[first:first + batch_size]
            yield tuple(tensor[index] for tensor in dataset.tensors)
        return
    sampler = torch.utils.data.BatchSampler(order.tolist(), batch_size, drop_last=True)
    for item in torch.utils.data.DataLoader(dataset, batch_sampler=sampler):
        yield tuple(item) if isinstance(item, (list, tuple)) else (item,)


def _batches(dataset, batch_size: int, seed: int, start: int, per_epoch: int | None):
    """Batches from step ``start`` on, epoch after epoch; empty tuples for a model without data."""
    if dataset is None:
        while True:
            yield ()
    epoch, skip = divmod(start, per_epoch)
    while True:
        yield from epoch_batches(dataset, batch_size, seed, epoch, skip)
        epoch, skip = epoch + 1, 0


def _default_batch(*data, model=None, device=None) -> dict:
    return dict(zip(("x", "y"), data))


class MetricsLog:
    """``metrics.csv``: one row per logged step; a row may bring new columns (an evaluation's),
    in which case the file is rewritten with the wider header. Rows after ``keep_until`` (left
    by a run that crashed after its last checkpoint) are dropped when resuming."""

    def __init__(self, path: Path, keep_until: int | None = None):
        self.path = path
        self.rows: list[dict] = []
        self.columns: list[str] = []
        if path.exists():
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                self.columns = list(reader.fieldnames or [])
                self.rows = [row for row in reader if keep_until is None or int(row["step"]) <= keep_until]
            self._rewrite()

    def _rewrite(self) -> None:
        partial_path = self.path.with_suffix(".tmp")
        with partial_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(partial_path, self.path)

    def append(self, row: dict) -> None:
        self.rows.append(row)
        new = [key for key in row if key not in self.columns]
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.columns, restval="").writerow(row)


def rng_aside(device: torch.device):
    """A context in which torch's random draws (on the CPU, and on ``device`` if it is a GPU) come
    from a side copy of the stream: what is drawn inside never changes what training draws next."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


@contextmanager
def _hook_context(model, device: torch.device):
    """How the loop runs a hook (samples, figures, evaluations): the model in evaluation mode, its
    training mode restored afterwards, and the random stream set aside, so that how often a run
    looks at itself (``--sample_every``, ``--eval_every``) never changes the run."""
    was_training = model.training
    model.eval()
    try:
        with rng_aside(device):
            yield
    finally:
        model.train(was_training)


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


def _floats(values: dict) -> dict:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def train(config: TrainConfig, model, recipe: Recipe, data=None, *, progress: bool = True,
          evaluate: Callable[[object], dict] | None = None) -> Path:
    """Train ``model`` with ``recipe`` on ``data``; return the run folder.

    ``data`` is a :class:`data.Splits`, or a bare training set (a map-style Dataset), or None
    for a model without data. The run lasts ``config.epochs`` passes over the training split
    when that is set, else ``config.steps`` steps.

    Writes into the run folder: ``config.json`` (the resolved settings), ``metrics.csv``
    (averaged step scalars every ``log_every`` steps, evaluations as extra columns),
    ``loss_curves.{pdf,png}`` (every column of ``metrics.csv`` against the step),
    ``samples/step_NNNNNN.{pdf,png}`` (a grid of 64 samples, for recipes with ``samples``) and
    the recipe's ``figures/`` every ``sample_every`` steps and at the end, ``latest.pt`` (every
    ``sample_every`` steps) and ``final.pt``, and ``metrics.json`` (the final scalars).
    A NaN or infinite loss stops the run with a TrainingError and keeps the last good
    ``latest.pt``. ``evaluate(model) -> {name: value}``, if given, adds final metrics (as the
    recipe's ``final`` hook does).
    """
    from tqdm import tqdm

    from data import Splits
    from plots import save_image_grid, save_loss_curves

    splits = data if isinstance(data, Splits) else Splits(train=data)
    device = pick_device(config.device)
    seed_everything(config.seed)
    model.to(device)
    optimizers = recipe.optimizers(model, config)
    # Kept before a --resume loads the optimisers' state (which holds the last scheduled rates).
    initial_lrs = {name: [group["lr"] for group in opt.param_groups] for name, opt in optimizers.items()}
    schedule = LR_SCHEDULES[config.lr_schedule]
    step_fn = recipe.step(config)
    make_batch = recipe.make_batch or _default_batch
    per_epoch = steps_per_epoch(splits.train, config.batch_size)
    if config.epochs and per_epoch is None:
        raise TrainingError(f"{config.model} has no training data, so it cannot train in epochs; use --steps")
    total = config.epochs * per_epoch if config.epochs else config.steps
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
        restore_rng_state(state["rng"], device)
        folder = Path(config.resume) if Path(config.resume).is_dir() else Path(config.resume).parent
        print(f"resuming {folder} from step {start}")
    else:
        folder = new_run_folder(config)
    (folder / "config.json").write_text(json.dumps(as_dict(config), indent=2) + "\n")
    run = Run(config, device, folder, splits, per_epoch, total, step=start)
    log = MetricsLog(folder / "metrics.csv", keep_until=start if config.resume else None)

    def checkpoint(step: int) -> dict:
        return {
            "model": model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "step": step,
            "config": as_dict(config),
            "rng": rng_state(device),
        }

    def save_figures(step: int, info: StepInfo) -> None:
        with rng_aside(device):
            images = recipe.samples(model, info, device) if recipe.samples else None
        if images is not None:
            save_image_grid(images[:NUM_SAMPLES], folder / "samples" / f"step_{step:06d}",
                            value_range=recipe.sample_range)
        if recipe.figures:
            with _hook_context(model, device):
                recipe.figures(model, run)
        save_loss_curves(log.path, folder / "loss_curves")

    def evaluation_due(step: int) -> bool:
        if recipe.evaluate is None:
            return False
        if step == total:
            return True
        if config.eval_every:
            return step % config.eval_every == 0
        if config.epochs:
            return step % per_epoch == 0
        return step % config.sample_every == 0

    batches = _batches(splits.train, config.batch_size, config.seed, start, per_epoch)
    sums: dict[str, float] = {}
    count = 0
    info: StepInfo = {}
    evaluation: dict[str, float] = {}
    started = time.perf_counter()
    bar = tqdm(range(start, total), initial=start, total=total, disable=not progress,
               desc=config.model, dynamic_ncols=True)
    for index in bar:
        step = index + 1
        batch = make_batch(*(tensor.to(device) for tensor in next(batches)), model, device)
        set_scheduled_lrs(optimizers, initial_lrs, schedule, index / total)
        info = step_fn(batch, model, optimizers)
        if not _finite_losses(info):
            bar.close()
            losses = {k: v for k, v in info.items() if k.endswith("loss")}
            raise TrainingError(
                f"step {step}: a loss is not finite ({losses}); stopping. The last good checkpoint "
                f"is {folder / 'latest.pt'} (if one was written). Try a smaller learning rate."
            )
        run.step = step
        scalars = _floats(info)
        for key, value in scalars.items():
            sums[key] = sums.get(key, 0.0) + value
        count += 1
        shown = {k.replace("_loss", ""): f"{v:.3f}" for k, v in scalars.items() if k.endswith("loss")}
        bar.set_postfix({"epoch": f"{run.epoch:.2f}", **shown} if config.epochs else shown)
        row: dict = {}
        if step % config.log_every == 0 or step == total:
            row.update({k: v / count for k, v in sums.items()})
            sums, count = {}, 0
        if evaluation_due(step):
            with _hook_context(model, device):
                evaluation = _floats(recipe.evaluate(model, run))
            row.update(evaluation)
            bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in evaluation.items()))
        if row:
            epoch = {"epoch": round(run.epoch, 4)} if config.epochs else {}
            log.append({"step": step, **epoch, "seconds": round(time.perf_counter() - started, 3), **row})
        if step % config.sample_every == 0 and step != total:
            save_figures(step, info)
            _save_atomic(checkpoint(step), folder / "latest.pt")
    bar.close()

    final_step = max(total, start)
    run.done = True
    save_figures(final_step, info)
    state = checkpoint(final_step)
    _save_atomic(state, folder / "latest.pt")
    _save_atomic(state, folder / "final.pt")
    elapsed = time.perf_counter() - started
    final = {"step": final_step, **({"epoch": round(run.epoch, 4)} if config.epochs else {}),
             "seconds": round(elapsed, 2),
             "steps_per_second": round((final_step - start) / elapsed, 3) if elapsed > 0 else None,
             **{k: v for k, v in info.items() if isinstance(v, float)}, **evaluation}
    for hook in (recipe.final, evaluate):
        if hook is not None:
            with _hook_context(model, device):
                final.update(hook(model, run) if hook is recipe.final else hook(model))
    (folder / "metrics.json").write_text(json.dumps(final, indent=2) + "\n")
    print("final: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in final.items() if not isinstance(v, str)))
    print(f"run folder: {folder}")
    for key, text in final.items():
        if isinstance(text, str):  # a paragraph (e.g. the GAN's diagnosis) gets lines of its own
            print(f"\n{key}: {text}")
    return folder
