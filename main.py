"""The kit's one entrypoint: ``python main.py --model NAME [options]``.

Every model is one entry of ``MODELS``: which module defines it, how to build it, what data it
trains on, and which recipe of the shared training loop (``train.py``) trains it. A model's
module is imported only when that model is chosen, so a handout that lacks some modules still
runs the models it has. ``python main.py --help`` lists the options and the models.

Examples::

    python main.py --model vit                        # ViT generator and discriminator
    python main.py --model mlp --gradient_penalty 10  # WGAN-GP with lambda = 10
    python main.py --model vit --smoke                # seconds: checks the whole pipeline
    python main.py --model vit --resume runs/vit-...  # continue a run from its latest.pt
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from config import TrainConfig, resolve


@dataclass(frozen=True)
class ModelEntry:
    """One trainable model of the kit."""

    help: str  # one line for --help
    module: str  # the module defining it, imported on demand
    factory: str  # the class (or function) in that module that builds it
    kwargs: dict = field(default_factory=dict)  # its arguments (the handout's sizes)
    data: str = "mnist"  # data set name for data.load_images
    transform: str = "cscd84"  # transform name for data.load_images
    recipe: str = "GAN"  # the train.Recipe that trains it


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry("MLP generator and MLP discriminator (provided)", "mlp", "MLPGAN", {"noise_dim": 100}),
    "vit": ModelEntry("ViT generator and ViT discriminator", "vit", "ViTGAN", {"embed_dim": 64, "discriminator": "vit"}),
    "vit:mlp": ModelEntry("ViT generator and MLP discriminator", "vit", "ViTGAN", {"embed_dim": 64, "discriminator": "mlp"}),
}

SMOKE_IMAGES = 256  # --smoke trains on this many images only


def build(entry: ModelEntry):
    """The model object of a registry entry."""
    module = importlib.import_module(entry.module)
    return getattr(module, entry.factory)(**entry.kwargs)


def run(config: TrainConfig):
    """Build the chosen model and its data, then train; returns the run folder."""
    import torch

    import data
    import train

    entry = MODELS[config.model]
    model = build(entry)
    dataset = data.load_images(entry.data, config.data_root, transform=entry.transform)
    if config.smoke:
        dataset = torch.utils.data.Subset(dataset, range(min(SMOKE_IMAGES, len(dataset))))

    def evaluate(model) -> dict:
        """Fréchet distance of 1000 samples to real images, in the kit's classifier's features."""
        import metrics

        device = train.pick_device(config.device)
        reference = data.load_images(entry.data, config.data_root, transform="plain", verbose=False)
        cache = Path(config.data_root) / f"kit-classifier-{entry.data}.pt"
        evaluator = metrics.FrechetEvaluator(reference, device, cache=cache)
        images = metrics.sample_images(model, evaluator.num_images, device)
        return {"frechet_distance": evaluator(images)}

    return train.train(config, model, getattr(train, entry.recipe), dataset,
                       evaluate=None if config.smoke else evaluate)


def main(argv: list[str] | None = None) -> int:
    config = resolve(sys.argv[1:] if argv is None else argv, {name: e.help for name, e in MODELS.items()})
    print("config: " + ", ".join(f"{k}={v}" for k, v in vars(config).items()))
    try:
        run(config)
    except NotImplementedError as error:
        # A stub of the handout: say which task to implement, without a traceback.
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        from train import TrainingError

        if isinstance(error, (TrainingError, FileNotFoundError)):
            print(f"\nerror: {error}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
