r"""Normalizing flows: the masked autoregressive flow (MAF) and planar flows.

Two assignments use this module:

* **CS236 Homework 3, problem 1** (Papamakarios et al., 2017): a MAF of MADE blocks
  (Germain et al., 2015) fitted to the two-dimensional "moons" data by maximum likelihood.
  Graded: ``MADE.forward``, ``MADE.inverse`` and ``MAF.log_probs``.
* **IFT6135 Assignment 3, problem 3** (Rezende and Mohamed, 2015): planar flows, trained from
  samples (maximum likelihood) or from an unnormalised density given as an energy (reverse KL).
  Graded: ``PlanarTransformation.forward`` (the handout's ``planar_transformation``),
  ``PlanarTransformation.get_logdet``, ``loss1`` and ``loss2``.

**The return contract of every invertible map here.** A map ``y = f(v)`` returns
``(y, log_det)`` where ``log_det`` is :math:`\log\lvert\det \partial f(v)/\partial v\rvert`, the
log-determinant *of the map just applied*, one value per example. So a map's ``forward`` and
``inverse`` return log-determinants that cancel, and a density is pushed through a chain of maps
by adding them: :math:`\log p_x(x) = \log p_z(z) + \log\lvert\det \partial z/\partial x\rvert`.
Shapes follow the two courses' original code: the CS236 classes return ``log_det`` of shape
(B,), the IFT6135 planar layers (B, 1).

Training (``python main.py --model maf`` or ``--model planar``) goes through the kit's one loop
with the recipes at the end of this module.

Letters used for shapes: B batch, D data dimension (2 for every data set here), H hidden width
of a MADE, K number of planar layers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train import Recipe

LOG_2PI = math.log(2 * math.pi)


# ============================================================================================
# CS236: MADE and MAF
# ============================================================================================


# ASSIGNMENT: cs236-hw3
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (a buffer) on every call.

    ``mask`` has the weight's shape (out_features, in_features); entry (o, i) = 1 lets input i
    reach output o.
    """

    def __init__(self, input_size: int, output_size: int, mask: torch.Tensor):
        super().__init__(input_size, output_size)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.mask * self.weight, self.bias)


# ASSIGNMENT: cs236-hw3
class PermuteLayer(nn.Module):
    """Reverses the order of the D coordinates; placed between MADE blocks so that every
    coordinate gets to be conditioned on the others.

    ``forward`` and ``inverse`` are the same map; both return ``(permuted, log_det)`` with
    ``log_det`` zeros of shape (B,) (a permutation preserves volume). The original starter code
    returned (B, 1) here; (B,) matches MADE's, so that the two add without broadcasting to (B, B).
    """

    def __init__(self, num_inputs: int):
        super().__init__()
        self.register_buffer("perm", torch.arange(num_inputs - 1, -1, -1))

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs[:, self.perm], inputs.new_zeros(len(inputs))

    def inverse(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs[:, self.perm], inputs.new_zeros(len(inputs))


class MADE(nn.Module):
    r"""One Gaussian autoregressive block: a masked MLP computing :math:`\mu_i, \alpha_i` from
    :math:`x_{<i}`, used as an invertible map between a base point z and a data point x:

    .. math::
        x_i = \mu_i(x_{<i}) + z_i \exp(\alpha_i(x_{<i})), \qquad
        z_i = \big(x_i - \mu_i(x_{<i})\big) \exp(-\alpha_i(x_{<i})), \qquad i = 1, \dots, D .

    :math:`\alpha_i` is the *log* standard deviation of :math:`x_i` given :math:`x_{<i}`.

    The network (provided): ``MaskedLinear(D -> H)``, ReLU, ``n_hidden`` times
    [``MaskedLinear(H -> H)``, ReLU], ``MaskedLinear(H -> 2D)``. Its output, of shape (B, 2D),
    holds :math:`\mu` in columns ``0 .. D-1`` and :math:`\alpha` in columns ``D .. 2D-1``
    (``mu, alpha = self.net(x).chunk(2, dim=1)``). The masks use the sequential ordering, so
    output columns i and D + i depend only on inputs ``x[:, :i]`` (``mu[:, 0]`` and
    ``alpha[:, 0]`` are constants).
    """

    def __init__(self, input_size: int, hidden_size: int, n_hidden: int):
        super().__init__()
        if input_size < 2:
            raise ValueError(f"a MADE needs at least 2 inputs, got input_size={input_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.n_hidden = n_hidden
        masks = self.create_masks()
        layers: list[nn.Module] = [MaskedLinear(input_size, hidden_size, masks[0]), nn.ReLU()]
        for mask in masks[1:-1]:
            layers += [MaskedLinear(hidden_size, hidden_size, mask), nn.ReLU()]
        # mu and alpha of coordinate i share the connectivity of output i: the mask twice.
        layers.append(MaskedLinear(hidden_size, 2 * input_size, masks[-1].repeat(2, 1)))
        self.net = nn.Sequential(*layers)

    def create_masks(self) -> list[torch.Tensor]:
        """Masks of the sequential ordering (Germain et al., 2015, section 4).

        Each unit gets a degree: input i has degree i (0-based); hidden unit k has degree
        k mod (D - 1), so it may see inputs 0 .. k mod (D - 1); output i has degree i - 1. A
        hidden unit of degree d sees inputs of degree <= d; output i sees hidden units of degree
        <= i - 1, hence only inputs 0 .. i - 1. Returns n_hidden + 2 float masks, each of shape
        (units out, units in); the degrees are kept in ``self.m``.
        """
        D, H = self.input_size, self.hidden_size
        self.m = [torch.arange(D)] + [torch.arange(H) % (D - 1) for _ in range(self.n_hidden + 1)]
        self.m.append(torch.arange(D) - 1)
        return [(later[:, None] >= earlier[None, :]).float() for earlier, later in zip(self.m[:-1], self.m[1:])]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The sampling direction, z -> x: :math:`x_i = \mu_i(x_{<i}) + z_i \exp(\alpha_i(x_{<i}))`.

        :math:`\mu_i` and :math:`\alpha_i` depend on the *outputs* :math:`x_{<i}`, which are not
        known in advance: compute x one coordinate at a time, i = 0, 1, ..., D - 1, running the
        network on the coordinates found so far (D passes of ``self.net``). Avoid writing into a
        tensor that autograd still needs (build a new one each step, e.g. with ``torch.cat`` or
        ``clone``): gradients must flow from x back to z and to the parameters.

        Args:
            z: (B, D) points of the base space.

        Returns:
            ``(x, log_det)``: x (B, D), and :math:`\log\lvert\det \partial x/\partial z\rvert =
            \sum_i \alpha_i(x_{<i})` of shape (B,), one value per example (the Jacobian is
            triangular with diagonal :math:`\exp(\alpha_i)`).
        """
        # BEGIN SOLUTION made_forward
        x = torch.zeros_like(z)
        for i in range(self.input_size):
            mu, alpha = self.net(x).chunk(2, dim=1)  # (B, D) each; column i uses x[:, :i] only
            x_i = mu[:, i] + z[:, i] * torch.exp(alpha[:, i])  # (B,)
            x = torch.cat([x[:, :i], x_i[:, None], x[:, i + 1:]], dim=1)
        # The last pass saw every x_{<i} for all i, so its alpha is the final one.
        log_det = alpha.sum(dim=1)  # (B,)
        return x, log_det
        # END SOLUTION

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The density direction, x -> z: :math:`z_i = (x_i - \mu_i(x_{<i})) \exp(-\alpha_i(x_{<i}))`.

        Here all of x is known, so one pass of the network gives every :math:`\mu_i` and
        :math:`\alpha_i` at once (this is why a MAF evaluates densities fast and samples slowly).

        Args:
            x: (B, D) data points.

        Returns:
            ``(z, log_det)``: z (B, D), and :math:`\log\lvert\det \partial z/\partial x\rvert =
            -\sum_i \alpha_i(x_{<i})` of shape (B,), one value per example.
        """
        # BEGIN SOLUTION made_inverse
        mu, alpha = self.net(x).chunk(2, dim=1)  # (B, D) each
        z = (x - mu) * torch.exp(-alpha)  # (B, D)
        log_det = -alpha.sum(dim=1)  # (B,)
        return z, log_det
        # END SOLUTION


class MAF(nn.Module):
    r"""A masked autoregressive flow: ``n_flows`` MADE blocks, each followed by a reversal of the
    coordinates, on a standard normal base :math:`\mathcal{N}(0, I_D)`.

    ``self.nf`` lists the maps in the *density* direction: data x goes through
    ``self.nf[0].inverse``, then ``self.nf[1].inverse``, ..., to the base point z. Sampling runs
    ``forward`` through them in the opposite order (``sample``).
    """

    def __init__(self, input_size: int, hidden_size: int, n_hidden: int, n_flows: int):
        super().__init__()
        self.input_size = input_size
        self.base_dist = torch.distributions.Normal(0.0, 1.0)  # per coordinate
        blocks: list[nn.Module] = []
        for _ in range(n_flows):
            blocks += [MADE(input_size, hidden_size, n_hidden), PermuteLayer(input_size)]
        self.nf = nn.Sequential(*blocks)

    def log_probs(self, x: torch.Tensor) -> torch.Tensor:
        r"""The average log-likelihood of a batch, by the change of variables through every map:

        .. math::
            \log p(x) = \log \mathcal{N}(z; 0, I_D) + \sum_{j} \log\lvert\det \partial v_j / \partial v_{j-1}\rvert ,

        where :math:`v_0 = x`, :math:`v_j` = the output of ``self.nf[j - 1].inverse`` and z the
        last one. :math:`\log \mathcal{N}(z; 0, I_D) = \sum_i \log \mathcal{N}(z_i; 0, 1)`
        (``self.base_dist.log_prob`` gives the per-coordinate terms).

        Args:
            x: (B, D) data points.

        Returns:
            A scalar tensor (shape ``()``): the **mean over the batch** of :math:`\log p(x)`, in
            nats. It is a log-likelihood (higher is better); training minimises ``loss``, its
            negative. On held-out moons data this negative cannot go below the data's
            differential entropy (about 1.13 nats); the handout's "about -1.2 nats" is this
            log-likelihood, i.e. a loss of about +1.2.
        """
        # BEGIN SOLUTION maf_log_probs
        log_det = x.new_zeros(len(x))  # (B,)
        for flow in self.nf:
            x, step_log_det = flow.inverse(x)
            log_det = log_det + step_log_det
        log_base = self.base_dist.log_prob(x).sum(dim=1)  # (B,)
        return (log_base + log_det).mean()
        # END SOLUTION

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The training loss: the mean negative log-likelihood of the batch, in nats."""
        return -self.log_probs(x)

    def sample(self, device, n: int) -> np.ndarray:
        """``n`` samples as a NumPy array (n, D): base draws pushed through every block's forward."""
        with torch.no_grad():
            x = self.base_dist.sample((n, self.input_size)).to(device)
            for flow in reversed(self.nf):
                x, _ = flow.forward(x)
        return x.cpu().numpy()


# ============================================================================================
# IFT6135: planar flows
# ============================================================================================

# ASSIGNMENT: ift6135-a3
PLANAR_INIT_STD = 0.01  # std of the initial u and w: every layer starts close to the identity


class PlanarTransformation(nn.Module):
    r"""One planar layer (Rezende and Mohamed, 2015, section 4.1), with :math:`h = \tanh`:

    .. math::
        f(z) = z + \hat u\, h(w^\top z + b), \qquad u, w \in \mathbb{R}^D,\ b \in \mathbb{R} .

    **Invertibility.** Along w the map sends :math:`a = w^\top z + b` to
    :math:`a + (w^\top \hat u) \tanh(a)`, which is increasing, so f is a bijection, exactly when
    :math:`w^\top \hat u \ge -1`. The parameter ``u`` is free; the layer uses :math:`\hat u` =
    ``self.constrained_u()`` (provided), which meets that condition. Both graded methods must use
    :math:`\hat u`, never ``self.u`` itself.

    Parameters (shapes as in the original code): ``u`` and ``w`` (1, D), ``b`` (1,).
    """

    def __init__(self, dim: int = 2):
        super().__init__()
        self.u = nn.Parameter(PLANAR_INIT_STD * torch.randn(1, dim))
        self.w = nn.Parameter(PLANAR_INIT_STD * torch.randn(1, dim))
        self.b = nn.Parameter(torch.zeros(1))

    def constrained_u(self) -> torch.Tensor:
        r""":math:`\hat u` (1, D): ``u`` itself when :math:`w^\top u \ge -1`, otherwise

        .. math:: \hat u = u + \big(m(w^\top u) - w^\top u\big) \frac{w}{\lVert w\rVert^2},
                  \qquad m(a) = -1 + \log(1 + e^{a}),

        so that :math:`w^\top \hat u = m(w^\top u) > -1` (Rezende and Mohamed, appendix A.1).
        The original starter code overwrote ``u`` in place with this value when the condition
        failed; here it is recomputed on every call, so gradients reach ``u`` and ``w`` through it.
        """
        wu = (self.w * self.u).sum()  # w^T u, a scalar
        # The clamp only matters for w = 0 (then u is used): it keeps the unused branch, and
        # so the gradients, free of 0/0.
        adjusted = self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w**2).sum().clamp_min(1e-12)
        return torch.where(wu < -1, adjusted, self.u)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r"""The handout's ``planar_transformation``: :math:`f(z) = z + \hat u \tanh(w^\top z + b)`.

        Args:
            z: (B, D) points.

        Returns:
            (B, D): every point moved along :math:`\hat u` by :math:`\tanh(w^\top z + b)`, with
            :math:`\hat u` = ``self.constrained_u()``.
        """
        # BEGIN SOLUTION planar_transformation
        u = self.constrained_u()  # (1, D)
        return z + u * torch.tanh(z @ self.w.T + self.b)  # (B, 1) * (1, D)
        # END SOLUTION

    def get_logdet(self, z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
        r"""The log-determinant of the Jacobian of :math:`f` at each point, by the matrix determinant lemma:

        .. math::
            \frac{\partial f}{\partial z} = I + \hat u\, \psi(z)^\top, \quad
            \psi(z) = h'(w^\top z + b)\, w, \qquad
            \log\lvert\det \partial f/\partial z\rvert = \log\big(\lvert 1 + \psi(z)^\top \hat u\rvert + \epsilon\big),

        with :math:`h'(a) = 1 - \tanh^2(a)` and :math:`\hat u` = ``self.constrained_u()``.
        ``eps`` keeps the logarithm finite where the determinant underflows.

        Args:
            z: (B, D) the points f is applied to (its *inputs*).
            eps: added to the absolute determinant before the logarithm.

        Returns:
            (B, 1): :math:`\log\lvert\det \partial f(z)/\partial z\rvert` of each point.
        """
        # BEGIN SOLUTION get_logdet
        u = self.constrained_u()  # (1, D)
        slope = 1 - torch.tanh(z @ self.w.T + self.b) ** 2  # h'(w^T z + b), (B, 1)
        psi = slope * self.w  # (B, D)
        return torch.log(torch.abs(1 + psi @ u.T) + eps)  # (B, 1)
        # END SOLUTION


class Flow(nn.Module):
    """``num_layers`` planar layers applied in order: ``forward(z)`` returns ``(f_K(...f_1(z)), logdet)``
    with logdet (B, 1) the sum of every layer's ``get_logdet`` at its own input."""

    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(PlanarTransformation(dim) for _ in range(num_layers))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = z.new_zeros(len(z), 1)  # (B, 1)
        for layer in self.layers:
            logdet = logdet + layer.get_logdet(z)
            z = layer(z)
        return z, logdet


def loss1(z0: torch.Tensor, logdet: torch.Tensor) -> torch.Tensor:
    r"""Training from samples: the negative log-likelihood of data under the flow.

    The flow g runs from data to the base space (the handout's question 3.6): a data point x is
    mapped to :math:`z_0 = g(x)`, and the model density of x is the standard normal pulled back
    through g,

    .. math::
        -\ln p(x) = -\ln \mathcal{N}(z_0; 0, I_D) - \log\lvert\det \partial g(x)/\partial x\rvert
                  = \tfrac12 \lVert z_0\rVert^2 + \tfrac{D}{2}\ln(2\pi) - \mathrm{logdet} .

    Args:
        z0: (B, D) the flow's outputs on a batch of data, :math:`g(x)`.
        logdet: (B, 1) :math:`\log\lvert\det \partial g(x)/\partial x\rvert`, as ``Flow.forward`` returns it.

    Returns:
        (B, 1): the negative log-likelihood of each example, in nats (not averaged; the
        training loop averages over the batch).
    """
    # BEGIN SOLUTION loss1
    dim = z0.shape[1]
    log_base = -0.5 * (z0**2).sum(dim=1, keepdim=True) - 0.5 * dim * LOG_2PI  # (B, 1)
    return -(log_base + logdet)
    # END SOLUTION


def loss2(target_density: torch.Tensor, z0: torch.Tensor, logdet: torch.Tensor) -> torch.Tensor:
    r"""Training from an unnormalised density :math:`p(z) \propto e^{-U(z)}`: the reverse KL, per sample.

    Base points :math:`z_0 \sim \mathcal{N}(0, I_D)` go through the flow to :math:`z_K = f(z_0)`,
    whose density is :math:`\ln q_K(z_K) = \ln \mathcal{N}(z_0; 0, I_D) - \mathrm{logdet}`. The loss
    of one sample is

    .. math::
        \ln q_K(z_K) + U(z_K) = \ln \mathcal{N}(z_0; 0, I_D) - \mathrm{logdet} + U(z_K),

    whose mean over :math:`z_0` is :math:`\mathrm{KL}(q_K \,\Vert\, p) - \ln Z`, Z the unknown
    normaliser of :math:`e^{-U}`: minimising it minimises the KL, and it can never go below
    :math:`-\ln Z`. Keep the base term :math:`\ln \mathcal{N}(z_0; 0, I_D)`: it does not change
    the gradients, but without it the loss is not a KL.

    Args:
        target_density: (B,) the target's **energy** :math:`U(z_K) = -\ln \tilde p(z_K)` at the
            flow's outputs (what the handout's ``density_*`` functions return), not a density.
        z0: (B, D) the base samples the flow was applied to.
        logdet: (B, 1) :math:`\log\lvert\det \partial f(z_0)/\partial z_0\rvert`, as ``Flow.forward`` returns it.

    Returns:
        (B, 1): the loss of each sample, in nats.
    """
    # BEGIN SOLUTION loss2
    dim = z0.shape[1]
    log_base = -0.5 * (z0**2).sum(dim=1, keepdim=True) - 0.5 * dim * LOG_2PI  # (B, 1)
    return log_base - logdet + target_density[:, None]
    # END SOLUTION


# ============================================================================================
# Training with the kit's loop (train.py): the recipes of ``--model maf`` and ``--model planar``
# ============================================================================================

NUM_FIGURE_SAMPLES = 1_000  # samples drawn for each figure (the CS236 handout's 1 000)
# ASSIGNMENT: cs236-hw3
MAF_WEIGHT_DECAY = 1e-6  # Adam's weight decay in the original run_flow.py
# ASSIGNMENT: cs236-hw3
MOONS_EXTENT = (-2.5, 2.5, -2.5, 2.5)  # axes of the moons figures (standardised data)
# ASSIGNMENT: ift6135-a3
PLANAR_EXTENT = (-4.0, 4.0, -4.0, 4.0)  # axes of the planar figures
# ASSIGNMENT: ift6135-a3
PLANAR_LAYERS = (2, 8, 32)  # K, the handout's numbers of planar layers
# ASSIGNMENT: ift6135-a3
PLANAR_MODES = ("samples", "density")  # trained from samples (loss1) or from an energy (loss2)
# ASSIGNMENT: ift6135-a3
PLANAR_EVAL_SAMPLES = 5_000  # base samples of each reverse-KL estimate
# ASSIGNMENT: ift6135-a3
PLANAR_EVAL_SEED = 0  # their seed: every evaluation uses the same draws, so curves are smooth


def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def maf_optimizers(model, config) -> dict:
    """Adam at ``--lr`` with the original's small weight decay."""
    return {"model": torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=MAF_WEIGHT_DECAY)}


# ASSIGNMENT: cs236-hw3
def maf_step(config):
    """One maximum-likelihood step on a batch of points: minimise ``MAF.loss`` (mean NLL, nats)."""

    def step(batch, model, optimizers) -> dict:
        loss = model.loss(batch["x"])
        _descend(optimizers["model"], loss)
        return {"nll_loss": loss.item()}

    return step


def split_nll(model: MAF, dataset, device) -> float:
    """Mean negative log-likelihood (nats) of a whole split (a TensorDataset of points)."""
    with torch.no_grad():
        return -model.log_probs(dataset.tensors[0].to(device)).item()


def maf_evaluate(model: MAF, run) -> dict:
    """Validation and test NLL (nats) after each epoch, as the handout's run_flow.py reports them."""
    return {"val/nll": split_nll(model, run.data.validation, run.device),
            "val/test_nll": split_nll(model, run.data.test, run.device)}


def maf_figures(model: MAF, run) -> None:
    """1 000 samples over the training data: ``figures/samples_epochNNN`` (``samples`` at the end)."""
    from plots import PlanePanel, save_plane_panels

    samples = model.sample(run.device, NUM_FIGURE_SAMPLES)
    data = run.data.train.tensors[0][:NUM_FIGURE_SAMPLES].numpy()
    epoch = round(run.epoch)
    panels = [PlanePanel("data (1 000 training points)", MOONS_EXTENT, points=data),
              PlanePanel(f"{NUM_FIGURE_SAMPLES} MAF samples, epoch {epoch}", MOONS_EXTENT, points=samples,
                         reference=data)]
    save_plane_panels(panels, run.figure_path("samples" if run.done else f"samples_epoch{epoch:03d}"), ncols=2)


def maf_final(model: MAF, run) -> dict:
    """Test NLL next to its floor, the data's entropy (no model's expected NLL can be lower)."""
    entropy = run.data.info.get("entropy")
    result = {"test_nll": split_nll(model, run.data.test, run.device)}
    if entropy is not None:
        result.update({"data_entropy": entropy, "test_nll_above_entropy": result["test_nll"] - entropy})
        print(f"test NLL {result['test_nll']:.4f} nats; the data's entropy, its floor: {entropy:.4f} nats")
    return result


class PlanarExperiments(nn.Module):
    """Every planar flow of IFT6135's problem 3 in one module, trained side by side.

    One ``Flow`` per (mode, target, K): mode "samples" fits the target's sample set with
    ``loss1``, mode "density" fits its energy with ``loss2``. The flows share nothing; one
    optimiser over all of them is the same as one per flow, as RMSprop and Adam act on each
    parameter separately.
    """

    def __init__(self, layers=PLANAR_LAYERS, targets=("arcs", "sine"), modes=PLANAR_MODES, dim: int = 2):
        super().__init__()
        self.dim = dim
        self.modes, self.targets, self.layers = tuple(modes), tuple(targets), tuple(sorted(layers))
        self.runs = [(mode, target, k) for mode in modes for target in targets for k in layers]
        self.flows = nn.ModuleDict({self.name(mode, target, k): Flow(dim, k) for mode, target, k in self.runs})

    @staticmethod
    def name(mode: str, target: str, k: int) -> str:
        return f"{mode}/{target}/K{k}"

    def flow(self, mode: str, target: str, k: int) -> Flow:
        return self.flows[self.name(mode, target, k)]

    def nll(self, target: str, k: int, points: torch.Tensor) -> torch.Tensor:
        """Per-point NLL (B, 1) of ``points`` under the flow fitted to the target's samples."""
        return loss1(*self.flow("samples", target, k)(points))

    def reverse_kl_terms(self, target: str, k: int, z0: torch.Tensor,
                         beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(``loss2`` per sample (B, 1), the samples z_K (B, D)) of the flow fitted to the energy,
        with the energy scaled by ``beta`` (below 1 while annealing; 1: the target itself)."""
        import data

        z, logdet = self.flow("density", target, k)(z0)
        return loss2(beta * data.ENERGIES[target](z), z0, logdet), z


# ASSIGNMENT: ift6135-a3
def planar_optimizers(model, config) -> dict:
    """RMSprop at ``--lr``, as the original experiments."""
    return {"model": torch.optim.RMSprop(model.parameters(), lr=config.lr)}


# ASSIGNMENT: ift6135-a3
def planar_batch(arcs: torch.Tensor, sine: torch.Tensor, model, device) -> dict:
    return {"arcs": arcs, "sine": sine}


# ASSIGNMENT: ift6135-a3
ANNEAL_START = 0.01  # beta of the first annealed step (Rezende and Mohamed: beta_t = min(1, 0.01 + t / 10 000))


# ASSIGNMENT: ift6135-a3
def anneal_beta(steps_done: int, anneal_steps: int) -> float:
    """The energy's weight at a step: from ``ANNEAL_START`` up to 1 linearly over ``anneal_steps``
    steps, then 1 (always 1 when ``anneal_steps`` is 0)."""
    if anneal_steps <= 0:
        return 1.0
    return min(1.0, ANNEAL_START + (1 - ANNEAL_START) * steps_done / anneal_steps)


# ASSIGNMENT: ift6135-a3
def _steps_done(optimizer: torch.optim.Optimizer) -> int:
    """Updates the optimiser has made (kept in its state, so it survives ``--resume``)."""
    state = next(iter(optimizer.state.values()), None)
    return int(state["step"]) if state else 0


def planar_step(config):
    """One update of every flow: loss1 on a batch of its target's samples, or loss2 on a batch of
    ``--batch_size`` base samples, each averaged over its batch (the original's ``torch.mean``).
    With ``--anneal_steps`` the energy of loss2 is weighted by :func:`anneal_beta`: a flatter
    target first, which the flow spreads over before the target sharpens to the real one, so
    that it does not settle early on one arc with too much or too little of the mass."""

    def step(batch, model: PlanarExperiments, optimizers) -> dict:
        beta = anneal_beta(_steps_done(optimizers["model"]), config.anneal_steps)
        losses = {}
        for mode, target, k in model.runs:
            if mode == "samples":
                losses[(mode, target, k)] = model.nll(target, k, batch[target]).mean()
            else:
                z0 = torch.randn(config.batch_size, model.dim, device=batch[target].device)
                losses[(mode, target, k)] = model.reverse_kl_terms(target, k, z0, beta)[0].mean()
        _descend(optimizers["model"], sum(losses.values()))
        return {f"{model.name(*key)}_loss": value.item() for key, value in losses.items()}

    return step


def planar_evaluate(model: PlanarExperiments, run) -> dict:
    """Validation NLL of each samples flow; reverse KL(q || p) = mean loss2 + log Z of each density flow."""
    targets = list(run.data.info)
    generator = torch.Generator().manual_seed(PLANAR_EVAL_SEED)
    z0 = torch.randn(PLANAR_EVAL_SAMPLES, model.dim, generator=generator).to(run.device)
    result = {}
    with torch.no_grad():
        for mode, target, k in model.runs:
            if mode == "samples":
                points = run.data.validation.tensors[targets.index(target)].to(run.device)
                result[f"val/nll/{target}/K{k}"] = model.nll(target, k, points).mean().item()
            else:
                terms, _ = model.reverse_kl_terms(target, k, z0)
                result[f"val/kl/{target}/K{k}"] = terms.mean().item() + run.data.info[target]["log_z"]
    return result


def planar_figures(model: PlanarExperiments, run) -> None:
    """``figures/densities``: the density learned from samples, per target and K, next to the
    samples; ``figures/samples``: 1 000 samples of each flow fitted to an energy, over the target."""
    import data
    from plots import PlanePanel, plane_grid, save_plane_panels

    suffix = "" if run.done else f"_step{run.step:06d}"
    grid = torch.from_numpy(plane_grid(PLANAR_EXTENT)).float().to(run.device)
    cells = int(round(len(grid) ** 0.5))
    order = list(run.data.info)  # the targets' order in the data's tensors
    layers = model.layers
    with torch.no_grad():
        if "samples" in model.modes:
            panels = []
            for target in model.targets:
                points = run.data.train.tensors[order.index(target)][:NUM_FIGURE_SAMPLES].numpy()
                panels.append(PlanePanel(f"{target}: {NUM_FIGURE_SAMPLES} training samples", PLANAR_EXTENT, points=points))
                for k in layers:
                    density = torch.exp(-model.nll(target, k, grid)).reshape(cells, cells).cpu().numpy()
                    panels.append(PlanePanel(f"{target}: learned density, K = {k}", PLANAR_EXTENT, density=density))
            save_plane_panels(panels, run.figure_path(f"densities{suffix}"), ncols=len(layers) + 1)
        if "density" in model.modes:
            panels = []
            z0 = torch.randn(NUM_FIGURE_SAMPLES, model.dim).to(run.device)
            for target in model.targets:
                target_density = torch.exp(-data.ENERGIES[target](grid)).reshape(cells, cells).cpu().numpy()
                panels.append(PlanePanel(f"{target}: target exp(-U)", PLANAR_EXTENT, density=target_density))
                for k in layers:
                    _, z = model.reverse_kl_terms(target, k, z0)
                    panels.append(PlanePanel(f"{target}: flow samples, K = {k}", PLANAR_EXTENT, points=z.cpu().numpy(),
                                             density=target_density))
            save_plane_panels(panels, run.figure_path(f"samples{suffix}"), ncols=len(layers) + 1)


def planar_final(model: PlanarExperiments, run) -> dict:
    """The last evaluation as a table (``table.md`` in the run folder, and printed) next to each
    bound: a validation NLL cannot go below the target's entropy, a KL below 0."""
    values = planar_evaluate(model, run)
    lines = ["| target | K | NLL from samples (nats) | entropy, its floor | reverse KL from the energy (nats) |",
             "|---|---|---|---|---|"]
    for target in model.targets:
        for k in model.layers:
            nll, kl = values.get(f"val/nll/{target}/K{k}"), values.get(f"val/kl/{target}/K{k}")
            lines.append(f"| {target} | {k} | {'' if nll is None else f'{nll:.3f}'} | "
                         f"{run.data.info[target]['entropy']:.3f} | {'' if kl is None else f'{kl:.3f}'} |")
    table = "\n".join(lines) + "\n"
    (run.folder / "table.md").write_text(table)
    print(table, end="")
    return {key.removeprefix("val/"): value for key, value in values.items()}


MAF_RECIPE = Recipe(optimizers=maf_optimizers, step=maf_step, evaluate=maf_evaluate, figures=maf_figures,
                    final=maf_final)
PLANAR_RECIPE = Recipe(optimizers=planar_optimizers, step=planar_step, make_batch=planar_batch,
                       evaluate=planar_evaluate, figures=planar_figures, final=planar_final)
