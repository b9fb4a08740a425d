r"""A small convolutional GAN for MNIST: the DCGAN of UIUC CS 446 (homework 5, spring 2021 and 2024).

The discriminator ``DNet`` and the generator ``GNet`` follow the handout's two layer tables; the
losses are the original GAN objective (Goodfellow et al., 2014) written on the discriminator's
*logits* with binary cross-entropy:

.. math::

    L_D = -\frac1B \sum_{i} \log \sigma(h(x_i)) - \frac1B \sum_{i} \log\bigl(1 - \sigma(h(G(z_i)))\bigr),
    \qquad
    L_G = -\frac1B \sum_{i} \log \sigma(h(G(z_i))),

with :math:`h` the discriminator's logit and :math:`\sigma` the sigmoid. :math:`L_G` is the
non-saturating generator loss. Images are MNIST digits scaled to [0, 1] (the generator ends in a
sigmoid); the latent code is uniform on [-1, 1].

Conventions of this assignment (they differ from CS 236's and CSCD84's):

* ``DNet`` returns logits of shape (B, 1), no sigmoid;
* the caller draws the noise ``z`` and passes it in;
* the two terms of :math:`L_D` are two batch means, *summed* (the handout's objective, Eq. 1 of the
  2024 homework, is a sum of two expectations).

Letters used for shapes: B batch, Z latent width (``zdim``), images (B, 1, 28, 28).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import train

IMG_SHAPE = (1, 28, 28)  # (C, H, W) of an MNIST digit
ZDIM = 64  # Z: the handout's latent width

# DNet (the handout's Table 1): three 3x3 convolutions, two 2x2 max-pools, one linear layer.
D_CHANNELS = (2, 4, 8)  # output channels of the three convolutions
D_FLAT = D_CHANNELS[2] * 5 * 5  # 200: 28 -> pool 14 -> pool 7 -> conv without padding 5

# GNet (the handout's Table 2): a linear layer to a 32 x 7 x 7 map, two nearest-neighbour
# upsamplings, three 3x3 convolutions, a sigmoid.
G_START = (32, 7, 7)  # the linear layer's output, reshaped
G_FLAT = G_START[0] * G_START[1] * G_START[2]  # 1568
G_CHANNELS = (16, 8, 1)  # output channels of the three convolutions
LEAKY_SLOPE = 0.2  # negative slope of the generator's LeakyReLUs


class DNet(nn.Module):
    """The discriminator: image (B, 1, 28, 28) -> logit (B, 1). The handout's Table 1.

    ====  ==============  ======  ======  =======  ===============  ==================
    no.   layer           kernel  stride  padding  output channels  output (C, H, W)
    ====  ==============  ======  ======  =======  ===============  ==================
    1     Conv2d          3       1       1        2                (2, 28, 28)
    2     ReLU                                     2
    3     MaxPool2d       2       2                2                (2, 14, 14)
    4     Conv2d          3       1       1        4                (4, 14, 14)
    5     ReLU                                     4
    6     MaxPool2d       2       2                4                (4, 7, 7)
    7     Conv2d          3       1       0        8                (8, 5, 5)
    8     ReLU                                     8
    9     Linear                                   1                (1,)
    ====  ==============  ======  ======  =======  ===============  ==================

    Every convolution and the linear layer have a bias. Between layers 8 and 9 each example is
    flattened to a vector of 8 * 5 * 5 = 200 values. The output is a logit: no sigmoid.

    ``__init__`` defines the layers as submodules **in exactly the table's order** (the tests
    load weights in registration order, as the course's autograder did); nothing else has
    parameters. It does not initialise them: :meth:`_weight_init` does, when the GAN is built.
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION dcgan_dnet
        self.conv1 = nn.Conv2d(IMG_SHAPE[0], D_CHANNELS[0], kernel_size=3, stride=1, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(D_CHANNELS[0], D_CHANNELS[1], kernel_size=3, stride=1, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2d(D_CHANNELS[1], D_CHANNELS[2], kernel_size=3, stride=1, padding=0)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(D_FLAT, 1)
        # END SOLUTION

    def _weight_init(self) -> None:
        """Initialise every layer: Kaiming-uniform weights, zero biases (in place).

        Use ``torch.nn.init.kaiming_uniform_`` with its defaults (fan-in mode, gain √2, so each
        weight is drawn from U(-b, b) with b = √(6 / fan_in)) on the weight of every child
        layer that has one, and set every bias to zero. Layers without parameters (ReLU,
        pooling) are skipped. Iterate over ``self.children()``; never refer to a layer by
        name: the tests call this method on other stacks of layers too.
        """
        # BEGIN SOLUTION dcgan_weight_init
        for layer in self.children():
            if getattr(layer, "weight", None) is not None:
                nn.init.kaiming_uniform_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1) of images ``x`` (B, 1, 28, 28): the layers of the table, in order."""
        # BEGIN SOLUTION dcgan_dnet
        x = self.pool1(self.relu1(self.conv1(x)))  # (B, 2, 14, 14)
        x = self.pool2(self.relu2(self.conv2(x)))  # (B, 4, 7, 7)
        x = self.relu3(self.conv3(x))  # (B, 8, 5, 5)
        return self.fc(x.flatten(start_dim=1))  # (B, 200) -> (B, 1)
        # END SOLUTION


class GNet(nn.Module):
    """The generator: latent codes (B, Z) -> images (B, 1, 28, 28) in [0, 1]. The handout's Table 2.

    ====  ===================  ======  ======  =======  ====  ================
    no.   layer                kernel  stride  padding  bias  output (C, H, W)
    ====  ===================  ======  ======  =======  ====  ================
    1     Linear(Z -> 1568)                             yes   (1568,)
    2     LeakyReLU(0.2)
    3     Upsample(scale 2)                             no    (32, 14, 14)
    4     Conv2d               3       1       1        yes   (16, 14, 14)
    5     LeakyReLU(0.2)
    6     Upsample(scale 2)                             no    (16, 28, 28)
    7     Conv2d               3       1       1        yes   (8, 28, 28)
    8     LeakyReLU(0.2)
    9     Conv2d               3       1       1        yes   (1, 28, 28)
    10    Sigmoid
    ====  ===================  ======  ======  =======  ====  ================

    Between layers 2 and 3 each example is reshaped to (32, 7, 7) (channels, height, width;
    1568 = 32 * 7 * 7). The upsamplings are nearest-neighbour (``nn.Upsample``'s default).

    ``__init__(zdim)`` defines the layers as submodules **in exactly the table's order**; it does
    not initialise them (:meth:`_weight_init` does).
    """

    def __init__(self, zdim: int = ZDIM):
        super().__init__()
        self.zdim = zdim
        # BEGIN SOLUTION dcgan_gnet
        self.fc = nn.Linear(zdim, G_FLAT)
        self.lrelu1 = nn.LeakyReLU(LEAKY_SLOPE)
        self.up1 = nn.Upsample(scale_factor=2)
        self.conv1 = nn.Conv2d(G_START[0], G_CHANNELS[0], kernel_size=3, stride=1, padding=1)
        self.lrelu2 = nn.LeakyReLU(LEAKY_SLOPE)
        self.up2 = nn.Upsample(scale_factor=2)
        self.conv2 = nn.Conv2d(G_CHANNELS[0], G_CHANNELS[1], kernel_size=3, stride=1, padding=1)
        self.lrelu3 = nn.LeakyReLU(LEAKY_SLOPE)
        self.conv3 = nn.Conv2d(G_CHANNELS[1], G_CHANNELS[2], kernel_size=3, stride=1, padding=1)
        self.sigmoid = nn.Sigmoid()
        # END SOLUTION

    def _weight_init(self) -> None:
        """Initialise every layer as :meth:`DNet._weight_init` does (Kaiming-uniform weights, zero biases)."""
        # BEGIN SOLUTION dcgan_weight_init
        DNet._weight_init(self)  # the same rule, layer by layer
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [0, 1] from latent codes ``z`` (B, Z): the table, in order."""
        # BEGIN SOLUTION dcgan_gnet
        x = self.lrelu1(self.fc(z))  # (B, 1568)
        x = self.up1(x.view(len(z), *G_START))  # (B, 32, 14, 14)
        x = self.up2(self.lrelu2(self.conv1(x)))  # (B, 16, 28, 28)
        x = self.lrelu3(self.conv2(x))  # (B, 8, 28, 28)
        return self.sigmoid(self.conv3(x))  # (B, 1, 28, 28)
        # END SOLUTION


class GAN(nn.Module):
    """The DCGAN: ``disc`` (a :class:`DNet`) and ``gen`` (a :class:`GNet`), both initialised by
    their ``_weight_init``, and the two losses.

    The members ``generator``, ``discriminator``, ``sample_noise``, ``generate`` and
    ``discriminate`` are what the kit's training loop uses (``python main.py --model dcgan``).
    """

    def __init__(self, zdim: int = ZDIM):
        super().__init__()
        self.zdim = zdim
        self.disc = DNet()
        self.gen = GNet(zdim)
        self.disc._weight_init()
        self.gen._weight_init()

    sample_range = (0.0, 1.0)  # the generator's images lie in [0, 1] (metrics rescale them)

    @property
    def generator(self) -> GNet:
        return self.gen

    @property
    def discriminator(self) -> DNet:
        return self.disc

    def sample_noise(self, batch_size: int) -> torch.Tensor:
        """Latent codes (B, Z), uniform on [-1, 1] as in the handout's training code."""
        return 2 * torch.rand(batch_size, self.zdim) - 1

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.gen(z)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        return self.disc(x)

    def _get_loss_d(self, batch_size: int, batch_data: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""The discriminator's loss on one batch: binary cross-entropy on logits, real vs. generated.

        .. math::

            L_D = \underbrace{-\frac1B \sum_{i=1}^{B} \log \sigma(h_i^{real})}_{\text{BCE, target 1}}
                  \;\underbrace{-\,\frac1B \sum_{i=1}^{B} \log\bigl(1 - \sigma(h_i^{fake})\bigr)}_{\text{BCE, target 0}},
            \qquad h^{real} = \mathrm{disc}(x), \quad h^{fake} = \mathrm{disc}(\mathrm{gen}(z)).

        The two batch means are **added**, not averaged (the objective is a sum of two
        expectations): at logits 0 the loss is 2 log 2. Compute it from the logits with
        ``torch.nn.BCEWithLogitsLoss`` (or ``F.binary_cross_entropy_with_logits``): it stays finite
        at logits of ±50 and beyond, where ``log(sigmoid(.))`` or ``log(1 - sigmoid(.))`` gives
        inf. The targets have the logits' shape (B, 1).

        Args:
            batch_size: B, the number of real images and of latent codes.
            batch_data: real images (B, 1, 28, 28) in [0, 1].
            z: latent codes (B, Z), drawn by the caller.

        Returns:
            A scalar tensor (shape ``()``), differentiable with respect to the discriminator's
            parameters. Whether gradients also reach the generator does not matter: the caller
            steps only the discriminator with it (detaching ``gen(z)`` saves work).
        """
        # BEGIN SOLUTION dcgan_loss_d
        bce = nn.BCEWithLogitsLoss()  # mean over the batch of -[y log s(h) + (1 - y) log(1 - s(h))]
        real_logits = self.disc(batch_data)  # (B, 1)
        fake_logits = self.disc(self.gen(z).detach())  # (B, 1)
        ones = torch.ones(batch_size, 1, device=real_logits.device)
        zeros = torch.zeros(batch_size, 1, device=real_logits.device)
        return bce(real_logits, ones) + bce(fake_logits, zeros)
        # END SOLUTION

    def _get_loss_g(self, batch_size: int, z: torch.Tensor) -> torch.Tensor:
        r"""The generator's (non-saturating) loss: generated images labelled real.

        .. math:: L_G = -\frac1B \sum_{i=1}^{B} \log \sigma\bigl(\mathrm{disc}(\mathrm{gen}(z_i))\bigr)

        Binary cross-entropy on the logits with target 1, a mean over the batch (log 2 at
        logits 0). Use ``BCEWithLogitsLoss`` so that it stays finite for very negative logits.

        Args:
            batch_size: B, the number of latent codes.
            z: latent codes (B, Z).

        Returns:
            A scalar tensor (shape ``()``), differentiable with respect to the generator's
            parameters (through the discriminator, which is not updated with it).
        """
        # BEGIN SOLUTION dcgan_loss_g
        logits = self.disc(self.gen(z))  # (B, 1)
        ones = torch.ones(batch_size, 1, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, ones)
        # END SOLUTION


# ------------------------------------------------------------------------------------------------
# Training with the kit's loop (python main.py --model dcgan)
# ------------------------------------------------------------------------------------------------


def optimizers(model: GAN, config) -> dict:
    """Adam for each network (the handout: learning rate 2e-4, torch's default betas)."""
    betas = (config.beta1, config.beta2)
    return {"discriminator": torch.optim.Adam(model.disc.parameters(), lr=config.lr_discriminator, betas=betas),
            "generator": torch.optim.Adam(model.gen.parameters(), lr=config.lr_generator, betas=betas)}


def make_batch(images: torch.Tensor, labels: torch.Tensor, model: GAN, device) -> dict:
    """Real images (B, 1, 28, 28) in [0, 1] and two batches of latent codes: as in the handout's
    training code, each update draws its own (``noise`` for the discriminator, ``noise_g`` for the
    generator), uniform on [-1, 1]."""
    size = len(images)
    return {"x": images, "noise": model.sample_noise(size).to(device), "noise_g": model.sample_noise(size).to(device)}


def step(config):
    """One discriminator update on ``_get_loss_d``, then one generator update on ``_get_loss_g``."""
    _optimise = train._optimise  # zero the gradients, backpropagate, step; returns the gradient norm

    def train_step(batch: dict, model: GAN, optimizer: dict) -> dict:
        size = len(batch["x"])
        loss_d = model._get_loss_d(size, batch["x"], batch["noise"])
        d_norm = _optimise(optimizer["discriminator"], loss_d, model.disc.parameters())
        loss_g = model._get_loss_g(size, batch["noise_g"])
        g_norm = _optimise(optimizer["generator"], loss_g, model.gen.parameters())
        return {"discriminator_loss": loss_d.item(), "generator_loss": loss_g.item(),
                "grad_norm/discriminator": d_norm, "grad_norm/generator": g_norm}

    return train_step


RECIPE = train.Recipe(optimizers=optimizers, step=step, make_batch=make_batch, samples=train.gan_samples,
                      sample_range=(0.0, 1.0), final=train.frechet_distance)
