r"""A score-based generative model of 2-D points: denoising score matching and Langevin dynamics.

CS446 (UIUC, spring 2024), section 5, and the inpainting score of written question 2.5. The
model follows Song and Ermon (2019), "Generative modeling by estimating gradients of the data
distribution" (NCSN):

* a network :math:`s_\theta(\mathbf x, \sigma)` learns the *score*
  :math:`\nabla_{\mathbf x} \log p_\sigma(\mathbf x)` of the data blurred by Gaussian noise of
  each level :math:`\sigma_1 > \sigma_2 > \dots > \sigma_L` (a geometric sequence);
* it is trained by denoising score matching: noise a data point, ask the network for the
  direction back, weighted by :math:`\lambda(\sigma) = \sigma^2` so every level counts alike;
* samples come from annealed Langevin dynamics: noisy gradient ascent on
  :math:`\log p_\sigma`, from the largest level to the smallest, with step sizes
  :math:`\alpha_i = \epsilon\, \sigma_i^2 / \sigma_L^2`;
* with a partial observation (some coordinates known), adding the gradient of an observation
  model to the score samples the posterior without retraining (inpainting).

The data are the points of a text rendered as a point cloud (``data.text_point_cloud``,
"CS446" by default). The end of the module plugs the model into the kit's one training loop
(``python main.py --model score``): its step, its figures (the learned score field, samples at
Langevin steps 0, 200, ..., 800 and the final ones, trajectories, inpainting) and its sample
fidelity (``metrics.point_cloud_fidelity``).

Letters used for shapes:
    N points (a batch), D = 2 coordinates per point, L noise levels, T Langevin steps per level.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import train

DATA_DIM = 2  # D: the model's points are 2-D
SIGMA_BEGIN = 0.3  # sigma_1, the largest noise level (the handout's setting)
SIGMA_END = 0.01  # sigma_L, the smallest noise level
NUM_LEVELS = 10  # L
EPS = 2e-5  # epsilon: the Langevin step size at the smallest level
ITERATIONS = 100  # T: Langevin steps per noise level
NUM_SAMPLES = 1000  # samples drawn for the figures and the fidelity metric
SCORE_NET_LAYERS = 8  # linear layers of ScoreNet
SCORE_NET_WIDTH = 128  # their hidden width
OBSERVATION_WEIGHT = 2.0  # lambda of written question 2.5's observation model exp(-||(x - x_known) * M||^2)


def generate_sigmas(sigma_begin: float = SIGMA_BEGIN, sigma_end: float = SIGMA_END,
                    num_levels: int = NUM_LEVELS) -> torch.Tensor:
    """The noise levels: ``num_levels`` values spaced evenly in log scale, largest first.

    Returns a float32 tensor (L,) with ``sigmas[0] = sigma_begin`` (sigma_1, the largest) and
    ``sigmas[-1] = sigma_end`` (sigma_L, the smallest).
    """
    if not (sigma_begin > sigma_end > 0 and num_levels >= 1):
        raise ValueError(f"need sigma_begin > sigma_end > 0 and num_levels >= 1, got "
                         f"{sigma_begin}, {sigma_end}, {num_levels}")
    return torch.logspace(torch.log10(torch.tensor(sigma_begin)), torch.log10(torch.tensor(sigma_end)),
                          num_levels, dtype=torch.float32)


def sigma_column(sigma, x: torch.Tensor) -> torch.Tensor:
    """A noise level given as a float, a 0-d tensor, (N,) or (N, 1), as a column (N, 1) like ``x``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.reshape(-1, 1).expand(len(x), 1)  # (N, 1)


class ScoreNet(nn.Module):
    r"""The score network :math:`s_\theta(\mathbf x, \sigma)`: an MLP of ``n_layers`` linear layers.

    Args:
        n_layers: number of ``nn.Linear`` layers (the handout's 8), at least 2.
        latent_dim: width of every hidden layer (128).

    Attributes:
        net: ``nn.Sequential`` of, in this order, ``Linear(D + 1, latent_dim)``, then
            ``n_layers - 2`` times ``Softplus(), Linear(latent_dim, latent_dim)``, then
            ``Softplus(), Linear(latent_dim, D)``: a ``Softplus()`` (default arguments) between
            every two linear layers and none after the last, so the output can take any sign.
            Its input is a point and its noise level side by side, ``[x_1, x_2, sigma]``
            (D + 1 = 3 numbers); its output has D = 2.

    ``forward`` (provided) divides the network's output by sigma: the true score of noise
    level sigma has size about 1/sigma, so the network itself only needs outputs of size about
    one (a trick of NCSNv2, Song and Ermon 2020).
    """

    def __init__(self, n_layers: int = SCORE_NET_LAYERS, latent_dim: int = SCORE_NET_WIDTH) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"ScoreNet needs at least 2 linear layers, got n_layers={n_layers}")
        # BEGIN SOLUTION score_net
        widths = [DATA_DIM + 1] + [latent_dim] * (n_layers - 1) + [DATA_DIM]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            if layers:
                layers.append(nn.Softplus())  # between two linear layers only
            layers.append(nn.Linear(fan_in, fan_out))
        self.net = nn.Sequential(*layers)
        # END SOLUTION

    def forward(self, x: torch.Tensor, sigmas) -> torch.Tensor:
        r"""The estimated score :math:`s_\theta(\mathbf x, \sigma) = \mathrm{net}([\mathbf x, \sigma]) / \sigma`.

        Args:
            x: points (N, D).
            sigmas: the noise level of each point: a float, a 0-d tensor (one level for all),
                or a tensor (N, 1) (one per point).

        Returns:
            Scores (N, D).
        """
        sigmas = sigma_column(sigmas, x)  # (N, 1)
        return self.net(torch.cat([x, sigmas], dim=1)) / sigmas  # (N, D)


def compute_denoising_loss(scorenet, training_data: torch.Tensor, sigmas: torch.Tensor,
                           noise: torch.Tensor | None = None,
                           sigma_index: torch.Tensor | None = None) -> torch.Tensor:
    r"""The denoising score-matching loss (the handout's Algorithm 1), for a whole batch at once.

    For each point :math:`\mathbf x_n` draw a level :math:`\sigma_n` uniformly from ``sigmas``
    and noise :math:`\mathbf z_n \sim \mathcal N(0, I)`, perturb
    :math:`\tilde{\mathbf x}_n = \mathbf x_n + \sigma_n \mathbf z_n`, and compare the network's
    score with the score of the noising kernel, :math:`-(\tilde{\mathbf x}_n - \mathbf x_n)/\sigma_n^2`:

    .. math::

        \mathcal L = \frac1N \sum_{n=1}^{N} \frac{\lambda(\sigma_n)}{2}
            \left\lVert s_\theta(\tilde{\mathbf x}_n, \sigma_n)
            + \frac{\tilde{\mathbf x}_n - \mathbf x_n}{\sigma_n^2} \right\rVert_2^2,
        \qquad \lambda(\sigma) = \sigma^2 .

    The squared norm sums over the D coordinates; the batch is averaged. Work on the whole
    batch with tensor operations (no loop over points). The loss is minimised over the
    network's parameters, so it must stay differentiable with respect to them.

    Args:
        scorenet: called as ``scorenet(x_tilde, sigma)`` with ``x_tilde`` (N, D) and each
            point's level ``sigma`` as a column (N, 1); returns scores (N, D).
        training_data: data points :math:`\mathbf x` (N, D).
        sigmas: the noise levels (L,).
        noise: :math:`\mathbf z` (N, D), standard normal; None draws it (``torch.randn_like``).
        sigma_index: (N,) integers in [0, L): point n uses level ``sigmas[sigma_index[n]]``;
            None draws them uniformly (``torch.randint``).

    Returns:
        The loss, a scalar tensor (shape ``()``).
    """
    # BEGIN SOLUTION compute_denoising_loss
    if sigma_index is None:
        sigma_index = torch.randint(len(sigmas), (len(training_data),), device=training_data.device)
    if noise is None:
        noise = torch.randn_like(training_data)
    sigma = sigmas[sigma_index].unsqueeze(1)  # (N, 1)
    perturbed = training_data + sigma * noise  # x~ = x + sigma z, (N, D)
    kernel_score = -(perturbed - training_data) / sigma**2  # score of N(x, sigma^2 I) at x~, (N, D)
    squared = ((scorenet(perturbed, sigma) - kernel_score) ** 2).sum(dim=1, keepdim=True)  # (N, 1)
    return (0.5 * sigma**2 * squared).mean()  # lambda(sigma) = sigma^2
    # END SOLUTION


@torch.no_grad()
def langevin_dynamics_sample(scorenet, n_samples: int, sigmas: torch.Tensor, iterations: int = ITERATIONS,
                             eps: float = EPS, return_traj: bool = False, init: torch.Tensor | None = None,
                             noise: torch.Tensor | None = None) -> torch.Tensor:
    r"""Annealed Langevin dynamics (the handout's Algorithm 2): samples from the learned model.

    Start from :math:`\tilde{\mathbf x} \sim \mathcal N(0, I)`. For each level
    :math:`i = 1, \dots, L`, in the order of ``sigmas`` (largest first), set the step size

    .. math:: \alpha_i = \epsilon \cdot \sigma_i^2 / \sigma_L^2

    (:math:`\sigma_L` = ``sigmas[-1]``, the smallest level, so the step is :math:`\epsilon` at
    the last level and larger before), then take T steps

    .. math::

        \tilde{\mathbf x} \leftarrow \tilde{\mathbf x} + \alpha_i\, s_\theta(\tilde{\mathbf x}, \sigma_i)
            + \sqrt{2 \alpha_i}\, \mathbf z_t, \qquad \mathbf z_t \sim \mathcal N(0, I),

    each level starting where the previous one stopped. There are L * T steps in all, numbered
    k = 0, ..., L*T - 1 in the order they are taken.

    Args:
        scorenet: called as ``scorenet(x, sigmas[i])`` with ``x`` (n_samples, D) and the
            level as a 0-d tensor; returns scores (n_samples, D).
        n_samples: n, the number of samples.
        sigmas: the noise levels (L,), largest first.
        iterations: T, steps per level.
        eps: :math:`\epsilon`, the step size at the smallest level.
        return_traj: also return every intermediate point (see Returns).
        init: the starting points (n, D); None draws them from N(0, I).
        noise: :math:`\mathbf z` of every step, (L*T, n, D): step k uses ``noise[k]``; None
            draws fresh standard normal noise at each step.

    Returns:
        The final samples (n, D); with ``return_traj``, the trajectory (n, L*T, D) instead, in
        which ``[:, k]`` is the point after step k (so ``[:, -1]`` is the final sample).
    """
    # BEGIN SOLUTION langevin_dynamics_sample
    x = torch.randn(n_samples, DATA_DIM, device=sigmas.device) if init is None else init.clone()  # (n, D)
    trajectory = []
    step = 0
    for sigma in sigmas:  # largest level first
        alpha = eps * sigma**2 / sigmas[-1] ** 2  # annealed step size
        for _ in range(iterations):
            z = torch.randn_like(x) if noise is None else noise[step]  # (n, D)
            x = x + alpha * scorenet(x, sigma) + torch.sqrt(2 * alpha) * z
            step += 1
            if return_traj:
                trajectory.append(x)
    return torch.stack(trajectory, dim=1) if return_traj else x  # (n, L*T, D) or (n, D)
    # END SOLUTION


def conditional_score(scorenet, x: torch.Tensor, sigma, x_known: torch.Tensor, mask: torch.Tensor,
                      weight=OBSERVATION_WEIGHT) -> torch.Tensor:
    r"""The score of the posterior given a partial observation (written question 2.5, as code).

    With the observation model
    :math:`p(\mathbf x_{known} \mid \mathbf x) \propto \exp(-\tfrac{\lambda}{2}
    \lVert (\mathbf x - \mathbf x_{known}) \odot \mathbf M \rVert_2^2)`, Bayes' rule gives

    .. math::

        s_\theta(\mathbf x, \sigma \mid \mathbf x_{known})
            = s_\theta(\mathbf x, \sigma) - \lambda\, (\mathbf x - \mathbf x_{known}) \odot \mathbf M .

    The handout's model, :math:`\exp(-\lVert (\mathbf x - \mathbf x_{known}) \odot \mathbf M \rVert^2)`,
    is :math:`\lambda = 2` (the default). Coordinates with :math:`M = 0` keep the unconditional
    score; observed ones are also pulled towards their observed values, harder for larger
    :math:`\lambda`.

    Args:
        scorenet: called as ``scorenet(x, sigma)``; returns scores like ``x``.
        x: points (N, D).
        sigma: their noise level, passed to ``scorenet`` unchanged.
        x_known: the observations (N, D); only entries with ``mask == 1`` matter.
        mask: (N, D) of 0 and 1 (float), 1 where a coordinate is observed.
        weight: :math:`\lambda > 0`, a float or a tensor that broadcasts against (N, D).

    Returns:
        Conditional scores (N, D).
    """
    # BEGIN SOLUTION conditional_score
    return scorenet(x, sigma) - weight * (x - x_known) * mask
    # END SOLUTION


def inpaint(scorenet, x_known: torch.Tensor, mask: torch.Tensor, sigmas: torch.Tensor,
            iterations: int = ITERATIONS, eps: float = EPS, return_traj: bool = False,
            init: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    r"""Complete partly observed points: annealed Langevin dynamics with the conditional score.

    Runs :func:`langevin_dynamics_sample` (same arguments, same returns; n = ``len(x_known)``)
    with :func:`conditional_score` in place of the score, with observation weight
    :math:`\lambda_i = 1/\sigma_i^2` at level i: the observation is trusted up to the noise
    of the level being sampled (the observed coordinates of :math:`\tilde{\mathbf x}` are
    themselves blurred by :math:`\sigma_i`). The handout's fixed :math:`\lambda = 2` would
    barely move them: next to learned scores of size :math:`1/\sigma`, a pull of
    :math:`2\,|x - x_{known}|` is lost. With this weight each step moves an observed
    coordinate a fraction :math:`\alpha_i \lambda_i = \epsilon / \sigma_L^2` of its way to the
    observation, so that fraction must be below 1 (0.2 with the defaults).
    """
    if not eps < float(sigmas[-1]) ** 2:
        raise ValueError(f"inpaint needs eps < sigma_L^2 = {float(sigmas[-1]) ** 2:.3g} to be stable, got eps={eps}")

    def posterior_score(x, sigma):
        return conditional_score(scorenet, x, sigma, x_known, mask, weight=1.0 / sigma**2)

    return langevin_dynamics_sample(posterior_score, len(x_known), sigmas, iterations, eps, return_traj,
                                    init=init, noise=noise)


# ------------------------------------------------------------------------------------------------
# Training with the kit's loop: the step, the figures, the final samples and their fidelity
# ------------------------------------------------------------------------------------------------

FIELD_SIGMA = 0.1  # the noise level at which the score field is drawn (the original plot_score's)
FIELD_ARROWS = 60  # arrows across the score-field figure (up it: as many as keep them evenly spaced)
SNAPSHOT_STEPS = (0, 200, 400, 600, 800)  # Langevin steps shown next to the final samples
NUM_TRAJECTORIES = 4  # samples whose whole Langevin path is drawn
INPAINT_PER_LINE = 200  # completions per observed value in the inpainting figure
SMOKE_SAMPLER = {"n": 64, "iterations": 2}  # --smoke: a token sampler, to check the pipeline only


def denoising_step(config):
    """The loop's step: one Adam update on :func:`compute_denoising_loss` of the batch ``x`` (B, D)."""
    sigmas = generate_sigmas()

    def step(batch: dict, model, optimizers: dict) -> dict:
        points = batch["x"]  # (B, D)
        loss = compute_denoising_loss(model, points, sigmas.to(points.device))
        optimizers["model"].zero_grad(set_to_none=True)
        loss.backward()
        optimizers["model"].step()
        return {"denoising_loss": loss.item()}

    return step


def _cloud(run) -> np.ndarray:
    return run.data.train.tensors[0].numpy()  # (P, D)


PANEL_WIDTH = 9.0  # inches across one figure panel; its height follows the cloud's shape
POINT_AREA = 5.0  # marker area of a point in these panels (the samples and the cloud)
WIDEST = 5.0  # a panel is at most this many times wider than tall (a long text gets room above and below)


def _extent(cloud: np.ndarray, margin: float = 0.15) -> tuple:
    """Axis limits (x_min, x_max, y_min, y_max) around the cloud: ``margin`` times its height on
    every side, then widened (up, down or sideways, about the centre) until the panel is at most
    ``WIDEST`` times wider than tall and no taller than wide."""
    low, high = cloud.min(axis=0), cloud.max(axis=0)
    pad = margin * (high[1] - low[1]) + 0.05
    low, high = low - pad, high + pad
    centre, size = (low + high) / 2, high - low  # (D,) each
    size = np.maximum(size, [size[1], size[0] / WIDEST])  # width >= height >= width / WIDEST
    low, high = centre - size / 2, centre + size / 2
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def _panel_size(extent) -> tuple[float, float]:
    """(width, height) in inches of a panel that draws ``extent`` at one scale on both axes,
    with room for its title and tick labels."""
    x_min, x_max, y_min, y_max = extent
    return PANEL_WIDTH, (PANEL_WIDTH - 0.6) * (y_max - y_min) / (x_max - x_min) + 0.8


@torch.no_grad()
def score_field(model, extent, sigma: float = FIELD_SIGMA, across: int = FIELD_ARROWS, device=None):
    """The model's scores on a regular grid over ``extent``, ``across`` points wide with the same
    spacing up: positions (G, D) and scores (G, D), NumPy."""
    x_min, x_max, y_min, y_max = extent
    up = max(2, round((across - 1) * (y_max - y_min) / (x_max - x_min)) + 1)
    xs = np.linspace(x_min, x_max, across)
    ys = np.linspace(y_min, y_max, up)
    positions = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, DATA_DIM).astype(np.float32)  # (G, D)
    scores = model(torch.from_numpy(positions).to(device), sigma)  # (G, D)
    return positions, scores.cpu().numpy()


def field_figure(model, run) -> None:
    """The learned score field as arrows over the data (the handout's 4(a)), every --sample_every steps.

    Every arrow has the same length and shows only the score's direction: the score's size grows
    with the distance from the cloud (about distance / sigma^2), so arrows drawn to scale are
    long at the edges and invisible dots near the letters, where the direction matters."""
    from plots import PlanePanel, save_plane_panels

    cloud = _cloud(run)
    extent = _extent(cloud)
    positions, scores = score_field(model, extent, device=run.device)
    directions = scores / np.maximum(np.linalg.norm(scores, axis=1, keepdims=True), 1e-12)  # (G, D), unit
    name = "score_field" if run.done else f"score_field_step_{run.step:06d}"
    panel = PlanePanel(f"direction of the learned score s(x, sigma={FIELD_SIGMA}) after {run.step} steps", extent,
                       reference=cloud, field=(positions, directions), point_size=POINT_AREA)
    save_plane_panels([panel], run.figure_path(name), ncols=1, panel_size=_panel_size(extent))


def _inpainting(model, cloud, extent, sigmas, sampler: dict, device) -> tuple[list, dict]:
    """Complete points with one coordinate observed: x at five values (fill in y), then y at three.

    Returns the figure's panels and the fidelity of the completions (to the cloud) with the mean
    distance of the observed coordinates from their observed values.
    """
    from metrics import point_cloud_fidelity
    from plots import PlanePanel

    (x_low, y_low), (x_high, y_high) = cloud.min(0), cloud.max(0)
    observed = {0: np.linspace(x_low, x_high, 7)[1:-1], 1: np.linspace(y_low, y_high, 5)[1:-1]}
    per_line = max(1, sampler["n"] // 5)
    panels, completed, errors = [], [], []
    for axis, values in observed.items():
        known = torch.zeros(per_line * len(values), DATA_DIM, device=device)
        known[:, axis] = torch.tensor(values, dtype=torch.float32, device=device).repeat_interleave(per_line)
        mask = torch.zeros_like(known)
        mask[:, axis] = 1.0
        points = inpaint(model, known, mask, sigmas, iterations=sampler["iterations"]).cpu().numpy()
        completed.append(points)
        errors.append(np.abs(points[:, axis] - known[:, axis].cpu().numpy()))
        what = "x observed, y filled in" if axis == 0 else "y observed, x filled in"
        lines = {"vlines": tuple(values)} if axis == 0 else {"hlines": tuple(values)}
        panels.append(PlanePanel(f"inpainting: {what}", extent, reference=cloud, points=points, point_size=POINT_AREA,
                                 **lines))
    quality = point_cloud_fidelity(np.concatenate(completed), cloud)
    return panels, {"inpaint/within_radius": quality["within_radius"],
                    "inpaint/observed_error": float(np.concatenate(errors).mean())}


def sample_and_measure(model, run) -> dict:
    """The end of a run: draw the samples, make the sampling figures, measure their fidelity.

    1000 samples by annealed Langevin dynamics (L = 10 levels from 0.3 to 0.01, T = 100 steps
    each, eps = 2e-5): ``langevin_snapshots`` (steps 0, 200, 400, 600, 800 and the final
    samples, the handout's 4(b)), ``langevin_trajectories`` (4(c)) and ``inpainting``. Returns
    the fidelity of the final samples to the training cloud (``metrics.point_cloud_fidelity``)
    and of the inpainting completions; --smoke runs a token sampler instead (numbers meaningless).
    """
    from metrics import FIDELITY_RADIUS, point_cloud_fidelity
    from plots import PlanePanel, save_plane_panels

    sampler = SMOKE_SAMPLER if run.config.smoke else {"n": NUM_SAMPLES, "iterations": ITERATIONS}
    cloud = _cloud(run)
    extent = _extent(cloud)
    sigmas = generate_sigmas().to(run.device)
    init = torch.randn(sampler["n"], DATA_DIM, device=run.device)
    trajectory = langevin_dynamics_sample(model, sampler["n"], sigmas, iterations=sampler["iterations"],
                                          return_traj=True, init=init).cpu().numpy()  # (n, L*T, D)
    total = trajectory.shape[1]
    samples = trajectory[:, -1]
    snapshots = [PlanePanel("step 0 (initial noise)", extent, reference=cloud, points=init.cpu().numpy(),
                            point_size=POINT_AREA)]
    snapshots += [PlanePanel(f"after step {k}", extent, reference=cloud, points=trajectory[:, k - 1],
                             point_size=POINT_AREA)
                  for k in SNAPSHOT_STEPS if 0 < k < total]
    snapshots.append(PlanePanel(f"final samples (step {total})", extent, reference=cloud, points=samples,
                                point_size=POINT_AREA))
    save_plane_panels(snapshots, run.figure_path("langevin_snapshots"), ncols=2, panel_size=_panel_size(extent),
                      title=f"annealed Langevin dynamics, {sampler['n']} samples")
    starts = init[:NUM_TRAJECTORIES, None].cpu().numpy()  # (K, 1, D)
    paths = np.concatenate([starts, trajectory[:NUM_TRAJECTORIES]], axis=1)  # (K, 1 + L*T, D), from the start
    whole = _extent(np.concatenate([cloud, paths.reshape(-1, DATA_DIM)]))  # the paths begin far from the cloud
    save_plane_panels([PlanePanel(f"trajectories of {len(paths)} samples ({total} steps each, o: start, x: end)",
                                  whole, reference=cloud, trajectories=paths, point_size=POINT_AREA)],
                      run.figure_path("langevin_trajectories"), ncols=1, panel_size=_panel_size(whole))
    panels, inpainting = _inpainting(model, cloud, extent, sigmas, sampler, run.device)
    save_plane_panels(panels, run.figure_path("inpainting"), ncols=1, panel_size=_panel_size(extent))
    quality = point_cloud_fidelity(samples, cloud)
    return {f"fidelity/{key}" if key != "within_radius" else f"fidelity/within_{FIDELITY_RADIUS:g}": value
            for key, value in quality.items()} | inpainting


SCORE = train.Recipe(optimizers=train.adam, step=denoising_step, figures=field_figure, final=sample_and_measure)
