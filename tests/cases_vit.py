"""Graded cases of ``vit.py``: the transformer block and the vision transformer's forward pass.

Inputs are drawn from NumPy; so are the weights, through ``fill_parameters`` with a seed that is
part of the inputs (never torch's own initialisation). Sizes are inputs too, as 0-d integer
arrays, so hidden cases can change the batch size, the width and the number of heads.

The ``vision_transformer`` cases named ``*_stand_in_blocks`` replace the transformer blocks by a
fixed per-token map (Linear, tanh), so that they grade ``VisionTransformer.forward`` alone: a
mistake in ``TransformerEncoder.forward`` cannot cost points there. The last two cases run the
real blocks (a ViT as in the original starter's test, and the generator end to end), so they
need both forward passes to be right.

Everything runs in float32, as in training: correct implementations agree to ~1e-6 here, and
every plausible mistake moves outputs by more than 1e-2.
"""

from __future__ import annotations

import numpy as np

from tests.harness import Case, fill_parameters, to_numpy

ENCODER = "transformer_encoder"
VIT = "vision_transformer"
RTOL, ATOL = 1e-4, 1e-5  # float32, one layer, values of order 1 (rounding error seen: ~1e-6)
ATOL_DEEP = 3e-5  # several blocks deep (rounding error seen: up to ~3e-6)

NUM_PATCHES, IMAGE_SHAPE = 16, (1, 28, 28)  # fixed by the assignment


def _sizes(rng: np.random.Generator, hidden: bool, public: dict[str, int]) -> dict[str, np.ndarray]:
    """Batch, width, heads, blocks, widening and the weights' seed, as 0-d arrays."""
    if hidden:
        heads = int(rng.choice([1, 2, 4]))
        sizes = {
            "batch": int(rng.integers(1, 5)),
            "embed_dim": heads * int(rng.choice([2, 4, 6])),
            "num_heads": heads,
            "num_blocks": int(rng.integers(1, 4)),
            "widening_factor": int(rng.choice([1, 2, 4])),
        }
    else:
        sizes = dict(public)
    sizes["weight_seed"] = int(rng.integers(0, 2**31))
    return {key: np.array(value) for key, value in sizes.items()}


MODEL_SIZES = ("embed_dim", "num_heads", "num_blocks", "widening_factor", "weight_seed")


def _ints(inputs, *names):
    return [int(inputs[name]) for name in names]


def _tensor(array):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


# --- TransformerEncoder.forward --------------------------------------------------------------

def _encoder_inputs(public_sizes, tokens, scale=1.0, offset=0.0):
    def make(rng, hidden):
        sizes = _sizes(rng, hidden, public_sizes)
        length = int(rng.integers(1, 21)) if hidden else tokens
        batch, dim = int(sizes["batch"]), int(sizes["embed_dim"])
        x = offset + scale * rng.normal(size=(batch, length, dim))
        return {"x": x, **sizes}

    return make


def _run_encoder(inputs):
    import torch

    from vit import TransformerEncoder

    dim, heads, widening, seed = _ints(inputs, "embed_dim", "num_heads", "widening_factor", "weight_seed")
    block = TransformerEncoder(dim, heads, widening)
    fill_parameters(block, np.random.default_rng(seed))
    with torch.no_grad():
        return {"out": to_numpy(block(_tensor(inputs["x"])))}


# --- VisionTransformer.forward -----------------------------------------------------------------

def _vit_token_inputs(rng, hidden):
    sizes = _sizes(rng, hidden, dict(batch=3, embed_dim=16, num_heads=2, num_blocks=1, widening_factor=4))
    batch, dim = int(sizes["batch"]), int(sizes["embed_dim"])
    return {"tokens": rng.normal(size=(batch, NUM_PATCHES, dim)), "cls_token": rng.normal(size=(batch, 1, dim)), **sizes}


def _image_inputs(public_sizes):
    def make(rng, hidden):
        sizes = _sizes(rng, hidden, public_sizes)
        images = rng.uniform(-1.0, 1.0, size=(int(sizes["batch"]), *IMAGE_SHAPE))  # the data's range
        return {"images": images, **sizes}

    return make


def _vision_transformer(inputs, stand_in_blocks: bool):
    """The student's VisionTransformer with the case's weights (and maybe stand-in blocks)."""
    from torch import nn

    from vit import VisionTransformer

    dim, heads, blocks, widening, seed = _ints(inputs, *MODEL_SIZES)
    model = VisionTransformer(dim, blocks, heads, widening)
    if stand_in_blocks:
        # A per-token map that is not the identity: it shows which token sits where without
        # depending on TransformerEncoder.forward.
        model.transformer_blocks = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
    fill_parameters(model, np.random.default_rng(seed))
    return model


def _run_vit_tokens(inputs):
    import torch

    model = _vision_transformer(inputs, stand_in_blocks=True)
    with torch.no_grad():
        return {"out": to_numpy(model(_tensor(inputs["tokens"]), cls_token=_tensor(inputs["cls_token"])))}


def _run_vit_images(stand_in_blocks: bool):
    def run(inputs):
        import torch

        model = _vision_transformer(inputs, stand_in_blocks)
        with torch.no_grad():
            return {"out": to_numpy(model(_tensor(inputs["images"])))}

    return run


# --- ViTGenerator end to end -----------------------------------------------------------------

def _generator_inputs(rng, hidden):
    sizes = _sizes(rng, hidden, dict(batch=3, embed_dim=16, num_heads=4, num_blocks=2, widening_factor=2))
    batch, dim = int(sizes["batch"]), int(sizes["embed_dim"])
    return {"noise": rng.normal(size=(batch, NUM_PATCHES + 1, dim)), **sizes}


def _run_generator(inputs):
    import torch

    from vit import ViTGenerator

    dim, heads, blocks, widening, seed = _ints(inputs, *MODEL_SIZES)
    generator = ViTGenerator(dim, blocks, heads, widening)
    fill_parameters(generator, np.random.default_rng(seed))
    with torch.no_grad():
        return {"images": to_numpy(generator(_tensor(inputs["noise"])))}


CASES = [
    Case(ENCODER, "encoder_forward", 201,
         _encoder_inputs(dict(batch=3, embed_dim=16, num_heads=2, num_blocks=1, widening_factor=4), tokens=17),
         _run_encoder, RTOL, ATOL,
         isolates="one pre-LN block: x + Attn(ln_1(x)), then + mlp_2(GELU(mlp_1(ln_2(.)))), with the exact (erf) GELU; "
                  "the tanh approximation differs by about 5e-4"),
    Case(ENCODER, "encoder_short_sequence_many_heads", 202,
         _encoder_inputs(dict(batch=2, embed_dim=8, num_heads=4, num_blocks=1, widening_factor=2), tokens=5),
         _run_encoder, RTOL, ATOL,
         isolates="four heads on five tokens: self.attention splits the heads; a sequence-first call mixes the batch"),
    # Tokens far from zero mean and unit scale: what layer normalisation is there for.
    Case(ENCODER, "encoder_unnormalised_tokens", 203,
         _encoder_inputs(dict(batch=2, embed_dim=12, num_heads=3, num_blocks=1, widening_factor=4), tokens=9,
                         scale=5.0, offset=3.0),
         _run_encoder, RTOL, 1e-4,  # outputs reach ~20, so 1e-4 absolute is float32 rounding
         isolates="tokens of mean 3 and scale 5: both branches read ln_1(x) / ln_2(x), the residuals add x itself"),
    Case(VIT, "vit_tokens_with_cls_token_stand_in_blocks", 211, _vit_token_inputs, _run_vit_tokens, RTOL, ATOL,
         isolates="VisionTransformer.forward alone (stand-in blocks): the given class token in front, then pos_encoding"),
    Case(VIT, "vit_images_stand_in_blocks", 212,
         _image_inputs(dict(batch=3, embed_dim=16, num_heads=2, num_blocks=1, widening_factor=4)),
         _run_vit_images(stand_in_blocks=True), RTOL, ATOL,
         isolates="images, VisionTransformer.forward alone: patchify, linear_proj, the stored class token, pos_encoding"),
    Case(VIT, "vit_images", 213,
         _image_inputs(dict(batch=3, embed_dim=16, num_heads=2, num_blocks=3, widening_factor=4)),
         _run_vit_images(stand_in_blocks=False), RTOL, ATOL_DEEP,
         isolates="three real blocks (needs transformer_encoder): if the stand-in cases pass, suspect how the blocks "
                  "are applied"),
    Case(VIT, "generator_end_to_end", 214, _generator_inputs, _run_generator, RTOL, ATOL_DEEP,
         isolates="the whole ViT generator (needs both forward passes): the given class token must be used"),
]
