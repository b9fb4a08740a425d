"""Graded cases of ``dcgan.py``: the two networks, their weight initialisation and the two losses.

Each task's cases touch that task's code only, so one mistake costs one task:

* ``DNet`` / ``GNet``: the forward pass with weights drawn from NumPy (``fill_parameters``, in
  registration order, so the table's layer order matters), and the parameter sizes in order;
* ``_weight_init``: called on stand-in stacks of layers shaped like each table (hidden cases
  change the widths), pre-filled with NumPy values; the outputs are 0/1 indicators that every
  correct implementation gets (weights inside the Kaiming bound, biases zero, second moment of
  the weights 2 / fan_in), whatever torch's random stream;
* the losses: called on a stand-in GAN whose ``disc`` and ``gen`` are tiny linear networks with
  NumPy weights; the outputs are the loss and its gradient with respect to the trained network.
  One case scales the discriminator so that logits reach about ±100 (a loss written with
  ``log(sigmoid(.))`` is inf there).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.harness import Case, fill_parameters, to_numpy

DNET = "dcgan_dnet"
GNET = "dcgan_gnet"
INIT = "dcgan_weight_init"
LOSS_D = "dcgan_loss_d"
LOSS_G = "dcgan_loss_g"
IMG_SHAPE = (1, 28, 28)

# Kaiming-uniform weights have E[w^2] = 2 / fan_in. Pooled over the ~600 or more weights of a
# stack, the estimate's relative spread is about 0.9 / sqrt(600) ~ 4%; 25% is six of those,
# while a fan-out bound or torch's default initialisation misses by a factor 2 or more.
SECOND_MOMENT_TOLERANCE = 0.25
WEIGHT_GAIN = 1.5  # weights of the forward cases: std WEIGHT_GAIN / sqrt(fan_in)


def _tensor(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def filled(model: nn.Module, seed: int) -> nn.Module:
    """``model`` with NumPy-drawn weights of standard deviation WEIGHT_GAIN / sqrt(fan_in) and
    biases N(0, 0.1^2): activations keep their scale through the layers, so the generator's
    sigmoid does not saturate and every layer's mistake shows in the output."""
    fill_parameters(model, np.random.default_rng(seed))
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim >= 2:  # fill_parameters used fan_in = shape[-1]; use the layer's own
                param.mul_(WEIGHT_GAIN * np.sqrt(param.shape[-1] / param[0].numel()))
    return model


def _flat_grads(loss: torch.Tensor, module: nn.Module) -> np.ndarray:
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return to_numpy(torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]))


# ---- DNet and GNet ------------------------------------------------------------------------------


def dnet_inputs(batch=3):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size = int(rng.integers(1, 6)) if hidden else batch
        return {"images": rng.uniform(0, 1, size=(size, *IMG_SHAPE)), "weight_seed": np.array(rng.integers(2**31))}

    return make


def run_dnet(inputs: dict) -> dict:
    from dcgan import DNet

    model = filled(DNet(), int(inputs["weight_seed"]))
    with torch.no_grad():
        logits = model(_tensor(inputs["images"]))
    return {"logits": to_numpy(logits), "parameter_sizes": np.array([p.numel() for p in model.parameters()])}


def gnet_inputs(batch=3, zdim=64):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, width = (int(rng.integers(1, 6)), int(rng.integers(2, 40))) if hidden else (batch, zdim)
        return {"z": rng.uniform(-1, 1, size=(size, width)), "weight_seed": np.array(rng.integers(2**31))}

    return make


def run_gnet(inputs: dict) -> dict:
    from dcgan import GNet

    z = _tensor(inputs["z"])
    model = filled(GNet(z.shape[1]), int(inputs["weight_seed"]))
    with torch.no_grad():
        images = model(z)
    return {"images": to_numpy(images), "parameter_sizes": np.array([p.numel() for p in model.parameters()])}


# ---- _weight_init on stand-in stacks of layers ---------------------------------------------------


class LayerStack(nn.Module):
    """Layers registered as children, in order (stands in for DNet or GNet in the init cases)."""

    def __init__(self, layers):
        super().__init__()
        for index, layer in enumerate(layers):
            self.add_module(f"layer{index}", layer)


def dnet_like(channels=(2, 4, 8), flat=200) -> LayerStack:
    a, b, c = channels
    return LayerStack([nn.Conv2d(1, a, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(a, b, 3, 1, 1), nn.ReLU(),
                       nn.MaxPool2d(2, 2), nn.Conv2d(b, c, 3, 1, 0), nn.ReLU(), nn.Linear(flat, 1)])


def gnet_like(zdim=64, channels=(32, 16, 8)) -> LayerStack:
    a, b, c = channels
    return LayerStack([nn.Linear(zdim, a * 49), nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, 1, 1),
                       nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2), nn.Conv2d(b, c, 3, 1, 1), nn.LeakyReLU(0.2),
                       nn.Conv2d(c, 1, 3, 1, 1), nn.Sigmoid()])


def init_inputs(net: str):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        if net == "dnet":
            widths = rng.integers(2, 9, size=3) * np.array([1, 2, 4]) if hidden else np.array([2, 4, 8])
            extra = int(widths[2]) * 25  # the linear layer's fan-in
        else:
            widths = rng.integers(8, 33, size=3) if hidden else np.array([32, 16, 8])
            extra = int(rng.integers(16, 100)) if hidden else 64  # zdim
        return {"net": np.array(net == "dnet"), "widths": widths, "extra": np.array(extra),
                "fill_seed": np.array(rng.integers(2**31)), "torch_seed": np.array(rng.integers(2**31))}

    return make


def run_init(inputs: dict) -> dict:
    from dcgan import DNet, GNet

    widths, extra = tuple(int(w) for w in inputs["widths"]), int(inputs["extra"])
    is_dnet = bool(inputs["net"])
    stack = dnet_like(widths, extra) if is_dnet else gnet_like(extra, widths)
    fill_parameters(stack, np.random.default_rng(int(inputs["fill_seed"])))  # non-zero biases, other scales
    with torch.random.fork_rng():
        torch.manual_seed(int(inputs["torch_seed"]))
        with torch.no_grad():
            (DNet if is_dnet else GNet)._weight_init(stack)
    inside, zero_bias, scaled_squares, count = [], [], 0.0, 0
    for layer in stack.children():
        if getattr(layer, "weight", None) is None:
            continue
        weight = layer.weight.detach().double()
        fan_in = weight[0].numel()
        bound = np.sqrt(6.0 / fan_in)
        inside.append(float(weight.abs().max() <= bound * (1 + 1e-6)))
        zero_bias.append(float(layer.bias is None or bool((layer.bias == 0).all())))
        scaled_squares += float((weight**2).sum()) * fan_in / 2.0  # E[w^2] fan_in / 2 = 1
        count += weight.numel()
    moment_ok = abs(scaled_squares / count - 1.0) < SECOND_MOMENT_TOLERANCE
    return {"weights_inside_bound": np.array(inside), "biases_zero": np.array(zero_bias),
            "second_moment_matches": np.array(float(moment_ok))}


# ---- the losses, on a stand-in GAN ----------------------------------------------------------------


class TinyGAN(nn.Module):
    """Stands in for ``dcgan.GAN`` in the loss cases: ``gen`` a linear map from Z to a small
    image (then sigmoid), ``disc`` flatten + linear to one logit (B, 1)."""

    def __init__(self, zdim: int, image_shape: tuple):
        super().__init__()
        self.zdim, self.image_shape = zdim, tuple(image_shape)
        size = int(np.prod(image_shape))
        self.gen = nn.Sequential(nn.Linear(zdim, size), nn.Sigmoid(), nn.Unflatten(1, self.image_shape))
        self.disc = nn.Sequential(nn.Flatten(), nn.Linear(size, 1))

    # the same members as dcgan.GAN, in case a solution uses them
    generator = property(lambda self: self.gen)
    discriminator = property(lambda self: self.disc)

    def generate(self, z):
        return self.gen(z)

    def discriminate(self, x):
        return self.disc(x)


def loss_inputs(batch=4, zdim=5, image=(1, 4, 4), logit_scale=1.0):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, width, shape = batch, zdim, image
        if hidden:
            size, width = int(rng.integers(1, 9)), int(rng.integers(2, 8))
            shape = (1, int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        return {"images": rng.uniform(0, 1, size=(size, *shape)), "z": rng.uniform(-1, 1, size=(size, width)),
                "weight_seed": np.array(rng.integers(2**31)), "logit_scale": np.array(logit_scale)}

    return make


def _tiny_gan(inputs: dict) -> TinyGAN:
    model = TinyGAN(inputs["z"].shape[1], inputs["images"].shape[1:])
    fill_parameters(model, np.random.default_rng(int(inputs["weight_seed"])))
    with torch.no_grad():
        for param in model.disc.parameters():
            param.mul_(float(inputs["logit_scale"]))
    return model


def run_loss_d(inputs: dict) -> dict:
    from dcgan import GAN

    model = _tiny_gan(inputs)
    images, z = _tensor(inputs["images"]), _tensor(inputs["z"])
    loss = GAN._get_loss_d(model, len(images), images, z)
    return {"loss": to_numpy(loss), "disc_grad": _flat_grads(loss, model.disc)}


def run_loss_g(inputs: dict) -> dict:
    from dcgan import GAN

    model = _tiny_gan(inputs)
    z = _tensor(inputs["z"])
    loss = GAN._get_loss_g(model, len(z), z)
    return {"loss": to_numpy(loss), "gen_grad": _flat_grads(loss, model.gen)}


CASES = [
    Case(DNET, "dnet_forward", seed=101, make_inputs=dnet_inputs(), run=run_dnet),
    Case(DNET, "dnet_one_image", seed=102, make_inputs=dnet_inputs(batch=1), run=run_dnet),
    Case(GNET, "gnet_forward", seed=111, make_inputs=gnet_inputs(), run=run_gnet),
    Case(GNET, "gnet_small_latent", seed=112, make_inputs=gnet_inputs(batch=2, zdim=7), run=run_gnet),
    Case(INIT, "init_dnet_layers", seed=121, make_inputs=init_inputs("dnet"), run=run_init),
    Case(INIT, "init_gnet_layers", seed=122, make_inputs=init_inputs("gnet"), run=run_init),
    Case(LOSS_D, "loss_d_small", seed=131, make_inputs=loss_inputs(), run=run_loss_d),
    Case(LOSS_D, "loss_d_large_logits", seed=132, make_inputs=loss_inputs(batch=6, logit_scale=300.0), run=run_loss_d),
    Case(LOSS_G, "loss_g_small", seed=141, make_inputs=loss_inputs(), run=run_loss_g),
    Case(LOSS_G, "loss_g_large_logits", seed=142, make_inputs=loss_inputs(batch=6, logit_scale=-300.0), run=run_loss_g),
]
