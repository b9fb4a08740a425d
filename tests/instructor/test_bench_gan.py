"""bench/bench_gan.py's comparison with the course's own code (``--original-vit``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import vit

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_gan.py"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setattr(sys, "path", [str(BENCH.parent), *sys.path])  # as when the script is run
    spec = importlib.util.spec_from_file_location("bench_gan_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for name in ("src", "src.mlp", "src.vit", "original_vit"):  # the stand-in's modules
        sys.modules.pop(name, None)


@pytest.fixture
def original_vit_py(tmp_path):
    # Stands in for the course's src/vit.py (which imports its sibling as src.mlp): a module of
    # that layout whose ViTGAN is the kit's, so the two runs must agree weight for weight. The
    # ``bench`` fixture restores the module path the builder extends.
    src = tmp_path / "src"
    src.mkdir()
    (src / "__init__.py").write_text("")
    (src / "mlp.py").write_text("from mlp import MLPDiscriminator  # noqa: F401\n")
    (src / "vit.py").write_text("from src.mlp import MLPDiscriminator  # noqa: F401\nfrom vit import ViTGAN  # noqa: F401\n")
    return src / "vit.py"


def test_the_original_code_is_built_and_trained_exactly_as_the_kits(bench, original_vit_py):
    build = bench.original_vit_builder(original_vit_py, "vit")
    states = []
    for builder in (None, build):
        model, one_step, _ = bench.setup("vit", 10.0, "cpu", seed=3, build=builder)
        assert isinstance(model.discriminator, vit.ViTDiscriminator)
        for _ in range(2):
            one_step()
        states.append(model.state_dict())
    kit, original = states
    assert all(torch.equal(kit[name], original[name]) for name in kit), "same seed, same code: same weights"


def test_the_original_code_is_refused_for_a_model_it_does_not_have(bench, original_vit_py, tmp_path):
    with pytest.raises(SystemExit, match="ViT GANs"):
        bench.original_vit_builder(original_vit_py, "mlp")
    with pytest.raises(SystemExit, match="no file"):
        bench.original_vit_builder(tmp_path / "missing.py", "vit")
