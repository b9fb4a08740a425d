"""The kit's feature classifier separates real digits from noise and blur (slow: trains it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import data
import metrics


@pytest.mark.slow
def test_real_halves_are_close_and_noise_is_far(tmp_path):
    dataset = data.load_images("mnist", str(tmp_path), transform="plain", download=False, verbose=False)
    order = np.random.default_rng(0).permutation(len(dataset))  # the offline sample is sorted by digit
    reference = torch.utils.data.Subset(dataset, order[: len(order) // 2].tolist())
    evaluator = metrics.FrechetEvaluator(reference, torch.device("cpu"), cache=tmp_path / "clf.pt", num_images=1000)
    assert evaluator.accuracy > 0.9, f"the feature classifier reached only {evaluator.accuracy:.1%} accuracy"
    other = torch.stack([dataset[int(i)][0] for i in order[-1000:]])
    noise = torch.rand_like(other) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(other, 3, stride=1, padding=1)
    real_gap, blur_gap, noise_gap = evaluator(other), evaluator(blurred), evaluator(noise)
    assert real_gap < 0.5 * blur_gap and blur_gap < 0.5 * noise_gap, (real_gap, blur_gap, noise_gap)
    again = metrics.FrechetEvaluator(reference, torch.device("cpu"), cache=tmp_path / "clf.pt", num_images=1000)
    assert again(other) == pytest.approx(real_gap, rel=1e-5), "the cached classifier gives other features"
