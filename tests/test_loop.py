"""The shared training loop and the command line: outputs, resume, and bad input.

These use the provided vanilla GAN step on a tiny mock model, so they pass before any task
is implemented.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import main
import train
from config import TrainConfig, resolve
from tests.cases_train import MockGAN

IMAGE = (1, 8, 8)


@pytest.fixture
def dataset():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(64, *IMAGE, generator=generator) * 2 - 1
    return torch.utils.data.TensorDataset(images, torch.zeros(64, dtype=torch.long))


@pytest.fixture
def config(tmp_path):
    return TrainConfig(model="mlp", steps=4, batch_size=8, sample_every=2, log_every=1,
                       device="cpu", runs_dir=str(tmp_path / "runs"), run_name="test")


def test_a_run_writes_every_output(config, dataset):
    folder = train.train(config, MockGAN(IMAGE), train.GAN, dataset, progress=False)
    for name in ("config.json", "metrics.csv", "metrics.json", "latest.pt", "final.pt", "loss_curves.png", "loss_curves.pdf"):
        assert (folder / name).exists(), f"{name} missing from the run folder"
    for step in (2, 4):
        for suffix in ("pdf", "png"):
            assert (folder / "samples" / f"step_{step:06d}.{suffix}").exists()
    rows = list(csv.DictReader((folder / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert {"discriminator_loss", "generator_loss"} <= set(rows[0])
    assert json.loads((folder / "config.json").read_text())["steps"] == 4


def test_resume_continues_from_the_checkpoint(config, dataset):
    folder = train.train(replace(config, steps=2), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    resumed = train.train(replace(config, steps=4, resume=str(folder)), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    assert resumed == folder
    assert torch.load(folder / "final.pt", weights_only=True)["step"] == 4
    steps = [int(r["step"]) for r in csv.DictReader((folder / "metrics.csv").open())]
    assert steps == [1, 2, 3, 4], "the resumed run appends to the same log"


def test_a_resumed_run_continues_every_random_stream(config, dataset):
    # A step drawing from NumPy and Python as well as torch: stopping after 2 steps and resuming
    # must give the weights of 4 uninterrupted steps.
    def noisy_step(config):
        step = train.GAN.step(config)

        def run(batch, model, optimizers):
            scale = 0.5 + float(np.random.rand()) + random.random()
            return step({**batch, "train_X": batch["train_X"] * scale}, model, optimizers)
        return run

    recipe = replace(train.GAN, step=noisy_step)
    straight = train.train(replace(config, run_name="straight"), MockGAN(IMAGE), recipe, dataset, progress=False)
    halted = train.train(replace(config, run_name="halted", steps=2), MockGAN(IMAGE), recipe, dataset, progress=False)
    np.random.seed(99), random.seed(99)  # what the process did in between must not matter
    train.train(replace(config, run_name="halted", resume=str(halted)), MockGAN(IMAGE), recipe, dataset, progress=False)
    a, b = (torch.load(f / "final.pt", weights_only=True)["model"] for f in (straight, halted))
    assert all(torch.equal(a[k], b[k]) for k in a), "resuming restarted a random stream"


def test_same_seed_same_run(config, dataset):
    first = train.train(replace(config, run_name="a"), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    second = train.train(replace(config, run_name="b"), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    a, b = (torch.load(f / "final.pt", weights_only=True)["model"] for f in (first, second))
    assert all(torch.equal(a[k], b[k]) for k in a), "--seed must make a run repeatable"


def test_how_often_a_run_looks_at_itself_does_not_change_it(config, dataset):
    # Sample grids, figures and evaluations draw random numbers; they must come from a side
    # stream, or a run's weights would depend on --sample_every and --eval_every.
    def noisy_evaluation(model, run):
        return {"val/draw": float(torch.rand(()))}

    recipe = replace(train.GAN, evaluate=noisy_evaluation)
    final = {}
    for name, every in (("often", 1), ("rarely", 100)):
        folder = train.train(replace(config, run_name=name, sample_every=every, eval_every=every), MockGAN(IMAGE),
                             recipe, dataset, progress=False)
        final[name] = torch.load(folder / "final.pt", weights_only=True)["model"]
    often, rarely = final["often"], final["rarely"]
    assert all(torch.equal(often[k], rarely[k]) for k in often), \
        "sampling figures or evaluating every step changed the trained weights"


def test_corrupt_checkpoint_is_refused_and_kept(config, dataset, tmp_path):
    folder = train.train(replace(config, steps=2), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    latest = folder / "latest.pt"
    latest.write_bytes(b"not a checkpoint")
    with pytest.raises(train.TrainingError, match="not a readable checkpoint"):
        train.train(replace(config, resume=str(folder)), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    assert latest.read_bytes() == b"not a checkpoint", "a failed resume must not overwrite anything"


def test_checkpoint_of_another_model_is_refused(config, dataset):
    folder = train.train(replace(config, steps=2), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    with pytest.raises(train.TrainingError, match="does not fit"):
        train.train(replace(config, resume=str(folder)), MockGAN(IMAGE, hidden=7), train.GAN, dataset, progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(config, dataset):
    model = MockGAN(IMAGE)

    def poisoned_step(cfg):
        def step(batch, model, optimizers):
            info = train.train_step_gan(batch, model, optimizers)
            step.calls += 1
            if step.calls == 3:
                info["generator_loss"] = float("nan")
            return info
        step.calls = 0
        return step

    recipe = replace(train.GAN, step=poisoned_step)
    with pytest.raises(train.TrainingError, match="not finite"):
        train.train(config, model, recipe, dataset, progress=False)
    folder = Path(config.runs_dir) / "test"
    state = torch.load(folder / "latest.pt", weights_only=True)
    assert state["step"] == 2, "the checkpoint from before the NaN is kept"
    assert not (folder / "final.pt").exists()


MODELS = main.MODELS


def test_unknown_flag_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        resolve(["--stpes", "3"], MODELS)
    err = capsys.readouterr().err
    assert "--stpes" in err and "did you mean --steps" in err and "--gradient_penalty" in err


def test_unknown_model_lists_the_choices(capsys):
    with pytest.raises(SystemExit):
        resolve(["--model", "transformer"], MODELS)
    err = capsys.readouterr().err
    assert all(name in err for name in MODELS)


# ASSIGNMENT: cscd84-a4
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_bad_gradient_penalty_is_refused(capsys, value):
    with pytest.raises(SystemExit):
        resolve(["--gradient_penalty", value], MODELS)
    assert "--gradient_penalty must be a finite number >= 0" in capsys.readouterr().err


# ASSIGNMENT: cscd84-a4
def test_flags_override_the_preset_and_model_names_are_case_insensitive():
    config = resolve(["--model", "ViT:MLP", "--preset", "full", "--steps", "7"], MODELS)
    assert (config.model, config.steps) == ("vit:mlp", 7)
    assert resolve(["--preset", "full"], MODELS).steps == 40_000
    assert resolve(["--gradient_penalty", "10"], MODELS).gradient_penalty == 10.0
    assert resolve([], MODELS).gradient_penalty is None


# ASSIGNMENT: cscd84-a4
def test_the_gan_models_take_steps_not_epochs(capsys):
    with pytest.raises(SystemExit):
        resolve(["--model", "mlp", "--epochs", "2"], MODELS)
    assert "--model mlp does not use --epochs; the options it uses: " in capsys.readouterr().err


def test_unavailable_device_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(train.TrainingError, match="not available"):
        train.pick_device("cuda")


# ---- what a finished GAN run says about itself ------------------------------------------------


def test_a_collapsed_vanilla_gan_is_named_with_the_flag_to_try(config):
    text = train.diagnose_gan({"frechet_distance": 1200.0, "discriminator_loss": 0.003, "step": 2000}, config)
    assert "collapsed" in text and "--gradient_penalty 10" in text and "handout" in text, text
    assert "1200" in text and "0.003" in text, "the diagnosis quotes the numbers it is based on"


def test_a_healthy_or_penalised_run_is_not_called_collapsed(config):
    healthy = train.diagnose_gan({"frechet_distance": 90.0, "discriminator_loss": 1.1, "step": 2000}, config)
    early = train.diagnose_gan({"frechet_distance": 900.0, "discriminator_loss": -3.0, "step": 100},
                               replace(config, gradient_penalty=10.0))
    for text in (healthy, early):
        assert "collapsed" not in text and "--gradient_penalty" not in text, text
    assert "train longer" in early
    assert train.diagnose_gan({"discriminator_loss": 0.1, "step": 4}, config) is None  # no distance (--smoke)


def test_text_results_are_saved_and_printed_as_paragraphs(config, dataset, capsys):
    # The GAN's final hook returns its diagnosis as text: metrics.json keeps it, the run prints it.
    recipe = replace(train.GAN, final=lambda model, run: {"diagnosis": "the samples are digits"})
    folder = train.train(config, MockGAN(IMAGE), recipe, dataset, progress=False)
    assert json.loads((folder / "metrics.json").read_text())["diagnosis"] == "the samples are digits"
    assert "\ndiagnosis: the samples are digits" in capsys.readouterr().out


def test_the_diagnosis_reads_the_last_logged_discriminator_losses(config, dataset):
    folder = train.train(replace(config, steps=8), MockGAN(IMAGE), train.GAN, dataset, progress=False)
    losses = [float(row["discriminator_loss"]) for row in csv.DictReader((folder / "metrics.csv").open())]
    recent = train.recent_discriminator_loss(folder / "metrics.csv")
    assert recent["discriminator_loss"] == pytest.approx(sorted(losses[-5:])[2])  # their median
    assert train.recent_discriminator_loss(folder / "missing.csv") == {}


def test_a_short_run_that_collapsed_is_diagnosed_as_collapsed(tmp_path):
    # the last logged rows of a 200-step vanilla run of the ViT GAN: the discriminator wins from step 150 on
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("step,discriminator_loss\n50,0.274\n100,0.0732\n150,0.00182\n200,0.00106\n")
    recent = train.recent_discriminator_loss(csv_path)
    config = TrainConfig(model="vit", steps=200)
    text = train.diagnose_gan({"step": 200, "frechet_distance": 1441.0, **recent}, config)
    assert "collapsed" in text and "--gradient_penalty 10" in text, text
