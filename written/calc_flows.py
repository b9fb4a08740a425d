"""Numbers and checks behind written/flows.md (MAF samples on moons; planar flows; flow posteriors).

Planar transformation (Rezende and Mohamed, 2015): f(z) = z + u h(w^T z + b), h = tanh, with
z, u, w of size d (batch-first arrays (B, d)) and a scalar b.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# The moons data of the MAF question: its entropy is computed where the data are made.
from data import MOONS_NOISE, moon_curve, moons_entropy, moons_variances  # noqa: F401


def planar(z: np.ndarray, u: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """f(z) = z + u tanh(w^T z + b); z (B, d), u and w (d,) -> (B, d)."""
    return z + np.tanh(z @ w + b)[:, None] * u[None, :]


def planar_logdet(z: np.ndarray, u: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """log |det df/dz| = log |1 + h'(w^T z + b) u^T w| with h' = 1 - tanh^2; (B, d) -> (B,)."""
    slope = 1.0 - np.tanh(z @ w + b) ** 2
    return np.log(np.abs(1.0 + slope * (u @ w)))


def numeric_jacobian(f, z: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of f: (d,) -> (d,) at one point z; shape (d, d)."""
    d = z.shape[0]
    jac = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = step
        jac[:, j] = (f(z + e) - f(z - e)) / (2 * step)
    return jac


def stacked_log_density(u0: np.ndarray, layers) -> tuple[np.ndarray, np.ndarray]:
    """Push u0 (B, d), drawn from N(0, I), through planar layers [(u, w, b), ...].

    Returns (u_k, log q_k(u_k)) with log q_k(u_k) = log N(u0; 0, I) - sum_j log|det J_j(u_{j-1})|.
    """
    d = u0.shape[1]
    log_q = -0.5 * np.sum(u0**2, axis=1) - 0.5 * d * np.log(2 * np.pi)
    z = u0
    for u, w, b in layers:
        log_q = log_q - planar_logdet(z, u, w, b)
        z = planar(z, u, w, b)
    return z, log_q


# Three example transformations of the "effect" question, in 2-D with the hyperplane x_1 = 0.
EXAMPLES = {
    "expansion": (np.array([1.0, 0.0]), np.array([3.0, 0.0]), 0.0),
    "contraction": (np.array([-0.3, 0.0]), np.array([3.0, 0.0]), 0.0),
    "shear": (np.array([0.0, 1.0]), np.array([3.0, 0.0]), 0.0),
}


def jacobian_on_hyperplane(u: np.ndarray, w: np.ndarray) -> float:
    """det df/dz at a point with w^T z + b = 0 (where h' = 1): 1 + u^T w."""
    return float(1.0 + u @ w)


PLANAR_RESULTS = Path(__file__).resolve().parent / "figures" / "flows_planar_results.json"


def planar_results() -> dict:
    """The kit's planar run behind questions 3.7 and 3.9 (written by ``written/flows_evidence.py``)."""
    return json.loads(PLANAR_RESULTS.read_text())


def planar_rows(results: dict | None = None) -> dict[str, list[str]]:
    """Table rows per question: 3.7 the validation NLL per target and K next to the entropy,
    3.9 the reverse KL per target and K (KL = mean loss2 + log Z, so 0 is the floor)."""
    results = results or planar_results()
    rows: dict[str, list[str]] = {"flows-planar-fit-samples": [], "flows-planar-fit-density": []}
    for target, constants in results["targets"].items():
        for key in sorted((k for k in results["nll"] if k.startswith(f"{target}/")), key=lambda k: int(k.split("K")[1])):
            k = key.split("K")[1]
            rows["flows-planar-fit-samples"].append(
                f"| {target} | {k} | {results['nll'][key]:.3f} | {constants['entropy']:.3f} |")
            rows["flows-planar-fit-density"].append(
                f"| {target} | {k} | {results['kl'][key]:.3f} | {constants['log_z']:.3f} |")
    return rows


def planar_table() -> str:
    """Both tables as Markdown, for pasting into the answers."""
    header = {"flows-planar-fit-samples": "| data set | K | validation NLL (nats) | entropy, the floor (nats) |",
              "flows-planar-fit-density": "| target | K | reverse KL (nats) | log Z (nats) |"}
    return "\n\n".join("\n".join([header[q], "|---|---|---|---|", *rows]) for q, rows in planar_rows().items())


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    dets = {f"det on hyperplane, {name}": f"{jacobian_on_hyperplane(u, w):g}" for name, (u, w, _) in EXAMPLES.items()}
    dets.update({f"u, {name}": f"({u[0]:g}, {u[1]:g})" for name, (u, w, _) in EXAMPLES.items()})
    dets["w"] = "(3, 0)"
    dets["density factor, contraction"] = f"{1 / jacobian_on_hyperplane(*EXAMPLES['contraction'][:2]):g}"
    return {
        "maf-moons-samples": {"entropy": f"{moons_entropy():.2f}"},
        "flows-planar-effect": dets,
        **{question: {f"row {i}": row for i, row in enumerate(rows)} for question, rows in planar_rows().items()},
    }
