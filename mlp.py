"""A GAN made of multilayer perceptrons: the baseline of CSCD84 Assignment 4 (provided code).

Both networks see an image as a flat vector of C*H*W = 784 pixels. The generator ends in tanh,
so its samples lie in [-1, 1] like the normalised MNIST images; the discriminator returns one
logit per image (no sigmoid: the losses in ``train.py`` take logits).

Letters used for shapes: B batch, Z noise width, C/H/W image channels/height/width.

Nothing here is graded. ``vit.ViTGAN`` exposes the same four members (``generator``,
``discriminator``, ``sample_noise``, ``generate``/``discriminate``), so the training loop can
use either model unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

IMG_DIM = (1, 28, 28)  # (C, H, W) of an MNIST image
FLAT_IMG_DIM = math.prod(IMG_DIM)  # 784 pixels per image

# Discriminator: two hidden layers as wide as the image, then one logit.
DISC_HIDDEN = FLAT_IMG_DIM

# Generator: the noise is widened in steps to a quarter, a half, then the whole image.
GEN_HIDDEN_1 = FLAT_IMG_DIM // 4  # 196
GEN_HIDDEN_2 = FLAT_IMG_DIM // 2  # 392
GEN_LEAKY_SLOPE = 0.2  # negative slope of the generator's LeakyReLUs

DEFAULT_NOISE_DIM = 100  # Z of MLPGAN's noise vectors


class MLPDiscriminator(nn.Module):
    """Image -> logit: flatten, 784 -> 784 ReLU -> 784 -> 784 ReLU -> 784 -> 1.

    ``forward(images)`` takes images (B, C, H, W) and returns logits (B, 1): large values mean
    "real" under the vanilla GAN loss; a WGAN critic reads them as scores.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),  # (B, C*H*W)
            nn.Linear(FLAT_IMG_DIM, DISC_HIDDEN),
            nn.ReLU(),
            nn.Linear(DISC_HIDDEN, DISC_HIDDEN),
            nn.ReLU(),
            nn.Linear(DISC_HIDDEN, 1),  # (B, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class MLPGenerator(nn.Module):
    """Noise -> image: Z -> 196 LeakyReLU -> 392 LeakyReLU -> 784 -> tanh, as (B, 1, 28, 28).

    ``forward(noise)`` takes noise (B, Z) and returns images (B, C, H, W) with values in [-1, 1].
    """

    def __init__(self, noise_dim: int = DEFAULT_NOISE_DIM) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.net = nn.Sequential(
            nn.Linear(noise_dim, GEN_HIDDEN_1),
            nn.LeakyReLU(GEN_LEAKY_SLOPE),
            nn.Linear(GEN_HIDDEN_1, GEN_HIDDEN_2),
            nn.LeakyReLU(GEN_LEAKY_SLOPE),
            nn.Linear(GEN_HIDDEN_2, FLAT_IMG_DIM),
            nn.Tanh(),  # pixels in [-1, 1], the range of the normalised data
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise).reshape(len(noise), *IMG_DIM)  # (B, C, H, W)


class MLPGAN(nn.Module):
    """The generator/discriminator pair the training loop drives.

    Attributes:
        generator: an :class:`MLPGenerator` of noise width ``noise_dim``.
        discriminator: an :class:`MLPDiscriminator`.
    """

    def __init__(self, noise_dim: int = DEFAULT_NOISE_DIM) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.generator = MLPGenerator(noise_dim)
        self.discriminator = MLPDiscriminator()

    def sample_noise(self, batch_size: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard Gaussian noise (B, Z) for :meth:`generate`; ``generator`` makes it reproducible."""
        return torch.randn(batch_size, self.noise_dim, device=device, generator=generator)

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [-1, 1] from noise (B, Z)."""
        return self.generator(noise)

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1) of images (B, 1, 28, 28)."""
        return self.discriminator(images)
