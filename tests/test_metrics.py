"""The Fréchet distance used to score generated images (provided code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import data
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


# ---- sample fidelity of point clouds -----------------------------------------------------------


def test_nearest_distances_match_a_brute_force_loop():
    rng = np.random.default_rng(0)
    points, reference = rng.normal(size=(30, 2)), rng.normal(size=(17, 2))
    expected = [min(np.hypot(*(p - r)) for r in reference) for p in points]
    assert np.allclose(metrics.nearest_distances(points, reference, chunk=7), expected)


def test_fidelity_of_the_data_itself_is_perfect_and_of_a_shift_is_the_shift():
    data = np.random.default_rng(1).uniform(-1, 1, size=(200, 2))
    same = metrics.point_cloud_fidelity(data, data)
    assert same == {"sample_to_data": 0.0, "data_to_sample": 0.0, "chamfer": 0.0, "within_radius": 1.0}
    grid = np.stack(np.meshgrid(np.arange(5.0), np.arange(5.0)), -1).reshape(-1, 2)  # spacing 1
    shifted = metrics.point_cloud_fidelity(grid + [0.0, 0.3], grid, radius=0.25)
    assert shifted["sample_to_data"] == pytest.approx(0.3) and shifted["data_to_sample"] == pytest.approx(0.3)
    assert shifted["within_radius"] == 0.0


def test_fidelity_sees_collapse_and_non_finite_samples():
    data = np.random.default_rng(2).uniform(-1, 1, size=(300, 2))
    collapsed = metrics.point_cloud_fidelity(np.repeat(data[:1], 100, axis=0), data)
    assert collapsed["within_radius"] == 1.0 and collapsed["data_to_sample"] > 0.5, "covering only one point is poor"
    broken = np.concatenate([data[:50], np.full((50, 2), np.nan)])
    result = metrics.point_cloud_fidelity(broken, data)
    assert result["within_radius"] == 0.5 and result["sample_to_data"] == np.inf
    with pytest.raises(ValueError, match="expected samples"):
        metrics.point_cloud_fidelity(np.zeros((3, 3)), data)


def test_the_evaluator_never_changes_the_callers_random_stream(tmp_path):
    # A run must give the same numbers whether the classifier is trained now or loaded from its cache.
    generator = torch.Generator().manual_seed(1)
    images = (torch.rand(40, 28, 28, generator=generator) * 255).to(torch.uint8)
    labels = torch.arange(40) % 10
    dataset = data.ImageArrayDataset(images, labels, transform=data.to_symmetric)
    cache = tmp_path / "classifier.pt"
    for how in ("trained", "loaded from the cache"):
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        metrics.FrechetEvaluator(dataset, torch.device("cpu"), cache=cache, num_images=20)
        assert torch.equal(torch.rand(3), expected), f"building the evaluator ({how}) drew from torch's stream"
    assert cache.exists()
