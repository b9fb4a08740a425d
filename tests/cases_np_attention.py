"""Graded cases of ``np_attention.py``: multi-head attention against stored reference outputs.

Every case draws the four weight matrices and the inputs from its NumPy generator and loads the
weights into the layer (whatever the layer drew at construction is overwritten), so the result
does not depend on the order in which a layer draws its weights. Everything is float64, so the
tolerances are tight: two correct implementations differ only by rounding (~1e-15 relative).
"""

from __future__ import annotations

import numpy as np

from tests.harness import Case

TASK = "multi_head_attention"
RTOL, ATOL = 1e-7, 1e-9  # float64 throughout; any real mistake changes outputs at the 1e-2 level


def _draw(rng: np.random.Generator, batch: int, queries: int, keys: int, heads: int, head_dim: int,
          *, self_attention: bool = False, input_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Inputs of one call: q (B, T, D), k and v (B, S, D), the four (D, D) weights and H."""
    dim = heads * head_dim
    weights = {name: rng.normal(0.0, 1.0 / np.sqrt(dim), size=(dim, dim)) for name in ("w_q", "w_k", "w_v", "w_out")}
    if self_attention:
        x = input_scale * rng.normal(size=(batch, queries, dim))
        q = k = v = x
    else:
        q = input_scale * rng.normal(size=(batch, queries, dim))
        k = input_scale * rng.normal(size=(batch, keys, dim))
        v = rng.normal(size=(batch, keys, dim))
    return {"q": q, "k": k, "v": v, "num_heads": np.array(heads), **weights}


def _hidden_shape(rng: np.random.Generator) -> dict[str, int]:
    return {
        "batch": int(rng.integers(1, 5)),
        "queries": int(rng.integers(1, 8)),
        "keys": int(rng.integers(1, 8)),
        "heads": int(rng.choice([1, 2, 3, 4])),
        "head_dim": int(rng.integers(1, 6)),
    }


def _layer(inputs):
    """The student's layer with the case's weights loaded."""
    from np_attention import MultiHeadAttention

    dim = inputs["q"].shape[-1]
    layer = MultiHeadAttention(dim, int(inputs["num_heads"]), np.random.default_rng(0))
    layer.params_q = inputs["w_q"].copy()
    layer.params_k = inputs["w_k"].copy()
    layer.params_v = inputs["w_v"].copy()
    layer.param_out = inputs["w_out"].copy()
    return layer


def _run_output(inputs):
    out = _layer(inputs)(inputs["q"].copy(), inputs["k"].copy(), inputs["v"].copy())
    return {"out": np.asarray(out, dtype=np.float64)}


def _run_weights(inputs):
    _, weights = _layer(inputs)(inputs["q"].copy(), inputs["k"].copy(), inputs["v"].copy(), return_weights=True)
    return {"weights": np.asarray(weights, dtype=np.float64)}


def _self_attention(rng, hidden):
    shape = _hidden_shape(rng) if hidden else dict(batch=2, queries=5, keys=5, heads=2, head_dim=4)
    shape["keys"] = shape["queries"]
    return _draw(rng, **shape, self_attention=True)


def _cross_attention(rng, hidden):
    # T != S: queries and keys/values come from different sequences of different lengths.
    shape = _hidden_shape(rng) if hidden else dict(batch=3, queries=4, keys=6, heads=3, head_dim=4)
    return _draw(rng, **shape)


def _single_head(rng, hidden):
    shape = _hidden_shape(rng) if hidden else dict(batch=2, queries=3, keys=5, heads=1, head_dim=6)
    shape["heads"] = 1
    return _draw(rng, **shape)


def _many_heads(rng, hidden):
    # Narrow heads: a wrong split of the columns into heads shows clearly here.
    shape = _hidden_shape(rng) if hidden else dict(batch=2, queries=5, keys=3, heads=4, head_dim=2)
    shape["heads"] = max(shape["heads"], 2)
    return _draw(rng, **shape)


def _extreme_scores(rng, hidden):
    # Queries and keys 60 times larger than usual: scores reach the thousands, far above the
    # ~709 where exp overflows in float64, so a softmax without the max shift returns NaN.
    shape = _hidden_shape(rng) if hidden else dict(batch=2, queries=4, keys=5, heads=2, head_dim=4)
    shape["head_dim"] = max(shape["head_dim"], 3)
    return _draw(rng, **shape, input_scale=60.0)


CASES = [
    Case(TASK, "self_attention", 101, _self_attention, _run_output, RTOL, ATOL,
         isolates="self-attention (q = k = v) with two heads: the whole computation on the simplest input"),
    Case(TASK, "cross_attention", 102, _cross_attention, _run_output, RTOL, ATOL,
         isolates="4 queries, 6 keys/values: keys must come from k and values from v, and the softmax runs over the keys"),
    Case(TASK, "single_head", 103, _single_head, _run_output, RTOL, ATOL,
         isolates="one head: if this passes and many_heads fails, suspect the split into heads or their merge"),
    Case(TASK, "many_heads", 104, _many_heads, _run_output, RTOL, ATOL,
         isolates="four heads of width 2: head h owns columns h*K to (h+1)*K; a wrong split or merge shows here"),
    Case(TASK, "extreme_scores", 105, _extreme_scores, _run_output, RTOL, ATOL,
         isolates="scores in the thousands: a softmax without the max shift overflows (use the provided softmax)"),
    Case(TASK, "attention_weights", 106, _cross_attention, _run_weights, RTOL, ATOL,
         isolates="the weights alone, before the values and W^O: the scale 1/sqrt(K), the softmax axis, the heads"),
]
