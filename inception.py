r"""Inception Score and Fréchet Inception Distance with torchvision's Inception-v3 (CIFAR-10 GANs).

Both measures look at generated images through a network trained on ImageNet.

* **Inception Score** (Salimans et al., 2016): with :math:`p(y \mid x)` the network's class
  probabilities for image x and :math:`p(y) = \mathbb E_x\, p(y \mid x)` their average over the
  generated images,

  .. math:: \mathrm{IS} = \exp\Bigl(\mathbb E_x\, \mathrm{KL}\bigl(p(y \mid x)\,\Vert\, p(y)\bigr)\Bigr),

  computed on each of ``splits`` equal parts of the images and reported as the mean and standard
  deviation over the parts. It lies between 1 (every image gets the same prediction) and the
  number of classes K (confident, distinct predictions, all classes equally often). Higher is better.

* **Fréchet Inception Distance** (Heusel et al., 2017): Gaussians fitted to the 2048 pool
  features of real and generated images,

  .. math:: \mathrm{FID} = \lVert \mu_1 - \mu_2 \rVert_2^2
            + \operatorname{Tr}\bigl(\Sigma_1 + \Sigma_2 - 2\,(\Sigma_1 \Sigma_2)^{1/2}\bigr),

  the same Fréchet distance as ``metrics.frechet_distance`` (the kit's small-classifier variant),
  here in Inception's features. Lower is better; 0 for identical statistics.

The network is torchvision's ``inception_v3`` with its ImageNet weights
(``Inception_V3_Weights.IMAGENET1K_V1``, about 104 MB), downloaded into torch's cache folder
(``torch.hub.get_dir()/checkpoints``) on first use where the network allows. Without them
:func:`require_weights` stops with a message naming the file and the folder it looked in.
Published CIFAR-10 numbers use a TensorFlow port of another Inception checkpoint (1008 classes)
and 50 000 images: the kit's numbers are comparable between runs of the kit with the same number
of images, not with papers. Both measures are biased by small samples (IS downwards, FID upwards).

``StandInNetwork`` is an *untrained* small network with the same interface, used only by
``--smoke`` so that the whole path runs offline; its numbers mean nothing.

Shapes: N images (N, 3, H, W) in [-1, 1]; F features (2048 for Inception); K classes (1000).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import data
import metrics

INPUT_SIZE = 299  # Inception-v3 sees 299 x 299 images: smaller ones are resized (bilinear) first
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation torchvision's weights expect
IMAGENET_STD = (0.229, 0.224, 0.225)
SPLITS = 10  # parts of the generated images the Inception Score is averaged over
BATCH = 50  # images per forward pass (an Inception pass at 299 x 299 is memory-hungry on a CPU)
REAL_SEED = 0  # which real images the FID compares against: the same ones in every run


class WeightsUnavailableError(data.DataUnavailableError):
    """The Inception weights are neither cached nor downloadable; the message says where to put them."""


def _weights():
    from torchvision.models import Inception_V3_Weights

    return Inception_V3_Weights.IMAGENET1K_V1


def weights_file() -> Path:
    """Where torchvision keeps the Inception-v3 weights (torch's cache folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(_weights().url).path).name


def fetch_weights(path: Path) -> None:
    """Download the Inception-v3 weights to ``path``; ``data.SourceUnavailable`` when that fails.

    The only function of this module that touches the network (tests replace it).
    """
    url = _weights().url
    host = urlparse(url).hostname or ""
    if not data.network_reachable(host):
        raise data.SourceUnavailable(f"no network (cannot reach {host})")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with data._socket_timeout(data.DOWNLOAD_TIMEOUT_S):
            torch.hub.download_url_to_file(url, str(path), progress=True)
    except Exception as error:  # URLError, timeouts, a hash mismatch...
        raise data.SourceUnavailable(f"the download failed: {error}") from None


def require_weights(download: bool = True) -> Path:
    """The path of the Inception-v3 weights, downloaded first if missing and allowed.

    Raises:
        WeightsUnavailableError: not cached and not downloadable; the message names the file,
            the folder it looked in and how to get it there.
    """
    path = weights_file()
    if path.exists():
        return path
    why = "downloads are off"
    if download:
        try:
            fetch_weights(path)
            return path
        except data.SourceUnavailable as error:
            why = str(error)
    raise WeightsUnavailableError(
        f"the Inception-v3 weights for the Inception Score and FID are missing: no {path.name} in "
        f"{path.parent}/ ({why}). Run once with network access (torchvision downloads them there, "
        f"about 104 MB from {_weights().url}), or copy that file into {path.parent}/")


def inception_score(probabilities: np.ndarray, splits: int = SPLITS) -> tuple[float, float]:
    r"""The Inception Score of class probabilities (N, K): mean and standard deviation over splits.

    Each of ``splits`` consecutive, equal parts of the N rows (a remainder of fewer than
    ``splits`` rows is left out) gives :math:`\exp(\frac1n\sum_i \mathrm{KL}(p_i \Vert \bar p))`
    with :math:`\bar p` the part's mean row; a zero probability contributes 0 (0 log 0 = 0).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) < splits:
        raise ValueError(f"expected probabilities (N, K) with N >= splits = {splits}, got shape {probabilities.shape}")
    size = len(probabilities) // splits
    scores = []
    for part in range(splits):
        p = probabilities[part * size:(part + 1) * size]  # (n, K)
        marginal = p.mean(0, keepdims=True)  # p(y), (1, K): positive wherever some p(y|x) is
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(np.where(p > 0, marginal, 1))), 0.0)
        scores.append(np.exp(terms.sum(1).mean()))  # exp of the mean KL(p(y|x) || p(y))
    return float(np.mean(scores)), float(np.std(scores))


def fid(real_statistics: tuple[np.ndarray, np.ndarray], fake_features: np.ndarray) -> float:
    """FID of generated features (N, F) against the real images' (mean, covariance)."""
    return metrics.frechet_distance_of_statistics(*real_statistics, *metrics.gaussian_statistics(fake_features))


class InceptionNetwork(nn.Module):
    """torchvision's Inception-v3 with ImageNet weights: images (N, 3, H, W) in [-1, 1] ->
    (pool features (N, 2048), logits (N, 1000)). ``weights`` is a state-dict file; None builds
    the same network with random weights (for checking shapes only)."""

    name = "Inception-v3 (torchvision, ImageNet weights)"

    def __init__(self, weights: Path | None):
        super().__init__()
        from torchvision.models import inception_v3

        # transform_input: the weights were trained on inputs scaled as Google's original; the
        # network converts ImageNet-normalised inputs to that scale itself.
        network = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
        if weights is not None:
            network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.fc = network.fc  # (2048 -> 1000): the logits, applied to the features below
        network.fc = nn.Identity()  # the network now ends at its 2048 pool features
        self.network = network.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate((images + 1) / 2, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        features = self.network((x - self.mean) / self.std)  # (N, 2048)
        return features, self.fc(features)


class StandInNetwork(nn.Module):
    """An UNTRAINED stand-in for Inception (``--smoke`` only): two strided convolutions with
    fixed random weights, images (N, 3, H, W) -> (features (N, 32), logits (N, 10)). It lets the
    scoring path run offline in seconds; the numbers it gives mean nothing."""

    name = "untrained stand-in network (--smoke only: these numbers mean nothing)"

    def __init__(self, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.body = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(32, 10)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return features, self.fc(features)


class ImageScorer:
    """Inception Score and FID of generated images, against real images of one data set.

    ``scorer(images, device)`` returns ``{"inception_score", "inception_score_std", "fid"}`` for
    generated images (N, 3, H, W) in [-1, 1]. ``make_network()`` builds the network on first use
    (``InceptionNetwork``, or ``StandInNetwork`` for ``--smoke``). The FID's real side is
    ``num_real`` images of ``real`` (a dataset of (image, label) in [-1, 1]), always the same ones;
    their statistics are computed once and, given ``cache`` (an .npz path), saved there. ``name``
    says which network scores (for the run's metrics.json).
    """

    def __init__(self, make_network, real, num_real: int, cache: Path | None = None, splits: int = SPLITS,
                 name: str = ""):
        self.make_network, self.real, self.cache, self.splits = make_network, real, cache, splits
        self.name = f"{name or 'a network'}; {min(num_real, len(real))} real images"
        self.num_real = min(num_real, len(real))
        self.network: nn.Module | None = None
        self.real_statistics: tuple[np.ndarray, np.ndarray] | None = None

    @torch.no_grad()
    def outputs(self, images, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, F), class probabilities (N, K)) of images (N, 3, H, W) in [-1, 1]."""
        if self.network is None:
            self.network = self.make_network().eval()
        self.network.to(device)
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        features, probabilities = [], []
        for first in range(0, len(images), BATCH):
            f, logits = self.network(images[first:first + BATCH].to(device))
            features.append(f.double().cpu().numpy())
            probabilities.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
        return np.concatenate(features), np.concatenate(probabilities)

    def _real_statistics(self, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        if self.real_statistics is None and self.cache is not None and self.cache.exists():
            stored = np.load(self.cache)
            self.real_statistics = (stored["mu"], stored["cov"])
        if self.real_statistics is None:
            pick = np.random.default_rng(REAL_SEED).choice(len(self.real), self.num_real, replace=False)
            images = torch.stack([self.real[int(i)][0] for i in pick])  # (num_real, 3, H, W)
            self.real_statistics = metrics.gaussian_statistics(self.outputs(images, device)[0])
            if self.cache is not None:
                self.cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(self.cache, mu=self.real_statistics[0], cov=self.real_statistics[1])
        return self.real_statistics

    def __call__(self, images, device: torch.device) -> dict[str, float]:
        features, probabilities = self.outputs(images, device)
        mean, std = inception_score(probabilities, min(self.splits, len(probabilities)))
        return {"inception_score": mean, "inception_score_std": std,
                "fid": fid(self._real_statistics(device), features)}
