"""The Dirac GAN behaves as Mescheder et al. (2018) describe (instructor only: it runs the reference
solutions of several IFT6135 tasks together).

From (theta, psi) = (1, 1), SGD steps of 0.2 for 500 steps:

* the zero-centred R1 penalty (weight 1) on the W1 game converges: within 1e-6 of (0, 0);
* without a penalty, simultaneous gradient descent spirals outwards (W1: the distance grows by
  sqrt(1 + 0.2^2) per step; JSD: more slowly), and alternating updates circle without converging;
* the one-centred penalty (WGAN-GP) does not converge either: the generator stops at theta = 2,
  where the critic's pull and the penalty balance, at a distance of order 1 from the data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gan


def distances(name: str, simultaneous: bool = False, **kwargs) -> np.ndarray:
    return np.hypot(*gan.dirac_trajectory(gan.DIRAC_CONFIGS[name], simultaneous=simultaneous, **kwargs).T)


@pytest.mark.parametrize("simultaneous", [False, True])
def test_r1_converges_to_the_equilibrium(simultaneous):
    assert distances("wgan-r1", simultaneous)[-1] < 1e-6


def test_r1_on_the_jsd_game_approaches_the_equilibrium():
    r = distances("gan-r1")
    assert r[-1] < 0.1 and r[-1] < r[250] < r[0], "slowly (one slow direction of the damped dynamics)"


@pytest.mark.parametrize("name", ["wgan", "gan"])
def test_unregularised_simultaneous_descent_moves_outwards(name):
    r = distances(name, simultaneous=True)
    assert r[-1] > 1.5 * r[0]
    assert np.all(np.diff(r[::50]) > 0), "the distance grows all the way"
    if name == "wgan":  # each step multiplies the distance by sqrt(1 + lr^2)
        assert r[-1] == pytest.approx(r[0] * math.sqrt(1 + gan.DIRAC_LR**2) ** gan.DIRAC_STEPS, rel=1e-3)


@pytest.mark.parametrize("name", ["wgan", "gan"])
def test_unregularised_alternating_updates_circle(name):
    path = gan.dirac_trajectory(gan.DIRAC_CONFIGS[name])
    r = np.hypot(*path.T)
    assert 0.8 < r[-100:].min() and r.max() < 1.6, "a bounded orbit at distance about sqrt(2)"
    assert np.ptp(path[-200:, 0]) > 1.0, "theta keeps oscillating"


@pytest.mark.parametrize("simultaneous", [False, True])
def test_one_centred_penalty_does_not_converge(simultaneous):
    path = gan.dirac_trajectory(gan.DIRAC_CONFIGS["wgan-gp"], simultaneous=simultaneous)
    r = np.hypot(*path.T)
    assert r[-100:].min() > 0.5 and r.max() < 5, "it stays at a distance of order 1 from the data"
    assert path[-1, 0] == pytest.approx(2.0, abs=1e-3), "the generator stops where |theta| = 2 gamma"


def test_dirac_figures_are_written(tmp_path):
    model = gan.DiracGANs()
    optimizers = {f"{name}/{player}": torch.optim.SGD(getattr(game, player).parameters(), lr=gan.DIRAC_LR)
                  for name, game in model.games.items() for player in ("generator", "critic")}
    step = gan._dirac_step(None)
    for _ in range(20):
        info = step({}, model, optimizers)
    assert set(info) == {f"distance/{name}" for name in model.games}
    gan.save_dirac_figures(model, tmp_path)
    for name in [*gan.DIRAC_CONFIGS, "overview"]:
        assert (tmp_path / f"dirac_{name}.png").stat().st_size > 0 and (tmp_path / f"dirac_{name}.pdf").exists()
