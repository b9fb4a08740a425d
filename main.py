"""The kit's one entrypoint: ``python main.py --model NAME [options]``.

Every model is one entry of ``MODELS`` (a :class:`ModelEntry`): which module defines it and
how to build it, what data it trains on, which recipe of the shared training loop
(``train.Recipe``, see ``train.py``'s docstring for a worked example) trains it, which settings
it reads (``uses``: a flag it does not read is an error listing those it does), its own defaults
(the quick setting: minutes on a laptop CPU) and its presets (``--preset full``: the handout's
setting). A new model is one entry here plus a recipe; a new setting is one field of
``config.TrainConfig``. A model's module is imported only when that model is chosen, so a handout
that lacks some modules still runs the models it has. ``python main.py --help`` lists the
options and the models.

Data (the entry's ``data``): an image set name of ``data.load_images`` (with ``transform``),
or ``"module:function"`` where ``function(config)`` returns a ``data.Splits`` (train, validation
and test sets, e.g. 2-D points as a ``TensorDataset`` or binarised MNIST), or None. ``--smoke``
keeps ``SMOKE_ITEMS`` examples of each split, evenly spaced through it, and one epoch (or 4 steps).

Examples::

    python main.py --model vit                        # ViT generator and discriminator
    python main.py --model mlp --gradient_penalty 10  # WGAN-GP with lambda = 10
    python main.py --model vit --smoke                # seconds: checks the whole pipeline
    python main.py --model vit --resume runs/vit-...  # continue a run from its latest.pt
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field, replace

from config import TrainConfig, resolve


@dataclass(frozen=True)
class ModelEntry:
    """One trainable model of the kit: how to build it, its data, its recipe and its settings."""

    help: str  # one line for --help
    module: str  # the module defining it, imported on demand
    factory: str  # the class (or function) in that module that builds it
    kwargs: dict = field(default_factory=dict)  # its arguments (the handout's sizes)
    settings: tuple[str, ...] = ()  # TrainConfig fields also passed to the factory by name (e.g. width)
    recipe: str = "GAN"  # its train.Recipe: a name in train.py, or "module:NAME" elsewhere
    # Its data: an image set of data.load_images ("mnist", "fashion-mnist", "cifar10"), or
    # "module:function" with function(config) -> data.Splits, or None for a model without data.
    data: str | None = "mnist"
    transform: str = "cscd84"  # transform of data.load_images, for an image set
    uses: tuple[str, ...] = ()  # the TrainConfig fields it reads besides config.COMMON
    defaults: dict = field(default_factory=dict)  # its quick setting: TrainConfig fields it changes
    presets: dict = field(default_factory=dict)  # {"full": {...}}: more changes, per preset


# The CSCD84 GANs: steps of one discriminator and one generator update, the handout's Figure 1
# after 40 000 of them.
# ASSIGNMENT: cscd84-a4
CSCD84_GAN = {
    "uses": ("steps", "batch_size", "gradient_penalty", "lr_discriminator", "lr_generator", "beta1", "beta2"),
    "presets": {"full": {"steps": 40_000}},
}

# The VAEs read these settings: trained in epochs with one Adam optimiser, evaluated each epoch.
VAE_SETTINGS = {"uses": ("epochs", "batch_size", "lr", "lr_schedule", "eval_every", "binarize")}

# Stanford CS 236: Fashion-MNIST in [-1, 1], batch 64, Adam 1e-3 with betas (0.5, 0.999), one epoch.
# ASSIGNMENT: cs236-hw3
CS236_GAN = {
    "data": "fashion-mnist", "transform": "plain",
    "defaults": {"steps": 300, "batch_size": 64, "lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "sample_every": 150,
                 "log_every": 10},
    "presets": {"full": {"epochs": 1, "sample_every": 50}},
}

MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry("MLP generator and MLP discriminator (provided)", "mlp", "MLPGAN", {"noise_dim": 100},
                      **CSCD84_GAN),
    "vit": ModelEntry("ViT generator and ViT discriminator", "vit", "ViTGAN", {"embed_dim": 64, "discriminator": "vit"},
                      **CSCD84_GAN),
    "vit:mlp": ModelEntry("ViT generator and MLP discriminator", "vit", "ViTGAN", {"embed_dim": 64, "discriminator": "mlp"},
                          **CSCD84_GAN),
    # The VAEs, on binarised MNIST (data.binarized_mnist_splits), trained in epochs.
    "vae": ModelEntry("CS446 Bernoulli VAE with a 2-D latent (binarised MNIST)", "vae", "VAE",
                      {"latent_dimension": 2, "hidden_units": 500}, recipe="vae:CS446_VAE",
                      data="data:binarized_mnist_splits", **VAE_SETTINGS,
                      # Quick: 100 epochs (72 s on one shared core offline, validation ELBO -158.7): after 20
                      # (-171) the latent classes 2, 3, 5, 6 and 8 still lay on one another and the samples blurred.
                      defaults={"epochs": 100, "batch_size": 100, "lr": 1e-3, "binarize": "threshold"},
                      presets={"full": {"epochs": 200}}),
    "vae100": ModelEntry("IFT6135 convolutional VAE with L = 100 (binarised MNIST), importance-sampled log-likelihood",
                         "vae", "ConvVAE", {"latent_dimension": 100}, recipe="vae:IFT6135_VAE",
                         data="data:binarized_mnist_splits", **VAE_SETTINGS,
                         # Quick: batches of 32 at Adam 2e-3 (per epoch of the offline 4 000 digits, better than
                         # 64 at 1e-3 or 2e-3, 16 at 1e-3 or 2e-3), decayed to 0 along a cosine over the 22
                         # epochs. Validation ELBO, seeds 0, 1, 2: -103.8, -102.4, -103.6 (median -103.6); at a
                         # constant 2e-3 the median was -105.8 after 22 epochs (the handout's -102 is for
                         # MNIST's 50 000 training digits). On an idle 2-core CPU an epoch takes 4.7 s: 22
                         # epochs are about 105 s of training.
                         # Full: the handout's 20 epochs at a constant 3e-4, in batches of 64 (as measured before).
                         defaults={"epochs": 22, "batch_size": 32, "lr": 2e-3, "lr_schedule": "cosine"},
                         presets={"full": {"epochs": 20, "lr": 3e-4, "batch_size": 64, "lr_schedule": "constant"}}),
    # The UIUC CS 446 DCGAN: MNIST in [0, 1], batch 256, Adam 2e-4 with torch's default betas; the
    # handout trains 100 epochs ("reasonable images after around 30").
    "dcgan": ModelEntry(
        "CS 446 DCGAN on MNIST (DNet, GNet, BCE on logits)", "dcgan", "GAN", {"zdim": 64}, recipe="dcgan:RECIPE",
        data="mnist", transform="unit",
        uses=("steps", "epochs", "batch_size", "lr_discriminator", "lr_generator", "beta1", "beta2"),
        defaults={"steps": 400, "batch_size": 256, "lr_discriminator": 2e-4, "lr_generator": 2e-4,
                  "beta1": 0.9, "beta2": 0.999, "sample_every": 200, "log_every": 10},
        presets={"full": {"epochs": 100, "sample_every": 2350}},
    ),
    "gan": ModelEntry(
        "CS 236 GAN on Fashion-MNIST (--loss_type nonsaturating | wasserstein_gp)", "gan", "CS236GAN", {},
        recipe="gan:CS236", uses=("steps", "epochs", "batch_size", "lr", "beta1", "beta2", "loss_type"), **CS236_GAN,
    ),
    "cgan": ModelEntry(
        "CS 236 conditional GAN (projection discriminator) on Fashion-MNIST, a grid with one class per row",
        "gan", "CS236GAN", {"conditional": True}, recipe="gan:CS236_CONDITIONAL",
        uses=("steps", "epochs", "batch_size", "lr", "beta1", "beta2"), **CS236_GAN,
    ),
    # IFT6135 problem 2.6: every Dirac-GAN configuration from (theta, psi) = (1, 1), SGD steps of 0.2;
    # the quick setting is the experiment in full.
    "dirac": ModelEntry(
        "IFT6135 Dirac GAN: parameter trajectories of five configurations", "gan", "DiracGANs", {},
        recipe="gan:DIRAC", data=None, uses=("steps", "lr"),
        defaults={"steps": 500, "lr": 0.2, "sample_every": 500, "log_every": 10}, presets={"full": {}},
    ),
    # IFT6135 problem 2.7: CIFAR-10, a DCGAN-like generator against a spectrally normalised
    # critic, one of five configurations (--objective), Inception Score and FID of the EMA
    # generator. Needs CIFAR-10 and torchvision's Inception weights (downloaded where online);
    # --smoke runs on random images with an untrained stand-in scorer. The full preset is the
    # SN-GAN paper's setting (100 000 steps of batch 64: a GPU's work). The quick default, a
    # quarter-width network for 500 steps and one evaluation of 500 images, checks the whole path
    # on a CPU: one core took 0.4-0.6 s a step and 0.4 s an image through Inception (the real
    # images' statistics are computed once and cached under --data_root).
    "sngan": ModelEntry(
        "IFT6135 CIFAR-10 GAN, spectral-normalised critic (--objective), Inception Score and FID (downloads)",
        "gan", "SNGAN", recipe="gan:CIFAR10", data="gan:cifar10_splits", settings=("width",),
        uses=("steps", "batch_size", "lr_discriminator", "lr_generator", "beta1", "beta2", "objective", "width",
              "eval_every", "eval_samples"),
        defaults={"steps": 500, "batch_size": 64, "lr_discriminator": 2e-4, "lr_generator": 2e-4, "beta1": 0.5,
                  "beta2": 0.999, "width": 16, "sample_every": 250, "eval_every": 500, "eval_samples": 500,
                  "log_every": 10},
        presets={"full": {"steps": 100_000, "width": 64, "sample_every": 5000, "eval_every": 5000,
                          "eval_samples": 10_000, "log_every": 100}},
    ),
    # CS236 HW3 problem 1: 5 MADE blocks (hidden 100) on standardised moons, batch 100, Adam; the
    # handout's setting (--preset full) is 50 epochs at a constant 1e-3. At that rate the test NLL
    # jumps by 0.02-0.05 nats from one epoch to the next, and now and then by more than 1, all
    # through the run (seed 42: 1.229 after 50 epochs). The quick default takes twice that rate,
    # decaying to 0 along a cosine over 40 epochs, so the last epochs settle instead of jumping.
    # Measured (bench/bench_flows.py, seeds 0, 1, 2): test NLL 1.226, 1.162, 1.183 at the end; on
    # an idle 2-core machine 0.53 s per epoch, 1.20 first reached after 9.6 and 14.6 s (seeds 1
    # and 2; seed 0 settles above it). At 3e-3 and 5e-3 the ends spread wider (1.16-1.27, 1.23-1.34); batches of
    # 250 at 5e-3 and of 500 at 1e-2 ended at 1.30 and 1.31.
    "maf": ModelEntry("masked autoregressive flow on two moons (cs236-hw3)", "flow_network", "MAF",
                      {"input_size": 2, "hidden_size": 100, "n_hidden": 1, "n_flows": 5},
                      recipe="flow_network:MAF_RECIPE", data="data:moons",
                      uses=("epochs", "batch_size", "lr", "lr_schedule", "eval_every"),
                      defaults={"epochs": 40, "batch_size": 100, "lr": 2e-3, "lr_schedule": "cosine",
                                "sample_every": 2_400},
                      presets={"full": {"epochs": 50, "lr": 1e-3, "lr_schedule": "constant"}}),
    # IFT6135 A3 problem 3: planar flows with K = 2, 8, 32 layers on arcs and sine, from samples and
    # from energies, batch 128, RMSprop. The handout's setting (--preset full) is 20 000 iterations at
    # a constant 5e-4 (at that rate K = 32 on arcs is still above a reverse KL of 3 after 500
    # iterations). The quick default: 2 000 iterations from 5e-3 down to 0 along a cosine, the arcs
    # and sine energies annealed over the first 500 (beta from 0.01 to 1, as Rezende and Mohamed).
    # Measured on K = 32 fitted to the arcs energy, seeds 0-4 (bench/bench_flows.py): at a constant
    # 5e-3 the reverse KL ended between 0.03 and 0.09 nats; with the cosine alone 0.03-0.07 (at
    # 1e-2: 0.02-0.14, one seed with 68 % of its samples on one arc); with the cosine and the
    # annealing 0.023, 0.039, 0.023, 0.032, 0.020, every seed with 44-56 % of its samples on each arc.
    "planar": ModelEntry("planar flows, K = 2, 8, 32, from samples and from energies (ift6135-a3)",
                         "flow_network", "PlanarExperiments", recipe="flow_network:PLANAR_RECIPE",
                         data="data:planar_targets",
                         uses=("steps", "batch_size", "lr", "lr_schedule", "anneal_steps", "eval_every"),
                         defaults={"steps": 2_000, "batch_size": 128, "lr": 5e-3, "lr_schedule": "cosine",
                                   "anneal_steps": 500, "sample_every": 1_000, "eval_every": 250},
                         presets={"full": {"steps": 20_000, "lr": 5e-4, "lr_schedule": "constant", "anneal_steps": 0,
                                           "sample_every": 5_000, "eval_every": 1_000}}),
    # cs446-sp24 section 5: a score network on a text point cloud, sampled by annealed Langevin dynamics.
    "score": ModelEntry("score network on the CS446 point cloud (--text), annealed Langevin sampling", "diffusion",
                        "ScoreNet", recipe="diffusion:SCORE", data="data:text_splits",
                        uses=("steps", "batch_size", "lr", "lr_schedule", "text"),
                        # Quick: batches of 1024 (nearly the whole cloud; 128 gave far worse samples for
                        # the same time), 7500 steps at lr 1e-3, held for the first half then falling
                        # linearly to 0 (hold_then_linear). On this idle 2-core CPU (torch's default
                        # threads) a timed 8000-step run passed step 7000 after 104 s and 8000 after 120 s,
                        # so 7500 steps take about 112 s; 20 ms a step on one core.
                        # Samples within 0.05 of the cloud (bench/bench_score.py --seeds 0 1 2, one thread):
                        # median 0.949 (0.990, 0.861, 0.949) after 7500 steps; 0.951 after 8000; 0.892
                        # (0.940, 0.892, 0.864) after 6000; a constant lr gave 0.876 after 6000 steps and
                        # 0.807 after the former 3000. Full: the original's 25 000 steps, at lr 1e-3 (its
                        # 1e-2 gave scattered samples here).
                        defaults={"steps": 7500, "batch_size": 1024, "lr": 1e-3, "lr_schedule": "hold_then_linear",
                                  "sample_every": 1000, "log_every": 100},
                        presets={"full": {"steps": 25_000, "lr_schedule": "constant"}}),
}

SMOKE_ITEMS = 256  # --smoke trains (and evaluates) on this many examples of each split only


def _named(spec: str, default_module: str):
    """The object a "module:NAME" string names (a bare NAME is looked up in ``default_module``)."""
    module, _, name = spec.rpartition(":")
    return getattr(importlib.import_module(module or default_module), name)


def build(entry: ModelEntry, config: TrainConfig | None = None):
    """The model object of a registry entry (with the ``settings`` it takes from ``config``)."""
    module = importlib.import_module(entry.module)
    settings = {name: getattr(config or TrainConfig(), name) for name in entry.settings}
    return getattr(module, entry.factory)(**entry.kwargs, **settings)


def recipe_of(entry: ModelEntry):
    """The train.Recipe of a registry entry."""
    return _named(entry.recipe, "train")


def load_data(entry: ModelEntry, config: TrainConfig):
    """The data.Splits of a registry entry (with --smoke, ``SMOKE_ITEMS`` of each split, evenly spaced)."""
    import torch

    import data

    if entry.data is None:
        return data.Splits(train=None)
    if ":" in entry.data:
        splits = _named(entry.data, "data")(config)
    else:
        splits = data.Splits(train=data.load_images(entry.data, config.data_root, transform=entry.transform),
                             name=entry.data)
    if config.smoke:
        cut = {}
        for split in ("train", "validation", "test"):
            dataset = getattr(splits, split)
            if dataset is not None:
                # evenly spread over the split, not its first items: a point cloud stored row by row
                # (the text's) keeps every part of its shape
                keep = torch.linspace(0, len(dataset) - 1, min(SMOKE_ITEMS, len(dataset))).round().long()
                if isinstance(dataset, torch.utils.data.TensorDataset):  # stays one, for the loop's fast path
                    cut[split] = torch.utils.data.TensorDataset(*(t[keep] for t in dataset.tensors))
                else:
                    cut[split] = torch.utils.data.Subset(dataset, keep.tolist())
        splits = replace(splits, **cut)
    return splits


def run(config: TrainConfig):
    """Build the chosen model, its data and its recipe, then train; returns the run folder."""
    import train

    entry = MODELS[config.model]
    train.seed_everything(config.seed)  # before the model is built: --seed sets its initial weights too
    return train.train(config, build(entry, config), recipe_of(entry), load_data(entry, config))


def main(argv: list[str] | None = None) -> int:
    config = resolve(sys.argv[1:] if argv is None else argv, MODELS)
    print("config: " + ", ".join(f"{k}={v}" for k, v in vars(config).items()))
    try:
        run(config)
    except NotImplementedError as error:
        # A stub of the handout: say which task to implement, without a traceback.
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        from data import DataUnavailableError
        from train import TrainingError

        # What a student can fix: a bad checkpoint, a NaN loss, data or weights missing offline.
        if isinstance(error, (TrainingError, FileNotFoundError, DataUnavailableError)):
            print(f"\nerror: {error}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
