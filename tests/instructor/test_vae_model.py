"""The VAE models built on the graded functions: the L = 100 ConvVAE, importance sampling, figures.

Instructor tests: they run the reference solutions of several tasks together (a handout's stubs
would stop them at the first one).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vae


def binary_digits(count: int, seed: int = 0) -> torch.Tensor:
    """``count`` binary 28 x 28 images: blurred random strokes, so a VAE has structure to learn."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 1, 28, 28), dtype=np.float32)
    for image in images:
        rows, cols = rng.integers(4, 24, size=2)
        image[0, rows - 3:rows + 3, 6:22] = 1.0  # a bar at a random height
        image[0, 6:22, cols - 2:cols + 2] = 1.0  # and one at a random column
    return torch.from_numpy(images)


def test_conv_vae_shapes_follow_the_handout_architecture():
    model = vae.ConvVAE()
    x = binary_digits(3)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 100)
    assert model.decode(mu).shape == (3, 1, 28, 28)
    assert model.elbo(x).shape == (3,)
    assert model.sample(5).shape == (5, 1, 28, 28)


@pytest.fixture(scope="module")
def small_trained_vae():
    """A ConvVAE with a 10-D latent after 60 Adam steps on 256 synthetic binary images."""
    torch.manual_seed(0)
    model = vae.ConvVAE(latent_dimension=10)
    data = binary_digits(256)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(60):
        batch = data[(step * 32) % 256:(step * 32) % 256 + 32]
        loss = -model.elbo(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), data


@pytest.mark.slow  # trains a small model first: about a quarter of a minute
def test_importance_sampled_log_likelihood_bounds_the_elbo(small_trained_vae):
    model, data = small_trained_vae
    x = data[:48]
    torch.manual_seed(1)
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x) for _ in range(20)]).mean(dim=0)  # (48,), E_q of the bound
    log_likelihood = vae.importance_sampled_log_likelihood(model, x, num_samples=100, chunk=1000)
    assert log_likelihood.shape == (48,) and torch.isfinite(log_likelihood).all()
    mean_ll, se_ll = vae.mean_and_standard_error(log_likelihood.numpy())
    mean_elbo, _ = vae.mean_and_standard_error(elbo.numpy())
    assert mean_ll > mean_elbo, f"IS log-likelihood {mean_ll:.2f} must exceed the ELBO {mean_elbo:.2f}"
    # per example too, apart from Monte-Carlo noise
    assert (log_likelihood > elbo - 1.0).float().mean() > 0.95


@pytest.mark.slow
def test_one_importance_sample_is_the_elbo_in_expectation(small_trained_vae):
    model, data = small_trained_vae
    x = data[:32]
    torch.manual_seed(2)
    with torch.no_grad():
        one = torch.stack([vae.importance_sampled_log_likelihood(model, x, num_samples=1) for _ in range(30)]).mean(0)
        elbo = torch.stack([model.elbo(x) for _ in range(30)]).mean(0)
    # K = 1 estimates log p(x|z) + log p(z) - log q(z|x): the Monte-Carlo ELBO; the analytic KL
    # only lowers its variance
    assert abs(float(one.mean() - elbo.mean())) < 1.0


def test_mean_and_standard_error():
    mean, se = vae.mean_and_standard_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and se == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    assert math.isnan(vae.mean_and_standard_error([5.0])[1])


def test_cs446_figures_are_written(tmp_path):
    torch.manual_seed(0)
    model = vae.VAE()
    images = binary_digits(40)
    labels = torch.arange(40) % 10
    for written in (vae.visualize_data_space(model, tmp_path / "data_space"),
                    vae.visualize_latent_space(model, images, labels, tmp_path / "latent_space"),
                    vae.visualize_inter_class_interpolation(model, images, labels, tmp_path / "interpolation"),
                    vae.reconstructions(model, images, tmp_path / "reconstructions", count=16)):
        assert [p.suffix for p in written] == [".pdf", ".png"] and all(p.stat().st_size > 0 for p in written)
    pairs = vae.different_class_pairs(labels.numpy(), 3, np.random.default_rng(0))
    assert all(labels[a] != labels[b] for a, b in pairs)


def test_conv_vae_figures_are_written(tmp_path):
    model = vae.ConvVAE()
    written = vae.reconstructions(model, binary_digits(8), tmp_path / "reconstructions")
    written += vae.elbo_curve([1, 2, 3], [-150.0, -130.0, -120.0], tmp_path / "elbo")
    assert all(p.exists() for p in written)


def test_vae_models_read_the_binarisation_flag_and_reject_bad_values(capsys):
    import main
    from config import resolve

    assert resolve(["--model", "vae"], main.MODELS).binarize == "threshold"  # CS446 rounds its pixels
    assert resolve(["--model", "vae100"], main.MODELS).binarize == "dynamic"
    assert resolve(["--model", "vae100", "--binarize", "threshold"], main.MODELS).binarize == "threshold"
    full = resolve(["--model", "vae100", "--preset", "full"], main.MODELS)
    assert (full.epochs, full.lr, full.batch_size, full.lr_schedule) == (20, 3e-4, 64, "constant"), (
        "the handout's 20 epochs of Adam at a constant 3e-4, batch 64")
    assert resolve(["--model", "vae", "--preset", "full"], main.MODELS).epochs == 200
    with pytest.raises(SystemExit):
        resolve(["--model", "vae100", "--binarize", "round"], main.MODELS)
    assert "--binarize must be one of dynamic, threshold" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        resolve(["--model", "mlp", "--binarize", "threshold"], main.MODELS)
