"""Graded cases of ``gan.py``: the CS 236 losses (and, below them, the IFT6135 GAN module).

CS 236's losses draw their own noise inside (``torch.randn`` for z, ``torch.rand`` for WGAN-GP's
alpha). A case cannot fix that noise with torch's seed: a student who draws alpha before z, or
z with another shape, would get other values from a correct solution. So the noise is part of
the case's inputs (drawn from NumPy), and :func:`replayed_noise` replaces ``torch.randn`` and
``torch.rand`` during the call: whatever the order of the calls, ``randn`` gets z and ``rand``
gets alpha, reshaped to the shape asked for. The networks are tiny stand-ins with NumPy weights
(the CS 236 networks are provided code, not graded).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from tests.harness import Case, fill_parameters, to_numpy

NS_D = "loss_nonsaturating_d"
NS_G = "loss_nonsaturating_g"
CNS_D = "conditional_loss_nonsaturating_d"
CNS_G = "conditional_loss_nonsaturating_g"
WGP_D = "loss_wasserstein_gp_d"
WGP_G = "loss_wasserstein_gp_g"


class NoiseReplayError(RuntimeError):
    """A loss asked for noise the case does not replay (another amount, or a third draw)."""


@contextlib.contextmanager
def replayed_noise(z: np.ndarray, alpha: np.ndarray | None = None):
    """Within the block, ``torch.randn`` returns ``z`` and ``torch.rand`` returns ``alpha``.

    Each is handed out in the shape asked for, as long as it has as many numbers; so
    ``torch.rand(B)``, ``torch.rand(B, 1)`` and ``torch.rand(B, 1, 1, 1)`` all get the same B
    values. Asking for another amount raises :class:`NoiseReplayError` with a message saying why.
    """
    originals = torch.randn, torch.rand
    stores = {"randn": np.asarray(z, dtype=np.float32),
              "rand": None if alpha is None else np.asarray(alpha, dtype=np.float32)}

    def replay(kind: str):
        def draw(*size, dtype=None, device=None, requires_grad=False, **_ignored):
            shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
            values = stores[kind]
            wanted = int(np.prod(shape)) if shape else 1
            if values is None or wanted != values.size:
                have = "no" if values is None else f"{values.size}"
                raise NoiseReplayError(
                    f"torch.{kind}{tuple(shape)} asks for {wanted} numbers; this loss's test replays {have} "
                    f"from torch.{kind} (draw exactly the noise the docstring names, once)")
            out = torch.from_numpy(values.reshape(shape).copy()).to(device=device, dtype=dtype or torch.float32)
            return out.requires_grad_(requires_grad)

        return draw

    torch.randn, torch.rand = replay("randn"), replay("rand")
    try:
        yield
    finally:
        torch.randn, torch.rand = originals


def _tensor(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def _flat_grads(loss: torch.Tensor, module: nn.Module) -> np.ndarray:
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return to_numpy(torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]))


# ---- CS 236: stand-in networks with the provided networks' interfaces ---------------------------


class TinyGenerator(nn.Module):
    """z (B, Z) [, labels (B,)] -> images (B, C, H, W): one hidden tanh layer."""

    def __init__(self, dim_z: int, image_shape: tuple, num_classes: int = 0):
        super().__init__()
        self.dim_z, self.num_classes, self.image_shape = dim_z, num_classes, tuple(image_shape)
        self.net = nn.Sequential(nn.Linear(dim_z + num_classes, 8), nn.Tanh(), nn.Linear(8, int(np.prod(image_shape))))

    def forward(self, z, y=None):
        if self.num_classes:
            z = torch.cat([z, nn.functional.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        return self.net(z).reshape(len(z), *self.image_shape)


class TinyDiscriminator(nn.Module):
    """images (B, C, H, W) [, labels (B,)] -> logits (B,): one hidden tanh layer, then one output
    (or K outputs, the label picking one: a projection discriminator)."""

    def __init__(self, image_shape: tuple, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(image_shape)), 8), nn.Tanh(),
                                 nn.Linear(8, max(num_classes, 1)))

    def forward(self, x, y=None):
        out = self.net(x)  # (B, 1) or (B, K)
        return out.gather(1, y[:, None]).squeeze(1) if self.num_classes else out.squeeze(1)


def cs236_inputs(batch=4, dim_z=3, image=(1, 3, 3), classes=0, logit_scale=1.0):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, width, shape, k = batch, dim_z, image, classes
        if hidden:
            size, width = int(rng.integers(2, 9)), int(rng.integers(2, 6))
            shape = (1, int(rng.integers(2, 5)), int(rng.integers(2, 5)))
            k = int(rng.integers(2, 6)) if classes else 0
        inputs = {
            "x_real": rng.uniform(-1, 1, size=(size, *shape)),
            "z": rng.normal(size=(size, width)),
            "alpha": rng.uniform(0, 1, size=size),
            "weight_seed": np.array(rng.integers(2**31)),
            "logit_scale": np.array(logit_scale),
            "num_classes": np.array(k),
        }
        if k:
            inputs["y_real"] = rng.integers(0, k, size=size)
        return inputs

    return make


def _cs236_networks(inputs: dict):
    k = int(inputs["num_classes"])
    shape = inputs["x_real"].shape[1:]
    g = TinyGenerator(inputs["z"].shape[1], shape, k)
    d = TinyDiscriminator(shape, k)
    rng = np.random.default_rng(int(inputs["weight_seed"]))
    fill_parameters(g, rng)
    fill_parameters(d, rng)
    with torch.no_grad():
        d.net[-1].weight.mul_(float(inputs["logit_scale"]))
        d.net[-1].bias.mul_(float(inputs["logit_scale"]))
    return g, d


def cs236_runner(name: str, trains: str):
    """A case's run: call loss ``name`` with the noise replayed; the loss and its gradient with
    respect to the network it trains (``trains``: "d" or "g")."""

    def run(inputs: dict) -> dict:
        import gan

        g, d = _cs236_networks(inputs)
        labels = (torch.as_tensor(inputs["y_real"], dtype=torch.int64),) if "y_real" in inputs else ()
        with replayed_noise(inputs["z"], inputs["alpha"]):
            loss = getattr(gan, name)(g, d, _tensor(inputs["x_real"]), *labels, device=torch.device("cpu"))
        grads = _flat_grads(loss, d if trains == "d" else g)
        return {"loss": to_numpy(loss), f"{trains}_grad": grads}

    return run




# ================================================================================================
# IFT6135: the GAN module. Critics return (N,); samples have any shape (N,) or (N, ...).
# ================================================================================================
# make_losses and make_train_step compose other graded functions. Their cases replace those
# (jsd, w1, ogp, r1gp; make_losses and apply_exponential_moving_average) by the stand-ins below,
# so that they grade the composition alone: a mistake in jsd costs jsd's points only.

JSD = "jsd"
W1 = "w1"
OGP = "ogp"
R1GP = "r1gp"
LOSSES = "make_losses"
EMA = "apply_exponential_moving_average"
STEP = "make_train_step"
LOSS_TYPES, REG_TYPES = ("JSD", "W1"), (None, "GP", "R1")


class TinyCritic(nn.Module):
    """Samples (N, ...) -> (N,): flatten, one hidden tanh layer of 6 units, one output."""

    def __init__(self, sample_size: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(sample_size, 6), nn.Tanh(), nn.Linear(6, 1))

    def forward(self, x):
        return self.net(x.reshape(len(x), -1)).squeeze(1)


def critic_values_inputs(count=5, scale=1.0):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        n, m = (int(rng.integers(1, 9)), int(rng.integers(1, 9))) if hidden else (count, count + 2)
        return {"cp": scale * rng.normal(size=n), "cq": scale * rng.normal(size=m)}

    return make


def critic_values_runner(name: str):
    def run(inputs: dict) -> dict:
        import gan

        cp = _tensor(inputs["cp"]).requires_grad_(True)
        cq = _tensor(inputs["cq"]).requires_grad_(True)
        value = getattr(gan, name)(cp, cq)
        grad_p, grad_q = torch.autograd.grad(value, (cp, cq))
        return {"value": to_numpy(value), "grad_cp": to_numpy(grad_p), "grad_cq": to_numpy(grad_q)}

    return run


SHAPES = [(), (3,), (2, 2, 2), (1, 3, 2)]  # sample shapes the hidden cases draw from


def penalty_inputs(count=4, shape=(), scale=1.0):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        n, sample = count, shape
        if hidden:
            n, sample = int(rng.integers(1, 8)), SHAPES[int(rng.integers(0, len(SHAPES)))]
        return {"p": scale * rng.normal(size=(n, *sample)), "q": scale * rng.normal(size=(n, *sample)),
                "eps": rng.uniform(0, 1, size=n), "weight_seed": np.array(rng.integers(2**31))}

    return make


def _critic(inputs: dict) -> TinyCritic:
    critic = TinyCritic(int(np.prod(inputs["p"].shape[1:], dtype=int)))
    fill_parameters(critic, np.random.default_rng(int(inputs["weight_seed"])))
    return critic


def penalty_runner(name: str):
    def run(inputs: dict) -> dict:
        import gan

        critic = _critic(inputs)
        p, q = _tensor(inputs["p"]), _tensor(inputs["q"])
        with torch.no_grad():  # critic values the penalty may use
            values_p, values_q = critic(p), critic(q)
        with replayed_noise(np.zeros(0), inputs["eps"]):
            value = getattr(gan, name)(p, values_p, q, values_q, critic)
        return {"value": to_numpy(value), "critic_grad": _flat_grads(value, critic)}

    return run


# Stand-ins for make_losses' cases: each is a different function of its arguments, so that the
# outputs show which one was called, with which arguments, in which order.
def _standin_jsd(cp, cq):
    return 0.5 * cp.mean() - 0.25 * (cq**2).mean() + 0.125


def _standin_w1(cp, cq):
    return 2.0 * cp.mean() - 0.5 * cq.mean() ** 2


def _standin_ogp(p, cp, q, cq, critic):
    return (cp**2).mean() + 0.3 * cq.mean() + 0.1 * critic(0.5 * p + 0.5 * q).mean()


def _standin_r1gp(p, cp, q, cq, critic):
    return 0.7 * (cp**2).mean() - 0.2 * cq.mean() + 0.05 * critic(2.0 * p).mean()


STANDINS = {"jsd": _standin_jsd, "w1": _standin_w1, "ogp": _standin_ogp, "r1gp": _standin_r1gp}


@contextlib.contextmanager
def replaced(module, **functions):
    """Within the block, ``module.<name>`` is the given function (restored afterwards)."""
    saved = {name: getattr(module, name) for name in functions}
    for name, function in functions.items():
        setattr(module, name, function)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(module, name, function)


def losses_inputs(loss: int, reg: int, reg_cf=1.0, count=4, shape=(2,)):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        inputs = penalty_inputs(count, shape)(rng, hidden)
        inputs.update(loss=np.array(loss), reg=np.array(reg),
                      reg_cf=np.array(float(rng.uniform(0.1, 5.0)) if hidden else reg_cf))
        return inputs

    return make


def run_losses(inputs: dict) -> dict:
    import gan

    critic = _critic(inputs)
    p, q = _tensor(inputs["p"]), _tensor(inputs["q"])
    with replaced(gan, **STANDINS):
        metric, critic_loss = gan.make_losses(LOSS_TYPES[int(inputs["loss"])], REG_TYPES[int(inputs["reg"])],
                                              float(inputs["reg_cf"]))
        value = metric(p, q, critic)
        loss = critic_loss(p, q, critic)
    return {"metric": to_numpy(value), "critic_loss": to_numpy(loss), "critic_grad": _flat_grads(loss, critic)}


class TinyModel(nn.Module):
    """A small network with NumPy weights (for the EMA cases)."""

    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, 3), nn.Tanh(), nn.Linear(3, 2))


def ema_inputs(width=4, alpha=0.9):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        return {"width": np.array(int(rng.integers(1, 6)) if hidden else width),
                "alpha": np.array(float(rng.uniform(0.01, 0.99)) if hidden else alpha),
                "source_seed": np.array(rng.integers(2**31)), "target_seed": np.array(rng.integers(2**31))}

    return make


def _flat_params(module: nn.Module) -> np.ndarray:
    return to_numpy(torch.cat([p.detach().flatten() for p in module.parameters()]))


def run_ema(inputs: dict) -> dict:
    import gan

    width = int(inputs["width"])
    source, target = TinyModel(width), TinyModel(width)
    fill_parameters(source, np.random.default_rng(int(inputs["source_seed"])))
    fill_parameters(target, np.random.default_rng(int(inputs["target_seed"])))
    tensors = [p for p in target.parameters()]
    returned = gan.apply_exponential_moving_average(source, target, float(inputs["alpha"]))
    in_place = all(a is b for a, b in zip(tensors, target.parameters()))
    return {"target": _flat_params(target), "source": _flat_params(source),
            "returned_none": np.array(float(returned is None)), "in_place": np.array(float(in_place))}


class ReplayGenerator(nn.Module):
    """A generator called without arguments: each call maps the next stored noise batch through a
    small network (so its outputs, and the order of calls, are fixed by the case's inputs)."""

    def __init__(self, noise: np.ndarray, sample_shape: tuple):
        super().__init__()
        self.noise = [_tensor(batch) for batch in noise]  # (calls, N, Z)
        self.sample_shape = tuple(sample_shape)
        self.net = nn.Sequential(nn.Linear(noise.shape[2], 5), nn.Tanh(), nn.Linear(5, int(np.prod(sample_shape, dtype=int))))
        self.calls = 0

    def forward(self):
        if self.calls >= len(self.noise):
            raise NoiseReplayError(f"generator() was called more than the {len(self.noise)} times the step needs")
        z = self.noise[self.calls]
        self.calls += 1
        return self.net(z).reshape(len(z), *self.sample_shape)


def _standin_make_losses(loss_type, reg_type=None, reg_cf=1.0):
    """For make_train_step's cases: a metric and a critic loss that depend on the configuration."""
    sign = 1.0 if loss_type == "JSD" else -1.0
    weight = {None: 0.0, "GP": 1.0, "R1": 2.0}[reg_type] * reg_cf

    def standin_metric(p, q, critic):
        return sign * critic(p).mean() - critic(q).mean() + 0.1 * (q**2).mean()

    def standin_critic_loss(p, q, critic):
        return -standin_metric(p, q, critic) + weight * (critic(p) ** 2).mean()

    return standin_metric, standin_critic_loss


def _standin_ema(source, target, alpha=0.998):
    with torch.no_grad():  # the stand-in's update
        for t, s in zip(target.parameters(), source.parameters()):
            t.copy_(alpha * s + 3.0 * (1 - alpha))  # not an average: shows the call and its arguments


class PlainSGD:
    """Plain gradient descent with torch.optim's two methods that a train step calls (``zero_grad``,
    ``step``). The cases use it instead of ``torch.optim.SGD``, whose first step loads a compiler
    stack the grader's sandbox would count against the submitted file."""

    def __init__(self, params, lr: float):
        self.params, self.lr = list(params), lr

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        with torch.no_grad():  # the update itself is not differentiated
            for param in self.params:
                if param.grad is not None:
                    param -= self.lr * param.grad


def step_inputs(iters=1, loss=0, reg=0, alpha_ema=None, count=4, shape=(2,), zdim=3):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        k, n, sample = iters, count, shape
        if hidden:
            k, n, sample = int(rng.integers(1, 4)), int(rng.integers(2, 6)), SHAPES[int(rng.integers(1, len(SHAPES)))]
        return {"real": rng.normal(size=(k, n, *sample)), "noise": rng.normal(size=(k + 1, n, zdim)),
                "loss": np.array(loss), "reg": np.array(reg), "reg_cf": np.array(0.5),
                "alpha_ema": np.array(-1.0 if alpha_ema is None else alpha_ema),
                "critic_seed": np.array(rng.integers(2**31)), "generator_seed": np.array(rng.integers(2**31))}

    return make


def run_step(inputs: dict) -> dict:
    import gan

    real = inputs["real"]
    sample_shape = real.shape[2:]
    critic = TinyCritic(int(np.prod(sample_shape, dtype=int)))
    fill_parameters(critic, np.random.default_rng(int(inputs["critic_seed"])))
    generator = ReplayGenerator(inputs["noise"], sample_shape)
    fill_parameters(generator, np.random.default_rng(int(inputs["generator_seed"])))
    test_generator = ReplayGenerator(inputs["noise"], sample_shape)
    test_generator.load_state_dict(generator.state_dict())
    alpha = float(inputs["alpha_ema"])
    with replaced(gan, make_losses=_standin_make_losses, apply_exponential_moving_average=_standin_ema):
        step = gan.make_train_step(LOSS_TYPES[int(inputs["loss"])], critic_inner_iters=len(real),
                                   reg_type=REG_TYPES[int(inputs["reg"])], reg_cf=float(inputs["reg_cf"]),
                                   alpha_ema=None if alpha < 0 else alpha)
        value = step(iter([_tensor(batch) for batch in real]), critic, PlainSGD(critic.parameters(), lr=0.1),
                     generator, test_generator, PlainSGD(generator.parameters(), lr=0.1))
    return {"value": np.asarray(float(value)), "critic": _flat_params(critic), "generator": _flat_params(generator),
            "test_generator": _flat_params(test_generator), "generator_calls": np.array(generator.calls)}


CASES = [
    Case(NS_D, "ns_d_small", seed=201, make_inputs=cs236_inputs(), run=cs236_runner(NS_D, "d")),
    Case(NS_D, "ns_d_large_logits", seed=202, make_inputs=cs236_inputs(batch=6, logit_scale=200.0),
         run=cs236_runner(NS_D, "d")),
    Case(NS_G, "ns_g_small", seed=211, make_inputs=cs236_inputs(), run=cs236_runner(NS_G, "g")),
    Case(NS_G, "ns_g_large_logits", seed=212, make_inputs=cs236_inputs(batch=6, logit_scale=-200.0),
         run=cs236_runner(NS_G, "g")),
    Case(CNS_D, "cns_d_small", seed=221, make_inputs=cs236_inputs(classes=3), run=cs236_runner(CNS_D, "d")),
    Case(CNS_D, "cns_d_large_logits", seed=222, make_inputs=cs236_inputs(batch=6, classes=4, logit_scale=200.0),
         run=cs236_runner(CNS_D, "d")),
    Case(CNS_G, "cns_g_small", seed=231, make_inputs=cs236_inputs(classes=3), run=cs236_runner(CNS_G, "g")),
    Case(CNS_G, "cns_g_large_logits", seed=232, make_inputs=cs236_inputs(batch=6, classes=4, logit_scale=-200.0),
         run=cs236_runner(CNS_G, "g")),
    Case(WGP_D, "wgp_d_small", seed=241, make_inputs=cs236_inputs(), run=cs236_runner(WGP_D, "d")),
    Case(WGP_D, "wgp_d_larger", seed=242, make_inputs=cs236_inputs(batch=6, dim_z=5, image=(1, 4, 4)),
         run=cs236_runner(WGP_D, "d")),
    Case(WGP_G, "wgp_g_small", seed=251, make_inputs=cs236_inputs(), run=cs236_runner(WGP_G, "g")),
    Case(WGP_G, "wgp_g_larger", seed=252, make_inputs=cs236_inputs(batch=6, dim_z=5, image=(1, 4, 4)),
         run=cs236_runner(WGP_G, "g")),
    Case(JSD, "jsd_small", seed=301, make_inputs=critic_values_inputs(), run=critic_values_runner("jsd")),
    Case(JSD, "jsd_large_values", seed=302, make_inputs=critic_values_inputs(scale=100.0), run=critic_values_runner("jsd")),
    Case(W1, "w1_small", seed=311, make_inputs=critic_values_inputs(), run=critic_values_runner("w1")),
    Case(W1, "w1_large_values", seed=312, make_inputs=critic_values_inputs(count=3, scale=100.0),
         run=critic_values_runner("w1")),
    Case(OGP, "ogp_scalar_samples", seed=321, make_inputs=penalty_inputs(), run=penalty_runner("ogp")),
    Case(OGP, "ogp_image_samples", seed=322, make_inputs=penalty_inputs(count=5, shape=(3, 2, 2)), run=penalty_runner("ogp")),
    Case(R1GP, "r1gp_scalar_samples", seed=331, make_inputs=penalty_inputs(), run=penalty_runner("r1gp")),
    Case(R1GP, "r1gp_image_samples", seed=332, make_inputs=penalty_inputs(count=5, shape=(3, 2, 2)),
         run=penalty_runner("r1gp")),
    Case(LOSSES, "losses_jsd_none", seed=340, make_inputs=losses_inputs(0, 0, reg_cf=1.0), run=run_losses),
    Case(LOSSES, "losses_jsd_gp", seed=341, make_inputs=losses_inputs(0, 1, reg_cf=2.5), run=run_losses),
    Case(LOSSES, "losses_jsd_r1", seed=342, make_inputs=losses_inputs(0, 2, reg_cf=2.5), run=run_losses),
    Case(LOSSES, "losses_w1_none", seed=343, make_inputs=losses_inputs(1, 0, reg_cf=1.0), run=run_losses),
    Case(LOSSES, "losses_w1_gp", seed=344, make_inputs=losses_inputs(1, 1, reg_cf=2.5), run=run_losses),
    Case(LOSSES, "losses_w1_r1", seed=345, make_inputs=losses_inputs(1, 2, reg_cf=2.5), run=run_losses),
    Case(EMA, "ema_alpha_0_9", seed=351, make_inputs=ema_inputs(), run=run_ema),
    Case(EMA, "ema_alpha_0_5", seed=352, make_inputs=ema_inputs(width=2, alpha=0.5), run=run_ema),
    Case(STEP, "step_one_critic_update", seed=361, make_inputs=step_inputs(), run=run_step),
    Case(STEP, "step_three_critic_updates_ema", seed=362, make_inputs=step_inputs(iters=3, loss=1, reg=2, alpha_ema=0.9),
         run=run_step),
    Case(STEP, "step_two_critic_updates_gp", seed=363, make_inputs=step_inputs(iters=2, loss=0, reg=1, shape=(2, 2)),
         run=run_step),
]
