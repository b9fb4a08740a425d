"""The one loop with a model that is not a GAN: epochs, held-out splits, hooks, registry entries.

A toy density model defined here (a diagonal Gaussian fitted to 2-D points by maximum
likelihood) plugs in the way every model family does: a ``train.Recipe`` and a
``main.ModelEntry``. Nothing here depends on a graded task.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

import data
import main
import config as config_module
import train
from config import TrainConfig, resolve

MEAN = torch.tensor([2.0, -1.0])  # of the toy data
STD = torch.tensor([0.5, 1.5])


class ToyDensity(nn.Module):
    """A diagonal Gaussian over 2-D points with learnable mean and log standard deviation."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(dim))
        self.log_std = nn.Parameter(torch.zeros(dim))

    def log_prob(self, points: torch.Tensor) -> torch.Tensor:  # (B, 2) -> (B,)
        return torch.distributions.Normal(self.mean, self.log_std.exp()).log_prob(points).sum(1)


def nll_step(config):
    def step(batch, model, optimizers):
        loss = -model.log_prob(batch["x"]).mean()
        optimizers["model"].zero_grad()
        loss.backward()
        optimizers["model"].step()
        return {"nll_loss": loss.item()}
    return step


def _nll(model, dataset, device) -> float:
    with torch.no_grad():
        return -model.log_prob(dataset.tensors[0].to(device)).mean().item()


CALLS: list[tuple[str, int, bool, bool]] = []  # (hook, step, run.done, model.training), per call


def validation_nll(model, run):
    CALLS.append(("evaluate", run.step, run.done, model.training))
    return {"val/nll": _nll(model, run.data.validation, run.device)}


def figures(model, run):
    CALLS.append(("figures", run.step, run.done, model.training))
    run.figure_path("final" if run.done else f"step_{run.step:06d}").with_suffix(".txt").write_text(str(run.step))


def test_nll(model, run):
    CALLS.append(("final", run.step, run.done, model.training))
    return {"test/nll": _nll(model, run.data.test, run.device)}


test_nll.__test__ = False  # a hook, not a test

TOY = train.Recipe(optimizers=train.adam, step=nll_step, evaluate=validation_nll, figures=figures, final=test_nll)


def toy_splits(config=None, sizes=(240, 60, 60)) -> data.Splits:
    generator = torch.Generator().manual_seed(0)
    parts = [MEAN + STD * torch.randn(size, 2, generator=generator) for size in sizes]
    return data.Splits(*(torch.utils.data.TensorDataset(p) for p in parts), name="toy",
                       info={"entropy": float(torch.log(STD * math.sqrt(2 * math.pi * math.e)).sum())})


TOY_ENTRY = main.ModelEntry("toy Gaussian density on 2-D points", "tests.test_loop_recipes", "ToyDensity",
                            recipe="tests.test_loop_recipes:TOY", data="tests.test_loop_recipes:toy_splits",
                            uses=("epochs", "batch_size", "lr", "eval_every"),
                            defaults={"epochs": 3, "batch_size": 20, "lr": 0.2},
                            presets={"full": {"epochs": 40}})


@pytest.fixture
def config(tmp_path):
    return TrainConfig(model="toy", epochs=3, batch_size=20, lr=0.2, sample_every=10, log_every=4,
                       device="cpu", runs_dir=str(tmp_path / "runs"), run_name="toy")


def rows(folder):
    with (folder / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_epochs_evaluation_figures_and_final_hooks(config):
    CALLS.clear()
    folder = train.train(config, ToyDensity(), TOY, toy_splits(), progress=False)
    per_epoch = 240 // 20
    logged = rows(folder)
    evaluated = [r for r in logged if r["val/nll"]]
    assert [int(r["step"]) for r in evaluated] == [per_epoch, 2 * per_epoch, 3 * per_epoch], "one evaluation per epoch"
    assert [float(r["epoch"]) for r in evaluated] == [1.0, 2.0, 3.0]
    assert float(evaluated[-1]["val/nll"]) < float(evaluated[0]["val/nll"]), "the toy model learns"
    assert all(r["nll_loss"] for r in logged if int(r["step"]) % 4 == 0), "training rows every --log_every steps"
    final = json.loads((folder / "metrics.json").read_text())
    assert final["step"] == 3 * per_epoch and final["epoch"] == 3.0
    assert final["val/nll"] == pytest.approx(float(evaluated[-1]["val/nll"]))
    assert final["test/nll"] < 3.0, "the final hook's metric reaches metrics.json"
    figures_written = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures_written == ["final.txt", "step_000010.txt", "step_000020.txt", "step_000030.txt"]
    for suffix in ("png", "pdf"):
        assert (folder / f"loss_curves.{suffix}").stat().st_size > 0
    assert not (folder / "samples").exists(), "no sample grid for a recipe without samples"
    assert all(not training for _, _, _, training in CALLS), "hooks run in evaluation mode"
    assert [c[:3] for c in CALLS if c[0] == "final"] == [("final", 36, True)]


def test_eval_every_overrides_the_epoch(config):
    folder = train.train(replace(config, eval_every=5, sample_every=100), ToyDensity(), TOY, toy_splits(), progress=False)
    assert [int(r["step"]) for r in rows(folder) if r["val/nll"]] == [5, 10, 15, 20, 25, 30, 35, 36]


def test_resume_mid_epoch_equals_an_uninterrupted_run(config):
    config = replace(config, sample_every=100)
    whole = train.train(replace(config, run_name="whole"), ToyDensity(), TOY, toy_splits(), progress=False)
    part = train.train(replace(config, run_name="part", epochs=None, steps=17), ToyDensity(), TOY, toy_splits(),
                       progress=False)
    resumed = train.train(replace(config, run_name="part", resume=str(part)), ToyDensity(), TOY, toy_splits(),
                          progress=False)
    a, b = (torch.load(f / "final.pt", weights_only=True)["model"] for f in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a), "same batches in the same order after --resume"
    after = lambda folder: [r["step"] for r in rows(folder) if int(r["step"]) > 17]  # noqa: E731
    assert after(resumed) == after(whole), "the log continues where it stopped"


def test_a_model_without_data_trains_for_steps(config):
    class Target(nn.Module):
        def __init__(self):
            super().__init__()
            self.theta = nn.Parameter(torch.tensor([1.0, 1.0]))

    def step(config):
        def update(batch, model, optimizers):
            loss = (model.theta ** 2).sum()
            optimizers["model"].zero_grad()
            loss.backward()
            optimizers["model"].step()
            return {"distance_loss": loss.item(), "theta_x": model.theta[0].item()}
        return update

    seen = []
    recipe = train.Recipe(optimizers=train.adam, step=step, make_batch=lambda model, device: seen.append(device) or {})
    folder = train.train(replace(config, epochs=None, steps=30, lr=0.1, sample_every=100), Target(), recipe, None,
                         progress=False)
    assert len(seen) == 30
    assert json.loads((folder / "metrics.json").read_text())["distance_loss"] < 1.0
    with pytest.raises(train.TrainingError, match="no training data"):
        train.train(replace(config, run_name="x"), Target(), recipe, None, progress=False)


def test_the_default_batch_names_the_tensors_of_a_dataset(config):
    seen = []

    def step(config):
        def update(batch, model, optimizers):
            seen.append({k: tuple(v.shape) for k, v in batch.items()})
            return nll_step(config)({"x": batch["x"].flatten(1)[:, :2]}, model, optimizers)
        return update

    images = torch.utils.data.TensorDataset(torch.rand(40, 1, 4, 4), torch.arange(40))
    train.train(replace(config, epochs=1), ToyDensity(), replace(TOY, step=step, evaluate=None, final=None),
                images, progress=False)
    assert seen[0] == {"x": (20, 1, 4, 4), "y": (20,)}


def test_a_nan_loss_stops_the_run(config):
    def step(config):
        def update(batch, model, optimizers):
            return {"nll_loss": float("nan")}
        return update

    with pytest.raises(train.TrainingError, match="not finite"):
        train.train(config, ToyDensity(), replace(TOY, step=step), toy_splits(), progress=False)


def test_lr_schedule_sets_every_step_and_survives_a_resume(config, monkeypatch):
    seen: list[float] = []  # the learning rate of each step, as the step finds it

    def step(config):
        inner = nll_step(config)

        def update(batch, model, optimizers):
            seen.append(optimizers["model"].param_groups[0]["lr"])
            return inner(batch, model, optimizers)
        return update

    monkeypatch.setitem(train.LR_SCHEDULES, "cosine", lambda progress: 1.0 - progress)  # easy to check
    recipe = replace(TOY, step=step)
    config = replace(config, sample_every=100, lr_schedule="cosine")
    part = train.train(replace(config, epochs=None, steps=10), ToyDensity(), recipe, toy_splits(), progress=False)
    assert seen == pytest.approx([0.2 * (1 - i / 10) for i in range(10)]), "lr * factor(steps done / steps)"
    seen.clear()
    train.train(replace(config, resume=str(part)), ToyDensity(), recipe, toy_splits(), progress=False)
    assert seen == pytest.approx([0.2 * (1 - i / 36) for i in range(10, 36)]), (
        "after --resume the schedule starts from --lr again, not from the rate stored in the checkpoint")
    assert list(train.LR_SCHEDULES) == list(config_module.LR_SCHEDULES)
    assert train.LR_SCHEDULES["constant"] is None
    assert train.cosine_decay(0.0) == 1.0 and train.cosine_decay(0.5) == pytest.approx(0.5)
    assert train.cosine_decay(1.0) == pytest.approx(0.0, abs=1e-12)
    assert [train.hold_then_linear(p) for p in (0.0, 0.49, 0.5, 0.75, 1.0)] == pytest.approx([1, 1, 1, 0.5, 0]), (
        "hold_then_linear: 1 for the first half, then linearly down to 0")


def test_metrics_log_widens_its_header_and_drops_rows_past_a_resume(tmp_path):
    log = train.MetricsLog(tmp_path / "metrics.csv")
    log.append({"step": 1, "a_loss": 1.0})
    log.append({"step": 2, "a_loss": 0.5, "val/x": 3.0})
    log.append({"step": 3, "a_loss": 0.2})
    assert (tmp_path / "metrics.csv").read_text().splitlines() == ["step,a_loss,val/x", "1,1.0,", "2,0.5,3.0", "3,0.2,"]
    train.MetricsLog(tmp_path / "metrics.csv", keep_until=2)
    assert len(rows(tmp_path)) == 2


# ---- the registry and the command line -----------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setitem(main.MODELS, "toy", TOY_ENTRY)
    return main.MODELS


def test_a_new_model_is_one_registry_entry_and_a_recipe(registry, tmp_path, capsys):
    code = main.main(["--model", "toy", "--smoke", "--device", "cpu", "--runs_dir", str(tmp_path), "--run_name", "r"])
    assert code == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["lr"]) == (1, 20, 0.2), "the entry's defaults, one smoke epoch"
    final = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert final["step"] == 240 // 20 and "val/nll" in final and "test/nll" in final


def test_smoke_keeps_a_little_of_each_split(registry, monkeypatch):
    monkeypatch.setattr(main, "SMOKE_ITEMS", 50)
    splits = main.load_data(TOY_ENTRY, resolve(["--model", "toy", "--smoke"], registry))
    assert [len(s) for s in (splits.train, splits.validation, splits.test)] == [50, 50, 50]
    assert splits.info["entropy"] > 0, "the loader's extras survive"
    full = toy_splits().train.tensors[0]  # 240 points
    kept = splits.train.tensors[0]
    assert torch.equal(kept[0], full[0]) and torch.equal(kept[-1], full[-1]), (
        "--smoke keeps examples spread over the whole split (first to last), not only its first ones: "
        "a point cloud stored in order (a text, row by row) would lose most of its shape")


def test_entry_defaults_then_preset_then_flags(registry):
    assert resolve(["--model", "toy"], registry).epochs == 3
    assert resolve(["--model", "toy", "--preset", "full"], registry).epochs == 40
    assert resolve(["--model", "toy", "--preset", "full", "--epochs", "7"], registry).epochs == 7
    assert resolve(["--model", "toy", "--smoke"], registry).epochs == 1


def test_a_flag_the_model_does_not_use_is_an_error_listing_those_it_uses(registry, capsys):
    with pytest.raises(SystemExit):
        resolve(["--model", "toy", "--gradient_penalty", "10", "--steps", "5"], registry)
    err = capsys.readouterr().err
    assert "--model toy does not use --gradient_penalty --steps" in err
    assert "--epochs" in err and "--lr" in err and "--data_root" in err


def test_without_a_default_model_the_model_must_be_named(monkeypatch, capsys):
    monkeypatch.setattr(main, "MODELS", {"toy": TOY_ENTRY})
    with pytest.raises(SystemExit):
        resolve([], main.MODELS)
    assert "choose a model with --model: toy" in capsys.readouterr().err


def test_a_preset_the_model_lacks_is_an_error(registry, monkeypatch, capsys):
    monkeypatch.setitem(main.MODELS, "toy", replace(TOY_ENTRY, presets={}))
    with pytest.raises(SystemExit):
        resolve(["--model", "toy", "--preset", "full"], registry)
    assert "no preset 'full'; its presets: quick" in capsys.readouterr().err


def test_the_seed_sets_the_initial_weights(registry, monkeypatch):
    # a toy entry whose model draws its weights at random (nn.Linear's default initialisation)
    monkeypatch.setitem(main.MODELS, "toy", replace(TOY_ENTRY, module="torch.nn", factory="Linear",
                                                    kwargs={"in_features": 4, "out_features": 3}))
    built = []
    monkeypatch.setattr(train, "train", lambda config, model, *args, **kwargs: built.append(model.state_dict()))
    for seed in (3, 3, 4):
        main.run(resolve(["--model", "toy", "--seed", str(seed), "--device", "cpu"], main.MODELS))
    same, other = built[1], built[2]
    assert all(torch.equal(built[0][k], same[k]) for k in same), "the same --seed, the same initial weights"
    assert not all(torch.equal(built[0][k], other[k]) for k in other), "another --seed, other initial weights"


def test_every_registry_entry_is_consistent():
    """Each entry's settings name real TrainConfig fields, and its presets are known ones."""
    from dataclasses import fields

    import config as config_module

    names = {f.name for f in fields(TrainConfig)}
    for name, entry in main.MODELS.items():
        assert set(entry.uses) <= names, f"{name}: unknown settings in uses: {set(entry.uses) - names}"
        for settings in (entry.defaults, *entry.presets.values()):
            assert set(settings) <= set(entry.uses) | set(config_module.COMMON), f"{name}: a default it does not use"
        assert set(entry.presets) <= set(config_module.PRESETS), f"{name}: unknown preset"
