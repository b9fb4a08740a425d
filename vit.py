r"""A GAN whose generator (and optionally discriminator) is a vision transformer.

CSCD84 Assignment 4, section 2. The vision transformer (ViT, Dosovitskiy et al., 2021) cuts a
28x28 image into a 4x4 grid of 7x7 patches, embeds each patch linearly, puts a learned class
token in front, adds learned position encodings, and runs pre-LN transformer blocks (the GPT-2
arrangement, Radford et al., 2019):

.. math::

    x \leftarrow x + \mathrm{MHA}(\mathrm{LN}_1(x)), \qquad
    x \leftarrow x + W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}_2(x) + b_1) + b_2 .

The generator (the handout's Figure 3) runs the same network backwards in spirit: its latent is
a sequence of 17 Gaussian tokens, linearly embedded; the first plays the class token and the
other 16 the patch tokens. After the blocks, a small MLP turns each of the 16 patch tokens into
49 pixels, the patches are put back in their grid, and tanh maps the pixels to [-1, 1].

Letters used for shapes:
    B batch, N = 16 patches, T = N + 1 = 17 tokens, D embedding width (``embed_dim``),
    P = 7 patch side; images are (B, 1, 28, 28) and a flattened patch has 1 * P * P = 49 pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlp import MLPDiscriminator

IMG_DIM = (1, 28, 28)  # (channels, height, width) of an MNIST image
PATCH_SIZE = 7  # P: patches are P x P pixels
PATCHES_PER_SIDE = IMG_DIM[1] // PATCH_SIZE  # 4 patches along each side
NUM_PATCHES = PATCHES_PER_SIDE**2  # N = 16
NUM_TOKENS = NUM_PATCHES + 1  # T = 17: the class token, then the patches
PATCH_DIM = IMG_DIM[0] * PATCH_SIZE**2  # 49 pixels per patch
PATCH_MLP_HIDDEN = PATCH_DIM // 2  # 24: hidden width of the generator's token -> patch MLP
# Std of the initial class token and position encodings. The original starter code draws them from
# a standard normal; ViT code usually takes 0.02, and so did this kit at first, which made its ViT
# WGAN-GP learn more slowly than the original's: position encodings some 30 times smaller than the
# embedded latent tokens leave the generator's 16 patch positions almost indistinguishable at the
# start. With std 0.02 the median Fréchet distance over seeds 0-2 was 585 after 500 steps and 305
# after 1 000, with std 1 it was 335 and 283 (one thread, bench/bench_gan.py). With the original's
# scale, build order (ViTGAN) and attention call (TransformerEncoder), the kit's ViTGAN now trains
# weight for weight as the original code does; the bench's docstring gives the numbers.
INIT_STD = 1.0

DISCRIMINATORS = ("vit", "mlp")  # the choices of ViTGAN's ``discriminator``


def patchify(images: torch.Tensor) -> torch.Tensor:
    """Cut images (B, 1, 28, 28) into their flattened patches (B, N, 49).

    Patches are numbered row by row (patch ``n`` is grid row ``n // 4``, column ``n % 4``) and
    each is flattened channel, then row, then column.
    """
    B, C, height, width = images.shape
    if (C, height, width) != IMG_DIM:
        raise ValueError(f"expected images of shape (batch, {', '.join(map(str, IMG_DIM))}), got {tuple(images.shape)}")
    grid = images.reshape(B, C, PATCHES_PER_SIDE, PATCH_SIZE, PATCHES_PER_SIDE, PATCH_SIZE)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (B, grid row, grid col, C, P, P)
    return grid.reshape(B, NUM_PATCHES, PATCH_DIM)  # (B, N, 49)


def unpatchify(patches: torch.Tensor) -> torch.Tensor:
    """Put flattened patches (B, N, 49) back into images (B, 1, 28, 28): the inverse of :func:`patchify`."""
    B = patches.shape[0]
    if tuple(patches.shape[1:]) != (NUM_PATCHES, PATCH_DIM):
        raise ValueError(f"expected patches of shape (batch, {NUM_PATCHES}, {PATCH_DIM}), got {tuple(patches.shape)}")
    grid = patches.reshape(B, PATCHES_PER_SIDE, PATCHES_PER_SIDE, IMG_DIM[0], PATCH_SIZE, PATCH_SIZE)
    grid = grid.permute(0, 3, 1, 4, 2, 5)  # (B, C, grid row, P, grid col, P)
    return grid.reshape(B, *IMG_DIM)  # (B, 1, 28, 28)


class TransformerEncoder(nn.Module):
    """One pre-LN transformer block (as in GPT-2) without a causal mask.

    Args:
        embed_dim: D.
        num_heads: H; must divide D.
        widening_factor: the MLP's hidden width is ``widening_factor * D``.

    Attributes:
        ln_1, ln_2: ``nn.LayerNorm(D)`` before the attention and before the MLP.
        attention: ``nn.MultiheadAttention(D, H, dropout=0, batch_first=True)``.
        mlp_1: ``nn.Linear(D, widening_factor * D)``; mlp_2: ``nn.Linear(widening_factor * D, D)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, widening_factor: int = 4) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(embed_dim)
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, batch_first=True)
        self.ln_2 = nn.LayerNorm(embed_dim)
        self.mlp_1 = nn.Linear(embed_dim, embed_dim * widening_factor)
        self.mlp_2 = nn.Linear(embed_dim * widening_factor, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r"""Apply the block to a batch of token sequences.

        .. math::

            y = x + \mathrm{Attn}(\mathrm{LN}_1(x), \mathrm{LN}_1(x), \mathrm{LN}_1(x)), \qquad
            \mathrm{out} = y + \mathrm{mlp}_2(\mathrm{GELU}(\mathrm{mlp}_1(\mathrm{LN}_2(y))))

        Each sub-layer reads a layer-normalised copy of the stream and adds its result back to
        the un-normalised stream (pre-LN, with residual connections). The attention is
        self-attention (queries, keys and values are all ``ln_1(x)``), over the tokens of each
        sequence separately (``self.attention`` is batch-first), with no mask; it returns a pair
        whose first element is the attended output. GELU is the exact (erf) one,
        ``torch.nn.functional.gelu``.

        Args:
            x: tokens (B, T, D).

        Returns:
            Tokens (B, T, D).
        """
        # BEGIN SOLUTION transformer_encoder
        # The attention is called as in the original course code, need_weights left at its
        # default (True): nn.MultiheadAttention then computes the attention weights explicitly
        # (and returns their average over heads, unused here). need_weights=False would use a
        # fused kernel, as fast here and equal to 1e-6, but rounding differently, which gives
        # another GAN run for the same seed. So a seed gives the original's run, weight for weight.
        h = self.ln_1(x)  # (B, T, D)
        attended, _ = self.attention(h, h, h)  # (B, T, D)
        x = x + attended  # residual around the attention
        h = self.ln_2(x)  # (B, T, D)
        x = x + self.mlp_2(F.gelu(self.mlp_1(h)))  # residual around the MLP, (B, T, D)
        return x
        # END SOLUTION


class VisionTransformer(nn.Module):
    """Patch embedding, class token, position encodings and a stack of transformer blocks.

    Args:
        embed_dim: D.
        num_blocks: how many :class:`TransformerEncoder` blocks.
        num_heads: H, per block.
        widening_factor: of each block's MLP.

    Attributes:
        num_tokens: T = 17.
        linear_proj: ``nn.Linear(49, D)``, the embedding of a flattened patch.
        cls_token: learned class token (1, 1, D).
        pos_encoding: learned position encodings (1, T, D); row 0 belongs to the class token.
        transformer_blocks: ``nn.Sequential`` of the blocks.
    """

    def __init__(self, embed_dim: int, num_blocks: int, num_heads: int, widening_factor: int = 4) -> None:
        super().__init__()
        self.num_tokens = NUM_TOKENS
        # A linear map of flattened patches; a Conv2d with kernel = stride = P would do the same.
        self.linear_proj = nn.Linear(PATCH_DIM, embed_dim)
        self.cls_token = nn.Parameter(INIT_STD * torch.randn(1, 1, embed_dim))
        # Learned encodings, one per position (sinusoidal or rotary ones are common alternatives).
        self.pos_encoding = nn.Parameter(INIT_STD * torch.randn(1, NUM_TOKENS, embed_dim))
        self.transformer_blocks = nn.Sequential(
            *(TransformerEncoder(embed_dim, num_heads, widening_factor) for _ in range(num_blocks))
        )

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """Flattened patches (B, N, 49) of images (B, 1, 28, 28); see the module-level :func:`patchify`."""
        return patchify(images)

    def _check_inputs(self, x: torch.Tensor, cls_token: torch.Tensor | None) -> None:
        """Raise a ValueError naming the problem when ``forward`` cannot use its inputs."""
        embed_dim = self.cls_token.shape[-1]
        if cls_token is None:
            if x.dim() != 4 or tuple(x.shape[1:]) != IMG_DIM:
                raise ValueError(
                    f"without cls_token, x must be images (batch, {', '.join(map(str, IMG_DIM))}), got {tuple(x.shape)}"
                )
            return
        if x.dim() != 3 or tuple(x.shape[1:]) != (NUM_PATCHES, embed_dim):
            raise ValueError(
                f"with cls_token, x must be patch tokens (batch, {NUM_PATCHES}, {embed_dim}), got {tuple(x.shape)}"
            )
        if tuple(cls_token.shape) != (x.shape[0], 1, embed_dim):
            raise ValueError(f"cls_token must have shape ({x.shape[0]}, 1, {embed_dim}), got {tuple(cls_token.shape)}")

    def forward(self, x: torch.Tensor, cls_token: torch.Tensor | None = None) -> torch.Tensor:
        r"""Run the transformer on images, or on patch tokens with a given class token.

        .. math::

            z_0 = [\,x_{\mathrm{cls}};\ x_1;\ \dots;\ x_N\,] + E_{\mathrm{pos}}, \qquad
            \mathrm{out} = \mathrm{blocks}(z_0)

        * If ``cls_token`` is None, ``x`` is a batch of images: cut it into patches with
          :func:`patchify` (B, N, 49), embed them with ``self.linear_proj`` (B, N, D), and use
          the stored ``self.cls_token``, repeated over the batch (B, 1, D).
        * Otherwise ``x`` already holds the N patch tokens and ``cls_token`` the class tokens;
          use them as they are (the stored ``self.cls_token`` is not used).

        Then put the class token **in front** of the patch tokens (token 0, giving T = N + 1
        tokens), add ``self.pos_encoding`` to the whole sequence (row 0 to the class token,
        row n to patch n), and apply ``self.transformer_blocks``.

        Args:
            x: images (B, 1, 28, 28), or patch tokens (B, N, D) when ``cls_token`` is given.
            cls_token: None, or class tokens (B, 1, D).

        Returns:
            Tokens (B, T, D); token 0 is the class token's output.
        """
        self._check_inputs(x, cls_token)
        # BEGIN SOLUTION vision_transformer
        if cls_token is None:
            tokens = self.linear_proj(patchify(x))  # (B, N, D)
            cls_token = self.cls_token.expand(len(x), -1, -1)  # (B, 1, D)
        else:
            tokens = x  # (B, N, D)
        tokens = torch.cat([cls_token, tokens], dim=1)  # (B, T, D), class token first
        tokens = tokens + self.pos_encoding  # (B, T, D), one encoding per position
        return self.transformer_blocks(tokens)  # (B, T, D)
        # END SOLUTION


class ViTDiscriminator(nn.Module):
    """Image -> logit: a :class:`VisionTransformer`, then a linear read-out of the class token.

    ``forward(images)`` takes images (B, 1, 28, 28) and returns logits (B, 1).

    Attributes:
        vit: the :class:`VisionTransformer`.
        out: ``nn.Linear(D, 1)`` applied to the output of token 0.
    """

    def __init__(self, embed_dim: int, num_blocks: int, num_heads: int, widening_factor: int = 4) -> None:
        super().__init__()
        self.vit = VisionTransformer(embed_dim, num_blocks, num_heads, widening_factor)
        self.out = nn.Linear(embed_dim, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.vit(images)  # (B, T, D)
        return self.out(tokens[:, 0])  # (B, 1): only the class token is read


class ViTGenerator(nn.Module):
    """Latent tokens -> image, following the handout's Figure 3.

    ``forward(noise)`` takes latent tokens (B, T, D), usually standard Gaussian, and returns
    images (B, 1, 28, 28) with values in [-1, 1].

    Attributes:
        embed_dim: D.
        noise_embed: ``nn.Linear(D, D)``, the noise mapping applied to every latent token.
        vit: the :class:`VisionTransformer`; it is given the embedded tokens (its own
            ``linear_proj`` and ``cls_token`` are not used).
        out: per-token MLP D -> 24 -> LeakyReLU -> 49, from a patch token to a patch's pixels.
    """

    def __init__(self, embed_dim: int, num_blocks: int = 2, num_heads: int = 4, widening_factor: int = 2) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.vit = VisionTransformer(embed_dim, num_blocks, num_heads, widening_factor)
        self.noise_embed = nn.Linear(embed_dim, embed_dim)
        self.out = nn.Sequential(
            nn.Linear(embed_dim, PATCH_MLP_HIDDEN),
            nn.LeakyReLU(),
            nn.Linear(PATCH_MLP_HIDDEN, PATCH_DIM),
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        if noise.dim() != 3 or tuple(noise.shape[1:]) != (NUM_TOKENS, self.embed_dim):
            raise ValueError(f"expected latent tokens (batch, {NUM_TOKENS}, {self.embed_dim}), got {tuple(noise.shape)}")
        tokens = self.noise_embed(noise)  # (B, T, D)
        # Latent token 0 acts as the class token, the other N as the patch tokens.
        tokens = self.vit(tokens[:, 1:], cls_token=tokens[:, :1])  # (B, T, D)
        patches = self.out(tokens[:, 1:])  # (B, N, 49): the class token's output is dropped
        return torch.tanh(unpatchify(patches))  # (B, 1, 28, 28), pixels in [-1, 1]


class ViTGAN(nn.Module):
    """A ViT generator with a ViT or an MLP discriminator, driven by the shared training loop.

    Args:
        embed_dim: D of the generator (and of the ViT discriminator).
        discriminator: ``"vit"`` for ``ViTDiscriminator(D, 2 blocks, 4 heads, widening 4)`` or
            ``"mlp"`` for :class:`mlp.MLPDiscriminator` (case does not matter: the original
            starter code spelled them ``"ViT"`` and ``"MLP"``).

    Attributes:
        generator: ``ViTGenerator(D, 2 blocks, 4 heads, widening 2)``.
        discriminator: as chosen above.
    """

    def __init__(self, embed_dim: int = 64, discriminator: str = "vit") -> None:
        super().__init__()
        choice = discriminator.lower()
        if choice not in DISCRIMINATORS:
            raise ValueError(f"unknown discriminator {discriminator!r}; valid choices: {', '.join(DISCRIMINATORS)}")
        self.embed_dim = embed_dim
        # The discriminator is built first, as in the original starter code, so that one seed gives
        # the same initial weights as there and runs can be compared seed for seed (which network
        # draws its weights first changes every weight a seed gives, not how fast either learns).
        if choice == "vit":
            self.discriminator = ViTDiscriminator(embed_dim, num_blocks=2, num_heads=4, widening_factor=4)
        else:
            self.discriminator = MLPDiscriminator()
        self.generator = ViTGenerator(embed_dim, num_blocks=2, num_heads=4, widening_factor=2)

    def sample_noise(self, batch_size: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard Gaussian latent tokens (B, T, D) for :meth:`generate`; ``generator`` makes them reproducible."""
        return torch.randn(batch_size, NUM_TOKENS, self.embed_dim, device=device, generator=generator)

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [-1, 1] from latent tokens (B, T, D)."""
        return self.generator(noise)

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1) of images (B, 1, 28, 28)."""
        return self.discriminator(images)
