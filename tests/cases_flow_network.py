"""Graded cases of ``flow_network.py``: MADE's two directions, MAF's log-likelihood, and the
planar layer, its log-determinant and the two planar-flow losses.

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
PLANAR, LOGDET, LOSS1, LOSS2 = "planar_transformation", "get_logdet", "loss1", "loss2"
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


# ---- planar flows ---------------------------------------------------------------------------


def _planar_inputs(batch=5, dim=2, scale=1.0, wu=None):
    """Points and one layer's raw parameters u, w (1, D), b (1,). ``wu`` sets w^T u exactly
    (below -1: the layer must use the constrained u)."""

    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, d = (int(rng.integers(1, 8)), int(rng.integers(1, 5))) if hidden else (batch, dim)
        w = rng.normal(size=(1, d))
        u = rng.normal(size=(1, d))
        if wu is not None:  # move u along w until w^T u = wu
            u = u + (wu - float((u @ w.T)[0, 0])) * w / float((w @ w.T)[0, 0])
        return {"z": scale * rng.normal(size=(size, d)), "u": u, "w": w, "b": rng.normal(size=(1,))}

    return make


def _planar_layer(inputs):
    import torch

    from flow_network import PlanarTransformation

    layer = PlanarTransformation(inputs["z"].shape[1])
    with torch.no_grad():
        for name in ("u", "w", "b"):
            getattr(layer, name).copy_(_tensor(inputs[name]))
    return layer


def _run_planar(method: str):
    def run(inputs: dict) -> dict:
        import torch

        layer = _planar_layer(inputs)
        z = _tensor(inputs["z"]).requires_grad_(True)
        out = layer(z) if method == "forward" else layer.get_logdet(z)
        weights = _tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)))
        grads = torch.autograd.grad((weights * out).sum(), [z, layer.u, layer.w, layer.b])
        return {"output": to_numpy(out), **{f"grad_{k}": to_numpy(g) for k, g in zip(("z", "u", "w", "b"), grads)}}

    return run


def _loss_inputs(batch=6, dim=2, scale=1.0):
    def make(rng: np.random.Generator, hidden: bool) -> dict:
        size, d = (int(rng.integers(1, 9)), int(rng.integers(1, 5))) if hidden else (batch, dim)
        return {"z0": scale * rng.normal(size=(size, d)), "logdet": rng.normal(size=(size, 1)),
                "energy": 3 * rng.uniform(size=(size,))}

    return make


def _run_loss(which: str):
    def run(inputs: dict) -> dict:
        import torch

        import flow_network

        z0 = _tensor(inputs["z0"]).requires_grad_(True)
        logdet = _tensor(inputs["logdet"]).requires_grad_(True)
        energy = _tensor(inputs["energy"]).requires_grad_(True)
        if which == "loss1":
            loss, wrt = flow_network.loss1(z0, logdet), [z0, logdet]
        else:
            loss, wrt = flow_network.loss2(energy, z0, logdet), [energy, z0, logdet]
        weights = _tensor(np.linspace(0.5, 1.5, loss.numel()).reshape(tuple(loss.shape)))
        grads = torch.autograd.grad((weights * loss).sum(), wrt)
        return {"loss": to_numpy(loss), **{f"grad_{i}": to_numpy(g) for i, g in enumerate(grads)}}

    return run


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
    Case(PLANAR, "planar_2d", seed=131, make_inputs=_planar_inputs(), run=_run_planar("forward")),
    Case(PLANAR, "planar_constrained_u", seed=132, make_inputs=_planar_inputs(wu=-3.0), run=_run_planar("forward")),
    Case(PLANAR, "planar_3d_saturated", seed=133, make_inputs=_planar_inputs(batch=4, dim=3, scale=5.0),
         run=_run_planar("forward")),
    Case(LOGDET, "logdet_2d", seed=141, make_inputs=_planar_inputs(), run=_run_planar("get_logdet")),
    Case(LOGDET, "logdet_constrained_u", seed=142, make_inputs=_planar_inputs(wu=-3.0),
         run=_run_planar("get_logdet")),
    Case(LOGDET, "logdet_3d_saturated", seed=143, make_inputs=_planar_inputs(batch=4, dim=3, scale=5.0),
         run=_run_planar("get_logdet")),
    Case(LOSS1, "loss1_2d", seed=151, make_inputs=_loss_inputs(), run=_run_loss("loss1")),
    Case(LOSS1, "loss1_3d_far", seed=152, make_inputs=_loss_inputs(batch=3, dim=3, scale=4.0), run=_run_loss("loss1")),
    Case(LOSS1, "loss1_one_point", seed=153, make_inputs=_loss_inputs(batch=1), run=_run_loss("loss1")),
    Case(LOSS2, "loss2_2d", seed=161, make_inputs=_loss_inputs(), run=_run_loss("loss2")),
    Case(LOSS2, "loss2_3d_far", seed=162, make_inputs=_loss_inputs(batch=3, dim=3, scale=4.0), run=_run_loss("loss2")),
    Case(LOSS2, "loss2_one_point", seed=163, make_inputs=_loss_inputs(batch=1), run=_run_loss("loss2")),
]
