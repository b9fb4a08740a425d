"""Public tests of ``dcgan.py`` (UIUC CS 446): the two networks, their initialisation, the losses.

Run one task's tests with ``pytest --task dcgan_dnet`` (or ``dcgan_gnet``, ``dcgan_weight_init``,
``dcgan_loss_d``, ``dcgan_loss_g``). Every test touches one task's code only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.cases_dcgan import CASES, DNET, GNET, INIT, LOSS_D, LOSS_G, TinyGAN, dnet_like, filled, gnet_like
from tests.harness import case_params, check_case


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("dcgan", case)


def _weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if m is not module and list(m.parameters(recurse=False))]


def _images(seed: int, batch: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 1, size=(batch, 1, 28, 28)).astype(np.float32))


# ---- DNet ------------------------------------------------------------------------------------


@pytest.mark.task(DNET)
def test_dnet_layers_follow_table_1_in_order():
    from dcgan import DNet

    layers = _weighted_layers(DNet())
    described = [(type(m).__name__, getattr(m, "in_channels", getattr(m, "in_features", None)),
                  getattr(m, "out_channels", getattr(m, "out_features", None))) for m in layers]
    assert described == [("Conv2d", 1, 2), ("Conv2d", 2, 4), ("Conv2d", 4, 8), ("Linear", 200, 1)], (
        f"DNet's layers with weights, in definition order, must be conv 1->2, conv 2->4, conv 4->8, "
        f"linear 200->1 (Table 1); got {described}"
    )
    for conv, padding in zip(layers[:3], (1, 1, 0)):
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (padding, padding), (
            f"{conv}: expected kernel 3, stride 1, padding {padding}")
    assert all(m.bias is not None for m in layers), "every DNet layer has a bias"


@pytest.mark.task(DNET)
@pytest.mark.parametrize("batch", [1, 5])
def test_dnet_returns_one_logit_per_image(batch):
    from dcgan import DNet

    logits = filled(DNet(), 0)(_images(1, batch))
    assert logits.shape == (batch, 1), f"DNet must return logits of shape (B, 1), got {tuple(logits.shape)}"
    assert (logits < 0).any() or (logits > 1).any() or logits.std() > 0, "logits, not probabilities"


@pytest.mark.task(DNET)
def test_dnet_matches_the_table_written_with_functional_ops():
    from dcgan import DNet

    model = filled(DNet(), 3)
    images = _images(4, 3)
    (c1, b1), (c2, b2), (c3, b3), (w, b) = [(m.weight, m.bias) for m in _weighted_layers(model)]
    x = F.max_pool2d(F.relu(F.conv2d(images, c1, b1, padding=1)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, c2, b2, padding=1)), 2)
    x = F.relu(F.conv2d(x, c3, b3))
    expected = F.linear(x.flatten(1), w, b)
    torch.testing.assert_close(model(images), expected, rtol=1e-5, atol=1e-6)


# ---- GNet ------------------------------------------------------------------------------------


@pytest.mark.task(GNET)
def test_gnet_layers_follow_table_2_in_order():
    from dcgan import GNet

    layers = _weighted_layers(GNet(10))
    described = [(type(m).__name__, getattr(m, "in_channels", getattr(m, "in_features", None)),
                  getattr(m, "out_channels", getattr(m, "out_features", None))) for m in layers]
    assert described == [("Linear", 10, 1568), ("Conv2d", 32, 16), ("Conv2d", 16, 8), ("Conv2d", 8, 1)], (
        f"GNet's layers with weights, in definition order (Table 2), got {described}")
    for conv in layers[1:]:
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1), str(conv)


@pytest.mark.task(GNET)
@pytest.mark.parametrize("batch, zdim", [(1, 64), (4, 3)])
def test_gnet_makes_images_in_the_unit_interval(batch, zdim):
    from dcgan import GNet

    z = torch.from_numpy(np.random.default_rng(5).uniform(-1, 1, size=(batch, zdim)).astype(np.float32))
    images = filled(GNet(zdim), 6)(z)
    assert images.shape == (batch, 1, 28, 28), f"GNet must return (B, 1, 28, 28), got {tuple(images.shape)}"
    assert ((images >= 0) & (images <= 1)).all(), "GNet ends in a sigmoid: values in [0, 1]"


@pytest.mark.task(GNET)
def test_gnet_matches_the_table_written_with_functional_ops():
    from dcgan import GNet

    model = filled(GNet(8), 7)
    z = torch.from_numpy(np.random.default_rng(8).uniform(-1, 1, size=(2, 8)).astype(np.float32))
    (w, b), (c1, b1), (c2, b2), (c3, b3) = [(m.weight, m.bias) for m in _weighted_layers(model)]
    x = F.leaky_relu(F.linear(z, w, b), 0.2).reshape(2, 32, 7, 7)
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    x = F.interpolate(F.leaky_relu(F.conv2d(x, c1, b1, padding=1), 0.2), scale_factor=2, mode="nearest")
    x = F.leaky_relu(F.conv2d(x, c2, b2, padding=1), 0.2)
    expected = torch.sigmoid(F.conv2d(x, c3, b3, padding=1))
    torch.testing.assert_close(model(z), expected, rtol=1e-5, atol=1e-6)


# ---- _weight_init ------------------------------------------------------------------------------


@pytest.mark.task(INIT)
@pytest.mark.parametrize("net", ["dnet", "gnet"])
def test_weight_init_is_kaiming_uniform_with_zero_biases(net):
    import dcgan

    stack = dnet_like() if net == "dnet" else gnet_like()
    filled(stack, 9)  # start from other values, with non-zero biases
    torch.manual_seed(0)
    with torch.no_grad():
        (dcgan.DNet if net == "dnet" else dcgan.GNet)._weight_init(stack)
    for layer in _weighted_layers(stack):
        fan_in = layer.weight[0].numel()
        bound = math.sqrt(6.0 / fan_in)  # kaiming_uniform_ with gain sqrt(2): U(-b, b)
        w = layer.weight.detach()
        assert float(w.abs().max()) <= bound * (1 + 1e-6), f"{layer}: weights must lie in [-{bound:.4f}, {bound:.4f}]"
        assert float(w.abs().max()) > bound / math.sqrt(6) * 1.2, (
            f"{layer}: weights stay inside torch's default bound 1/sqrt(fan_in): was the layer re-initialised?")
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias)), f"{layer}: biases must be zero"
        if w.numel() >= 1000:  # a uniform on [-b, b] has variance b^2 / 3
            assert float((w**2).mean()) == pytest.approx(bound**2 / 3, rel=0.1), f"{layer}: not uniform on [-b, b]"


@pytest.mark.task(INIT)
def test_weight_init_leaves_parameter_free_layers_alone():
    import dcgan

    stack = nn.Sequential(nn.ReLU(), nn.Linear(300, 400), nn.MaxPool2d(2), nn.Sigmoid())
    torch.manual_seed(1)
    with torch.no_grad():
        dcgan.DNet._weight_init(stack)
    linear = stack[1]
    assert linear.weight.abs().max() > 1.0 / math.sqrt(300) * 1.2 and (linear.bias == 0).all()


# ---- the losses ---------------------------------------------------------------------------------


class FixedLogits(nn.Module):
    """A GAN whose discriminator gives logit ``scale * mean(x)`` and whose generator is ``z``
    itself (as a 1 x 1 x Z image), so that any logits can be set exactly."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.disc = lambda x: self.scale * x.flatten(1).mean(1, keepdim=True)  # (B, 1)
        self.gen = lambda z: self.gain * z[:, None, None, :]  # (B, 1, 1, Z)


def _softplus64(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


@pytest.mark.task(LOSS_D)
def test_loss_d_is_the_sum_of_two_bce_means():
    from dcgan import GAN

    real_logits = np.array([0.5, -1.0, 2.0, 0.0])
    fake_logits = np.array([-0.3, 1.5, 0.0, 3.0])
    model = FixedLogits()
    real = torch.tensor(real_logits, dtype=torch.float32).reshape(4, 1, 1, 1)
    z = torch.tensor(fake_logits, dtype=torch.float32).reshape(4, 1)
    loss = GAN._get_loss_d(model, 4, real, z)
    # -log sigmoid(h) = softplus(-h); -log(1 - sigmoid(h)) = softplus(h)
    expected = _softplus64(-real_logits).mean() + _softplus64(fake_logits).mean()
    assert loss.shape == (), f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5), (
        "L_D = mean BCE(real logits, 1) + mean BCE(fake logits, 0): the two means are added")


@pytest.mark.task(LOSS_D)
def test_loss_d_is_two_log_two_at_zero_logits():
    from dcgan import GAN

    loss = GAN._get_loss_d(FixedLogits(), 3, torch.zeros(3, 1, 1, 5), torch.zeros(3, 5))
    assert float(loss.detach()) == pytest.approx(2 * math.log(2), rel=1e-6), "at logits 0 each BCE mean is log 2; L_D adds them"


@pytest.mark.task(LOSS_D)
def test_loss_d_is_finite_at_logits_of_fifty():
    from dcgan import GAN

    # real images scored -50 (confidently fake), generated ones +50 (confidently real): the worst
    # case, where log(1 - sigmoid(50)) is log(0) in float32.
    real = torch.full((2, 1, 1, 1), -50.0)
    z = torch.full((2, 1), 50.0)
    loss = GAN._get_loss_d(FixedLogits(), 2, real, z)
    assert torch.isfinite(loss), "L_D must be computed from the logits (BCEWithLogitsLoss), not log(sigmoid(.))"
    assert float(loss.detach()) == pytest.approx(2 * _softplus64(50.0), rel=1e-6)


@pytest.mark.task(LOSS_D)
def test_loss_d_trains_the_discriminator_in_the_right_direction():
    from dcgan import GAN

    model = FixedLogits()
    real, z = torch.full((4, 1, 1, 1), 1.0), torch.full((4, 1), -1.0)
    loss = GAN._get_loss_d(model, 4, real, z)
    (grad,) = torch.autograd.grad(loss, model.scale)
    # d/ds [softplus(-s) + softplus(-s)] at s = 1 (real mean 1, fake mean -1): -2 sigmoid(-1)
    assert float(grad) == pytest.approx(-2 / (1 + math.e), rel=1e-5), (
        "a larger scale separates real (logit s) from fake (logit -s) better, so L_D must decrease with it")


@pytest.mark.task(LOSS_G)
def test_loss_g_is_the_non_saturating_loss():
    from dcgan import GAN

    fake_logits = np.array([-2.0, 0.0, 1.0, 4.0, -0.5])
    z = torch.tensor(fake_logits, dtype=torch.float32).reshape(5, 1)
    loss = GAN._get_loss_g(FixedLogits(), 5, z)
    assert loss.shape == (), f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert float(loss.detach()) == pytest.approx(_softplus64(-fake_logits).mean(), rel=1e-5), (
        "L_G = -mean log sigmoid(D(G(z))): BCE of the fake logits against target 1, averaged over the batch")


@pytest.mark.task(LOSS_G)
def test_loss_g_is_finite_at_very_negative_logits():
    from dcgan import GAN

    z = torch.tensor([[-50.0], [-200.0]])
    loss = GAN._get_loss_g(FixedLogits(), 2, z)
    assert torch.isfinite(loss), "L_G must be computed from the logits, not log(sigmoid(.)) (inf at -200)"
    assert float(loss.detach()) == pytest.approx(_softplus64([50.0, 200.0]).mean(), rel=1e-6)


@pytest.mark.task(LOSS_G)
def test_loss_g_gradient_pushes_fakes_towards_real():
    from dcgan import GAN

    model = FixedLogits()
    z = torch.tensor([[-3.0], [0.5]])
    (grad,) = torch.autograd.grad(GAN._get_loss_g(model, 2, z), model.gain)
    # logits g z_i; d/dg mean softplus(-g z_i) at g = 1 = -mean z_i sigmoid(-z_i)
    expected = -np.mean([-3.0 / (1 + math.exp(-3.0)), 0.5 / (1 + math.exp(0.5))])
    assert float(grad) == pytest.approx(expected, rel=1e-5), "the generator's loss must reach the generator"


@pytest.mark.task(LOSS_G)
def test_loss_g_on_a_tiny_gan_decreases_after_a_step():
    from dcgan import GAN

    model = filled(TinyGAN(4, (1, 3, 3)), 10)
    z = torch.from_numpy(np.random.default_rng(11).uniform(-1, 1, size=(6, 4)).astype(np.float32))
    optimizer = torch.optim.SGD(model.gen.parameters(), lr=0.5)
    before = GAN._get_loss_g(model, 6, z)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    assert float(GAN._get_loss_g(model, 6, z).detach()) < float(before.detach()), "a gradient step on L_G must lower it"
