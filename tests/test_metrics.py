"""The Fréchet distance used to score generated images (provided code)."""

from __future__ import annotations

import numpy as np
import pytest

import metrics


def _features(seed, n=400, f=6, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(f, f))
    return shift + scale * rng.normal(size=(n, f)) @ mixing


def test_distance_of_a_set_to_itself_is_zero():
    a = _features(0)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_distance_matches_an_independent_formula():
    a, b = _features(1), _features(2, shift=0.5, scale=1.7)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr (Σa Σb)^½ = sum of the square roots of the (real, non-negative) eigenvalues of Σa Σb
    cross = np.sqrt(np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)).sum()
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_distance_is_symmetric_and_grows_with_the_gap():
    a = _features(3)
    near, far = _features(4, shift=0.2), _features(4, shift=2.0)
    assert metrics.frechet_distance(a, near) == pytest.approx(metrics.frechet_distance(near, a), rel=1e-6)
    assert metrics.frechet_distance(a, near) < metrics.frechet_distance(a, far)


def test_matrix_square_root():
    a = _features(5, n=50)
    cov = np.cov(a, rowvar=False)
    root = metrics.sqrtm_psd(cov)
    assert np.allclose(root @ root, cov, atol=1e-8) and np.allclose(root, root.T)
