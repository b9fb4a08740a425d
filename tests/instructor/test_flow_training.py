"""The planar flows' training recipe: the annealed energy of --anneal_steps (instructor only: it
runs the reference solution's planar layers)."""

from __future__ import annotations

import copy

import pytest
import torch

import flow_network
from config import TrainConfig


def test_anneal_beta_rises_linearly_from_0_01_to_1_then_stays():
    assert flow_network.anneal_beta(0, 500) == pytest.approx(0.01)
    assert flow_network.anneal_beta(250, 500) == pytest.approx(0.505)
    assert flow_network.anneal_beta(500, 500) == 1.0 and flow_network.anneal_beta(5000, 500) == 1.0
    assert flow_network.anneal_beta(0, 0) == 1.0, "--anneal_steps 0: the target itself from the first step"


@pytest.mark.parametrize("anneal_steps, steps_before, beta", [(0, 0, 1.0), (100, 0, 0.01), (100, 3, 0.01 + 0.99 * 0.03)])
def test_the_density_step_weights_the_energy_by_beta(anneal_steps, steps_before, beta):
    torch.manual_seed(0)
    model = flow_network.PlanarExperiments(layers=(2,), targets=("arcs",), modes=("density",))
    config = TrainConfig(model="planar", batch_size=16, lr=1e-3, anneal_steps=anneal_steps)
    optimizers = flow_network.planar_optimizers(model, config)
    step = flow_network.planar_step(config)
    batch = {"arcs": torch.zeros(16, 2), "sine": torch.zeros(16, 2)}
    for _ in range(steps_before):  # the step count comes from the optimiser's state (kept by --resume)
        step(batch, model, optimizers)
    before = copy.deepcopy(model)
    torch.manual_seed(1)
    info = step(batch, model, optimizers)
    torch.manual_seed(1)
    with torch.no_grad():
        expected = before.reverse_kl_terms("arcs", 2, torch.randn(16, 2), beta)[0].mean()
    assert info["density/arcs/K2_loss"] == pytest.approx(expected.item(), rel=1e-5)
