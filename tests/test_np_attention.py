"""Public tests of ``np_attention.py``: stored reference outputs and properties of attention.

Run one task's tests with ``pytest --task multi_head_attention``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.cases_np_attention import CASES
from tests.harness import case_params, check_case, check_promises

TASK = "multi_head_attention"


def make_layer(embed_dim: int, num_heads: int, seed: int = 0):
    from np_attention import MultiHeadAttention

    return MultiHeadAttention(embed_dim, num_heads, np.random.default_rng(seed))


@pytest.mark.parametrize("case", case_params(CASES))
def test_reference_values(case):
    check_case("np_attention", case)


@pytest.mark.task(TASK)
def test_output_shape_when_queries_and_keys_differ_in_length():
    rng = np.random.default_rng(1)
    layer = make_layer(12, 3)
    q, k, v = rng.normal(size=(2, 3, 12)), rng.normal(size=(2, 7, 12)), rng.normal(size=(2, 7, 12))
    out, weights = layer(q, k, v, return_weights=True)
    assert np.shape(out) == (2, 3, 12), (
        f"MultiHeadAttention: output has shape {np.shape(out)}, expected (B, T, D) = (2, 3, 12)"
    )
    assert np.shape(weights) == (2, 3, 3, 7), (
        f"MultiHeadAttention: weights have shape {np.shape(weights)}, expected (B, H, T, S) = (2, 3, 3, 7)"
    )


@pytest.mark.task(TASK)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_keep_the_inputs_dtype(dtype):
    # The docstring promises the inputs' floating dtype: float32 in (weights too), float32 out.
    rng = np.random.default_rng(7)
    layer = make_layer(8, 2)
    for name in ("params_q", "params_k", "params_v", "param_out"):
        setattr(layer, name, getattr(layer, name).astype(dtype))
    q, k, v = (rng.normal(size=(2, length, 8)).astype(dtype) for length in (3, 4, 4))
    out, weights = layer(q, k, v, return_weights=True)
    check_promises("MultiHeadAttention: out", out, shape=(2, 3, 8), like=q)
    check_promises("MultiHeadAttention: weights", weights, shape=(2, 2, 3, 4), like=q)


@pytest.mark.task(TASK)
def test_attention_weights_are_distributions_over_keys():
    rng = np.random.default_rng(2)
    layer = make_layer(8, 2)
    q, k, v = rng.normal(size=(3, 4, 8)), rng.normal(size=(3, 6, 8)), rng.normal(size=(3, 6, 8))
    _, weights = layer(q, k, v, return_weights=True)
    assert np.all(weights >= 0), "MultiHeadAttention: some attention weights are negative"
    row_sums = np.sum(weights, axis=-1)
    np.testing.assert_allclose(row_sums, 1.0, rtol=0, atol=1e-12,
                               err_msg="MultiHeadAttention: weights[b, h, t, :] must sum to 1 over the keys")


@pytest.mark.task(TASK)
def test_reordering_keys_and_values_together_changes_nothing():
    # Attention has no notion of position: it sees the key/value pairs as a set.
    rng = np.random.default_rng(3)
    layer = make_layer(8, 4)
    q, k, v = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 8))
    order = rng.permutation(5)
    np.testing.assert_allclose(layer(q, k[:, order], v[:, order]), layer(q, k, v), rtol=1e-10, atol=1e-12,
                               err_msg="MultiHeadAttention: permuting the key/value pairs changed the output")


@pytest.mark.task(TASK)
def test_reordering_queries_reorders_the_output():
    rng = np.random.default_rng(4)
    layer = make_layer(8, 2)
    q, k, v = rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 8))
    order = rng.permutation(6)
    np.testing.assert_allclose(layer(q[:, order], k, v), layer(q, k, v)[:, order], rtol=1e-10, atol=1e-12,
                               err_msg="MultiHeadAttention: permuting the queries must permute the output rows the same way")


@pytest.mark.task(TASK)
def test_large_scores_give_finite_outputs():
    rng = np.random.default_rng(5)
    layer = make_layer(8, 2)
    q, k, v = 100 * rng.normal(size=(2, 3, 8)), 100 * rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 3, 8))
    out, weights = layer(q, k, v, return_weights=True)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(weights)), (
        "MultiHeadAttention: NaN or inf for large scores; is the softmax shifted by its maximum?"
    )


@pytest.mark.task(TASK)
@pytest.mark.parametrize("batch, queries, keys, embed_dim, num_heads",
                         [(5, 4, 4, 8, 4), (2, 3, 6, 12, 3), (1, 5, 2, 6, 1)])
def test_matches_torch_multihead_attention(batch, queries, keys, embed_dim, num_heads):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    layer = make_layer(embed_dim, num_heads)
    reference = torch.nn.MultiheadAttention(embed_dim, num_heads, bias=False, batch_first=True).double()
    with torch.no_grad():
        # torch multiplies by W^T: our (D, D) matrices enter transposed, stacked q, k, v.
        stacked = np.concatenate([layer.params_q.T, layer.params_k.T, layer.params_v.T], axis=0)  # (3D, D)
        reference.in_proj_weight.copy_(torch.from_numpy(stacked))
        reference.out_proj.weight.copy_(torch.from_numpy(layer.param_out.T))
    q = rng.normal(size=(batch, queries, embed_dim))
    k, v = rng.normal(size=(batch, keys, embed_dim)), rng.normal(size=(batch, keys, embed_dim))
    out, weights = layer(q, k, v, return_weights=True)
    expected, expected_weights = reference(*(torch.from_numpy(x) for x in (q, k, v)), average_attn_weights=False)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-9, atol=1e-12,
                               err_msg="MultiHeadAttention: output differs from torch.nn.MultiheadAttention")
    np.testing.assert_allclose(weights, expected_weights.detach().numpy(), rtol=1e-9, atol=1e-12,
                               err_msg="MultiHeadAttention: weights differ from torch's per-head weights")


# Provided code (not graded): the softmax and the input checks.

def test_softmax_is_stable_and_normalised():
    from np_attention import softmax

    x = np.array([[1000.0, 999.0, -1000.0], [-5.0, 0.0, 5.0]])
    probs = softmax(x)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    naive = np.exp(x[1]) / np.exp(x[1]).sum()
    np.testing.assert_allclose(probs[1], naive, rtol=1e-14)
    np.testing.assert_allclose(softmax(x, axis=0).sum(axis=0), 1.0, rtol=0, atol=1e-15)


def test_heads_must_divide_the_width():
    from np_attention import MultiHeadAttention

    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4, np.random.default_rng(0))


def test_mismatched_inputs_are_rejected_clearly():
    layer = make_layer(8, 2)
    x = np.zeros((2, 3, 8))
    with pytest.raises(ValueError, match="width"):
        layer(x, np.zeros((2, 3, 6)), np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="same number of tokens"):
        layer(x, np.zeros((2, 4, 8)), np.zeros((2, 5, 8)))
    with pytest.raises(ValueError, match="batch"):
        layer(x, np.zeros((3, 4, 8)), np.zeros((3, 4, 8)))


def test_weights_are_drawn_from_the_given_generator():
    first, second = make_layer(8, 2, seed=7), make_layer(8, 2, seed=7)
    for name in ("params_q", "params_k", "params_v", "param_out"):
        assert getattr(first, name).shape == (8, 8)
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    legacy = __import__("np_attention").MultiHeadAttention(8, 2, np.random.RandomState(42))
    assert legacy.params_q.shape == (8, 8)
