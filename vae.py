r"""Variational autoencoders: likelihoods and KLs, the Bernoulli VAE, importance sampling.

Two handouts meet here, each with its own graded units and conventions:

* **IFT6135 A3, problem 1** (Mila): the likelihood toolkit ``log_likelihood_bernoulli``,
  ``log_likelihood_normal``, ``log_mean_exp``, ``kl_gaussian_gaussian_analytic`` and
  ``kl_gaussian_gaussian_mc``. Gaussians are given by a mean and a **log-variance**. Every
  function returns one value per example, shape (B,), summed over all other dimensions (an
  input of shape (B, ...) is flattened per example first). Then the convolutional VAE with a
  latent of L = 100 dimensions (provided), its ELBO and its importance-sampled log-likelihood.
* **CS446 / ECE449 spring 2021, homework 5, section 2** (UIUC): a Bernoulli VAE with a 2-D
  latent. The encoder (provided) returns a mean and a **variance** :math:`\sigma^2` (not a
  log-variance); graded: the ``Decoder``, ``logpdf_diagonal_gaussian``, ``logpdf_bernoulli``,
  ``sample_diagonal_gaussian``, ``sample_Bernoulli`` and ``elbo_loss`` (the single-sample
  Monte-Carlo ELBO, averaged over the batch). Then the handout's three figures.

Model (Kingma & Welling, 2014): prior :math:`p(z) = \mathcal N(0, I)`, decoder
:math:`p_\theta(x|z) = \prod_d \mathrm{Ber}(x_d \mid f_\theta(z)_d)`, encoder
:math:`q_\phi(z|x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`, and the evidence
lower bound

.. math::
    \log p_\theta(x) \ge \mathcal L(x) = \mathbb E_{q_\phi(z|x)}\left[\log p_\theta(x|z)
    + \log p(z) - \log q_\phi(z|x)\right]
    = \mathbb E_{q_\phi(z|x)}[\log p_\theta(x|z)] - \mathrm{KL}(q_\phi(z|x)\,\|\,p(z)).

All log-likelihoods are natural logarithms: nats.

Shapes: B batch, D data dimensions (784 for a flattened 28 x 28 digit), Z latent dimensions
(2 in CS446, L = 100 in IFT6135), K samples per example (Monte-Carlo or importance samples).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train import Recipe, adam

LOG_2PI = math.log(2 * math.pi)
IMAGE_SHAPE = (1, 28, 28)  # binarised MNIST
DATA_DIMENSION = 784  # pixels of one digit, flattened


# ============================================================================================
# IFT6135 A3, problem 1.1-1.5: the likelihood toolkit (log-variance parameterisation)
# ============================================================================================


def log_likelihood_bernoulli(mu: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Log-likelihood of ``target`` under independent Bernoulli distributions of mean ``mu``.

    .. math::
        \log p(x) = \sum_{d=1}^{D} x_d \log \mu_d + (1 - x_d) \log(1 - \mu_d)

    Args:
        mu: (B, ...) the means :math:`\mu_d = p(x_d = 1)`, values in [0, 1].
        target: (B, ...) same shape, the observations: 0 or 1 (a value in between gives the
            cross-entropy term of that fraction).

    Returns:
        (B,) the log-likelihood of each example, summed over every dimension after the first
        (inputs are flattened per example). Values are <= 0 for binary targets.

    Edges: a mean of exactly 0 or 1 with the matching target has probability 1 and contributes
    exactly 0 (take :math:`0 \cdot \log 0 = 0`): the plain formula gives ``0 * -inf = NaN``
    there. A mean of exactly 0 or 1 with the opposite target has probability 0: its
    log-likelihood is :math:`-\infty`.
    """
    # BEGIN SOLUTION log_likelihood_bernoulli
    batch = mu.shape[0]
    mu, target = mu.reshape(batch, -1), target.reshape(batch, -1)  # (B, D)
    # xlogy(a, b) = a log b with 0 log 0 = 0: the term of the unobserved value vanishes exactly.
    return (torch.xlogy(target, mu) + torch.xlogy(1 - target, 1 - mu)).sum(dim=1)  # (B,)
    # END SOLUTION


def log_likelihood_normal(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""Log-density of ``z`` under a Gaussian with diagonal covariance, from mean and log-variance.

    .. math::
        \log \mathcal N(z; \mu, \mathrm{diag}\,\sigma^2) = -\frac12 \sum_{d=1}^{D}
        \left[\log 2\pi + \log\sigma_d^2 + \frac{(z_d - \mu_d)^2}{\sigma_d^2}\right]

    Args:
        mu: (B, ...) means.
        logvar: (B, ...) log-variances :math:`\log\sigma_d^2` (any real number).
        z: (B, ...) the points; all three have the same shape.

    Returns:
        (B,) the log-density of each example, summed over every dimension after the first.

    Edges: work in log space. With log-variances of -30 or +30 the density itself under- or
    overflows (``log(exp(...))`` gives -inf or inf), while the formula above stays finite:
    :math:`(z - \mu)^2 e^{-\log\sigma^2}` is at most ~1e13 times the squared distance there.
    """
    # BEGIN SOLUTION log_likelihood_normal
    batch = mu.shape[0]
    mu, logvar, z = (t.reshape(batch, -1) for t in (mu, logvar, z))  # (B, D) each
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(dim=1)  # (B,)
    # END SOLUTION


def log_mean_exp(y: torch.Tensor) -> torch.Tensor:
    r"""The log of the mean of exponentials over each example's samples, computed stably.

    .. math::
        \mathrm{LME}(y_i) = \log \frac1K \sum_{k=1}^{K} \exp\left(y_i^{(k)} - a_i\right) + a_i,
        \qquad a_i = \max_k y_i^{(k)}

    Args:
        y: (B, K) K values per example (or (B, ...): flattened to (B, K) per example), finite.

    Returns:
        (B,) one value per example.

    Edges: subtracting the maximum first is what makes this work for large magnitudes. Values
    near +1000 overflow ``exp`` (the plain ``log(mean(exp(y)))`` gives inf) and values near
    -1000 underflow it (-inf); shifted by the row's maximum, the largest term is exp(0) = 1 and
    the result is finite and exact to rounding.
    """
    # BEGIN SOLUTION log_mean_exp
    y = y.reshape(y.shape[0], -1)  # (B, K)
    shift = y.max(dim=1, keepdim=True).values  # (B, 1)
    return torch.log(torch.exp(y - shift).mean(dim=1)) + shift.squeeze(1)  # (B,)
    # END SOLUTION


def kl_gaussian_gaussian_analytic(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                                  logvar_p: torch.Tensor) -> torch.Tensor:
    r"""KL(q || p) between two Gaussians with diagonal covariance, in closed form.

    .. math::
        \mathrm{KL}(q\,\|\,p) = \frac12 \sum_{d=1}^{D} \left[\log\sigma_{p,d}^2 - \log\sigma_{q,d}^2
        + \frac{\sigma_{q,d}^2 + (\mu_{q,d} - \mu_{p,d})^2}{\sigma_{p,d}^2} - 1\right]

    Args:
        mu_q, logvar_q: (B, ...) mean and log-variance of q (the encoder's distribution).
        mu_p, logvar_p: (B, ...) mean and log-variance of p (e.g. zeros for the prior N(0, I)).

    Returns:
        (B,) the divergence of each example, summed over every dimension after the first; >= 0,
        and 0 exactly when q = p.

    Edges: use the log-variances as given, never determinants. The textbook form
    :math:`\log(\det\Sigma_p / \det\Sigma_q)` multiplies D variances together and overflows for
    log-variances of +30 in a few dimensions (float32 holds exp(88) at most); the sum above
    stays finite. The ratio :math:`\sigma_q^2/\sigma_p^2` is computed as
    ``exp(logvar_q - logvar_p)`` so that it is finite whenever the answer is.
    """
    # BEGIN SOLUTION kl_gaussian_gaussian_analytic
    batch = mu_q.shape[0]
    mu_q, logvar_q, mu_p, logvar_p = (t.reshape(batch, -1) for t in (mu_q, logvar_q, mu_p, logvar_p))
    ratio = torch.exp(logvar_q - logvar_p)  # sigma_q^2 / sigma_p^2, (B, D)
    distance = (mu_q - mu_p) ** 2 * torch.exp(-logvar_p)  # (mu_q - mu_p)^2 / sigma_p^2
    return 0.5 * (logvar_p - logvar_q + ratio + distance - 1).sum(dim=1)  # (B,)
    # END SOLUTION


def kl_gaussian_gaussian_mc(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                            logvar_p: torch.Tensor, num_samples: int = 1,
                            noise: torch.Tensor | None = None) -> torch.Tensor:
    r"""KL(q || p) between two diagonal Gaussians, estimated by Monte Carlo from samples of q.

    .. math::
        \mathrm{KL}(q\,\|\,p) \approx \frac1K \sum_{k=1}^{K} \left[\log q(z^{(k)}) - \log p(z^{(k)})\right],
        \qquad z^{(k)} = \mu_q + \sigma_q \odot \varepsilon^{(k)},\ \varepsilon^{(k)} \sim \mathcal N(0, I)

    with K = ``num_samples`` and :math:`\sigma_q = \exp(\frac12 \log\sigma_q^2)`. The samples
    are reparameterised, so the estimate is differentiable in ``mu_q`` and ``logvar_q``. It is
    unbiased; its spread shrinks like :math:`1/\sqrt K`, and a single estimate can be negative.

    Args:
        mu_q, logvar_q: (B, ...) mean and log-variance of q.
        mu_p, logvar_p: (B, ...) mean and log-variance of p.
        num_samples: K >= 1, samples per example.
        noise: optional (B, K, D) standard-normal draws :math:`\varepsilon`, D the number of
            entries of one example (the product of the trailing sizes); drawn with
            ``torch.randn`` when None. Passing them makes the estimate deterministic.

    Returns:
        (B,) the estimate for each example, averaged over the K samples and summed over the
        dimensions.

    Edges: compute the log-densities in log space (as in :func:`log_likelihood_normal`);
    with log-variances of -30 or +30 the densities themselves under- or overflow and their
    ratio becomes NaN.
    """
    # BEGIN SOLUTION kl_gaussian_gaussian_mc
    batch = mu_q.shape[0]
    mu_q, logvar_q, mu_p, logvar_p = (t.reshape(batch, 1, -1) for t in (mu_q, logvar_q, mu_p, logvar_p))
    if noise is None:
        noise = torch.randn(batch, num_samples, mu_q.shape[-1], dtype=mu_q.dtype, device=mu_q.device)
    z = mu_q + torch.exp(0.5 * logvar_q) * noise  # (B, K, D)
    log_q = -0.5 * (LOG_2PI + logvar_q + (z - mu_q) ** 2 * torch.exp(-logvar_q)).sum(dim=2)  # (B, K)
    log_p = -0.5 * (LOG_2PI + logvar_p + (z - mu_p) ** 2 * torch.exp(-logvar_p)).sum(dim=2)  # (B, K)
    return (log_q - log_p).mean(dim=1)  # (B,)
    # END SOLUTION


# ============================================================================================
# CS446 sp21 HW5, section 2: the Bernoulli VAE with a 2-D latent (variance parameterisation)
# ============================================================================================


# ASSIGNMENT: cs446-sp21
class Encoder(nn.Module):
    r"""The encoder :math:`q_\phi(z|x)` (provided): one tanh layer, then a mean and a variance.

    Layers, in this order: ``fc1`` (D -> H), tanh; ``fc2_mu`` (H -> Z) and ``fc2_sigma``
    (H -> Z). ``fc2_sigma`` predicts :math:`\log\sigma^2`, and the encoder returns
    :math:`\sigma^2 = \exp(\cdot)`, so the variance is always positive.

    ``forward(x)``: x (B, D) in [0, 1] -> ``(mu, sigma_square)``, each (B, Z).
    """

    def __init__(self, latent_dimension: int = 2, hidden_units: int = 500, data_dimension: int = DATA_DIMENSION):
        super().__init__()
        self.fc1 = nn.Linear(data_dimension, hidden_units)
        self.fc2_mu = nn.Linear(hidden_units, latent_dimension)
        self.fc2_sigma = nn.Linear(hidden_units, latent_dimension)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.tanh(self.fc1(x))  # (B, H)
        return self.fc2_mu(hidden), torch.exp(self.fc2_sigma(hidden))  # (B, Z), (B, Z)


class Decoder(nn.Module):
    r"""The decoder :math:`f_\theta(z)`: the Bernoulli means of the 784 pixels given z (graded).

    .. math:: f_\theta(z) = \mathrm{sigmoid}\big(W_2 \tanh(W_1 z + b_1) + b_2\big)

    A two-layer perceptron. Define, in ``__init__`` and in this order, ``fc1``: a linear layer
    Z -> H (``latent_dimension`` -> ``hidden_units``, the handout's 500), then ``fc2``: a linear
    layer H -> D (``hidden_units`` -> ``data_dimension``). Both have biases. ``forward``
    applies tanh after the first layer and a sigmoid after the second.

    ``forward(z)``: z (B, Z) -> p (B, D), every entry in [0, 1] (the probability that the
    pixel is 1).
    """

    def __init__(self, latent_dimension: int = 2, hidden_units: int = 500, data_dimension: int = DATA_DIMENSION):
        super().__init__()
        # BEGIN SOLUTION decoder
        self.fc1 = nn.Linear(latent_dimension, hidden_units)
        self.fc2 = nn.Linear(hidden_units, data_dimension)
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION decoder
        return torch.sigmoid(self.fc2(torch.tanh(self.fc1(z))))  # (B, D)
        # END SOLUTION


class VAE(nn.Module):
    r"""The CS446 Bernoulli VAE: an :class:`Encoder`, a :class:`Decoder` and the ELBO.

    The distribution helpers are static methods, as in the handout's starter code, so they can
    be called as ``VAE.logpdf_bernoulli(x, p)`` without building a model.
    ``forward(x)`` returns the single-sample ELBO of the batch (see :meth:`elbo_loss`).
    """

    def __init__(self, latent_dimension: int = 2, hidden_units: int = 500, data_dimension: int = DATA_DIMENSION):
        super().__init__()
        self.latent_dimension = latent_dimension
        self.encoder = Encoder(latent_dimension, hidden_units, data_dimension)
        self.decoder = Decoder(latent_dimension, hidden_units, data_dimension)

    @staticmethod
    def sample_diagonal_gaussian(mu: torch.Tensor, sigma_square: torch.Tensor) -> torch.Tensor:
        r"""One sample of :math:`\mathcal N(\mu, \mathrm{diag}\,\sigma^2)` per row, reparameterised.

        .. math:: z = \mu + \sqrt{\sigma^2} \odot \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I)

        The noise :math:`\varepsilon` is drawn fresh (``torch.randn``) and the sample is a
        differentiable function of ``mu`` and ``sigma_square``: gradients reach both (this is
        what lets the ELBO train the encoder).

        Args:
            mu: (B, Z) means.
            sigma_square: (B, Z) variances, > 0 (not log-variances).

        Returns:
            (B, Z) the samples, same dtype and device as ``mu``.
        """
        # BEGIN SOLUTION sample_diagonal_gaussian
        return mu + torch.sqrt(sigma_square) * torch.randn_like(mu)  # (B, Z)
        # END SOLUTION

    @staticmethod
    def sample_Bernoulli(p: torch.Tensor) -> torch.Tensor:
        r"""One draw of independent Bernoulli variables: :math:`x_d = 1` with probability :math:`p_d`.

        Args:
            p: (B, D) probabilities in [0, 1].

        Returns:
            (B, D) a float tensor of zeros and ones, same dtype as ``p``. An entry with p = 0
            is always 0, one with p = 1 always 1. (Sampling is not differentiable; no gradient
            is expected.)
        """
        # BEGIN SOLUTION sample_Bernoulli
        return torch.bernoulli(p)  # (B, D)
        # END SOLUTION

    @staticmethod
    def logpdf_diagonal_gaussian(z: torch.Tensor, mu: torch.Tensor, sigma_square: torch.Tensor) -> torch.Tensor:
        r"""Log-density of z under :math:`\mathcal N(\mu, \mathrm{diag}\,\sigma^2)`, one value per row.

        .. math::
            \log \mathcal N(z; \mu, \sigma^2 I) = -\sum_{j=1}^{Z} \left[\frac12\log(2\pi\sigma_j^2)
            + \frac{(z_j - \mu_j)^2}{2\sigma_j^2}\right]

        Args:
            z: (B, Z) points.
            mu: (B, Z) means (zeros for the prior).
            sigma_square: (B, Z) variances, > 0 (ones for the prior).

        Returns:
            (B,) the log-density of each row, summed over the Z latent dimensions.
        """
        # BEGIN SOLUTION logpdf_diagonal_gaussian
        return -0.5 * (torch.log(2 * math.pi * sigma_square) + (z - mu) ** 2 / sigma_square).sum(dim=1)  # (B,)
        # END SOLUTION

    @staticmethod
    def logpdf_bernoulli(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        r"""Log-probability of binary x under independent Bernoulli variables of mean p.

        .. math:: \log p(x) = \sum_{d=1}^{D} x_d \log p_d + (1 - x_d)\log(1 - p_d)

        Args:
            x: (B, D) observations, 0 or 1.
            p: (B, D) probabilities in [0, 1] (the decoder's output).

        Returns:
            (B,) the log-probability of each row, summed over the D pixels.

        Edges: a sigmoid saturates to exactly 1.0 (or 0.0) in float32. Where p_d is exactly 0
        or 1 and x_d matches, the pixel contributes exactly 0 (:math:`0 \log 0 = 0`), not the
        NaN of ``0 * log(0)``; where x_d does not match, the log-probability is :math:`-\infty`.
        """
        # BEGIN SOLUTION logpdf_bernoulli
        return (torch.xlogy(x, p) + torch.xlogy(1 - x, 1 - p)).sum(dim=1)  # (B,)
        # END SOLUTION

    def sample_z(self, mu: torch.Tensor, sigma_square: torch.Tensor) -> torch.Tensor:
        """A reparameterised sample of :math:`q_\\phi(z|x)`: (B, Z)."""
        return self.sample_diagonal_gaussian(mu, sigma_square)

    def elbo_loss(self, sampled_z: torch.Tensor, mu: torch.Tensor, sigma_square: torch.Tensor,
                  x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        r"""The handout's Monte-Carlo ELBO (its Eq. 2) from one sample z per example, batch mean.

        .. math::
            \mathcal L = \frac1B \sum_{n=1}^{B} \left[\log p_\theta(x_n|z_n) + \log p(z_n)
            - \log q_\phi(z_n|x_n)\right], \qquad z_n \sim q_\phi(z|x_n)

        with :math:`p_\theta(x|z)` the Bernoulli distribution of mean ``p`` (the decoder's
        output at ``sampled_z``), :math:`p(z) = \mathcal N(0, I)` and
        :math:`q_\phi(z|x) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)`. No closed-form KL: all
        three terms are log-densities at the sample. Use :meth:`logpdf_bernoulli` and
        :meth:`logpdf_diagonal_gaussian`.

        Args:
            sampled_z: (B, Z) one sample of q per example (from :meth:`sample_z`).
            mu, sigma_square: (B, Z) the encoder's mean and variance.
            x: (B, D) the binary data.
            p: (B, D) the decoder's Bernoulli means at ``sampled_z``.

        Returns:
            A scalar tensor: the ELBO averaged over the batch, in nats. It is to be *maximised*;
            the training step minimises its negative. Differentiable in every input.
        """
        # BEGIN SOLUTION elbo_loss
        log_px_z = self.logpdf_bernoulli(x, p)  # (B,)
        log_pz = self.logpdf_diagonal_gaussian(sampled_z, torch.zeros_like(mu), torch.ones_like(sigma_square))
        log_qz_x = self.logpdf_diagonal_gaussian(sampled_z, mu, sigma_square)  # (B,)
        return (log_px_z + log_pz - log_qz_x).mean()
        # END SOLUTION

    @staticmethod
    def interpolate_mu(mua: torch.Tensor, mub: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
        r"""The point :math:`\alpha\,\mu_a + (1 - \alpha)\,\mu_b` between two latent means (provided)."""
        return alpha * mua + (1 - alpha) * mub

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's pixel means at the encoder's mean of each image: (B, ...) like x."""
        return self.decoder(self.encoder(x.reshape(len(x), -1))[0]).reshape(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The single-sample ELBO (batch mean) of x (B, D)."""
        mu, sigma_square = self.encoder(x)
        z = self.sample_z(mu, sigma_square)
        return self.elbo_loss(z, mu, sigma_square, x, self.decoder(z))


# ============================================================================================
# IFT6135 A3, problem 1.6-1.7: the VAE with L = 100, its ELBO and importance sampling (provided)
# ============================================================================================


class ConvVAE(nn.Module):
    r"""The IFT6135 VAE of binarised 28 x 28 digits with a latent of L = 100 dimensions.

    The architecture of the handout's notebook:

    ==========================================  =========================
    encoder                                     output (C, H, W)
    ==========================================  =========================
    Conv2d(1, 32, 3), ELU, AvgPool2d(2, 2)      (32, 13, 13)
    Conv2d(32, 64, 3), ELU, AvgPool2d(2, 2)     (64, 5, 5)
    Conv2d(64, 256, 5), ELU                     (256, 1, 1)
    Linear(256, 2L): mean and log-variance      (2L,)
    ==========================================  =========================

    ==================================================  ==================
    decoder                                             output (C, H, W)
    ==================================================  ==================
    Linear(L, 256), ELU, as (256, 1, 1)                 (256, 1, 1)
    Conv2d(256, 64, 5, padding 4), ELU                  (64, 5, 5)
    UpsamplingBilinear2d(x2), Conv2d(64, 32, 3, pad 2)  (32, 12, 12)
    ELU, UpsamplingBilinear2d(x2)                       (32, 24, 24)
    Conv2d(32, 16, 3, padding 2), ELU                   (16, 26, 26)
    Conv2d(16, 1, 3, padding 2): Bernoulli logits       (1, 28, 28)
    ==================================================  ==================

    ``encode(x)``: x (B, 1, 28, 28) -> ``(mu, logvar)``, each (B, L).
    ``decode(z)``: z (B, L) -> logits (B, 1, 28, 28); the pixel means are their sigmoid.
    """

    def __init__(self, latent_dimension: int = 100):
        super().__init__()
        self.latent_dimension = latent_dimension
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3), nn.ELU(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(32, 64, kernel_size=3), nn.ELU(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(64, 256, kernel_size=5), nn.ELU(),
        )
        self.posterior = nn.Linear(256, 2 * latent_dimension)
        self.expand = nn.Linear(latent_dimension, 256)
        self.decoder = nn.Sequential(
            nn.ELU(),
            nn.Conv2d(256, 64, kernel_size=5, padding=4), nn.ELU(),
            nn.UpsamplingBilinear2d(scale_factor=2),
            nn.Conv2d(64, 32, kernel_size=3, padding=2), nn.ELU(),
            nn.UpsamplingBilinear2d(scale_factor=2),
            nn.Conv2d(32, 16, kernel_size=3, padding=2), nn.ELU(),
            nn.Conv2d(16, 1, kernel_size=3, padding=2),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(x).flatten(start_dim=1)  # (B, 256)
        mu, logvar = self.posterior(features).chunk(2, dim=1)  # (B, L) each
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.expand(z).view(-1, 256, 1, 1))  # (B, 1, 28, 28) logits

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""The ELBO of each example from one reparameterised sample: (B,) nats.

        .. math:: \mathcal L(x) = \log p_\theta(x|z) - \mathrm{KL}(q_\phi(z|x)\,\|\,\mathcal N(0, I)),
                  \qquad z = \mu + e^{\frac12\log\sigma^2}\odot\varepsilon

        The KL is the closed form (:func:`kl_gaussian_gaussian_analytic`). The reconstruction
        term is the Bernoulli log-likelihood computed from the logits
        (``-binary_cross_entropy_with_logits``), which stays exact where a sigmoid would round
        to 0 or 1.
        """
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, L)
        log_px_z = bernoulli_log_likelihood_from_logits(self.decode(z), x)  # (B,)
        zeros = torch.zeros_like(mu)
        return log_px_z - kl_gaussian_gaussian_analytic(mu, logvar, zeros, zeros)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The pixel means decoded from the encoder's mean of each image: (B, 1, 28, 28)."""
        return torch.sigmoid(self.decode(self.encode(x)[0]))

    def sample(self, count: int, device=None) -> torch.Tensor:
        """Pixel means of ``count`` digits decoded from the prior: (count, 1, 28, 28) in [0, 1]."""
        z = torch.randn(count, self.latent_dimension, device=device)
        return torch.sigmoid(self.decode(z))


# ASSIGNMENT: ift6135-a3
def bernoulli_log_likelihood_from_logits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x) of binary x (B, ...) under Bernoulli means sigmoid(logits), summed per example: (B,)."""
    terms = F.binary_cross_entropy_with_logits(logits, x, reduction="none")  # -log p per entry
    return -terms.flatten(start_dim=1).sum(dim=1)


def importance_sampled_log_likelihood(model: ConvVAE, x: torch.Tensor, num_samples: int = 200,
                                      chunk: int = 4000) -> torch.Tensor:
    r"""The importance-sampling estimate of :math:`\log p_\theta(x)` of each example (handout 1.7).

    .. math::
        \log p_\theta(x_i) \approx \log \frac1K \sum_{k=1}^{K}
        \frac{p_\theta(x_i|z_i^{(k)})\, p(z_i^{(k)})}{q_\phi(z_i^{(k)}|x_i)},
        \qquad z_i^{(k)} \sim q_\phi(z|x_i)

    computed in log space with :func:`log_likelihood_normal` (prior and posterior) and
    :func:`log_mean_exp` over the K samples. It is a stochastic lower bound of
    :math:`\log p_\theta(x_i)` that tightens as K grows; with K = 1 it is the ELBO's estimate.

    Args:
        model: a trained :class:`ConvVAE` (put it in ``eval()`` mode; no gradients are kept).
        x: (B, 1, 28, 28) binary digits.
        num_samples: K, importance samples per example (the handout's K = 200).
        chunk: decoder evaluations per forward pass (examples x samples), to bound memory.

    Returns:
        (B,) the estimate per example, in nats.
    """
    out = []
    per_pass = max(1, chunk // num_samples)  # examples decoded together
    with torch.no_grad():
        for start in range(0, len(x), per_pass):
            batch = x[start:start + per_pass]  # (b, 1, 28, 28)
            size = len(batch)
            mu, logvar = model.encode(batch)  # (b, L)
            mu_k = mu.unsqueeze(1).expand(size, num_samples, -1)  # (b, K, L)
            logvar_k = logvar.unsqueeze(1).expand(size, num_samples, -1)
            z = mu_k + torch.exp(0.5 * logvar_k) * torch.randn_like(mu_k)  # (b, K, L)
            flat = lambda t: t.reshape(size * num_samples, -1)  # noqa: E731  (bK, L)
            logits = model.decode(flat(z))  # (bK, 1, 28, 28)
            targets = batch.unsqueeze(1).expand(size, num_samples, *batch.shape[1:]).reshape(logits.shape)
            log_px_z = bernoulli_log_likelihood_from_logits(logits, targets)  # (bK,)
            log_pz = log_likelihood_normal(torch.zeros_like(flat(z)), torch.zeros_like(flat(z)), flat(z))
            log_qz = log_likelihood_normal(flat(mu_k), flat(logvar_k), flat(z))  # (bK,)
            weights = (log_px_z + log_pz - log_qz).view(size, num_samples)  # (b, K)
            out.append(log_mean_exp(weights))
    return torch.cat(out)


def mean_and_standard_error(values) -> tuple[float, float]:
    """The mean of per-example values and its standard error (sample std / sqrt(N))."""
    values = np.asarray(values, dtype=np.float64)
    spread = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(spread)


# ============================================================================================
# Figures: the CS446 handout's three, and samples / reconstructions / ELBO curve of the L = 100 VAE
# ============================================================================================

# ASSIGNMENT: cs446-sp21
INTERPOLATION_ALPHAS = np.linspace(0.0, 1.0, 11)  # alpha = 0, 0.1, ..., 1 (CS446 2(e)iii)
# ASSIGNMENT: cs446-sp21
LATENT_POINTS = 10_000  # at most this many training digits in the latent scatter (the handout's first 10 000)


def _save(figure, path) -> list[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".pdf", ".png"):
        target = path.with_name(path.name + suffix)
        figure.savefig(target)
        written.append(target)
    return written


@torch.no_grad()
def visualize_data_space(model: VAE, path, count: int = 10) -> list[Path]:
    """CS446 2(e)i: ``count`` draws z ~ p(z); each row shows p(x|z) (grey levels) and one x ~ p(x|z).

    Written to ``<path>.pdf`` and ``.png``: a ``count`` x 2 grid, the distribution in the
    left column and a binary sample of it in the right.
    """
    from plots import save_image_grid

    device = next(model.parameters()).device
    zeros = torch.zeros(count, model.latent_dimension, device=device)
    z = model.sample_diagonal_gaussian(zeros, torch.ones_like(zeros))  # (count, Z) from the prior
    p = model.decoder(z)  # (count, D)
    x = model.sample_Bernoulli(p)  # (count, D)
    pairs = torch.stack([p, x], dim=1).reshape(2 * count, *IMAGE_SHAPE)  # rows: p, x, p, x, ...
    return save_image_grid(pairs.cpu(), path, nrow=2, value_range=(0.0, 1.0))


@torch.no_grad()
def visualize_latent_space(model: VAE, images: torch.Tensor, labels: torch.Tensor, path) -> list[Path]:
    """CS446 2(e)ii: the encoder's mean of each training digit, a point coloured by its class.

    Args:
        images: (N, D) or (N, 1, 28, 28) binary digits (the first LATENT_POINTS are drawn).
        labels: (N,) classes 0-9.
    """
    from matplotlib.figure import Figure

    device = next(model.parameters()).device
    images, labels = images[:LATENT_POINTS], np.asarray(labels[:LATENT_POINTS])
    mu, _ = model.encoder(images.reshape(len(images), -1).to(device))  # (N, 2)
    mu = mu.cpu().numpy()
    figure = Figure(figsize=(6.4, 5.6), layout="constrained")
    axes = figure.add_subplot()
    for digit in range(10):
        chosen = labels == digit
        axes.scatter(mu[chosen, 0], mu[chosen, 1], s=4, alpha=0.6, color=f"C{digit}", label=str(digit))
    axes.set_xlabel(r"$\mu_1$")
    axes.set_ylabel(r"$\mu_2$")
    axes.set_title(f"means of q(z|x) of {len(mu)} training digits")
    axes.legend(title="class", markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)


# ASSIGNMENT: cs446-sp21
def different_class_pairs(labels, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` pairs of indices whose labels differ, drawn with ``rng``."""
    labels = np.asarray(labels)
    pairs = []
    while len(pairs) < count:
        first, second = (int(i) for i in rng.choice(len(labels), size=2, replace=False))
        if labels[first] != labels[second]:
            pairs.append((first, second))
    return pairs


@torch.no_grad()
def visualize_inter_class_interpolation(model: VAE, images: torch.Tensor, labels, path, pairs: int = 3,
                                        seed: int = 0) -> list[Path]:
    r"""CS446 2(e)iii: p(x|z_alpha) along :math:`z_\alpha = \alpha\mu_a + (1-\alpha)\mu_b`, alpha = 0, 0.1, ..., 1.

    ``pairs`` pairs of training digits of different classes, one row each; the row runs from
    alpha = 0 (digit b) to alpha = 1 (digit a).
    """
    from plots import save_image_grid

    device = next(model.parameters()).device
    rows = []
    for first, second in different_class_pairs(labels, pairs, np.random.default_rng(seed)):
        mu, _ = model.encoder(images[[first, second]].reshape(2, -1).to(device))  # (2, Z)
        z = torch.stack([model.interpolate_mu(mu[0], mu[1], float(alpha)) for alpha in INTERPOLATION_ALPHAS])
        rows.append(model.decoder(z))  # (11, D)
    grid = torch.cat(rows).reshape(-1, *IMAGE_SHAPE)
    return save_image_grid(grid.cpu(), path, nrow=len(INTERPOLATION_ALPHAS), value_range=(0.0, 1.0))


@torch.no_grad()
def reconstructions(model, images: torch.Tensor, path, count: int = 32) -> list[Path]:
    """Digits and their reconstructions (the decoder's means at the encoder's mean), rows alternating.

    Works for both VAEs (each has ``reconstruct``): the CS446 :class:`VAE` and the :class:`ConvVAE`.
    """
    from plots import save_image_grid

    device = next(model.parameters()).device
    x = images[:count].to(device)
    rebuilt = model.reconstruct(x)  # same shape as x
    per_row = 8
    rows = []
    for start in range(0, len(x), per_row):
        rows += [x[start:start + per_row], rebuilt[start:start + per_row]]
    return save_image_grid(torch.cat(rows).cpu(), path, nrow=per_row, value_range=(0.0, 1.0))


# ASSIGNMENT: ift6135-a3
def elbo_curve(epochs, validation_elbo, path, train_elbo=None, target: float | None = -102.0) -> list[Path]:
    """The validation ELBO (nats per digit) against the epoch, with the handout's target line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(epochs, validation_elbo, marker="o", label="validation ELBO")
    if train_elbo is not None:
        axes.plot(*train_elbo, alpha=0.6, label="training ELBO (running mean)")
    if target is not None:
        axes.axhline(target, color="grey", linestyle="--", label=f"handout's target {target:g}")
    axes.set_xlabel("epoch")
    axes.set_ylabel("ELBO (nats per digit)")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, path)


# ============================================================================================
# Training with the kit's one loop (train.train): the two VAEs' recipes
# ============================================================================================
# Both minimise the negative ELBO in nats per digit ("loss" in metrics.csv), evaluate the
# validation ELBO (``val/elbo``) each epoch, and draw their figures under the run's figures/.

# ASSIGNMENT: ift6135-a3
IS_SAMPLES = 200  # K of the importance-sampled test log-likelihood (IFT6135 1.7)
# ASSIGNMENT: ift6135-a3
IS_SAMPLES_SMOKE = 10  # --smoke: a quick look only
SAMPLE_GRID = 64  # prior samples in the loop's sample grid


def split_tensors(dataset, limit: int | None = None, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``limit`` items of a split (all when None) as ``(images (N, 1, 28, 28), labels (N,))``."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    images, labels = [], []
    for x, y in loader:
        images.append(x)
        labels.append(y)
        if limit is not None and sum(len(chunk) for chunk in images) >= limit:
            break
    return torch.cat(images)[:limit], torch.cat(labels)[:limit]


def _descend(optimizers: dict, loss: torch.Tensor) -> None:
    optimizer = optimizers["model"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def split_elbo(per_example, model, dataset, device, batch_size: int = 500) -> np.ndarray:
    """``per_example(model, x) -> (B,)`` over every digit of a split, as a float64 array (N,)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    return np.concatenate([per_example(model, x.to(device)).cpu().numpy() for x, _ in loader]).astype(np.float64)


def _figure_name(name: str, run) -> str:
    return name if run.done else f"{name}_{run.step:06d}"


def _elbo_final(per_example, model, run) -> dict:
    """Validation and test ELBO per digit with their standard errors (nats)."""
    final = {}
    for name, dataset in (("val", run.data.validation), ("test", run.data.test)):
        if dataset is not None:
            mean, error = mean_and_standard_error(split_elbo(per_example, model, dataset, run.device))
            final.update({f"{name}/elbo": mean, f"{name}/elbo_se": error})
    return final


# ---- CS446: the 2-D Bernoulli VAE ------------------------------------------------------------


def cs446_elbo(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """(B,) the single-sample Monte-Carlo ELBO of each digit (the terms of ``elbo_loss``)."""
    flat = x.reshape(len(x), -1)  # (B, D)
    mu, sigma_square = model.encoder(flat)
    z = model.sample_z(mu, sigma_square)
    zeros = torch.zeros_like(mu)
    return (model.logpdf_bernoulli(flat, model.decoder(z)) + model.logpdf_diagonal_gaussian(z, zeros, zeros + 1)
            - model.logpdf_diagonal_gaussian(z, mu, sigma_square))


def cs446_step(config):
    """One Adam step on minus the graded ``elbo_loss`` of the batch (nats per digit)."""

    def step(batch, model: VAE, optimizers):
        x = batch["x"].reshape(len(batch["x"]), -1)  # (B, D) binary
        mu, sigma_square = model.encoder(x)
        z = model.sample_z(mu, sigma_square)
        elbo = model.elbo_loss(z, mu, sigma_square, x, model.decoder(z))
        _descend(optimizers, -elbo)
        return {"loss": -elbo.item()}

    return step


def cs446_samples(model: VAE, info, device) -> np.ndarray:
    """SAMPLE_GRID pixel-mean images decoded from z ~ N(0, I): (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        means = model.decoder(torch.randn(SAMPLE_GRID, model.latent_dimension, device=device))
    return means.reshape(-1, *IMAGE_SHAPE).cpu().numpy()


def cs446_validation(model: VAE, run) -> dict:
    """``val/elbo``: the mean single-sample ELBO per validation digit (nats)."""
    return {"val/elbo": float(split_elbo(cs446_elbo, model, run.data.validation, run.device).mean())}


def cs446_figures(model: VAE, run) -> None:
    """The handout's three figures (and reconstructions) of the trained model, at the end of the run."""
    if not run.done:
        return
    images, labels = split_tensors(run.data.train, LATENT_POINTS)
    visualize_data_space(model, run.figure_path("visualize_data_space"))
    visualize_latent_space(model, images, labels, run.figure_path("visualize_latent_space"))
    visualize_inter_class_interpolation(model, images, labels, run.figure_path("visualize_inter_class_interpolation"),
                                        seed=run.config.seed)
    reconstructions(model, split_tensors(run.data.validation, 32)[0], run.figure_path("reconstructions"))


def cs446_final(model: VAE, run) -> dict:
    return _elbo_final(cs446_elbo, model, run)


CS446_VAE = Recipe(optimizers=adam, step=cs446_step, samples=cs446_samples, sample_range=(0.0, 1.0),
                   figures=cs446_figures, evaluate=cs446_validation, final=cs446_final)


# ---- IFT6135: the L = 100 convolutional VAE --------------------------------------------------


def conv_vae_elbo(model: ConvVAE, x: torch.Tensor) -> torch.Tensor:
    """(B,) the ELBO of each digit (analytic KL, one sample of z)."""
    return model.elbo(x)


def conv_vae_step(config):
    """One Adam step on the negative mean ELBO of the batch (nats per digit)."""

    def step(batch, model: ConvVAE, optimizers):
        elbo = model.elbo(batch["x"]).mean()
        _descend(optimizers, -elbo)
        return {"loss": -elbo.item()}

    return step


def conv_vae_samples(model: ConvVAE, info, device) -> np.ndarray:
    """SAMPLE_GRID pixel-mean images decoded from z ~ N(0, I): (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        return model.sample(SAMPLE_GRID, device).cpu().numpy()


def conv_vae_validation(model: ConvVAE, run) -> dict:
    """``val/elbo``: the mean ELBO per validation digit (nats)."""
    return {"val/elbo": float(split_elbo(conv_vae_elbo, model, run.data.validation, run.device).mean())}


def conv_vae_figures(model: ConvVAE, run) -> None:
    """Reconstructions of validation digits with the figures, and the ELBO curve at the end."""
    images = split_tensors(run.data.validation, 32)[0]
    reconstructions(model, images, run.figure_path(_figure_name("reconstructions", run)))
    if run.done and run.steps_per_epoch:
        from plots import read_curves

        curves = read_curves(run.folder / "metrics.csv")
        if "val/elbo" in curves:
            steps, values = curves["val/elbo"]
            train_steps, losses = curves.get("loss", (np.array([]), np.array([])))
            elbo_curve(steps / run.steps_per_epoch, values, run.figure_path("elbo_curve"),
                       train_elbo=(train_steps / run.steps_per_epoch, -losses))


def conv_vae_final(model: ConvVAE, run) -> dict:
    """The ELBOs, and the test log-likelihood by importance sampling (K = IS_SAMPLES) with its time."""
    import time

    final = _elbo_final(conv_vae_elbo, model, run)
    samples = IS_SAMPLES_SMOKE if run.config.smoke else IS_SAMPLES
    images, _ = split_tensors(run.data.test)
    started = time.perf_counter()
    values = importance_sampled_log_likelihood(model, images.to(run.device), samples)
    seconds = time.perf_counter() - started
    mean, error = mean_and_standard_error(values.cpu().numpy())
    final.update({"test/log_likelihood": mean, "test/log_likelihood_se": error, "is_samples": samples,
                  "is_seconds": round(seconds, 2), "data": run.data.info.get("source", "")})
    return final


IFT6135_VAE = Recipe(optimizers=adam, step=conv_vae_step, samples=conv_vae_samples, sample_range=(0.0, 1.0),
                     figures=conv_vae_figures, evaluate=conv_vae_validation, final=conv_vae_final)
