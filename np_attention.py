r"""Multi-head softmax attention written with NumPy alone (CSCD84 Assignment 4, section 2).

Scaled dot-product attention (Vaswani et al., 2017, eq. 1) and its multi-head form (section 3.2.2):

.. math::

    \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V,
    \qquad
    \mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W^O,
    \quad \mathrm{head}_h = \mathrm{Attention}(Q W^Q_h, K W^K_h, V W^V_h).

As in the handout, every head has width d_k = d_v = D / H, and the per-head matrices are stored
side by side: ``params_q[:, h*K:(h+1)*K]`` is W^Q_h, and likewise for keys and values. There are
no biases and no mask. The layer is the same function as ``torch.nn.MultiheadAttention(D, H,
bias=False, batch_first=True)`` loaded with ``in_proj_weight = [W^Q; W^K; W^V]^T`` (each
transposed, stacked by rows) and ``out_proj.weight = (W^O)^T``; ``pytest --task
multi_head_attention`` checks this, among other things. This file imports NumPy only (the
grader refuses any other import here).

Letters used for shapes:
    B batch, T query tokens, S key/value tokens, D embedding width, H heads, K = D / H head width.
"""

from __future__ import annotations

import math

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: :math:`\exp(x_i - m) / \sum_j \exp(x_j - m)` with :math:`m = \max_j x_j`.

    Subtracting the maximum changes nothing mathematically (softmax is shift invariant) but keeps
    every exponent <= 0, so large scores cannot overflow to ``inf`` and turn the result into NaN.

    Args:
        x: scores of any shape.
        axis: the axis that sums to one in the result.

    Returns:
        An array of the shape of ``x``, non-negative, summing to 1 along ``axis``.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


class MultiHeadAttention:
    """Multi-head attention with weights drawn from a NumPy random generator.

    Args:
        embed_dim: D, the width of queries, keys, values and of the output.
        num_heads: H; must divide ``embed_dim``.
        rng: a ``np.random.Generator`` (or legacy ``np.random.RandomState``) the four weight
            matrices are drawn from.

    Attributes:
        params_q, params_k, params_v: (D, D) projections; columns ``h*K:(h+1)*K`` belong to head h.
        param_out: (D, D) output projection W^O, applied to the concatenated heads.
        num_heads: H.
        head_dim: K = D / H.
    """

    def __init__(self, embed_dim: int, num_heads: int, rng) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be positive, got {embed_dim} and {num_heads}")
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}: "
                "every head must get the same width embed_dim / num_heads"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        # Entries N(0, 1/D), so that a projection of a unit-variance input keeps unit variance.
        scale = 1.0 / math.sqrt(embed_dim)
        shape = (embed_dim, embed_dim)
        self.params_q = scale * rng.standard_normal(size=shape)
        self.params_k = scale * rng.standard_normal(size=shape)
        self.params_v = scale * rng.standard_normal(size=shape)
        self.param_out = scale * rng.standard_normal(size=shape)

    def _check_inputs(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        """Raise a ValueError naming the problem when q, k, v cannot be attended over."""
        for name, x in (("q", q), ("k", k), ("v", v)):
            if np.ndim(x) != 3:
                raise ValueError(f"{name} must have shape (batch, tokens, embed_dim), got shape {np.shape(x)}")
            if x.shape[-1] != self.embed_dim:
                raise ValueError(f"{name} has width {x.shape[-1]}, but this layer has embed_dim={self.embed_dim}")
        if not q.shape[0] == k.shape[0] == v.shape[0]:
            raise ValueError(f"q, k, v must share the batch size, got {q.shape[0]}, {k.shape[0]}, {v.shape[0]}")
        if k.shape[1] != v.shape[1]:
            raise ValueError(f"k and v must have the same number of tokens, got {k.shape[1]} and {v.shape[1]}")

    def __call__(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, return_weights: bool = False):
        r"""Attend from every query token to every key/value token, in each of the H heads.

        .. math::

            \mathrm{out} = \mathrm{Concat}_h\!\left[\mathrm{softmax}\!\left(
                \frac{(q W^Q_h)(k W^K_h)^\top}{\sqrt{K}}\right)(v W^V_h)\right] W^O

        Steps: project q, k, v with ``params_q``, ``params_k``, ``params_v``; split the D
        columns into H heads of width K = D / H (head h owns columns ``h*K`` to ``(h+1)*K``);
        in each head, score every (query, key) pair by their dot product divided by sqrt(K),
        take the softmax over the **keys** (use :func:`softmax`, which cannot overflow), and
        average the value vectors with these weights; concatenate the heads back to width D in
        head order and multiply by ``param_out``. No mask, no biases.

        Args:
            q: queries (B, T, D).
            k: keys (B, S, D); S may differ from T.
            v: values (B, S, D).
            return_weights: also return the attention weights.

        Returns:
            ``out`` (B, T, D), of the floating dtype of the inputs and parameters (float32 in,
            float32 out; NumPy turns a float32/float64 mix into float64); with ``return_weights=True`` the pair
            ``(out, weights)`` where ``weights`` (B, H, T, S) holds the softmax probabilities:
            ``weights[b, h, t, s]`` is how much query t of head h attends to key s, and
            ``weights.sum(axis=-1)`` is all ones.

        Raises:
            ValueError: inputs that are not 3-D, whose width is not D, or whose batch sizes or
                key/value lengths disagree.
        """
        self._check_inputs(q, k, v)
        # BEGIN SOLUTION multi_head_attention
        B, T, D = q.shape
        S = k.shape[1]
        H, K = self.num_heads, self.head_dim

        # Project, then split the D columns into H blocks of width K: (B, T, D) -> (B, H, T, K).
        q_heads = (q @ self.params_q).reshape(B, T, H, K).transpose(0, 2, 1, 3)  # (B, H, T, K)
        k_heads = (k @ self.params_k).reshape(B, S, H, K).transpose(0, 2, 1, 3)  # (B, H, S, K)
        v_heads = (v @ self.params_v).reshape(B, S, H, K).transpose(0, 2, 1, 3)  # (B, H, S, K)

        # Similarity of each query to each key, scaled by 1/sqrt(d_k) so that the scores keep
        # unit variance whatever the head width (otherwise the softmax saturates).
        scores = q_heads @ k_heads.transpose(0, 1, 3, 2) / math.sqrt(K)  # (B, H, T, S)
        weights = softmax(scores, axis=-1)  # (B, H, T, S), a distribution over keys per query

        heads = weights @ v_heads  # (B, H, T, K)
        concat = heads.transpose(0, 2, 1, 3).reshape(B, T, D)  # (B, T, D), head h in columns h*K..
        out = concat @ self.param_out  # (B, T, D)
        # END SOLUTION
        if return_weights:
            return out, weights
        return out
