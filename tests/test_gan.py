"""Public tests of ``gan.py``: CS 236's losses (and the IFT6135 GAN module below them).

Run one task's tests with ``pytest --task loss_nonsaturating_d`` (or any other task id of
``gan.py``). Tests that need particular noise replay it with ``replayed_noise`` (see
``tests/cases_gan.py``); the others hold whatever noise the loss draws.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tests.cases_gan import (CASES, CNS_D, CNS_G, NS_D, NS_G, WGP_D, WGP_G, TinyDiscriminator,
                             TinyGenerator, replayed_noise)
from tests.harness import case_params, check_case, fill_parameters

CPU = torch.device("cpu")


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("gan", case)


def _softplus64(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


# ---- CS 236: networks whose outputs are set exactly ----------------------------------------------


class ShiftGenerator(nn.Module):
    """g(z) = shift + gain * z, as a (B, 1, 1, Z) image; ``dim_z`` = Z. Ignores labels."""

    def __init__(self, dim_z: int, shift: float = 0.0, gain: float = 1.0):
        super().__init__()
        self.dim_z = dim_z
        self.shift = nn.Parameter(torch.tensor(float(shift)))
        self.gain = nn.Parameter(torch.tensor(float(gain)))

    def forward(self, z, y=None):
        return (self.shift + self.gain * z)[:, None, None, :]


class LinearCritic(nn.Module):
    """d(x) = scale * <w, x> + offset[y] (offset 0 without labels): logits (B,)."""

    def __init__(self, weight, scale: float = 1.0, offsets=None):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(weight, dtype=torch.float32))
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        self.register_buffer("offsets", torch.as_tensor(offsets if offsets is not None else [0.0], dtype=torch.float32))

    def forward(self, x, y=None):
        logits = self.scale * (x.flatten(1) @ self.w)
        return logits + (self.offsets[y] if y is not None else 0.0)


def _column(values) -> torch.Tensor:
    """Values (B,) as B images of one pixel (B, 1, 1, 1)."""
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1, 1)


# ---- loss_nonsaturating_d / _g --------------------------------------------------------------------


@pytest.mark.task(NS_D)
def test_ns_d_is_two_log_two_when_every_logit_is_zero():
    import gan

    d = LinearCritic([1.0], scale=0.0)
    loss = gan.loss_nonsaturating_d(ShiftGenerator(1), d, _column([0.3, -0.2, 0.9]), device=CPU)
    assert loss.shape == (), f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert float(loss.detach()) == pytest.approx(2 * math.log(2), rel=1e-6), "the two BCE means are added: 2 log 2 at logits 0"


@pytest.mark.task(NS_D)
@pytest.mark.parametrize("real, fake", [([0.5, -1.0, 2.0], [1.5, 0.0, -0.7]), ([-50.0, -50.0], [50.0, 50.0])])
def test_ns_d_matches_the_formula(real, fake):
    import gan

    d = LinearCritic([1.0])
    z = np.array(fake)[:, None]  # g(z) = z, so the fake logits are z
    with replayed_noise(z):
        loss = gan.loss_nonsaturating_d(ShiftGenerator(1), d, _column(real), device=CPU)
    expected = _softplus64(-np.array(real)).mean() + _softplus64(np.array(fake)).mean()
    assert torch.isfinite(loss), "compute L_D from the logits: log(1 - sigmoid(50)) is log(0) in float32"
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5), (
        "L_D = -mean log sigmoid(h(x)) - mean log(1 - sigmoid(h(G(z))))")


@pytest.mark.task(NS_D)
def test_ns_d_trains_the_discriminator():
    import gan

    d = LinearCritic([1.0])
    with replayed_noise(np.array([[-1.0], [-1.0]])):
        loss = gan.loss_nonsaturating_d(ShiftGenerator(1), d, _column([1.0, 1.0]), device=CPU)
    (grad,) = torch.autograd.grad(loss, d.scale)
    # real logits s, fake logits -s: L = 2 softplus(-s), dL/ds = -2 sigmoid(-s) at s = 1
    assert float(grad) == pytest.approx(-2 / (1 + math.e), rel=1e-5)


@pytest.mark.task(NS_G)
def test_ns_g_is_log_two_when_every_logit_is_zero():
    import gan

    loss = gan.loss_nonsaturating_g(ShiftGenerator(2), LinearCritic([1.0, 1.0], scale=0.0), _column([0.1] * 4), device=CPU)
    assert loss.shape == () and float(loss.detach()) == pytest.approx(math.log(2), rel=1e-6), "L_G = -mean log sigmoid(h(G(z)))"


@pytest.mark.task(NS_G)
@pytest.mark.parametrize("fake", [[-2.0, 0.0, 1.0, 3.0], [-50.0, -200.0]])
def test_ns_g_matches_the_formula(fake):
    import gan

    with replayed_noise(np.array(fake)[:, None]):
        loss = gan.loss_nonsaturating_g(ShiftGenerator(1), LinearCritic([1.0]), _column([0.0] * len(fake)), device=CPU)
    assert torch.isfinite(loss), "compute L_G from the logits (F.logsigmoid): log(sigmoid(-200)) is -inf in float32"
    assert float(loss.detach()) == pytest.approx(_softplus64(-np.array(fake)).mean(), rel=1e-5)


@pytest.mark.task(NS_G)
def test_ns_g_gradient_reaches_the_generator():
    import gan

    g = ShiftGenerator(1)
    with replayed_noise(np.array([[-1.0], [0.5]])):
        loss = gan.loss_nonsaturating_g(g, LinearCritic([1.0]), _column([0.0, 0.0]), device=CPU)
    (grad,) = torch.autograd.grad(loss, g.shift)
    # logits shift + z_i; d/dshift mean softplus(-(shift + z_i)) = -mean sigmoid(-z_i) at shift 0
    expected = -np.mean([1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(0.5))])
    assert float(grad) == pytest.approx(expected, rel=1e-5)


# ---- conditional_loss_nonsaturating_d / _g ------------------------------------------------------


@pytest.mark.task(CNS_D)
def test_cns_d_judges_each_image_with_its_label():
    import gan

    offsets = [0.0, 2.0, -1.0]  # logit = pixel + offset[label]
    labels = torch.tensor([0, 1, 2, 1])
    real, fake = np.array([0.5, -0.5, 1.0, 0.0]), np.array([0.2, 0.1, -0.3, 0.4])
    with replayed_noise(fake[:, None]):
        loss = gan.conditional_loss_nonsaturating_d(ShiftGenerator(1), LinearCritic([1.0], offsets=offsets),
                                                   _column(real), labels, device=CPU)
    shift = np.array(offsets)[labels.numpy()]
    expected = _softplus64(-(real + shift)).mean() + _softplus64(fake + shift).mean()
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5), (
        "real images with their labels, generated ones with the same labels (y_fake = y_real); the two means added")


@pytest.mark.task(CNS_D)
def test_cns_d_is_finite_at_logits_of_fifty():
    import gan

    with replayed_noise(np.array([[50.0], [50.0]])):
        loss = gan.conditional_loss_nonsaturating_d(ShiftGenerator(1), LinearCritic([1.0], offsets=[0.0, 0.0]),
                                                   _column([-50.0, -50.0]), torch.tensor([0, 1]), device=CPU)
    assert torch.isfinite(loss) and float(loss.detach()) == pytest.approx(2 * _softplus64(50.0), rel=1e-6)


@pytest.mark.task(CNS_D)
def test_cns_d_on_a_projection_discriminator_descends():
    import gan

    rng = np.random.default_rng(3)
    g, d = TinyGenerator(3, (1, 2, 2), 3), TinyDiscriminator((1, 2, 2), 3)
    fill_parameters(g, rng)
    fill_parameters(d, rng)
    x, y, z = (torch.tensor(rng.uniform(-1, 1, (6, 1, 2, 2)), dtype=torch.float32), torch.tensor(rng.integers(0, 3, 6)),
               rng.normal(size=(6, 3)))
    optimizer = torch.optim.SGD(d.parameters(), lr=0.1)
    with replayed_noise(z):
        before = gan.conditional_loss_nonsaturating_d(g, d, x, y, device=CPU)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with replayed_noise(z):
        after = gan.conditional_loss_nonsaturating_d(g, d, x, y, device=CPU)
    assert float(after.detach()) < float(before.detach()), "a gradient step of the discriminator on L_D must lower it"


@pytest.mark.task(CNS_G)
def test_cns_g_matches_the_formula():
    import gan

    offsets = [1.0, -2.0, 0.5]
    labels = torch.tensor([2, 0, 1])
    fake = np.array([0.3, -1.0, 0.0])
    with replayed_noise(fake[:, None]):
        loss = gan.conditional_loss_nonsaturating_g(ShiftGenerator(1), LinearCritic([1.0], offsets=offsets),
                                                   _column([0.0, 0.0, 0.0]), labels, device=CPU)
    expected = _softplus64(-(fake + np.array(offsets)[labels.numpy()])).mean()
    assert loss.shape == () and float(loss.detach()) == pytest.approx(expected, rel=1e-5), (
        "L_G = -mean log sigmoid(h(G(z, y), y)) with the real labels as y")


@pytest.mark.task(CNS_G)
def test_cns_g_is_finite_at_very_negative_logits():
    import gan

    with replayed_noise(np.array([[-200.0]])):
        loss = gan.conditional_loss_nonsaturating_g(ShiftGenerator(1), LinearCritic([1.0], offsets=[0.0]),
                                                   _column([0.0]), torch.tensor([0]), device=CPU)
    assert torch.isfinite(loss), "compute L_G from the logits (F.logsigmoid): log(sigmoid(-200)) is -inf in float32"
    assert float(loss.detach()) == pytest.approx(200.0, rel=1e-6)


@pytest.mark.task(CNS_G)
def test_cns_g_gradient_reaches_the_generator():
    import gan

    g = ShiftGenerator(1)
    with replayed_noise(np.array([[0.0], [0.0]])):
        loss = gan.conditional_loss_nonsaturating_g(g, LinearCritic([1.0], offsets=[0.0, 0.0]), _column([0.0, 0.0]),
                                                   torch.tensor([0, 1]), device=CPU)
    (grad,) = torch.autograd.grad(loss, g.shift)
    assert float(grad) == pytest.approx(-0.5, rel=1e-5), "d/dshift softplus(-shift) at 0 is -1/2"


# ---- loss_wasserstein_gp_d / _g ---------------------------------------------------------------------


def _unit(n: int, norm: float = 1.0, seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).normal(size=n)
    return norm * w / np.linalg.norm(w)


@pytest.mark.task(WGP_D)
@pytest.mark.parametrize("norm", [1.0, 3.0])
def test_wgp_d_for_a_linear_critic(norm):
    import gan

    # With D(x) = <w, x> the gradient is w everywhere: the penalty is (|w| - 1)^2 whatever the
    # interpolates, so this holds for any noise the loss draws.
    rng = np.random.default_rng(1)
    w = _unit(4, norm)
    x_real = torch.tensor(rng.normal(size=(5, 1, 1, 4)), dtype=torch.float32)
    g = ShiftGenerator(4, shift=0.7, gain=0.0)  # every generated image is 0.7 everywhere
    loss = gan.loss_wasserstein_gp_d(g, LinearCritic(w), x_real, device=CPU)
    expected = 0.7 * w.sum() - float((x_real.flatten(1).double().numpy() @ w).mean()) + 10 * (norm - 1) ** 2
    assert loss.shape == (), f"the loss must be a scalar, got shape {tuple(loss.shape)}"
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5, abs=1e-5), (
        "L_D = mean D(G(z)) - mean D(x) + 10 mean (|grad D(x_hat)| - 1)^2 (the critic scores real data high)")


@pytest.mark.task(WGP_D)
def test_wgp_d_interpolates_with_alpha_on_the_generated_image():
    import gan

    class HalfSquare(nn.Module):  # D(x) = |x|^2 / 2, gradient x: the penalty sees each interpolate
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(1.0))

        def forward(self, x, y=None):
            return 0.5 * self.scale * (x.flatten(1) ** 2).sum(1)

    rng = np.random.default_rng(2)
    x_real, z, alpha = rng.normal(size=(4, 1, 1, 3)), rng.normal(size=(4, 3)), rng.uniform(size=4)
    critic = HalfSquare()
    with replayed_noise(z, alpha):
        loss = gan.loss_wasserstein_gp_d(ShiftGenerator(3), critic, _column_free(x_real), device=CPU)
    fake = z[:, None, None, :]
    x_hat = alpha[:, None, None, None] * fake + (1 - alpha[:, None, None, None]) * x_real
    radii = np.linalg.norm(x_hat.reshape(4, -1), axis=1)
    expected = 0.5 * (fake**2).sum((1, 2, 3)).mean() - 0.5 * (x_real**2).sum((1, 2, 3)).mean() + 10 * ((radii - 1) ** 2).mean()
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5), (
        "x_hat = alpha G(z) + (1 - alpha) x (alpha on the generated image), per-example gradient norms")
    (grad,) = torch.autograd.grad(loss, critic.scale)
    expected_grad = (0.5 * (fake**2).sum((1, 2, 3)).mean() - 0.5 * (x_real**2).sum((1, 2, 3)).mean()
                     + 10 * (2 * (radii - 1) * radii).mean())
    assert float(grad) == pytest.approx(expected_grad, rel=1e-4), (
        "the penalty must train the critic: take the gradient with create_graph=True")


def _column_free(array) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float32)


@pytest.mark.task(WGP_G)
def test_wgp_g_is_minus_the_mean_critic_score():
    import gan

    w = _unit(2, 2.0)
    z = np.array([[0.5, -1.0], [2.0, 0.3], [-0.4, 0.1]])
    with replayed_noise(z):
        loss = gan.loss_wasserstein_gp_g(ShiftGenerator(2), LinearCritic(w), _column([0.0] * 3), device=CPU)
    assert loss.shape == () and float(loss.detach()) == pytest.approx(-float((z @ w).mean()), rel=1e-5), "L_G = -mean D(G(z))"


@pytest.mark.task(WGP_G)
def test_wgp_g_gradient_raises_the_critic_score():
    import gan

    g = ShiftGenerator(2)
    loss = gan.loss_wasserstein_gp_g(g, LinearCritic([1.0, 1.0]), _column([0.0] * 5), device=CPU)
    (grad,) = torch.autograd.grad(loss, g.shift)
    # D(G(z)) = 2 shift + sum z: dL/dshift = -2 for any z
    assert float(grad) == pytest.approx(-2.0, rel=1e-6), "descending L_G must raise the critic's score of G(z)"


# ================================================================================================
# IFT6135: the GAN module
# ================================================================================================

from tests.cases_gan import (EMA, JSD, LOSSES, OGP, R1GP, STANDINS, STEP, W1, ReplayGenerator,  # noqa: E402
                             TinyCritic, _standin_ema, _standin_make_losses, replaced)


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _number(value) -> float:
    """A scalar result as a float, detached first (float() of a tensor that needs grad warns)."""
    return float(torch.as_tensor(value).detach())


class ScaledCritic(nn.Module):
    """C(x) = a * f(x) per sample, with a trainable scale ``a``; f maps (N, ...) to (N,)."""

    def __init__(self, f):
        super().__init__()
        self.f = f
        self.a = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.a * self.f(x.reshape(len(x), -1))


@pytest.mark.task(JSD)
def test_jsd_is_zero_for_an_undecided_critic_and_log_two_for_a_perfect_one():
    import gan

    assert float(gan.jsd(torch.zeros(4), torch.zeros(6))) == pytest.approx(0.0, abs=1e-7), "C = 0 everywhere: JSD 0"
    perfect = gan.jsd(_t([100.0, 200.0]), _t([-100.0, -300.0, -150.0]))
    assert torch.isfinite(perfect), "use F.logsigmoid: the estimate must stay finite for critic values of +-100"
    assert float(perfect) == pytest.approx(math.log(2), rel=1e-6), "a perfect critic gives log 2"


@pytest.mark.task(JSD)
def test_jsd_matches_the_formula():
    import gan

    cp, cq = np.array([0.3, -1.2, 2.0]), np.array([1.0, -0.5, 0.0, -3.0])
    value = gan.jsd(_t(cp), _t(cq))
    expected = 0.5 * (-_softplus64(-cp).mean() - _softplus64(cq).mean()) + math.log(2)
    assert value.shape == () and _number(value) == pytest.approx(expected, rel=1e-5), (
        "JSD = (mean log sigmoid(C(p)) + mean log sigmoid(-C(q))) / 2 + log 2")


@pytest.mark.task(W1)
def test_w1_is_the_difference_of_the_means():
    import gan

    value = gan.w1(_t([1.0, 2.0, 6.0]), _t([0.5, -0.5]))
    assert value.shape == () and _number(value) == pytest.approx(3.0, rel=1e-6), "W1 = mean C(p) - mean C(q)"
    assert float(gan.w1(_t([1e4, -1e4]), _t([3.0]))) == pytest.approx(-3.0, abs=1e-3)


@pytest.mark.task(W1)
def test_w1_gradients():
    import gan

    cp, cq = _t([1.0, 2.0]).requires_grad_(True), _t([0.0, 1.0, 2.0, 3.0]).requires_grad_(True)
    grad_p, grad_q = torch.autograd.grad(gan.w1(cp, cq), (cp, cq))
    assert torch.allclose(grad_p, torch.full((2,), 0.5)) and torch.allclose(grad_q, torch.full((4,), -0.25))


@pytest.mark.task(OGP)
@pytest.mark.parametrize("shape", [(5,), (5, 3, 2, 2)])
def test_ogp_of_a_linear_critic_is_the_squared_norm_gap(shape):
    import gan

    rng = np.random.default_rng(4)
    size = int(np.prod(shape[1:], dtype=int))
    w = _t(_unit(size, 3.0))
    critic = ScaledCritic(lambda x: x @ w)
    p, q = _t(rng.normal(size=shape)), _t(rng.normal(size=shape))
    value = gan.ogp(p, critic(p), q, critic(q), critic)
    assert value.shape == () and _number(value) == pytest.approx(4.0, rel=1e-5), "C(x) = <w, x>, |w| = 3: (3 - 1)^2"


@pytest.mark.task(OGP)
def test_ogp_mixes_with_eps_on_the_real_samples():
    import gan

    rng = np.random.default_rng(5)
    p, q, eps = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.uniform(size=4)
    critic = ScaledCritic(lambda x: 0.5 * (x**2).sum(1))  # gradient x: the penalty sees each mixture
    with replayed_noise(np.zeros(0), eps):
        value = gan.ogp(_t(p), None, _t(q), None, critic)
    mixed = eps[:, None] * p + (1 - eps[:, None]) * q
    radii = np.linalg.norm(mixed, axis=1)
    assert _number(value) == pytest.approx(((radii - 1) ** 2).mean(), rel=1e-5), (
        "x_hat = eps p + (1 - eps) q (eps on the real sample), per-sample gradient norms")
    (grad,) = torch.autograd.grad(value, critic.a)
    assert float(grad) == pytest.approx((2 * (radii - 1) * radii).mean(), rel=1e-4), "the penalty must train the critic"


@pytest.mark.task(R1GP)
@pytest.mark.parametrize("shape", [(6,), (4, 2, 3)])
def test_r1gp_of_a_linear_critic_is_its_squared_norm(shape):
    import gan

    rng = np.random.default_rng(6)
    size = int(np.prod(shape[1:], dtype=int))
    w = _t(_unit(size, 3.0))
    critic = ScaledCritic(lambda x: x @ w)
    p = _t(rng.normal(size=shape))
    q = torch.full(shape, float("nan"))  # R1 looks at real samples only
    value = gan.r1gp(p, critic(p), q, torch.full((shape[0],), float("nan")), critic)
    assert value.shape == () and _number(value) == pytest.approx(9.0, rel=1e-5), "R1 = mean |grad C(p)|^2 = |w|^2"


@pytest.mark.task(R1GP)
def test_r1gp_is_the_mean_squared_gradient_norm_on_real_samples():
    import gan

    p = np.random.default_rng(7).normal(size=(5, 2))
    critic = ScaledCritic(lambda x: 0.5 * (x**2).sum(1))  # gradient a x
    value = gan.r1gp(_t(p), None, _t(p) + 10, None, critic)
    assert _number(value) == pytest.approx((p**2).sum(1).mean(), rel=1e-5), "mean over samples of |grad C(p_i)|^2"
    (grad,) = torch.autograd.grad(value, critic.a)
    assert float(grad) == pytest.approx(2 * (p**2).sum(1).mean(), rel=1e-4), "the penalty must train the critic"


def test_make_losses_rejects_bad_configurations():
    import gan

    for args, word in [(("KL",), "loss type"), (("W1", "L2"), "regulariser"), (("JSD", "GP", -0.1), "reg_cf"),
                       (("JSD", None, 0.0), "reg_cf")]:
        with pytest.raises(ValueError, match=word):
            gan.make_losses(*args)


def test_make_train_step_rejects_bad_configurations():
    import gan

    for kwargs, word in [({"critic_inner_iters": 0}, "critic_inner_iters"), ({"alpha_ema": -1.0}, "alpha_ema"),
                         ({"alpha_ema": 2.0}, "alpha_ema"), ({"alpha_ema": 1.0}, "alpha_ema")]:
        with pytest.raises(ValueError, match=word):
            gan.make_train_step("W1", **kwargs)


@pytest.mark.task(LOSSES)
@pytest.mark.parametrize("loss_type", ["JSD", "W1"])
@pytest.mark.parametrize("reg_type", [None, "GP", "R1"])
def test_make_losses_composes_the_estimate_and_the_regulariser(loss_type, reg_type):
    import gan

    rng = np.random.default_rng(8)
    p, q = _t(rng.normal(size=(4, 2))), _t(rng.normal(size=(4, 2)))
    critic = TinyCritic(2)
    fill_parameters(critic, rng)
    with replaced(gan, **STANDINS):  # stand-ins for jsd, w1, ogp and r1gp: this tests make_losses alone
        metric, critic_loss = gan.make_losses(loss_type, reg_type, 0.5)
        value, loss = metric(p, q, critic), critic_loss(p, q, critic)
    values_p, values_q = critic(p), critic(q)
    estimate = STANDINS["jsd" if loss_type == "JSD" else "w1"](values_p, values_q)
    penalty = {None: 0.0, "GP": STANDINS["ogp"], "R1": STANDINS["r1gp"]}[reg_type]
    expected_loss = -estimate + (0.5 * penalty(p, values_p, q, values_q, critic) if penalty else 0.0)
    assert _number(value) == pytest.approx(_number(estimate), rel=1e-6), "metric(p, q, critic) = estimate(critic(p), critic(q))"
    assert _number(loss) == pytest.approx(_number(expected_loss), rel=1e-6), (
        "critic_loss = -estimate + reg_cf * regulariser(p, cp, q, cq, critic)")
    assert loss.requires_grad, "the critic's loss must be differentiable with respect to the critic"


@pytest.mark.task(EMA)
def test_ema_moves_the_target_towards_the_source_in_place():
    import gan

    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    fill_parameters(source, np.random.default_rng(9))
    fill_parameters(target, np.random.default_rng(10))
    before = [t.detach().clone() for t in target.parameters()]
    weight, storage = target.weight, target.weight.data_ptr()
    result = gan.apply_exponential_moving_average(source, target, alpha=0.75)
    assert result is None, "the update is in place and returns None"
    assert target.weight is weight, "update the target's tensors in place"
    assert target.weight.data_ptr() == storage, (
        "update the target's tensors in place (mul_, add_, lerp_ or copy_), not by assigning new tensors to .data")
    for old, new, src in zip(before, target.parameters(), source.parameters()):
        torch.testing.assert_close(new.detach(), 0.75 * old + 0.25 * src.detach())
        assert not new.requires_grad or new.grad_fn is None, "no autograd history on the averaged parameters"


@pytest.mark.task(EMA)
def test_ema_leaves_the_source_alone_and_converges_to_it():
    import gan

    source, target = nn.Linear(2, 2), nn.Linear(2, 2)
    fill_parameters(source, np.random.default_rng(11))
    fill_parameters(target, np.random.default_rng(12))
    kept = [s.detach().clone() for s in source.parameters()]
    for _ in range(200):
        gan.apply_exponential_moving_average(source, target, alpha=0.9)
    for old, src, tgt in zip(kept, source.parameters(), target.parameters()):
        assert torch.equal(old, src), "the source must not change"
        torch.testing.assert_close(tgt, src, rtol=0, atol=1e-5)


def _step_setup(iters: int, seed: int = 13):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(iters, 3, 2))
    critic = TinyCritic(2)
    fill_parameters(critic, rng)
    generator = ReplayGenerator(rng.normal(size=(iters + 1, 3, 2)), (2,))
    fill_parameters(generator, rng)
    test_generator = ReplayGenerator(np.zeros((1, 3, 2)), (2,))
    test_generator.load_state_dict(generator.state_dict())
    batches = [_t(batch) for batch in real]
    return batches, critic, generator, test_generator


@pytest.mark.task(STEP)
@pytest.mark.parametrize("iters", [1, 3])
def test_train_step_updates_the_critic_then_the_generator(iters):
    import copy

    import gan

    batches, critic, generator, test_generator = _step_setup(iters)
    untouched = [t.detach().clone() for t in test_generator.parameters()]
    # the same updates, written out with the stand-in losses
    metric, critic_loss = _standin_make_losses("W1", "R1", 0.5)
    ref_critic, ref_gen = copy.deepcopy(critic), copy.deepcopy(generator)
    c_opt, g_opt = torch.optim.SGD(ref_critic.parameters(), lr=0.1), torch.optim.SGD(ref_gen.parameters(), lr=0.1)
    for p in batches:
        q = ref_gen().detach()
        c_opt.zero_grad()
        critic_loss(p, q, ref_critic).backward()
        c_opt.step()
    value = metric(batches[-1], ref_gen(), ref_critic)
    g_opt.zero_grad()
    value.backward()
    g_opt.step()

    with replaced(gan, make_losses=_standin_make_losses, apply_exponential_moving_average=_standin_ema):
        step = gan.make_train_step("W1", critic_inner_iters=iters, reg_type="R1", reg_cf=0.5)
        got = step(iter(batches), critic, torch.optim.SGD(critic.parameters(), lr=0.1), generator, test_generator,
                   torch.optim.SGD(generator.parameters(), lr=0.1))
    assert generator.calls == iters + 1, f"generator() must be called once per critic update and once more; got {generator.calls}"
    assert isinstance(got, float) and got == pytest.approx(_number(value), rel=1e-5), "return the generator's metric as a float"
    for name, mine, ref in (("critic", critic, ref_critic), ("generator", generator, ref_gen)):
        for a, b in zip(mine.parameters(), ref.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"the {name}'s parameters after the step")
    for a, b in zip(test_generator.parameters(), untouched):
        assert torch.equal(a, b), "without alpha_ema the test generator is not touched"


@pytest.mark.task(STEP)
def test_train_step_applies_the_moving_average_after_the_generator_update():
    import gan

    batches, critic, generator, test_generator = _step_setup(2, seed=14)
    with replaced(gan, make_losses=_standin_make_losses, apply_exponential_moving_average=_standin_ema):
        step = gan.make_train_step("JSD", critic_inner_iters=2, alpha_ema=0.8)
        step(iter(batches), critic, torch.optim.SGD(critic.parameters(), lr=0.1), generator, test_generator,
             torch.optim.SGD(generator.parameters(), lr=0.1))
    for averaged, trained in zip(test_generator.parameters(), generator.parameters()):
        # the stand-in "average" is alpha * source + 3 (1 - alpha), computed from the updated generator
        torch.testing.assert_close(averaged.detach(), 0.8 * trained.detach() + 3.0 * 0.2, rtol=1e-6, atol=1e-6)
