r"""Sample quality of image generators: a Fréchet distance in a small classifier's features.

The Fréchet Inception Distance (Heusel et al., 2017) compares Gaussians fitted to features of
real and generated images:

.. math::
    d^2 = \lVert \mu_r - \mu_g \rVert_2^2 + \operatorname{tr}\left(\Sigma_r + \Sigma_g
          - 2\,(\Sigma_r^{1/2} \Sigma_g \Sigma_r^{1/2})^{1/2}\right)

Inception weights cannot be downloaded everywhere, and 28 x 28 digits are far from ImageNet,
so the kit trains its own small convolutional classifier on the same data set (a few seconds
on a CPU, cached under the data folder) and uses its penultimate layer (F = 64 features).
Numbers are comparable between runs of the kit on the same data, not with published FIDs.

Shapes: N images, F features.

2-D point sets (the score model's text cloud) are scored by nearest-neighbour distances instead
(:func:`point_cloud_fidelity`): how close samples lie to the cloud, how well they cover it, and
the fraction within a small radius of it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FEATURES = 64  # F: width of the penultimate layer
NUM_CLASSES = 10
CLASSIFIER_EPOCHS = 5  # passes over the data; on the offline 5 000-digit sample, about 97% training accuracy
CLASSIFIER_SEED = 0
EVAL_IMAGES = 1000  # images per side of the distance
CACHE_SETTINGS = {"features": FEATURES, "epochs": CLASSIFIER_EPOCHS, "seed": CLASSIFIER_SEED, "version": 1}


class FeatureClassifier(nn.Module):
    """Two strided convolutions and two linear layers; ``features`` is the penultimate layer."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 5, stride=2, padding=2), nn.ReLU(),  # (N, 16, 14, 14)
            nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),  # (N, 32, 7, 7)
            nn.Flatten(), nn.LazyLinear(FEATURES), nn.ReLU(),  # (N, F)
        )
        self.head = nn.Linear(FEATURES, NUM_CLASSES)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (eigenvalues < 0 from
    rounding are clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and covariance (F, F) of a feature set (N, F), the Gaussian the distance fits."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance_of_statistics(mu_r: np.ndarray, cov_r: np.ndarray, mu_g: np.ndarray, cov_g: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu_r, cov_r) and N(mu_g, cov_g) (the formula above)."""
    root_r = sqrtm_psd(cov_r)
    cross = sqrtm_psd(root_r @ cov_g @ root_r)  # (Σr^½ Σg Σr^½)^½, symmetric, same trace as (Σr Σg)^½
    return float(((mu_r - mu_g) ** 2).sum() + np.trace(cov_r + cov_g - 2 * cross))


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Squared Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F)."""
    return frechet_distance_of_statistics(*gaussian_statistics(real), *gaussian_statistics(fake))


def new_classifier(dataset) -> FeatureClassifier:
    """A classifier sized for the images of ``dataset``, its lazy layer materialised on one image.

    Its initial weights come from ``CLASSIFIER_SEED`` on a side copy of torch's random stream, so
    building one (to train, or to load a cached state into) never changes what a training run
    draws next: a run gives the same numbers whether or not the classifier was cached.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(CLASSIFIER_SEED)
        image = dataset[0][0]
        model = FeatureClassifier(image.shape[0])
        model(image[None])  # fixes the lazy layer's width before any state is loaded or moved
    return model


def train_classifier(dataset, device: torch.device, epochs: int = CLASSIFIER_EPOCHS) -> tuple[FeatureClassifier, float]:
    """Train the feature classifier; returns it (in eval mode) and its final training accuracy."""
    generator = torch.Generator().manual_seed(CLASSIFIER_SEED)
    model = new_classifier(dataset).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, generator=generator)
    correct = seen = 0
    for _ in range(epochs):
        correct = seen = 0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
    return model.eval(), correct / max(seen, 1)


@torch.no_grad()
def features(classifier: FeatureClassifier, images, device: torch.device, batch: int = 500) -> np.ndarray:
    """Features (N, F) of images (N, C, H, W) in the classifier's input range."""
    images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    return np.concatenate([classifier.features(images[i:i + batch].to(device)).cpu().numpy()
                           for i in range(0, len(images), batch)])


class FrechetEvaluator:
    """Fréchet distance of a generator's samples to real images of one data set.

    ``evaluator(images)`` returns the distance for generated images (N, C, H, W) in [-1, 1].
    The classifier is trained on first use and cached at ``cache`` (a .pt file) if given.
    """

    def __init__(self, dataset, device: torch.device, cache=None, num_images: int = EVAL_IMAGES):
        from pathlib import Path

        self.device = device
        cache = Path(cache) if cache else None
        state = torch.load(cache, map_location="cpu", weights_only=True) if cache and cache.exists() else None
        if state is not None and state.get("settings") != CACHE_SETTINGS:
            state = None  # cached by another version of the classifier: train afresh
        if state is not None:
            self.classifier = new_classifier(dataset)
            self.classifier.load_state_dict(state["model"])
            self.classifier.to(device).eval()
            self.accuracy = state["accuracy"]
        else:
            self.classifier, self.accuracy = train_classifier(dataset, device)
            if cache:
                cache.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": self.classifier.state_dict(), "accuracy": self.accuracy,
                            "settings": CACHE_SETTINGS}, cache)
        pick = np.random.default_rng(CLASSIFIER_SEED).choice(len(dataset), min(num_images, len(dataset)), replace=False)
        real = torch.stack([dataset[int(i)][0] for i in pick])
        self.num_images = len(pick)
        self.real_features = features(self.classifier, real, device)

    def __call__(self, images) -> float:
        return frechet_distance(self.real_features, features(self.classifier, images, self.device))


@torch.no_grad()
def sample_images(model, count: int, device: torch.device, batch: int = 250) -> np.ndarray:
    """``count`` generated images (N, C, H, W) from a GAN model, in evaluation mode."""
    was_training = model.training
    model.eval()
    chunks = [model.generate(model.sample_noise(min(batch, count - i)).to(device)).cpu().numpy()
              for i in range(0, count, batch)]
    model.train(was_training)
    return np.concatenate(chunks)


# ------------------------------------------------------------------------------------------------
# Sample fidelity of 2-D point sets (the score model's text point cloud)
# ------------------------------------------------------------------------------------------------
# Shapes: S samples, P data points, D coordinates.

FIDELITY_RADIUS = 0.05  # a sample this close to some data point counts as on the cloud


def nearest_distances(points: np.ndarray, reference: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each row of ``points`` (S, D), the Euclidean distance to the nearest row of ``reference`` (P, D).

    A row with a NaN or infinite coordinate gets distance inf.
    """
    points, reference = np.asarray(points, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    found = np.full(len(points), np.inf)
    finite = np.all(np.isfinite(points), axis=1)
    rows = np.flatnonzero(finite)
    for start in range(0, len(rows), chunk):  # (chunk, P) distances at a time
        block = rows[start:start + chunk]
        squared = ((points[block, None, :] - reference[None, :, :]) ** 2).sum(axis=-1)
        found[block] = np.sqrt(squared.min(axis=1))
    return found


def point_cloud_fidelity(samples, data, radius: float = FIDELITY_RADIUS) -> dict[str, float]:
    """How well samples (S, D) match a point cloud (P, D).

    Returns:
        ``sample_to_data``: the mean distance from each sample to its nearest data point
        (small when samples lie on the cloud); ``data_to_sample``: the mean distance from each
        data point to its nearest sample (small when the samples cover the whole cloud, so it
        catches samples collapsed onto one letter); ``chamfer``: their sum; ``within_radius``:
        the fraction of samples within ``radius`` of some data point. Non-finite samples count
        as infinitely far (``within_radius`` leaves them out of the numerator).
    """
    samples, data = np.asarray(samples, dtype=np.float64), np.asarray(data, dtype=np.float64)
    if samples.ndim != 2 or data.ndim != 2 or samples.shape[1] != data.shape[1] or not len(samples) or not len(data):
        raise ValueError(f"expected samples (S, D) and data (P, D), got {samples.shape} and {data.shape}")
    to_data = nearest_distances(samples, data)
    finite = samples[np.all(np.isfinite(samples), axis=1)]
    to_samples = nearest_distances(data, finite) if len(finite) else np.full(len(data), np.inf)
    return {
        "sample_to_data": float(to_data.mean()),
        "data_to_sample": float(to_samples.mean()),
        "chamfer": float(to_data.mean() + to_samples.mean()),
        "within_radius": float((to_data <= radius).mean()),
    }
