"""Graded cases of ``flow_network.py``: MADE's two directions and MAF's log-likelihood.

Inputs are drawn from NumPy; so are the weights, through ``fill_parameters`` with a seed that is
part of the inputs (never torch's own initialisation). Sizes are inputs too, as 0-d integer
arrays, so hidden cases change the batch, the dimension D, the width and the depth.

Every case also returns gradients (with respect to the input and to the weights), so a
detached or in-place computation that gives the right values but breaks training is caught.
Everything runs in float32, as in training.
"""

from __future__ import annotations

import numpy as np

from tests.harness import Case, fill_parameters, to_numpy

MADE_FORWARD, MADE_INVERSE, MAF_LOG_PROBS = "made_forward", "made_inverse", "maf_log_probs"
RTOL, ATOL = 1e-4, 1e-5  # one block, values of order 1 (float32 rounding seen: ~1e-6)
ATOL_DEEP = 1e-4  # five blocks deep, gradients summed over the weights (rounding seen: ~1e-5)


def _tensor(array):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _sizes(rng: np.random.Generator, hidden: bool, public: dict[str, int]) -> dict[str, np.ndarray]:
    """Batch, D, hidden width, depth (and blocks), the weights' seed, as 0-d arrays."""
    if hidden:
        sizes = {
            "batch": int(rng.integers(1, 7)),
            "dim": int(rng.integers(2, 5)),
            "hidden_size": int(rng.choice([4, 8, 12])),
            "n_hidden": int(rng.integers(0, 3)),
        }
        if "n_flows" in public:
            sizes["n_flows"] = int(rng.integers(1, 4))
    else:
        sizes = dict(public)
    sizes["weight_seed"] = int(rng.integers(0, 2**31))
    return {key: np.array(value) for key, value in sizes.items()}


def _ints(inputs, *names):
    return [int(inputs[name]) for name in names]


def _points_inputs(public_sizes: dict[str, int], scale: float = 1.0):
    """A batch of points (B, D) with the sizes of a MADE or a MAF."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        sizes = _sizes(rng, hidden, public_sizes)
        batch, dim = _ints(sizes, "batch", "dim")
        return {"points": scale * rng.normal(size=(batch, dim)), **sizes}

    return make


def _made(inputs):
    from flow_network import MADE

    dim, hidden_size, n_hidden, seed = _ints(inputs, "dim", "hidden_size", "n_hidden", "weight_seed")
    made = MADE(dim, hidden_size, n_hidden)
    fill_parameters(made, np.random.default_rng(seed))
    return made


def _gradients(total, points, module) -> dict:
    """d total / d points and d total / d (every weight, flattened), as arrays."""
    import torch

    params = list(module.parameters())
    grads = torch.autograd.grad(total, [points, *params], allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads[1:], params)])
    point_grad = grads[0] if grads[0] is not None else torch.zeros_like(points)
    return {"grad_points": to_numpy(point_grad), "grad_weights": to_numpy(flat)}


def _run_made(direction: str):
    def run(inputs: dict) -> dict:
        made = _made(inputs)
        points = _tensor(inputs["points"]).requires_grad_(True)
        out, log_det = getattr(made, direction)(points)
        # Weighted so that every output and every log-det enters the gradient differently.
        weights = _tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)))
        total = (weights * out).sum() + (log_det * _tensor(np.linspace(1.0, 2.0, len(log_det)))).sum()
        return {"output": to_numpy(out), "log_det": to_numpy(log_det), **_gradients(total, points, made)}

    return run


def _run_log_probs(inputs: dict) -> dict:
    from flow_network import MAF

    dim, hidden_size, n_hidden, n_flows, seed = _ints(inputs, "dim", "hidden_size", "n_hidden", "n_flows", "weight_seed")
    maf = MAF(dim, hidden_size, n_hidden, n_flows)
    fill_parameters(maf, np.random.default_rng(seed))
    points = _tensor(inputs["points"]).requires_grad_(True)
    log_prob = maf.log_probs(points)
    return {"log_prob": to_numpy(log_prob), **_gradients(log_prob, points, maf)}


MADE_SIZES = {"batch": 4, "dim": 2, "hidden_size": 8, "n_hidden": 1}
MADE_WIDE = {"batch": 5, "dim": 4, "hidden_size": 12, "n_hidden": 2}
MAF_SIZES = {"batch": 4, "dim": 2, "hidden_size": 8, "n_hidden": 1, "n_flows": 5}  # the handout's 5 blocks
MAF_WIDE = {"batch": 6, "dim": 3, "hidden_size": 10, "n_hidden": 1, "n_flows": 2}

CASES = [
    Case(MADE_FORWARD, "made_forward_2d", seed=101, make_inputs=_points_inputs(MADE_SIZES), run=_run_made("forward"),
         rtol=RTOL, atol=ATOL),
    Case(MADE_FORWARD, "made_forward_4d_deep", seed=102, make_inputs=_points_inputs(MADE_WIDE),
         run=_run_made("forward"), rtol=RTOL, atol=ATOL),
    Case(MADE_FORWARD, "made_forward_far_tail", seed=103, make_inputs=_points_inputs(MADE_SIZES, scale=4.0),
         run=_run_made("forward"), rtol=RTOL, atol=ATOL),
    Case(MADE_INVERSE, "made_inverse_2d", seed=111, make_inputs=_points_inputs(MADE_SIZES), run=_run_made("inverse"),
         rtol=RTOL, atol=ATOL),
    Case(MADE_INVERSE, "made_inverse_4d_deep", seed=112, make_inputs=_points_inputs(MADE_WIDE),
         run=_run_made("inverse"), rtol=RTOL, atol=ATOL),
    Case(MADE_INVERSE, "made_inverse_far_tail", seed=113, make_inputs=_points_inputs(MADE_SIZES, scale=4.0),
         run=_run_made("inverse"), rtol=RTOL, atol=ATOL),
    Case(MAF_LOG_PROBS, "maf_log_probs_five_blocks", seed=121, make_inputs=_points_inputs(MAF_SIZES),
         run=_run_log_probs, rtol=RTOL, atol=ATOL_DEEP),
    Case(MAF_LOG_PROBS, "maf_log_probs_3d", seed=122, make_inputs=_points_inputs(MAF_WIDE), run=_run_log_probs,
         rtol=RTOL, atol=ATOL_DEEP),
    Case(MAF_LOG_PROBS, "maf_log_probs_one_point", seed=123,
         make_inputs=_points_inputs({**MAF_SIZES, "batch": 1}), run=_run_log_probs, rtol=RTOL, atol=ATOL_DEEP),
]
