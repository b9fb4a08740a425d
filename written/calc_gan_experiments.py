"""Numbers and checks behind written/gan_experiments.md (the Dirac GAN; the CIFAR-10 metrics).

The Dirac GAN (Mescheder et al., 2018, "Which training methods for GANs actually converge?"):
real data is a point mass at 0, the generator a point mass at theta, the critic is linear,
C(x) = psi x. Conventions of the IFT6135 GAN module: the critic scores real data high; the
generator minimises the metric M (JSD or W1 estimate); the critic minimises -M + gamma R.

  JSD:  M = (log sigmoid(C(0)) + log sigmoid(-C(theta)))/2 + log 2 = (log sigmoid(-psi theta) - log 2)/2 + log 2
  W1:   M = C(0) - C(theta) = -psi theta
  R1 (zero-centred, on real data): R = |dC/dx|^2 = psi^2
  GP (one-centred, on mixtures):   R = (|dC/dx| - 1)^2 = (|psi| - 1)^2
"""

from __future__ import annotations

import numpy as np

LOSSES = ("jsd", "w1")
REGULARISERS = (None, "gp", "r1")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def metric(loss: str, theta: float, psi: float) -> float:
    if loss == "jsd":
        return 0.5 * (np.log(_sigmoid(-psi * theta)) - np.log(2.0)) + np.log(2.0)
    return -psi * theta


def metric_grads(loss: str, theta: float, psi: float) -> tuple[float, float]:
    """(dM/dtheta, dM/dpsi)."""
    if loss == "jsd":
        s = _sigmoid(psi * theta)  # d/da log sigmoid(-a) = -sigmoid(a)
        return -0.5 * psi * s, -0.5 * theta * s
    return -psi, -theta


def regulariser(reg: str | None, psi: float) -> float:
    if reg == "r1":
        return psi**2
    if reg == "gp":
        return (abs(psi) - 1.0) ** 2
    return 0.0


def regulariser_grad(reg: str | None, psi: float) -> float:
    if reg == "r1":
        return 2.0 * psi
    if reg == "gp":
        return 2.0 * (abs(psi) - 1.0) * np.sign(psi)
    return 0.0


def train(loss: str, reg: str | None, gamma: float = 1.0, lr: float = 0.1, steps: int = 2000,
          critic_iters: int = 1, alpha_ema: float | None = None, theta0: float = 1.0,
          psi0: float = 0.0) -> dict[str, np.ndarray]:
    """Alternating gradient descent as in the IFT6135 train step: ``critic_iters`` critic steps
    on -M + gamma R, then one generator step on M, then the EMA update of the eval copy.

    Returns the trajectories: theta, psi and (if alpha_ema) theta_ema, each of shape (steps + 1,).
    """
    theta, psi = theta0, psi0
    ema = theta0
    out = {"theta": [theta], "psi": [psi], "theta_ema": [ema]}
    for _ in range(steps):
        for _ in range(critic_iters):
            psi -= lr * (-metric_grads(loss, theta, psi)[1] + gamma * regulariser_grad(reg, psi))
        theta -= lr * metric_grads(loss, theta, psi)[0]
        if alpha_ema is not None:
            ema = alpha_ema * ema + (1.0 - alpha_ema) * theta
        out["theta"].append(theta)
        out["psi"].append(psi)
        out["theta_ema"].append(ema)
    return {key: np.array(value) for key, value in out.items()}


def jacobian_at_origin(loss: str, reg: str | None, gamma: float = 1.0, step: float = 1e-6) -> np.ndarray:
    """Jacobian of the continuous-time field (theta', psi') = (-dM/dtheta, dM/dpsi - gamma R'(psi))
    at (0, 0), by central differences (only meaningful where the field is smooth: not for "gp")."""
    def field(v):
        theta, psi = v
        g_theta, g_psi = metric_grads(loss, theta, psi)
        return np.array([-g_theta, g_psi - gamma * regulariser_grad(reg, psi)])

    jac = np.empty((2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = step
        jac[:, j] = (field(e) - field(-e)) / (2 * step)
    return jac


def eigenvalues(loss: str, reg: str | None, gamma: float = 1.0) -> np.ndarray:
    return np.linalg.eigvals(jacobian_at_origin(loss, reg, gamma))


def simultaneous_growth(lr: float) -> float:
    """Spectral radius of one simultaneous gradient step of unregularised W1 at the origin:
    the update matrix [[1, lr], [-lr, 1]] has |eigenvalues| = sqrt(1 + lr^2) > 1."""
    return float(np.max(np.abs(np.linalg.eigvals(np.array([[1.0, lr], [-lr, 1.0]])))))


def final_distances(steps: int = 3000, lr: float = 0.1) -> dict[tuple[str, str | None], float]:
    """Distance of (theta, psi) from the equilibrium (0, 0) after training, for every loss and regulariser."""
    out = {}
    for loss in LOSSES:
        for reg in REGULARISERS:
            run = train(loss, reg, steps=steps, lr=lr)
            out[(loss, reg)] = float(np.hypot(run["theta"][-1], run["psi"][-1]))
    return out


def gp_resting_point(loss: str, gamma: float = 1.0) -> float:
    """|theta| at which the one-centred penalty's kink at psi = 0 balances the metric's pull on psi.

    Near psi = 0 the critic's gradient from -M is theta/4 (JSD) or theta (W1), and the penalty
    (|psi| - 1)^2 has one-sided slopes -+2 gamma there; they cancel at |theta| = 8 gamma or 2 gamma.
    """
    return (8.0 if loss == "jsd" else 2.0) * gamma


def ema_amplitude_ratio(alpha: float, lr: float = 0.1, steps: int = 6000, window: int = 1000) -> float:
    """max |theta_ema| / max |theta| over the last ``window`` steps of unregularised W1 (a cycle)."""
    run = train("w1", None, lr=lr, steps=steps, alpha_ema=alpha)
    return float(np.abs(run["theta_ema"][-window:]).max() / np.abs(run["theta"][-window:]).max())


# The numbers quoted in the answer: gamma = reg_cf = 1 (the IFT6135 default), lr = 0.1.
GAMMA = 1.0
LR = 0.1
ALPHA_EMA = 0.998  # the default of apply_exponential_moving_average in the IFT6135 module


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    jsd_r1 = np.sort(eigenvalues("jsd", "r1", GAMMA).real)
    return {
        "ganexp-dirac-dynamics": {
            "rotation rate, jsd": f"{abs(eigenvalues('jsd', None).imag[0]):g}",
            "jsd+r1 slow eigenvalue": f"{jsd_r1[1]:.3f}",
            "jsd+r1 fast eigenvalue": f"{jsd_r1[0]:.3f}",
            "lr": f"{LR:g}",
            "growth per step": f"{simultaneous_growth(LR):.4f}",
            "gp resting |theta|, w1": f"{gp_resting_point('w1', GAMMA):g}",
            "gp resting |theta|, jsd": f"{gp_resting_point('jsd', GAMMA):g}",
            "alpha_ema": f"{ALPHA_EMA:g}",
            "ema amplitude ratio": f"{ema_amplitude_ratio(ALPHA_EMA, LR):.2f}",
        },
        "ganexp-cifar10-metrics": {"log 2": f"{np.log(2.0):.4f}"},
    }
