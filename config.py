"""Configuration as data: the training loop's settings and their command line.

``TrainConfig`` holds every setting of a run with its default and a comment. The command line
is built from its fields (``--steps 300``, ``--gradient_penalty 10``), so adding a setting is
one field; an unknown flag is rejected with the list of valid ones.

Settings are resolved in layers, each overriding the one before: the defaults below, the chosen
model's own defaults (its quick setting, from its registry entry in ``main.MODELS``), the model's
preset (``--preset full``: the handout's setting), ``--smoke``, and last the flags given.

A model reads only some settings: the :data:`COMMON` ones and those its registry entry lists in
``uses``. A flag the chosen model does not use is an error that lists the ones it does use, so
``--gradient_penalty 10`` cannot be silently ignored by a VAE.

A model family that needs a setting of its own (say ``--loss_type``) adds one field here, with
its default and comment, and names it in its registry entries' ``uses``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import sys
from dataclasses import dataclass, fields
from typing import Any, get_type_hints


@dataclass
class TrainConfig:
    """Settings of one training run (``python main.py --help`` lists them)."""

    model: str = "mlp"  # which model to train: a key of main.MODELS
    preset: str = "quick"  # quick: minutes on a laptop CPU; full: the handout's setting
    steps: int = 2000  # gradient steps (one discriminator + one generator update each)
    epochs: int | None = None  # passes over the training split (models trained in epochs; replaces --steps)
    batch_size: int = 64  # examples per step (the CSCD84 handout's 64)
    lr: float = 1e-3  # Adam learning rate of models with one optimiser (VAEs, flows, score models)
    lr_schedule: str = "constant"  # constant | cosine (every learning rate decays along half a cosine period to 0 at the last step) | hold_then_linear (constant for half the run, then linearly to 0)
    gradient_penalty: float | None = None  # WGAN-GP weight lambda; not given: the vanilla GAN
    loss_type: str = "nonsaturating"  # CS 236 GAN objective: nonsaturating | wasserstein_gp
    lr_discriminator: float = 5e-4  # Adam learning rate of the discriminator / critic
    lr_generator: float = 2e-4  # Adam learning rate of the generator
    beta1: float = 0.5  # Adam's first-moment decay, for both optimisers
    beta2: float = 0.999  # Adam's second-moment decay, for both optimisers
    binarize: str = "dynamic"  # binarised MNIST (VAEs): dynamic (grey levels as Bernoulli probabilities) or threshold (> 0.5)
    sample_every: int = 1000  # steps between figures (PDF + PNG) and latest.pt
    eval_every: int = 0  # steps between evaluations (e.g. validation NLL); 0: each epoch, or with the figures
    log_every: int = 50  # steps between rows of metrics.csv
    seed: int = 42  # seeds torch, numpy and Python's random
    device: str = "auto"  # auto | cpu | cuda | mps
    data_root: str = "./data"  # where data sets are downloaded / looked for
    runs_dir: str = "runs"  # parent folder of every run folder
    run_name: str = ""  # name of this run's folder (default: <model>-<date>-<time>)
    resume: str = ""  # a run folder or checkpoint to continue from
    smoke: bool = False  # a few steps on a little data: checks the whole pipeline in seconds
    anneal_steps: int = 0  # planar flows fitted to an energy U: the loss uses beta U, beta rising linearly from 0.01 to 1 over these first steps (Rezende and Mohamed's annealing; 0: beta = 1 throughout)
    text: str = "CS446"  # what the score model's 2-D point cloud spells (cs446-sp24)
    objective: str = "wgan-gp"  # IFT6135 CIFAR-10 configuration: gan | wgan | wgan-gp | gan-r1 | wgan-r1
    width: int = 64  # channels of the CIFAR-10 critic's first layer (8 x width at its last; the generator mirrors it)
    eval_samples: int = 10_000  # generated (and real) images per Inception Score / FID evaluation

    def validate(self) -> None:
        """Reject values that cannot work, with a message saying why."""
        if self.gradient_penalty is not None and not (
            math.isfinite(self.gradient_penalty) and self.gradient_penalty >= 0
        ):
            raise ConfigError(
                f"--gradient_penalty must be a finite number >= 0 (the penalty weight lambda; "
                f"the handout uses 10), got {self.gradient_penalty}"
            )
        for name in ("steps", "batch_size", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.anneal_steps < 0:
            raise ConfigError(f"--anneal_steps must be 0 (no annealing) or more, got {self.anneal_steps}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}")
        if self.eval_every < 0:
            raise ConfigError(f"--eval_every must be 0 (each epoch, or with the figures) or more, got {self.eval_every}")
        for name in ("lr", "lr_discriminator", "lr_generator"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        for name in ("width", "eval_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.loss_type not in LOSS_TYPES:
            raise ConfigError(f"--loss_type must be one of {', '.join(LOSS_TYPES)}, got {self.loss_type!r}")
        if not self.text.strip():
            raise ConfigError(f"--text needs at least one visible character, got {self.text!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"--lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.binarize not in BINARIZATIONS:
            raise ConfigError(f"--binarize must be one of {', '.join(BINARIZATIONS)}, got {self.binarize!r}")
        if self.preset not in PRESETS:
            raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")


DEVICES = ("auto", "cpu", "cuda", "mps")
LR_SCHEDULES = ("constant", "cosine", "hold_then_linear")  # train.LR_SCHEDULES, named here to validate without loading torch
BINARIZATIONS = ("dynamic", "threshold")  # data.BINARIZATIONS, named here to validate without loading data.py

# The presets a registry entry may define. "quick" is the entry's own defaults (minutes on a
# laptop CPU); "full" is the handout's setting. What each changes lives in the entry.
PRESETS = ("quick", "full")

# Settings every model reads; any other flag must be listed in the entry's ``uses``.
LOSS_TYPES = ("nonsaturating", "wasserstein_gp")  # the CS 236 GAN objectives (--model gan)
# The IFT6135 CIFAR-10 configurations (--model sngan): the keys of gan.CIFAR10_CONFIGS.
OBJECTIVES = ("gan", "wgan", "wgan-gp", "gan-r1", "wgan-r1")

# Settings whose flag takes one of a fixed list of values.
CHOICES = {"device": DEVICES, "preset": PRESETS, "loss_type": LOSS_TYPES, "objective": OBJECTIVES,
           "lr_schedule": LR_SCHEDULES}

COMMON = ("model", "preset", "seed", "device", "runs_dir", "run_name", "resume", "smoke",
          "sample_every", "log_every")

# What --smoke changes: a handful of steps (or one epoch of a little data, see main.SMOKE_ITEMS),
# every output written at least once.
SMOKE = {"steps": 4, "sample_every": 2, "log_every": 1}
SMOKE_EPOCHS = {"epochs": 1}
SMOKE_MAX_BATCH = 256  # --smoke keeps 256 examples (main.SMOKE_ITEMS): batches must fit in them


class ConfigError(ValueError):
    """A setting with an impossible value; the message says which and why."""


def _parse_optional_float(text: str) -> float | None:
    if text.lower() in ("none", ""):
        return None
    return float(text)


def _parse_optional_int(text: str) -> int | None:
    if text.lower() in ("none", ""):
        return None
    return int(text)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _help_texts() -> dict[str, str]:
    """Field comments of TrainConfig, read from this file, for --help."""
    import inspect

    texts = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        name, _, rest = line.strip().partition(":")
        if "#" in rest and name.isidentifier():
            texts[name] = rest.split("#", 1)[1].strip()
    return texts


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose error for an unknown flag lists the valid ones."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        if "unrecognized arguments" in message:
            valid = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
            unknown = message.split(":", 1)[1].split()
            hints = []
            for flag in unknown:
                close = difflib.get_close_matches(flag.split("=")[0], valid, n=1)
                if close:
                    hints.append(f"{flag} (did you mean {close[0]}?)")
            hint = f"\n  {'; '.join(hints)}" if hints else ""
            message = f"unknown option(s): {' '.join(unknown)}{hint}\n  valid options: {' '.join(valid)}"
        super().error(message)


def build_parser(models: dict[str, str], prog: str = "main.py") -> argparse.ArgumentParser:
    """The command line of TrainConfig. ``models`` maps each model name to a one-line help."""
    parser = _Parser(
        prog=prog,
        description="Train a generative model of the kit.",
        epilog="models:\n" + "\n".join(f"  {name:10s} {text}" for name, text in models.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hints = get_type_hints(TrainConfig)
    texts = _help_texts()
    for spec in fields(TrainConfig):
        flag = f"--{spec.name}"
        kind = hints[spec.name]
        help_text = f"{texts.get(spec.name, '')} (default: {spec.default})"
        if spec.name == "model":
            parser.add_argument(flag, type=str.lower, choices=list(models), metavar="NAME", help=help_text)
        elif kind is bool:
            parser.add_argument(flag, nargs="?", const=True, type=_parse_bool, help=help_text)
        elif spec.name in CHOICES:
            parser.add_argument(flag, choices=CHOICES[spec.name], help=help_text)
        elif kind == (float | None):
            parser.add_argument(flag, type=_parse_optional_float, metavar="FLOAT", help=help_text)
        elif kind == (int | None):
            parser.add_argument(flag, type=_parse_optional_int, metavar="INT", help=help_text)
        else:
            parser.add_argument(flag, type=kind, help=help_text)
    parser.set_defaults(**{spec.name: None for spec in fields(TrainConfig)})
    return parser


def flags_used(entry) -> list[str]:
    """The flags a registry entry's model reads: the common ones, ``data_root`` when it has data,
    and those in its ``uses``."""
    names = list(COMMON) + (["data_root"] if getattr(entry, "data", None) else []) + list(getattr(entry, "uses", ()))
    return [f"--{name}" for name in names]


def model_settings(entry, preset: str) -> dict[str, Any]:
    """What a registry entry changes from the defaults: its own defaults, then its preset.

    ``entry`` is a registry entry (see ``main.ModelEntry``) or a bare help string (no changes).
    """
    presets = getattr(entry, "presets", {})
    if preset != "quick" and preset not in presets:
        have = ", ".join(["quick", *presets])
        raise ConfigError(f"this model has no preset {preset!r}; its presets: {have}")
    return {**getattr(entry, "defaults", {}), **presets.get(preset, {})}


def resolve(argv: list[str], models: dict) -> TrainConfig:
    """Defaults, the model's defaults, its preset, --smoke, then the flags given: the resolved config.

    ``models`` maps each model name to its registry entry (``main.MODELS``) or to a one-line help.
    """
    helps = {name: getattr(entry, "help", entry) for name, entry in models.items()}
    parser = build_parser(helps)
    args = parser.parse_args(argv)
    given = {key: value for key, value in vars(args).items() if value is not None}
    config = TrainConfig()
    name = given.get("model", config.model)
    entry = models.get(name, "")
    try:
        if name not in models:
            raise ConfigError(f"choose a model with --model: {', '.join(models)}")
        if not isinstance(entry, str):
            used = flags_used(entry)
            unused = sorted(f"--{key}" for key in given if f"--{key}" not in used)
            if unused:
                raise ConfigError(f"--model {name} does not use {' '.join(unused)}; "
                                  f"the options it uses: {' '.join(used)}")
        config = dataclasses.replace(config, **model_settings(entry, given.get("preset", config.preset)))
        if given.get("smoke"):
            config = dataclasses.replace(config, **SMOKE, **(SMOKE_EPOCHS if config.epochs else {}),
                                         batch_size=min(config.batch_size, SMOKE_MAX_BATCH))
        config = dataclasses.replace(config, **given)
        config.validate()
    except ConfigError as error:
        parser.error(str(error))
    return config


def as_dict(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


if __name__ == "__main__":  # pragma: no cover - a quick look at the resolved defaults
    print(resolve(sys.argv[1:], {"mlp": ""}))
