"""Every model of the registry trains for a few steps through main.py (``--smoke``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import main
from instructor import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("model", list(main.MODELS))
def test_smoke_run(model, tmp_path):
    command = [sys.executable, "main.py", "--model", model, "--smoke", "--runs_dir", str(tmp_path), "--run_name", "smoke"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "smoke"
    for name in ("final.pt", "latest.pt", "metrics.csv", "metrics.json", "config.json"):
        assert (folder / name).exists(), f"{model}: {name} missing"
    recipe = main.recipe_of(main.MODELS[model])
    if recipe.samples:
        assert sorted(p.suffix for p in (folder / "samples").iterdir()).count(".pdf") >= 1
    if recipe.figures:
        assert any(p.suffix == ".png" for p in (folder / "figures").iterdir()), f"{model}: no figure written"
    assert (folder / "loss_curves.png").exists() and (folder / "loss_curves.pdf").exists()


@pytest.mark.slow
def test_smoke_run_cs236_wgan_gp(tmp_path):
    command = [sys.executable, "main.py", "--model", "gan", "--loss_type", "wasserstein_gp", "--smoke",
               "--runs_dir", str(tmp_path), "--run_name", "smoke"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"loss_type": "wasserstein_gp"' in (tmp_path / "smoke" / "config.json").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "vit"])  # vit: the penalty's double backward through attention
def test_smoke_run_wgan_gp(model, tmp_path):
    command = [sys.executable, "main.py", "--model", model, "--smoke", "--gradient_penalty", "10",
               "--runs_dir", str(tmp_path), "--run_name", "smoke"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "gp_loss" in (tmp_path / "smoke" / "metrics.csv").read_text().splitlines()[0]
