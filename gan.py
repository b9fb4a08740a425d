r"""GAN objectives of two courses: Stanford CS 236 (homework 3) and Mila IFT6135 (assignment 3).

The two courses write the same ideas with different conventions; each function follows its own
course's handout, and neither part calls the other's graded functions.

**CS 236** (problems 2, 4 and 5). Each loss takes the generator ``g``, the discriminator ``d`` and
a batch of real images, draws its own latent codes :math:`z \sim \mathcal N(0, I)` (the first
lines of each function do this), and returns a scalar. ``d`` returns *logits* of shape (B,).

* non-saturating GAN (Goodfellow et al., 2014), the two batch means of :math:`L_D` added:

  .. math:: L_D = -\frac1B\sum_i \log\sigma(h(x_i)) - \frac1B\sum_i \log\bigl(1 - \sigma(h(G(z_i)))\bigr),
            \qquad L_G = -\frac1B\sum_i \log\sigma(h(G(z_i)));

* the conditional GAN with a projection discriminator (Miyato and Koyama, 2018): the same losses
  on pairs (image, label), the generated images drawn for the real labels;
* WGAN-GP (Gulrajani et al., 2017), the critic scoring real data *high*:

  .. math:: L_D = \frac1B\sum_i D(G(z_i)) - \frac1B\sum_i D(x_i)
                  + \lambda \frac1B\sum_i \bigl(\lVert\nabla_{\hat x} D(\hat x_i)\rVert_2 - 1\bigr)^2,
            \quad \hat x_i = \alpha_i G(z_i) + (1 - \alpha_i) x_i, \quad
            L_G = -\frac1B\sum_i D(G(z_i)),

  with :math:`\alpha_i \sim U[0, 1]` and :math:`\lambda = 10`.

The provided networks (the course's ``network.py``) are here too: ``Generator`` (no output
activation, although the data lie in [-1, 1]), ``Discriminator`` (logits (B,)),
``ConditionalGenerator`` (a one-hot label concatenated to z) and the projection
``ConditionalDiscriminator``.

**IFT6135** (problem 2). A critic C returns one value per sample, (N,), and scores real data
high; samples have any shape (scalars for the Dirac GAN, images for CIFAR-10). The estimates
``jsd`` and ``w1`` of critic values, the penalties ``ogp`` (one-centred, on real/generated
mixtures) and ``r1gp`` (zero-centred, on real samples), ``make_losses`` (the generator's metric
and the critic's loss ``-metric + reg_cf * penalty``), ``apply_exponential_moving_average`` and
``make_train_step`` (critic inner loop, generator update, EMA of the generator). Then the Dirac
GAN of problem 2.6 (provided): a point-mass generator against a linear critic, trained with
those functions, and its trajectory figures.

Letters used for shapes: B batch, Z latent width (``g.dim_z``), K classes, C/H/W image;
N samples (IFT6135).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import train

# ================================================================================================
# CS 236
# ================================================================================================

# ASSIGNMENT: cs236-hw3
DIM_Z = 64  # Z: the latent width of the CS 236 generators
# ASSIGNMENT: cs236-hw3
NUM_CLASSES = 10  # K: Fashion-MNIST's classes
# ASSIGNMENT: cs236-hw3
HIDDEN = 512  # width of the fully connected layers of both networks
# ASSIGNMENT: cs236-hw3
LEAKY_SLOPE = 0.1  # the discriminators' LeakyReLU slope
# ASSIGNMENT: cs236-hw3
GP_WEIGHT = 10.0  # lambda of WGAN-GP: "a setting that usually works"


# ASSIGNMENT: cs236-hw3
class Reshape(nn.Module):
    """Reshape each example to ``shape`` (the batch dimension is kept)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), *self.shape)


# ASSIGNMENT: cs236-hw3
def _generator_body(in_features: int, num_channels: int) -> nn.Sequential:
    """(B, in_features) -> (B, num_channels, 28, 28): two linear layers to a 64 x 7 x 7 map, then
    two rounds of PixelShuffle(2) (4 channels become a 2 x 2 block) and a 3 x 3 convolution."""
    return nn.Sequential(
        nn.Linear(in_features, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ReLU(),
        nn.Linear(HIDDEN, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
        Reshape(64, 7, 7),
        nn.PixelShuffle(2),  # (B, 16, 14, 14)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.PixelShuffle(2),  # (B, 8, 28, 28)
        nn.Conv2d(8, num_channels, kernel_size=3, padding=1),  # no output activation
    )


# ASSIGNMENT: cs236-hw3
def _discriminator_body(num_outputs: int) -> nn.Sequential:
    """(B, 1, 28, 28) -> (B, num_outputs): two strided 4 x 4 convolutions, two linear layers."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE),  # (B, 32, 14, 14)
        nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE),  # (B, 64, 7, 7)
        Reshape(64 * 7 * 7),
        nn.Linear(64 * 7 * 7, HIDDEN), nn.LeakyReLU(LEAKY_SLOPE),
        nn.Linear(HIDDEN, num_outputs),
    )


# ASSIGNMENT: cs236-hw3
class Generator(nn.Module):
    """z (B, Z) -> images (B, C, 28, 28), unbounded (provided)."""

    def __init__(self, dim_z: int = DIM_Z, num_channels: int = 1):
        super().__init__()
        self.dim_z = dim_z
        self.net = _generator_body(dim_z, num_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


# ASSIGNMENT: cs236-hw3
class Discriminator(nn.Module):
    """Images (B, 1, 28, 28) -> logits (B,) (provided)."""

    def __init__(self):
        super().__init__()
        self.net = _discriminator_body(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B,)


# ASSIGNMENT: cs236-hw3
class ConditionalGenerator(nn.Module):
    """(z (B, Z), labels y (B,)) -> images (B, C, 28, 28): the one-hot label is concatenated to z
    (provided)."""

    def __init__(self, dim_z: int = DIM_Z, num_channels: int = 1, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.dim_z, self.num_classes = dim_z, num_classes
        self.net = _generator_body(dim_z + num_classes, num_channels)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(y, self.num_classes).to(z.dtype)  # (B, K)
        return self.net(torch.cat([z, one_hot], dim=1))


# ASSIGNMENT: cs236-hw3
class ConditionalDiscriminator(nn.Module):
    r"""(images (B, 1, 28, 28), labels y (B,)) -> logits (B,): the projection discriminator
    :math:`h(x, y) = \mathbf y^\top (A \varphi(x) + b)`. The trunk computes :math:`\varphi(x)`, its
    last linear layer :math:`A\varphi(x) + b` (K values), and the label picks one (provided)."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.net = _discriminator_body(num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(x).gather(1, y[:, None]).squeeze(1)  # (B,)


def loss_nonsaturating_d(g, d, x_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The discriminator's loss of the non-saturating GAN (CS 236 problem 2).

    .. math::

        L_D = -\frac1B\sum_{i=1}^B \log \sigma\bigl(h(x_i)\bigr)
              - \frac1B\sum_{i=1}^B \log\bigl(1 - \sigma(h(G(z_i)))\bigr)

    with :math:`h` = ``d``'s logits. The two batch means are **added** (2 log 2 when every logit
    is 0). Compute it from the logits (``F.binary_cross_entropy_with_logits``, or
    ``F.logsigmoid``, using :math:`\log(1 - \sigma(h)) = \log\sigma(-h)`): it must stay finite at
    logits of ±50 and beyond.

    Args:
        g: the generator; ``g(z)`` maps (B, Z) to images, ``g.dim_z`` is Z.
        d: the discriminator; ``d(x)`` returns logits (B,).
        x_real: real images (B, 1, 28, 28) in [-1, 1].
        device: where to draw the noise.

    Returns:
        A scalar tensor, differentiable with respect to ``d``'s parameters.

    The latent codes are drawn in the first lines, with ``torch.randn``; draw no other noise
    (the tests replay that one draw).
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    # BEGIN SOLUTION loss_nonsaturating_d
    real_logits = d(x_real)  # (B,)
    fake_logits = d(g(z).detach())  # (B,)
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_term + fake_term
    # END SOLUTION


def loss_nonsaturating_g(g, d, x_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The generator's non-saturating loss (CS 236 problem 2).

    .. math:: L_G = -\frac1B\sum_{i=1}^B \log\sigma\bigl(h(G(z_i))\bigr)

    A mean over the batch (log 2 when every logit is 0), computed from the logits
    (``F.logsigmoid``) so that it stays finite for very negative logits.

    Args:
        g, d, x_real, device: as in :func:`loss_nonsaturating_d` (``x_real`` gives only B).

    Returns:
        A scalar tensor, differentiable with respect to ``g``'s parameters.
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    # BEGIN SOLUTION loss_nonsaturating_g
    return -F.logsigmoid(d(g(z))).mean()
    # END SOLUTION


def conditional_loss_nonsaturating_d(g, d, x_real: torch.Tensor, y_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The discriminator's loss of the conditional GAN (CS 236 problem 4).

    .. math::

        L_D = -\frac1B\sum_{i} \log \sigma\bigl(h(x_i, y_i)\bigr)
              - \frac1B\sum_{i} \log\bigl(1 - \sigma(h(G(z_i, y_i), y_i))\bigr)

    The generated images are made for the real labels (``y_fake = y_real``, set in the first
    lines) and judged with those labels. The two batch means are added, as in
    :func:`loss_nonsaturating_d`; compute it from the logits.

    Args:
        g: the conditional generator; ``g(z, y)`` with z (B, Z) and labels (B,) int64.
        d: the conditional discriminator; ``d(x, y)`` returns logits (B,).
        x_real: real images (B, 1, 28, 28) in [-1, 1].
        y_real: their labels (B,), int64 in [0, K).
        device: where to draw the noise.

    Returns:
        A scalar tensor, differentiable with respect to ``d``'s parameters.
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    y_fake = y_real  # the generated images get the real images' labels
    # BEGIN SOLUTION conditional_loss_nonsaturating_d
    real_logits = d(x_real, y_real)  # (B,)
    fake_logits = d(g(z, y_fake).detach(), y_fake)  # (B,)
    return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()  # log(1 - s(h)) = log s(-h)
    # END SOLUTION


def conditional_loss_nonsaturating_g(g, d, x_real: torch.Tensor, y_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The conditional generator's non-saturating loss (CS 236 problem 4).

    .. math:: L_G = -\frac1B\sum_{i} \log\sigma\bigl(h(G(z_i, y_i), y_i)\bigr)

    with the real labels as the generated images' labels (``y_fake``), a mean over the batch.

    Args:
        g, d, x_real, y_real, device: as in :func:`conditional_loss_nonsaturating_d`.

    Returns:
        A scalar tensor, differentiable with respect to ``g``'s parameters.
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    y_fake = y_real  # the generated images get the real images' labels
    # BEGIN SOLUTION conditional_loss_nonsaturating_g
    return -F.logsigmoid(d(g(z, y_fake), y_fake)).mean()
    # END SOLUTION


def loss_wasserstein_gp_d(g, d, x_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The critic's loss of WGAN-GP (CS 236 problem 5), with :math:`\lambda = 10`.

    .. math::

        L_D = \frac1B\sum_i D(G(z_i)) - \frac1B\sum_i D(x_i)
              + \lambda\,\frac1B\sum_i \bigl(\lVert \nabla_{\hat x} D(\hat x_i) \rVert_2 - 1\bigr)^2,
        \qquad \hat x_i = \alpha_i\, G(z_i) + (1 - \alpha_i)\, x_i .

    Mind the order: :math:`\alpha_i` weights the **generated** image. Draw
    :math:`\alpha_i \sim U[0, 1]`, one number per example, with **one** call of ``torch.rand``
    (shape (B,), (B, 1) or (B, 1, 1, 1); the tests replay that draw, so use ``torch.rand`` and
    draw nothing else). The norm is over all C*H*W entries of example i's gradient. Get the
    gradient with ``torch.autograd.grad(..., create_graph=True)`` so that the penalty trains the
    critic (the gradient of :math:`\sum_i D(\hat x_i)` holds each example's own gradient).

    Args:
        g: the generator (``g.dim_z``); d: the critic, ``d(x)`` returns scores (B,).
        x_real: real images (B, 1, 28, 28).
        device: where to draw the noise.

    Returns:
        A scalar tensor (penalty included), differentiable with respect to ``d``'s parameters.
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    # BEGIN SOLUTION loss_wasserstein_gp_d
    x_fake = g(z).detach()  # (B, C, H, W)
    alpha = torch.rand(batch_size, 1, 1, 1, device=device)  # one weight per example
    x_hat = (alpha * x_fake + (1 - alpha) * x_real).requires_grad_(True)
    (grads,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)  # row i: grad of D(x_hat_i)
    penalty = ((grads.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()
    return d(x_fake).mean() - d(x_real).mean() + GP_WEIGHT * penalty
    # END SOLUTION


def loss_wasserstein_gp_g(g, d, x_real: torch.Tensor, *, device) -> torch.Tensor:
    r"""The generator's loss of WGAN-GP (CS 236 problem 5).

    .. math:: L_G = -\frac1B\sum_i D(G(z_i))

    Args:
        g, d, x_real, device: as in :func:`loss_wasserstein_gp_d` (``x_real`` gives only B).

    Returns:
        A scalar tensor, differentiable with respect to ``g``'s parameters.
    """
    batch_size = x_real.shape[0]
    z = torch.randn(batch_size, g.dim_z, device=device)
    # BEGIN SOLUTION loss_wasserstein_gp_g
    return -d(g(z)).mean()
    # END SOLUTION


# ================================================================================================
# IFT6135: the GAN module (problem 2)
# ================================================================================================
# Conventions of this part: a critic C returns one real number per sample, shape (N,), and scores
# real data *high*. Samples may have any shape (N,) or (N, ...): scalars for the Dirac GAN,
# images for CIFAR-10. p holds real samples, q generated ones, cp = C(p) and cq = C(q). The
# generator minimises a metric (an estimate of a divergence); the critic minimises
# -metric + reg_cf * regulariser. A generator is called without arguments and draws its own noise.

# ASSIGNMENT: ift6135-a3
AVAILABLE_LOSSES = ["JSD", "W1"]
# ASSIGNMENT: ift6135-a3
AVAILABLE_REGULARIZERS = ["GP", "R1", None]


def jsd(cp: torch.Tensor, cq: torch.Tensor) -> torch.Tensor:
    r"""The Jensen-Shannon estimate from critic values on real (``cp``) and generated (``cq``) samples.

    .. math:: \mathrm{JSD} = \tfrac12\bigl(\mathbb{E}\log\sigma(C(p)) + \mathbb{E}\log\sigma(-C(q))\bigr) + \log 2

    (theory problem 4: with the optimal critic this is the Jensen-Shannon divergence, between 0 and
    log 2). Expectations are means over the batch. Use ``F.logsigmoid``: the estimate must stay
    finite for critic values of ±100.

    Args:
        cp: critic values on real samples, (N,). cq: critic values on generated samples, (M,).

    Returns:
        A scalar tensor (shape ``()``), differentiable with respect to both inputs.
    """
    # BEGIN SOLUTION jsd
    return 0.5 * (F.logsigmoid(cp).mean() + F.logsigmoid(-cq).mean()) + math.log(2.0)
    # END SOLUTION


def w1(cp: torch.Tensor, cq: torch.Tensor) -> torch.Tensor:
    r"""The Wasserstein-1 estimate: :math:`\mathbb{E}\,C(p) - \mathbb{E}\,C(q)` (means over the batch).

    Args:
        cp: critic values on real samples, (N,). cq: critic values on generated samples, (M,).

    Returns:
        A scalar tensor (shape ``()``).
    """
    # BEGIN SOLUTION w1
    return cp.mean() - cq.mean()
    # END SOLUTION


def ogp(p: torch.Tensor, cp: torch.Tensor, q: torch.Tensor, cq: torch.Tensor, critic) -> torch.Tensor:
    r"""The original one-centred gradient penalty (Gulrajani et al., 2017) on mixtures of p and q.

    .. math:: \mathrm{GP} = \frac1N\sum_i \bigl(\lVert \nabla_x C(\hat x_i) \rVert_2 - 1\bigr)^2,
              \qquad \hat x_i = \varepsilon_i\, p_i + (1 - \varepsilon_i)\, q_i,
              \quad \varepsilon_i \sim U[0, 1]

    :math:`\varepsilon_i` weights the **real** sample. Draw the N weights with **one** call of
    ``torch.rand`` (shape (N,) or (N, 1, ..., 1), broadcast over the sample's other dimensions;
    the tests replay that draw). The norm is over all entries of one sample's gradient (its
    absolute value for scalar samples). Take the gradient with ``create_graph=True``: the penalty
    trains the critic. ``cp`` and ``cq`` are not needed here (every regulariser has this signature).

    Args:
        p: real samples (N, ...); q: generated samples, the same shape; cp, cq: critic values (N,).
        critic: the critic, ``critic(x)`` gives (N,) for samples x of p's shape.

    Returns:
        A scalar tensor (shape ``()``), differentiable with respect to the critic's parameters.
    """
    # BEGIN SOLUTION ogp
    eps = torch.rand(len(p), *([1] * (p.dim() - 1)), device=p.device)  # (N, 1, ..., 1)
    mixed = (eps * p.detach() + (1 - eps) * q.detach()).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)  # row i: grad of C(x_i)
    norms = grads.reshape(len(p), -1).norm(dim=1)  # (N,)
    return (norms - 1).pow(2).mean()
    # END SOLUTION


def r1gp(p: torch.Tensor, cp: torch.Tensor, q: torch.Tensor, cq: torch.Tensor, critic) -> torch.Tensor:
    r"""The zero-centred R1 penalty (Mescheder et al., 2018) on real samples only.

    .. math:: R_1 = \frac1N\sum_i \lVert \nabla_x C(p_i) \rVert_2^2

    Evaluate the critic on a copy of ``p`` that requires gradients (``p.detach().requires_grad_()``)
    and take the gradient with ``create_graph=True``. The squared norm is over all entries of one
    sample's gradient. ``cp``, ``q`` and ``cq`` are not needed.

    Args:
        p: real samples (N, ...); cp, q, cq: as in :func:`ogp` (unused).
        critic: the critic.

    Returns:
        A scalar tensor (shape ``()``), differentiable with respect to the critic's parameters.
    """
    # BEGIN SOLUTION r1gp
    x = p.detach().requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grads.reshape(len(x), -1).pow(2).sum(dim=1).mean()  # mean over N of squared norms
    # END SOLUTION


# ASSIGNMENT: ift6135-a3
def _check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(map(str, choices))}")


def make_losses(loss_type: str, reg_type: str | None = None, reg_cf: float = 1.0):
    r"""The generator's metric and the critic's loss for one configuration.

    Returns ``(metric, critic_loss)``, two functions of ``(p, q, critic)``:

    * ``metric(p, q, critic)``: the estimate (:func:`jsd` for ``"JSD"``, :func:`w1` for ``"W1"``)
      of the critic values ``critic(p)`` and ``critic(q)``. The generator minimises it.
    * ``critic_loss(p, q, critic)``: :math:`-\text{metric} + \text{reg\_cf}\cdot R`, with R
      from :func:`ogp` (``"GP"``) or :func:`r1gp` (``"R1"``), called as
      ``R(p, cp, q, cq, critic)``; without a regulariser (``None``), just :math:`-\text{metric}`.
      The critic minimises it.

    Call the functions of this module by name (``jsd``, ``w1``, ``ogp``, ``r1gp``); evaluate the
    critic once on p and once on q per call.

    Args:
        loss_type: "JSD" or "W1". reg_type: "GP", "R1" or None. reg_cf: the regulariser's weight, > 0.

    Raises:
        ValueError: an unknown loss or regulariser type, or ``reg_cf <= 0`` (checked first, before
        anything else; this part is provided).
    """
    _check_choice("loss type", loss_type, AVAILABLE_LOSSES)
    _check_choice("regulariser type", reg_type, AVAILABLE_REGULARIZERS)
    if not reg_cf > 0:
        raise ValueError(f"reg_cf must be > 0 (the regulariser's weight), got {reg_cf}")
    # BEGIN SOLUTION make_losses
    estimate = {"JSD": jsd, "W1": w1}[loss_type]
    penalty = {"GP": ogp, "R1": r1gp, None: None}[reg_type]

    def metric(p, q, critic):
        return estimate(critic(p), critic(q))

    def critic_loss(p, q, critic):
        cp, cq = critic(p), critic(q)
        loss = -estimate(cp, cq)
        if penalty is not None:
            loss = loss + reg_cf * penalty(p, cp, q, cq, critic)
        return loss

    return metric, critic_loss
    # END SOLUTION


def apply_exponential_moving_average(source: nn.Module, target: nn.Module, alpha: float = 0.998) -> None:
    r"""Move ``target``'s parameters towards ``source``'s, in place:
    :math:`\tilde\theta \leftarrow \alpha\,\tilde\theta + (1 - \alpha)\,\theta`.

    ``target`` (the evaluation-time generator) and ``source`` (the trained one) have the same
    architecture; pair their parameters in order (``parameters()``). Update without recording
    gradients (``torch.no_grad()``), modifying the target's tensors in place. Returns None.
    """
    # BEGIN SOLUTION apply_exponential_moving_average
    with torch.no_grad():  # the average is no part of any autograd graph
        for averaged, current in zip(target.parameters(), source.parameters()):
            averaged.mul_(alpha).add_(current, alpha=1 - alpha)
    # END SOLUTION


def make_train_step(loss_type: str, critic_inner_iters: int = 1, reg_type: str | None = None,
                    reg_cf: float = 1.0, alpha_ema: float | None = None):
    """A training step for one configuration: critic updates, then one generator update.

    Returns ``train_step(train_data_iter, critic, critic_optim, generator, test_generator,
    generator_optim)``, which does, in this order:

    1. ``critic_inner_iters`` critic updates; each takes a real batch ``p = next(train_data_iter)``
       and a generated batch ``q = generator()`` (detached, or made under ``torch.no_grad()``),
       and does ``critic_optim.zero_grad()``, ``critic_loss(p, q, critic).backward()``,
       ``critic_optim.step()``;
    2. one generator update on ``metric(p, q, critic)``, with ``p`` the **last** real batch of
       step 1 (no new one) and a fresh ``q = generator()``: ``generator_optim.zero_grad()``,
       backward, ``generator_optim.step()``;
    3. if ``alpha_ema`` is not None, ``apply_exponential_moving_average(generator,
       test_generator, alpha_ema)``.

    ``metric`` and ``critic_loss`` come from ``make_losses(loss_type, reg_type, reg_cf)``; call
    ``make_losses`` and ``apply_exponential_moving_average`` by name. Call ``generator()``
    exactly once per critic update and once for the generator update.

    ``train_step`` returns the generator's metric (the value minimised in step 2) as a float.

    Raises:
        ValueError: ``critic_inner_iters < 1``, or ``alpha_ema`` given but not in (0, 1)
        (checked first; this part is provided), and whatever ``make_losses`` raises.
    """
    if not critic_inner_iters >= 1:
        raise ValueError(f"critic_inner_iters must be at least 1, got {critic_inner_iters}")
    if alpha_ema is not None and not 0 < alpha_ema < 1:
        raise ValueError(f"alpha_ema must be in (0, 1) or None (no averaging), got {alpha_ema}")
    # BEGIN SOLUTION make_train_step
    metric, critic_loss = make_losses(loss_type, reg_type, reg_cf)

    def train_step(train_data_iter, critic, critic_optim, generator, test_generator, generator_optim) -> float:
        for _ in range(critic_inner_iters):
            p = next(train_data_iter)
            with torch.no_grad():  # the critic's update treats generated samples as constants
                q = generator()
            critic_optim.zero_grad()
            critic_loss(p, q, critic).backward()
            critic_optim.step()
        generator_metric = metric(p, generator(), critic)  # p: the last real batch
        generator_optim.zero_grad()
        generator_metric.backward()
        generator_optim.step()
        if alpha_ema is not None:
            apply_exponential_moving_average(generator, test_generator, alpha_ema)
        return generator_metric.item()

    return train_step
    # END SOLUTION


# ------------------------------------------------------------------------------------------------
# IFT6135 problem 2.6: the Dirac GAN (Mescheder et al., 2018), provided
# ------------------------------------------------------------------------------------------------
# Real data is a point mass at 0, the generator a point mass at theta, the critic linear,
# C(x) = psi x. The only equilibrium is (theta, psi) = (0, 0). Training runs the module's own
# make_losses / make_train_step, so the trajectories show what the graded functions do.

# ASSIGNMENT: ift6135-a3
DIRAC_START = (1.0, 1.0)  # (theta, psi) at step 0
# ASSIGNMENT: ift6135-a3
DIRAC_LR = 0.2  # SGD step of both players
# ASSIGNMENT: ift6135-a3
DIRAC_STEPS = 500


# ASSIGNMENT: ift6135-a3
class DiracGenerator(nn.Module):
    """A point mass at ``theta``: ``generator()`` returns (1,) samples equal to theta."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([float(theta)]))

    def forward(self) -> torch.Tensor:
        return self.theta * 1.0  # (1,): a new tensor each call, like a sampled batch


# ASSIGNMENT: ift6135-a3
class DiracCritic(nn.Module):
    """The linear critic C(x) = psi x on scalar samples (N,) -> (N,)."""

    def __init__(self, psi: float):
        super().__init__()
        self.psi = nn.Parameter(torch.tensor(float(psi)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.psi * x


# ASSIGNMENT: ift6135-a3
@dataclass(frozen=True)
class GANConfig:
    """One configuration of an IFT6135 GAN experiment, Dirac or CIFAR-10 (make_train_step's arguments)."""

    loss_type: str
    reg_type: str | None = None
    reg_cf: float = 1.0
    critic_inner_iters: int = 1
    title: str = ""


# ASSIGNMENT: ift6135-a3
DIRAC_CONFIGS: dict[str, GANConfig] = {
    "gan": GANConfig("JSD", title="unregularised GAN (JSD)"),
    "wgan": GANConfig("W1", title="WGAN (W1, no penalty)"),
    "wgan-gp": GANConfig("W1", "GP", 1.0, title="WGAN-GP (one-centred GP, weight 1)"),
    "gan-r1": GANConfig("JSD", "R1", 1.0, title="JSD + R1 (zero-centred, weight 1)"),
    "wgan-r1": GANConfig("W1", "R1", 1.0, title="W1 + R1 (zero-centred, weight 1)"),
}


class DiracGame(nn.Module):
    """One configuration's two players, updated alternately or simultaneously, with their path.

    Alternating updates run ``make_train_step`` (the critic's updates, then the generator's, each
    seeing the other's latest parameters). Simultaneous updates take both gradients (from
    ``make_losses``) at the same point, then step both. ``path`` lists (theta, psi) after each
    update, starting with ``start`` (it is not part of the checkpoint).
    """

    def __init__(self, config: GANConfig, start: tuple[float, float] = DIRAC_START, simultaneous: bool = False):
        super().__init__()
        self.config, self.simultaneous = config, simultaneous
        self.generator, self.critic = DiracGenerator(start[0]), DiracCritic(start[1])
        self.path = [tuple(start)]
        if simultaneous:
            self._losses = make_losses(config.loss_type, config.reg_type, config.reg_cf)
        else:
            self._step = make_train_step(config.loss_type, config.critic_inner_iters, config.reg_type, config.reg_cf)

    def advance(self, generator_optim, critic_optim) -> None:
        """One update of both players (``*_optim``: optimisers of their parameters)."""
        real = torch.zeros(1, device=self.critic.psi.device)  # the data: a point mass at 0
        if self.simultaneous:
            metric, critic_loss = self._losses
            (self.generator.theta.grad,) = torch.autograd.grad(metric(real, self.generator(), self.critic),
                                                               self.generator.theta)
            (self.critic.psi.grad,) = torch.autograd.grad(critic_loss(real, self.generator().detach(), self.critic),
                                                          self.critic.psi)
            generator_optim.step()
            critic_optim.step()
        else:
            self._step(_repeat(real), self.critic, critic_optim, self.generator, None, generator_optim)
        self.path.append((self.generator.theta.item(), self.critic.psi.item()))

    def distance(self) -> float:
        """Distance of (theta, psi) to the equilibrium (0, 0)."""
        return float(np.hypot(*self.path[-1]))


# ASSIGNMENT: ift6135-a3
def _repeat(batch: torch.Tensor):
    while True:
        yield batch


def dirac_trajectory(config: GANConfig, *, steps: int = DIRAC_STEPS, lr: float = DIRAC_LR,
                     start: tuple[float, float] = DIRAC_START, simultaneous: bool = False) -> np.ndarray:
    """(theta, psi) after each of ``steps`` SGD updates of step ``lr``, shape (steps + 1, 2)."""
    game = DiracGame(config, start, simultaneous)
    g_optim = torch.optim.SGD(game.generator.parameters(), lr=lr)
    c_optim = torch.optim.SGD(game.critic.parameters(), lr=lr)
    for _ in range(steps):
        game.advance(g_optim, c_optim)
    return np.array(game.path)


class DiracGANs(nn.Module):
    """Every configuration of :data:`DIRAC_CONFIGS`, alternating and simultaneous (``python main.py
    --model dirac``): one training step updates them all once."""

    def __init__(self, start: tuple[float, float] = DIRAC_START):
        super().__init__()
        self.games = nn.ModuleDict({f"{name}{suffix}": DiracGame(config, start, simultaneous=bool(suffix))
                                    for name, config in DIRAC_CONFIGS.items() for suffix in ("", ":simultaneous")})


def save_dirac_figures(model: DiracGANs, folder) -> None:
    """``dirac_<name>.{pdf,png}`` per configuration (alternating solid, simultaneous dashed) and
    ``dirac_overview.{pdf,png}`` with every configuration, into ``folder``."""
    from pathlib import Path

    import plots

    panels = {}
    for name, config in DIRAC_CONFIGS.items():
        paths = {"alternating": model.games[name].path, "simultaneous": model.games[f"{name}:simultaneous"].path}
        panels[f"{name}: {config.title}"] = paths
        plots.save_trajectories({config.title: paths}, Path(folder) / f"dirac_{name}", limits=3.0)
    plots.save_trajectories(panels, Path(folder) / "dirac_overview", limits=3.0)


def _dirac_optimizers(model: DiracGANs, config) -> dict:
    """Plain SGD at ``--lr`` for each player of each game."""
    return {f"{name}/{player}": torch.optim.SGD(getattr(game, player).parameters(), lr=config.lr)
            for name, game in model.games.items() for player in ("generator", "critic")}


def _dirac_step(config):
    def step(batch, model: DiracGANs, optimizers: dict) -> dict:
        for name, game in model.games.items():
            game.advance(optimizers[f"{name}/generator"], optimizers[f"{name}/critic"])
        return {f"distance/{name}": game.distance() for name, game in model.games.items()}

    return step


def _dirac_batch(model, device) -> dict:
    return {}  # the data (a point mass at 0) lives in the games


def _dirac_figures(model: DiracGANs, run) -> None:
    if run.done:
        save_dirac_figures(model, run.folder / "figures")


def _dirac_final(model: DiracGANs, run) -> dict:
    return {f"distance/{name}": game.distance() for name, game in model.games.items()}


DIRAC = train.Recipe(optimizers=_dirac_optimizers, step=_dirac_step, make_batch=_dirac_batch,
                     figures=_dirac_figures, final=_dirac_final)


# ------------------------------------------------------------------------------------------------
# IFT6135 problem 2.7: CIFAR-10 with a spectrally normalised critic (python main.py --model sngan), provided
# ------------------------------------------------------------------------------------------------
# The course's model file and its "cifar10-" configurations are not public. The networks here are
# the "standard CNN" of the spectral-normalisation paper (Miyato et al., 2018, table 3): a
# DCGAN-like generator and a critic whose every layer is divided by its largest singular value,
# which bounds the critic's Lipschitz constant. ``width`` scales both (64 in the paper). The five
# configurations are the Dirac GAN's (the same names: config.OBJECTIVES), the gradient penalty
# weighted for images. Training runs the graded make_train_step; the evaluation-time generator is
# its moving average (EMA).
# Shapes: B batch, Z = CIFAR10_DIM_Z, W = width; images (B, 3, 32, 32) in [-1, 1].

# ASSIGNMENT: ift6135-a3
CIFAR10_DIM_Z = 128  # Z: latent width of the CIFAR-10 generator, z ~ N(0, I)
# ASSIGNMENT: ift6135-a3
CIFAR10_SLOPE = 0.1  # the critic's LeakyReLU slope
# ASSIGNMENT: ift6135-a3
CIFAR10_EMA = 0.998  # alpha of the evaluation generator's average (apply_exponential_moving_average's default)
# ASSIGNMENT: ift6135-a3
CIFAR10_SMOKE_IMAGES = 256  # random images that stand in for CIFAR-10 under --smoke

# ASSIGNMENT: ift6135-a3
CIFAR10_GP_WEIGHT = 10.0  # the one-centred penalty's weight on images (Gulrajani et al., 2017); R1 keeps 1


# ASSIGNMENT: ift6135-a3
def _cifar10_config(setting: GANConfig) -> GANConfig:
    weight = CIFAR10_GP_WEIGHT if setting.reg_type == "GP" else setting.reg_cf
    penalty = f" + {setting.reg_type} (weight {weight:g})" if setting.reg_type else ""
    return replace(setting, reg_cf=weight, title=f"{setting.loss_type}{penalty}, spectrally normalised critic")


# ASSIGNMENT: ift6135-a3
CIFAR10_CONFIGS = {name: _cifar10_config(setting) for name, setting in DIRAC_CONFIGS.items()}  # --objective


# ASSIGNMENT: ift6135-a3
class CIFAR10Generator(nn.Module):
    """z (B, Z) -> images (B, 3, 32, 32) in [-1, 1]: a linear layer to a 4 x 4 map of 8W channels,
    three 4 x 4 transposed convolutions of stride 2 (halving the channels), a 3 x 3 convolution
    and tanh; batch normalisation and ReLU between. ``generator()`` without codes draws
    ``batch_size`` of them itself (the IFT6135 convention make_train_step relies on)."""

    def __init__(self, width: int = 64, dim_z: int = CIFAR10_DIM_Z, batch_size: int = 64):
        super().__init__()
        self.dim_z, self.batch_size = dim_z, batch_size
        w = width

        def up(channels_in, channels_out):  # doubles the height and width
            return [nn.ConvTranspose2d(channels_in, channels_out, 4, stride=2, padding=1),
                    nn.BatchNorm2d(channels_out), nn.ReLU()]

        self.net = nn.Sequential(
            nn.Linear(dim_z, 8 * w * 4 * 4), nn.BatchNorm1d(8 * w * 4 * 4), nn.ReLU(),
            nn.Unflatten(1, (8 * w, 4, 4)),  # (B, 8W, 4, 4)
            *up(8 * w, 4 * w), *up(4 * w, 2 * w), *up(2 * w, w),  # (B, W, 32, 32)
            nn.Conv2d(w, 3, 3, padding=1), nn.Tanh(),  # (B, 3, 32, 32)
        )

    def forward(self, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            z = torch.randn(self.batch_size, self.dim_z, device=self.net[0].weight.device)
        return self.net(z)


# ASSIGNMENT: ift6135-a3
class SNCritic(nn.Module):
    """Images (B, 3, 32, 32) -> critic values (B,): seven convolutions (3 x 3 of stride 1, then
    4 x 4 of stride 2 halving the size, alternating; W, W, 2W, 2W, 4W, 4W, 8W channels) with
    LeakyReLU, and a linear layer; every layer spectrally normalised (one power iteration per
    call in training mode)."""

    def __init__(self, width: int = 64):
        super().__init__()
        from torch.nn.utils.parametrizations import spectral_norm

        w = width
        channels = [3, w, w, 2 * w, 2 * w, 4 * w, 4 * w, 8 * w]
        layers = []
        for index, (channels_in, channels_out) in enumerate(zip(channels, channels[1:])):
            kernel, stride = (3, 1) if index % 2 == 0 else (4, 2)
            layers += [spectral_norm(nn.Conv2d(channels_in, channels_out, kernel, stride, padding=1)),
                       nn.LeakyReLU(CIFAR10_SLOPE)]
        self.net = nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(8 * w * 4 * 4, 1)))  # (B, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B,)


# ASSIGNMENT: ift6135-a3
class SNGAN(nn.Module):
    """The CIFAR-10 generator, the critic and the evaluation-time generator (``ema_generator``,
    the moving average of the generator's parameters, which makes every sample and score), with
    the members the kit's loop and metrics use (``sample_noise``, ``generate``)."""

    def __init__(self, width: int = 64):
        super().__init__()
        import copy

        self.generator = CIFAR10Generator(width)
        self.critic = SNCritic(width)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False)

    def sample_noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.generator.dim_z)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.ema_generator(z)


# ASSIGNMENT: ift6135-a3
def cifar10_splits(config):
    """CIFAR-10's training images in [-1, 1] and, in ``info["scorer"]``, the Inception Score and
    FID of the evaluations (``inception.ImageScorer``). Both need downloads: offline, one error
    names whatever is missing. With ``--smoke``: random images and an untrained stand-in scorer,
    which work offline."""
    import data
    import inception

    if config.smoke:
        images = data.random_images(CIFAR10_SMOKE_IMAGES, (32, 32, 3), seed=config.seed)
        scorer = inception.ImageScorer(inception.StandInNetwork, images, config.eval_samples,
                                         name=inception.StandInNetwork.name)
        return data.Splits(train=images, info={"scorer": scorer})
    missing, train_set, weights = [], None, None
    try:
        train_set = data.load_images("cifar10", config.data_root, transform="plain")
    except data.DataUnavailableError as error:
        missing.append(str(error))
    try:
        weights = inception.require_weights()
    except inception.WeightsUnavailableError as error:
        missing.append(str(error))
    if missing:
        raise data.DataUnavailableError("--model sngan needs downloads it cannot get here (--smoke runs without "
                                        "them):\n" + "\n".join(f"* {problem}" for problem in missing))
    cache = Path(config.data_root) / f"inception-statistics-cifar10-{config.eval_samples}.npz"
    scorer = inception.ImageScorer(partial(inception.InceptionNetwork, weights), train_set, config.eval_samples, cache,
                                    name=inception.InceptionNetwork.name)
    return data.Splits(train=train_set, name="cifar10", info={"scorer": scorer})


# ASSIGNMENT: ift6135-a3
def _cifar10_optimizers(model: SNGAN, config) -> dict:
    """Adam for the critic (``--lr_discriminator``) and the generator (``--lr_generator``)."""
    betas = (config.beta1, config.beta2)
    return {"critic": torch.optim.Adam(model.critic.parameters(), lr=config.lr_discriminator, betas=betas),
            "generator": torch.optim.Adam(model.generator.parameters(), lr=config.lr_generator, betas=betas)}


# ASSIGNMENT: ift6135-a3
def _cifar10_step(config):
    """One make_train_step of the chosen configuration; the loop's batch holds one real batch per
    critic update. Logs the generator's metric (the JSD or W1 estimate) as ``generator_loss``."""
    setting = CIFAR10_CONFIGS[config.objective]
    train_step = make_train_step(setting.loss_type, setting.critic_inner_iters, setting.reg_type, setting.reg_cf,
                                 alpha_ema=CIFAR10_EMA)

    def step(batch: dict, model: SNGAN, optimizers: dict) -> dict:
        real = batch["x"]  # (critic_inner_iters * B, 3, 32, 32)
        model.generator.batch_size = len(real) // setting.critic_inner_iters
        estimate = train_step(iter(real.chunk(setting.critic_inner_iters)), model.critic, optimizers["critic"],
                              model.generator, model.ema_generator, optimizers["generator"])
        with torch.no_grad():  # batch norm's running statistics are buffers, which the average of parameters leaves out
            for averaged, current in zip(model.ema_generator.buffers(), model.generator.buffers()):
                averaged.copy_(current)
        return {"generator_loss": estimate}

    return step


# ASSIGNMENT: ift6135-a3
def _cifar10_scores(model: SNGAN, run) -> dict:
    """Inception Score (mean and standard deviation over splits) and FID of ``--eval_samples`` images
    of the EMA generator; prefixed ``val/standin_`` when the untrained stand-in scored them."""
    import metrics

    images = metrics.sample_images(model, run.config.eval_samples, run.device)  # (N, 3, 32, 32)
    prefix = "val/standin_" if run.config.smoke else "val/"
    return {f"{prefix}{name}": value for name, value in run.data.info["scorer"](images, run.device).items()}


# ASSIGNMENT: ift6135-a3
def _cifar10_figures(model: SNGAN, run) -> None:
    """The generator's metric and the FID against the step, on one figure (``metric_and_fid``)."""
    import plots

    estimate = f"{CIFAR10_CONFIGS[run.config.objective].loss_type} estimate (generator's metric)"
    fid = "val/standin_fid" if run.config.smoke else "val/fid"
    plots.save_twin_curves(run.folder / "metrics.csv", ("generator_loss", estimate),
                           (fid, "FID" + (" (untrained stand-in)" if run.config.smoke else "")),
                           run.figure_path("metric_and_fid"), title=CIFAR10_CONFIGS[run.config.objective].title)


# ASSIGNMENT: ift6135-a3
def _cifar10_final(model: SNGAN, run) -> dict:
    """Which network scored the samples (the stand-in's name says its numbers mean nothing)."""
    return {"scorer": run.data.info["scorer"].name}


CIFAR10 = train.Recipe(optimizers=_cifar10_optimizers, step=_cifar10_step, samples=train.gan_samples,
                       evaluate=_cifar10_scores, figures=_cifar10_figures, final=_cifar10_final)


# ------------------------------------------------------------------------------------------------
# CS 236 training with the kit's loop (python main.py --model gan | cgan), provided
# ------------------------------------------------------------------------------------------------


class CS236GAN(nn.Module):
    """The CS 236 generator ``g`` and discriminator ``d`` (conditional or not), with the members
    the kit's loop and metrics use (``generator``, ``discriminator``, ``sample_noise``, ``generate``).
    A conditional model's ``generate(z)`` makes image i of class ``i mod K`` (every class equally)."""

    def __init__(self, conditional: bool = False, dim_z: int = DIM_Z):
        super().__init__()
        self.conditional = conditional
        self.g = ConditionalGenerator(dim_z) if conditional else Generator(dim_z)
        self.d = ConditionalDiscriminator() if conditional else Discriminator()

    generator = property(lambda self: self.g)
    discriminator = property(lambda self: self.d)

    def sample_noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.g.dim_z)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self.conditional:
            return self.g(z)
        if y is None:
            y = torch.arange(len(z), device=z.device) % NUM_CLASSES
        return self.g(z, y)


CS236_LOSSES = {  # (discriminator's loss, generator's loss) per --loss_type
    "nonsaturating": (loss_nonsaturating_d, loss_nonsaturating_g),
    "wasserstein_gp": (loss_wasserstein_gp_d, loss_wasserstein_gp_g),
}


def _cs236_optimizers(model: CS236GAN, config) -> dict:
    """Adam at ``--lr`` for both networks (the handout: 1e-3, betas (0.5, 0.999))."""
    betas = (config.beta1, config.beta2)
    return {"discriminator": torch.optim.Adam(model.d.parameters(), lr=config.lr, betas=betas),
            "generator": torch.optim.Adam(model.g.parameters(), lr=config.lr, betas=betas)}


def _cs236_step(config):
    """A discriminator update on the chosen loss, then a generator update (each loss draws its own z)."""

    def step(batch: dict, model: CS236GAN, optimizers: dict) -> dict:
        x, device = batch["x"], batch["x"].device
        if model.conditional:
            labels, losses = (batch["y"],), (conditional_loss_nonsaturating_d, conditional_loss_nonsaturating_g)
        else:
            labels, losses = (), CS236_LOSSES[config.loss_type]
        info = {}
        for name, loss_fn in zip(("discriminator", "generator"), losses):
            loss = loss_fn(model.g, model.d, x, *labels, device=device)
            info[f"grad_norm/{name}"] = train._optimise(optimizers[name], loss, getattr(model, name).parameters())
            info[f"{name}_loss"] = loss.item()
        return info

    return step


# ASSIGNMENT: cs236-hw3
CLASS_GRID_SEED = 0  # the noise of the class grids: the same 10 codes in every figure


def _class_grid(model: CS236GAN, run) -> None:
    """A conditional model's figure: one row per class, the same 10 latent codes in every row."""
    import plots

    with torch.no_grad():
        z = torch.randn(10, model.g.dim_z, generator=torch.Generator().manual_seed(CLASS_GRID_SEED))
        z = z.repeat(NUM_CLASSES, 1).to(run.device)  # (K * 10, Z): row k holds the 10 codes
        y = torch.arange(NUM_CLASSES, device=run.device).repeat_interleave(10)  # (K * 10,): row k is class k
        images = model.generate(z, y)
    name = "classes" if run.done else f"classes_{run.step:06d}"
    plots.save_image_grid(images.cpu(), run.figure_path(name), nrow=10)


CS236 = train.Recipe(optimizers=_cs236_optimizers, step=_cs236_step, samples=train.gan_samples,
                     final=train.frechet_distance)
CS236_CONDITIONAL = train.Recipe(optimizers=_cs236_optimizers, step=_cs236_step, samples=train.gan_samples,
                                 figures=_class_grid, final=train.frechet_distance)
