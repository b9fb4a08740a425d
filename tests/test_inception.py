"""Inception Score and FID (``inception.py``): the formulas on inputs with known answers, and the
message when the Inception weights are missing offline. No test touches the network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import data
import inception
import metrics


# --------------------------------------------------------------------------------------------
# Inception Score
# --------------------------------------------------------------------------------------------


def test_uniform_predictions_score_one():
    probabilities = np.full((100, 10), 0.1)
    assert inception.inception_score(probabilities, splits=10) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_confident_distinct_classes_score_the_class_count():
    """Each image certain of its class, every class equally often in each split: IS = K."""
    classes = 7
    probabilities = np.eye(classes)[np.tile(np.arange(classes), 4 * 3)]  # (84, 7), one-hot
    mean, std = inception.inception_score(probabilities, splits=4)
    assert mean == pytest.approx(classes, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_confident_predictions_of_one_class_score_one():
    probabilities = np.eye(5)[np.zeros(40, dtype=int)]  # all certain of class 0: no diversity
    assert inception.inception_score(probabilities, splits=2)[0] == pytest.approx(1.0)


def test_the_score_is_the_exponential_of_the_mean_kl_per_split():
    """Two splits with different answers: the mean and standard deviation are over the splits."""
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=60)  # (60, 4)
    expected = []
    for part in (probabilities[:30], probabilities[30:]):
        marginal = part.mean(0)
        kl = (part * (np.log(part) - np.log(marginal))).sum(1)  # KL(p(y|x) || p(y)) per image
        expected.append(np.exp(kl.mean()))
    mean, std = inception.inception_score(probabilities, splits=2)
    assert (mean, std) == pytest.approx((np.mean(expected), np.std(expected)), rel=1e-12)
    assert 1.0 <= mean <= 4.0


def test_a_remainder_smaller_than_the_splits_is_left_out():
    probabilities = np.concatenate([np.eye(3)[np.tile(np.arange(3), 2)], np.full((1, 3), 1 / 3)])  # 7 rows
    assert inception.inception_score(probabilities, splits=2)[0] == pytest.approx(3.0)


def test_too_few_images_for_the_splits_is_an_error():
    with pytest.raises(ValueError, match="N >= splits = 10"):
        inception.inception_score(np.full((5, 3), 1 / 3), splits=10)


# --------------------------------------------------------------------------------------------
# FID
# --------------------------------------------------------------------------------------------


def test_fid_of_identical_statistics_is_zero():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(500, 6))
    statistics = metrics.gaussian_statistics(features)
    assert inception.fid(statistics, features) == pytest.approx(0.0, abs=1e-9)


def test_fid_of_shifted_features_is_the_squared_shift():
    """Same covariance, means apart by d: FID = |d|^2."""
    rng = np.random.default_rng(2)
    features = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))  # correlated
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert inception.fid(metrics.gaussian_statistics(features), features + shift) == pytest.approx(
        (shift ** 2).sum(), rel=1e-9)


def test_fid_of_gaussians_with_diagonal_covariances():
    """For diagonal covariances the trace term is sum_i (sqrt(a_i) - sqrt(b_i))^2."""
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu_1, mu_2 = np.zeros(3), np.array([0.0, 1.0, 0.0])
    expected = 1.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()  # 1 + 1 + 1 + 0
    assert metrics.frechet_distance_of_statistics(mu_1, np.diag(a), mu_2, np.diag(b)) == pytest.approx(expected)
    assert metrics.frechet_distance_of_statistics(mu_2, np.diag(b), mu_1, np.diag(a)) == pytest.approx(expected)


def test_fid_of_scaled_isotropic_gaussians():
    """N(0, I) against N(0, s^2 I) in F dimensions: F (1 - s)^2."""
    eye = np.eye(4)
    assert metrics.frechet_distance_of_statistics(np.zeros(4), eye, np.zeros(4), 9 * eye) == pytest.approx(4 * 4.0)


# --------------------------------------------------------------------------------------------
# The scorer and the weights
# --------------------------------------------------------------------------------------------


def test_the_scorer_compares_with_the_same_real_images_and_caches_their_statistics(tmp_path):
    real = data.random_images(40, (8, 8, 3), seed=3, verbose=False)
    cache = tmp_path / "statistics.npz"
    scorer = inception.ImageScorer(inception.StandInNetwork, real, num_real=30, cache=cache, splits=2)
    fake = torch.rand(20, 3, 8, 8) * 2 - 1
    first = scorer(fake, torch.device("cpu"))
    assert set(first) == {"inception_score", "inception_score_std", "fid"} and cache.exists()
    again = inception.ImageScorer(inception.StandInNetwork, real, num_real=30, cache=cache, splits=2)
    assert again(fake, torch.device("cpu")) == pytest.approx(first)
    # the real images themselves are at FID 0 from their own statistics
    images = torch.stack([real[int(i)][0] for i in np.random.default_rng(inception.REAL_SEED).choice(40, 30, replace=False)])
    assert scorer(images, torch.device("cpu"))["fid"] == pytest.approx(0.0, abs=1e-6)


def _weights_missing(monkeypatch, tmp_path):
    """No cached weights (torch's cache folder is an empty temporary one) and no download."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(path):
        raise data.SourceUnavailable("no network (cannot reach download.pytorch.org)")

    monkeypatch.setattr(inception, "fetch_weights", offline)


def test_missing_weights_offline_name_the_file_and_the_folder(monkeypatch, tmp_path):
    _weights_missing(monkeypatch, tmp_path)
    with pytest.raises(inception.WeightsUnavailableError) as caught:
        inception.require_weights()
    message = str(caught.value)
    assert "Inception-v3 weights" in message and "no network" in message
    assert inception.weights_file().name in message and f"{tmp_path / 'hub' / 'checkpoints'}/" in message
    assert isinstance(caught.value, data.DataUnavailableError)  # main.py reports it without a traceback


def test_cached_weights_are_used_without_a_download(monkeypatch, tmp_path):
    _weights_missing(monkeypatch, tmp_path)
    path = inception.weights_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert inception.require_weights() == path


@pytest.mark.slow
def test_the_inception_network_loads_a_weights_file_and_gives_pool_features_and_logits(tmp_path):
    """A weights file in torchvision's format (random values: the real ones need a download) loads,
    and the logits equal torchvision's own network's on the resized, ImageNet-normalised images."""
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    reference = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=True).eval()
    torch.save(reference.state_dict(), tmp_path / "weights.pth")
    network = inception.InceptionNetwork(weights=tmp_path / "weights.pth").eval()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        features, logits = network(images)
        resized = torch.nn.functional.interpolate((images + 1) / 2, size=(299, 299), mode="bilinear")
        mean, std = torch.tensor(inception.IMAGENET_MEAN), torch.tensor(inception.IMAGENET_STD)
        expected = reference((resized - mean[:, None, None]) / std[:, None, None])
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
