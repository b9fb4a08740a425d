"""Numbers and checks behind written/contrastive.md (self-supervised and contrastive learning).

The InfoNCE check uses a pair (x, y) of correlated standard Gaussians, whose mutual information
is known in closed form, and the best possible critic, the log density ratio log p(y | x) / p(y).
"""

from __future__ import annotations

import functools

import numpy as np

# Facts quoted from the papers (not computed): the fraction of the input each method hides.
MAE_MASK_RATIO = 0.75  # He et al. (2022), "Masked autoencoders are scalable vision learners"
BERT_MASK_RATIO = 0.15  # Devlin et al. (2019), "BERT", Sec. 3.1

# The worked example of the InfoNCE answer.
RHO = 0.9
BATCH_SIZES = (2, 16, 256)
N_BATCHES = 400
SEED = 0


def gaussian_mutual_information(rho: float) -> float:
    """I(X; Y) = -log(1 - rho^2) / 2 for jointly Gaussian unit-variance X, Y with correlation rho."""
    return -0.5 * np.log1p(-rho**2)


def log_density_ratio(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """f(x_i, y_j) = log p(y_j | x_i) - log p(y_j) for every pair: shape (N, N) from x, y of shape (N,)."""
    var = 1.0 - rho**2
    cond = -0.5 * (y[None, :] - rho * x[:, None]) ** 2 / var - 0.5 * np.log(var)
    marg = -0.5 * y[None, :] ** 2
    return cond - marg


def infonce_bound(rho: float, batch: int, n_batches: int, rng: np.random.Generator) -> float:
    """Monte-Carlo value of log N - L_InfoNCE with the density-ratio critic.

    L_InfoNCE = -E[ log( exp f(x_i, y_i) / sum_j exp f(x_i, y_j) ) ], the positive pair (x_i, y_i)
    against the N - 1 other y_j of the batch.
    """
    values = []
    for _ in range(n_batches):
        x = rng.standard_normal(batch)
        y = rho * x + np.sqrt(1.0 - rho**2) * rng.standard_normal(batch)
        f = log_density_ratio(x, y, rho)
        top = f.max(axis=1, keepdims=True)
        log_softmax_diag = np.diag(f) - (top[:, 0] + np.log(np.exp(f - top).sum(axis=1)))
        values.append(-log_softmax_diag.mean())
    return float(np.log(batch) - np.mean(values))


@functools.lru_cache(maxsize=None)  # pure and slow-ish: the tests ask for it twice
def infonce_table(rho: float = RHO, seed: int = SEED) -> dict[int, float]:
    """batch size N -> log N - L_InfoNCE (fixed seed, so the answer's numbers are reproducible)."""
    rng = np.random.default_rng(seed)
    return {n: infonce_bound(rho, n, N_BATCHES, rng) for n in BATCH_SIZES}


def answer_numbers() -> dict[str, dict[str, str]]:
    """question id -> {name: the text that must appear in its worked answer}."""
    table = infonce_table()
    numbers = {
        "rho": f"{RHO}",
        "I": f"{gaussian_mutual_information(RHO):.3f}",
    }
    for n, value in table.items():
        numbers[f"N={n}"] = f"{n}"
        numbers[f"log N, N={n}"] = f"{np.log(n):.3f}"
        numbers[f"bound, N={n}"] = f"{value:.3f}"
    return {
        "contrastive-mae-bert-masking": {
            "MAE": f"{MAE_MASK_RATIO:.0%}",
            "BERT": f"{BERT_MASK_RATIO:.0%}",
        },
        "contrastive-infonce-bound": numbers,
    }
