"""Public tests of ``vit.py`` (and of the provided ``mlp.py``): reference outputs and properties.

Run one task's tests with ``pytest --task transformer_encoder`` or ``--task vision_transformer``.
Tests without a task check provided code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.cases_vit import CASES
from tests.harness import case_params, check_case, check_promises, devices, fill_parameters

ENCODER = "transformer_encoder"
VIT = "vision_transformer"


def filled(module, seed: int = 0):
    """The module with every parameter drawn from NumPy (never torch's initialisation)."""
    fill_parameters(module, np.random.default_rng(seed))
    return module


def tensor(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.from_numpy(scale * rng.normal(size=shape).astype(np.float32))


def encoder(embed_dim=8, num_heads=2, widening_factor=2, seed=0):
    from vit import TransformerEncoder

    return filled(TransformerEncoder(embed_dim, num_heads, widening_factor), seed)


def vision_transformer(embed_dim=8, num_blocks=1, num_heads=2, seed=0):
    from vit import VisionTransformer

    return filled(VisionTransformer(embed_dim, num_blocks, num_heads, widening_factor=2), seed)


def assert_close(got, want, what: str, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Compare two tensors; ``what`` says which function and which property failed."""
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def zero_(*layers):
    with torch.no_grad():
        for layer in layers:
            for param in layer.parameters():
                param.zero_()


@pytest.mark.parametrize("case", case_params(CASES))
@torch.no_grad()
def test_reference_values(case):
    check_case("vit", case)


# --- TransformerEncoder.forward --------------------------------------------------------------

@pytest.mark.task(ENCODER)
@torch.no_grad()
def test_encoder_keeps_the_shape():
    out = encoder(embed_dim=12, num_heads=3)(tensor(np.random.default_rng(0), 2, 5, 12))
    assert tuple(out.shape) == (2, 5, 12), (
        f"TransformerEncoder: output shape {tuple(out.shape)}, expected (B, T, D) = (2, 5, 12)"
    )


@pytest.mark.task(ENCODER)
@torch.no_grad()
@pytest.mark.parametrize("device", devices())
def test_encoder_keeps_the_inputs_dtype_and_device(device):
    block = encoder(embed_dim=8, num_heads=2).to(device, torch.float64)
    x = tensor(np.random.default_rng(0), 2, 5, 8).to(device, torch.float64)
    check_promises("TransformerEncoder", block(x), shape=(2, 5, 8), like=x)


@pytest.mark.task(ENCODER)
@torch.no_grad()
def test_encoder_is_the_identity_when_both_branches_output_zero():
    # Pre-LN: out = x + Attn(LN(x)) + MLP(...). With the last layer of each branch zeroed the
    # block must return x unchanged; a post-LN block would return LN(x), one without residuals 0.
    block = encoder()
    zero_(block.attention.out_proj, block.mlp_2)
    x = tensor(np.random.default_rng(1), 2, 6, 8, scale=3.0)
    assert_close(block(x), x, "TransformerEncoder: with zero branch outputs the block must be the identity "
                 "(pre-LN with residuals)", rtol=1e-6, atol=1e-6)


@pytest.mark.task(ENCODER)
@torch.no_grad()
@pytest.mark.parametrize("silenced", ["mlp", "attention"])
def test_encoder_branches_read_layer_normalised_tokens(silenced):
    # LN(a * x + b) = LN(x) for any a > 0 and b per token, so with the other branch silenced,
    # out - x must not change when every token is rescaled and shifted.
    block = encoder()
    zero_(block.mlp_2 if silenced == "mlp" else block.attention.out_proj)
    rng = np.random.default_rng(2)
    x = tensor(rng, 2, 5, 8)
    scale = torch.from_numpy(rng.uniform(0.5, 4.0, size=(2, 5, 1)).astype(np.float32))
    shift = torch.from_numpy(rng.normal(size=(2, 5, 1)).astype(np.float32))
    moved = scale * x + shift
    branch = "attention" if silenced == "mlp" else "MLP"
    assert_close(block(moved) - moved, block(x) - x, f"TransformerEncoder: the {branch} branch must read the "
                 "layer-normalised tokens (ln_1 / ln_2 before the sub-layer)", rtol=1e-4, atol=1e-4)


@pytest.mark.task(ENCODER)
@torch.no_grad()
def test_encoder_treats_tokens_as_a_set():
    # No mask and no positions inside the block: reordering tokens reorders the output.
    block = encoder()
    rng = np.random.default_rng(3)
    x = tensor(rng, 2, 7, 8)
    order = torch.from_numpy(rng.permutation(7))
    assert_close(block(x[:, order]), block(x)[:, order],
                 "TransformerEncoder: permuting the tokens must permute the output the same way")


@pytest.mark.task(ENCODER)
@torch.no_grad()
def test_encoder_attends_within_each_sequence():
    # self.attention is batch-first: sequence b must not see sequence b' (batch axis misuse).
    block = encoder()
    x = tensor(np.random.default_rng(4), 3, 5, 8)
    alone = torch.cat([block(x[b:b + 1]) for b in range(3)])
    assert_close(block(x), alone, "TransformerEncoder: a sequence's output depends on the other sequences of the batch")


# --- VisionTransformer.forward -----------------------------------------------------------------

@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_output_shapes():
    model = vision_transformer(embed_dim=8)
    rng = np.random.default_rng(5)
    from_images = model(tensor(rng, 2, 1, 28, 28))
    from_tokens = model(tensor(rng, 3, 16, 8), cls_token=tensor(rng, 3, 1, 8))
    assert tuple(from_images.shape) == (2, 17, 8), (
        f"VisionTransformer(images): shape {tuple(from_images.shape)}, expected (2, 17, 8)"
    )
    assert tuple(from_tokens.shape) == (3, 17, 8), (
        f"VisionTransformer(tokens, cls_token): shape {tuple(from_tokens.shape)}, expected (3, 17, 8)"
    )


@pytest.mark.task(VIT)
@torch.no_grad()
@pytest.mark.parametrize("device", devices())
def test_vit_keeps_the_inputs_dtype_and_device(device):
    model = vision_transformer(embed_dim=8).to(device, torch.float64)
    rng = np.random.default_rng(5)
    images = tensor(rng, 2, 1, 28, 28).to(device, torch.float64)
    tokens, cls = (t.to(device, torch.float64) for t in (tensor(rng, 3, 16, 8), tensor(rng, 3, 1, 8)))
    check_promises("VisionTransformer(images)", model(images), shape=(2, 17, 8), like=images)
    check_promises("VisionTransformer(tokens, cls_token)", model(tokens, cls_token=cls), shape=(3, 17, 8), like=tokens)


@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_without_blocks_is_class_token_then_patches_plus_positions():
    # With no blocks, the output is exactly the block stack's input: [cls; x_1..x_N] + E_pos.
    model = vision_transformer(embed_dim=8, num_blocks=0)
    rng = np.random.default_rng(6)
    tokens, cls = tensor(rng, 2, 16, 8), tensor(rng, 2, 1, 8)
    expected = torch.cat([cls, tokens], dim=1) + model.pos_encoding
    assert_close(model(tokens, cls_token=cls), expected, "VisionTransformer: expected the class token first, then "
                 "the patch tokens, plus pos_encoding row by row", rtol=1e-6, atol=1e-6)


@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_embeds_the_patches_of_images_in_order():
    from vit import patchify

    model = vision_transformer(embed_dim=8, num_blocks=0)
    images = tensor(np.random.default_rng(7), 2, 1, 28, 28)
    out = model(images)
    patches = model.linear_proj(patchify(images))  # (B, N, D)
    assert_close(out[:, 1:], patches + model.pos_encoding[:, 1:], "VisionTransformer(images): token n must be "
                 "linear_proj of patch n (use patchify) plus pos_encoding[:, n]")
    stored = (model.cls_token + model.pos_encoding[:, :1]).expand(2, -1, -1)
    assert_close(out[:, :1], stored, "VisionTransformer(images): token 0 must be the stored cls_token plus "
                 "pos_encoding[:, 0]", rtol=1e-6, atol=1e-6)


@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_uses_the_given_class_token_and_ignores_the_stored_one():
    model = vision_transformer(embed_dim=8)
    rng = np.random.default_rng(8)
    tokens, cls = tensor(rng, 2, 16, 8), tensor(rng, 2, 1, 8)
    before = model(tokens, cls_token=cls)
    model.cls_token.add_(1.0)
    assert_close(model(tokens, cls_token=cls), before,
                 "VisionTransformer: with cls_token given, the stored self.cls_token must not be used")
    changed = model(tokens, cls_token=cls + 1.0)
    assert not torch.allclose(changed, before), "VisionTransformer: the given cls_token has no effect on the output"


@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_uses_the_position_encodings():
    model = vision_transformer(embed_dim=8, num_blocks=2)
    images = tensor(np.random.default_rng(9), 2, 1, 28, 28)
    before = model(images)
    for position in (0, 16):
        model.pos_encoding[:, position].add_(1.0)
        after = model(images)
        assert not torch.allclose(after, before), f"VisionTransformer: changing pos_encoding[:, {position}] has no effect"
        before = after


@pytest.mark.task(VIT)
@torch.no_grad()
def test_vit_runs_the_blocks():
    model = vision_transformer(embed_dim=8, num_blocks=2)
    rng = np.random.default_rng(10)
    tokens, cls = tensor(rng, 2, 16, 8), tensor(rng, 2, 1, 8)
    without_blocks = torch.cat([cls, tokens], dim=1) + model.pos_encoding
    assert not torch.allclose(model(tokens, cls_token=cls), without_blocks, atol=1e-3), (
        "VisionTransformer: the output equals the blocks' input; apply self.transformer_blocks"
    )


@pytest.mark.task(VIT)
@torch.no_grad()
def test_generator_and_discriminator_shapes_and_ranges():
    from vit import ViTGAN

    rng = np.random.default_rng(11)
    for choice in ("vit", "mlp"):
        gan = ViTGAN(embed_dim=16, discriminator=choice)
        filled(gan.generator, seed=12)
        if choice == "vit":
            filled(gan.discriminator, seed=13)
        noise = tensor(rng, 3, 17, 16)
        images = gan.generate(noise)
        assert tuple(images.shape) == (3, 1, 28, 28), (
            f"ViTGAN.generate: shape {tuple(images.shape)}, expected (3, 1, 28, 28)"
        )
        assert images.abs().max() <= 1.0, "ViTGAN.generate: pixels must lie in [-1, 1] (tanh)"
        logits = gan.discriminate(images)
        assert tuple(logits.shape) == (3, 1), f"ViTGAN.discriminate ({choice}): shape {tuple(logits.shape)}, expected (3, 1)"


@pytest.mark.task(VIT)
def test_generator_gradients_reach_every_parameter():
    from vit import ViTGenerator

    generator = filled(ViTGenerator(16), seed=13)
    generator(tensor(np.random.default_rng(14), 2, 17, 16)).square().sum().backward()
    # The inner ViT's own patch embedding and class token are unused by design.
    unused = {"vit.linear_proj.weight", "vit.linear_proj.bias", "vit.cls_token"}
    missing = [name for name, param in generator.named_parameters()
               if name not in unused and (param.grad is None or not param.grad.abs().sum() > 0)]
    assert not missing, f"ViTGenerator: no gradient reaches {missing}"


# Provided code (not graded): patches, models' plumbing, the MLP GAN.

def test_patchify_numbers_patches_row_by_row_and_unpatchify_inverts_it():
    from vit import patchify, unpatchify

    images = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    patches = patchify(images)
    assert tuple(patches.shape) == (2, 16, 49)
    # patch 6 is grid row 1, column 2: pixels 7..13 down, 14..20 across
    assert torch.equal(patches[1, 6], images[1, 0, 7:14, 14:21].reshape(49)), "patchify: patch 6 is not grid row 1, column 2"
    assert torch.equal(unpatchify(patches), images), "unpatchify does not invert patchify"


def test_class_token_and_positions_start_standard_normal():
    # As in the original starter code (see vit.INIT_STD): a std of 0.02 made the ViT GAN learn slowly.
    from vit import VisionTransformer

    model = VisionTransformer(64, 1, 4)
    for name in ("cls_token", "pos_encoding"):
        std = float(getattr(model, name).detach().std())
        assert 0.7 < std < 1.3, f"VisionTransformer.{name} starts with std {std:.3f}, expected a standard normal"


def test_gan_models_reject_unknown_discriminators_and_sample_noise():
    from mlp import MLPGAN
    from vit import ViTGAN

    with pytest.raises(ValueError, match="valid choices"):
        ViTGAN(16, discriminator="cnn")
    assert tuple(ViTGAN(16, "MLP").sample_noise(5).shape) == (5, 17, 16)  # the original spelling works
    first = MLPGAN(noise_dim=10).sample_noise(4, generator=torch.Generator().manual_seed(0))
    again = MLPGAN(noise_dim=10).sample_noise(4, generator=torch.Generator().manual_seed(0))
    assert tuple(first.shape) == (4, 10) and torch.equal(first, again)


@torch.no_grad()
def test_mlp_gan_shapes_and_ranges():
    from mlp import MLPGAN

    gan = MLPGAN(noise_dim=10)  # shapes and ranges only: torch's initial weights are fine here
    images = gan.generate(tensor(np.random.default_rng(16), 3, 10))
    assert tuple(images.shape) == (3, 1, 28, 28) and images.abs().max() <= 1.0
    assert tuple(gan.discriminate(images).shape) == (3, 1)


@torch.no_grad()
def test_vit_gan_with_the_mlp_discriminator_scores_images():
    from vit import ViTGAN

    gan = ViTGAN(16, "mlp")  # a shape check only: torch's initial weights are fine here
    assert tuple(gan.discriminate(tensor(np.random.default_rng(18), 2, 1, 28, 28)).shape) == (2, 1)
