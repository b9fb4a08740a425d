"""The IFT6135 CIFAR-10 GAN (``python main.py --model sngan``): its networks, its training step,
the ``--smoke`` path on random images, and the message when CIFAR-10 and the Inception weights
cannot be downloaded. No test touches the network."""

from __future__ import annotations

import json

import pytest
import torch

import config
import data
import gan
import inception
import main


def test_the_objectives_are_the_configurations():
    assert config.OBJECTIVES == tuple(gan.CIFAR10_CONFIGS)


def test_the_networks_shapes_and_the_generators_own_noise():
    torch.manual_seed(0)
    model = gan.SNGAN(width=4)
    images = model.generator(torch.randn(5, gan.CIFAR10_DIM_Z))
    assert images.shape == (5, 3, 32, 32) and images.abs().max() <= 1
    model.generator.batch_size = 3
    assert model.generator().shape == (3, 3, 32, 32)  # generator() draws its own codes
    assert model.critic(images).shape == (5,)


def test_every_critic_layer_is_spectrally_normalised():
    critic = gan.SNCritic(width=4).train()
    for _ in range(30):  # power iterations, one per call
        critic(torch.zeros(1, 3, 32, 32))
    layers = [m for m in critic.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 8
    for layer in layers:
        largest = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert largest == pytest.approx(1.0, abs=0.05)


def test_a_step_moves_the_average_and_copies_the_batch_statistics():
    torch.manual_seed(0)
    model = gan.SNGAN(width=4)
    before = [p.detach().clone() for p in model.ema_generator.parameters()]
    settings = config.TrainConfig(model="sngan", objective="wgan-gp", lr_discriminator=1e-3, lr_generator=1e-3)
    optimizers = gan.CIFAR10.optimizers(model, settings)
    info = gan.CIFAR10.step(settings)({"x": torch.rand(8, 3, 32, 32) * 2 - 1}, model, optimizers)
    assert set(info) == {"generator_loss"} and isinstance(info["generator_loss"], float)
    alpha = gan.CIFAR10_EMA
    for old, averaged, current in zip(before, model.ema_generator.parameters(), model.generator.parameters()):
        torch.testing.assert_close(averaged, alpha * old + (1 - alpha) * current)
    for averaged, current in zip(model.ema_generator.buffers(), model.generator.buffers()):
        torch.testing.assert_close(averaged, current)
    assert not any(p.requires_grad for p in model.ema_generator.parameters())


def test_smoke_runs_offline_on_random_images_with_a_labelled_stand_in(tmp_path, monkeypatch, capsys):
    def no_download(*args, **kwargs):
        raise AssertionError("--smoke must not download anything")

    monkeypatch.setattr(data, "fetch_torchvision", no_download)
    monkeypatch.setattr(inception, "fetch_weights", no_download)
    code = main.main(["--model", "sngan", "--smoke", "--batch_size", "16", "--width", "8", "--eval_samples", "40",
                      "--device", "cpu", "--runs_dir", str(tmp_path), "--run_name", "smoke"])
    assert code == 0
    out = capsys.readouterr().out
    assert "random 32x32x3 images" in out and "untrained stand-in" in out
    folder = tmp_path / "smoke"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"val/standin_inception_score", "val/standin_fid"} <= set(metrics)
    assert not {"val/inception_score", "val/fid"} & set(metrics), "stand-in numbers must not pass for real ones"
    assert "untrained stand-in" in metrics["scorer"]
    for name in ("figures/metric_and_fid.png", "figures/metric_and_fid.pdf", "samples/step_000004.png", "final.pt"):
        assert (folder / name).exists(), name


def test_offline_it_stops_naming_the_missing_data_and_weights(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise data.SourceUnavailable("no network (cannot reach the server)")

    monkeypatch.setattr(data, "fetch_torchvision", offline)
    monkeypatch.setattr(inception, "fetch_weights", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    code = main.main(["--model", "sngan", "--data_root", str(tmp_path / "data"), "--runs_dir", str(tmp_path / "runs")])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: --model sngan needs downloads" in err
    assert "CIFAR-10" in err and f"{tmp_path / 'data'}/cifar-10-batches-py/" in err
    assert "Inception-v3 weights" in err and f"{tmp_path / 'hub' / 'checkpoints'}/" in err
    assert not (tmp_path / "runs").exists(), "no run folder for a run that cannot start"
