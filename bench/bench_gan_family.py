"""Benchmark of the GAN family of cs446, cs236-hw3 and ift6135-a3 on this machine.

Each run goes through the kit's one loop (``main.run``), which measures training steps per second
and, at the end, the Fréchet distance of 1000 samples to real images in the features of the
kit's classifier (``metrics.py``; lower is better). For each number of steps given, a fresh run of:

* ``dcgan``: the CS 446 DCGAN on MNIST (batch 256);
* ``gan`` with ``--loss_type nonsaturating`` and ``wasserstein_gp``: CS 236 on Fashion-MNIST
  (batch 64), side by side;
* ``cgan``: the CS 236 conditional GAN;

and the Dirac GAN's final distance to the equilibrium per configuration (500 SGD steps of 0.2
from (1, 1); alternating updates as ``make_train_step`` does them, and simultaneous ones).

Usage: ``python bench/bench_gan_family.py [--steps 200 1000] [--models dcgan gan:nonsaturating
gan:wasserstein_gp cgan] [--device cpu] [--skip-dirac] [--json out.json]``. Run outputs go to a
temporary folder. Quote medians of several runs on a shared machine; the classifier behind the
Fréchet distance is trained once per data set and cached under ``data/``.

Measured alone on a 2-core CPU with torch's default threads (``--steps 200 1000 --skip-dirac``,
offline data), steps per second and Fréchet distance after 200 / 1 000 steps:

    dcgan (MNIST, batch 256)              4.8 / 9.8 steps/s    502 / 241
    gan:nonsaturating (Fashion-MNIST)    16.6 / 15.1 steps/s   81.6 / 81.7
    gan:wasserstein_gp                    9.8 / 10.8 steps/s   84.1 / 23.5
    cgan                                 13.1 / 14.0 steps/s   37.5 / 27.7

The first run's rate includes the process's warm-up (dcgan's 200 steps). The distances depend on
the thread count through rounding: with one thread, dcgan gave 982 / 191.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_json  # noqa: E402  (this folder is on the path of a script run)

RUNS = ("dcgan", "gan:nonsaturating", "gan:wasserstein_gp", "cgan")  # model[:loss_type]


def train_run(run: str, steps: int, device: str, runs_dir: str) -> dict:
    """One training run of ``steps`` steps through main.run; its metrics.json."""
    import main
    from config import resolve

    model, _, loss_type = run.partition(":")
    argv = ["--model", model, "--steps", str(steps), "--device", device, "--runs_dir", runs_dir,
            "--data_root", str(ROOT / "data"), "--sample_every", str(steps)]
    if loss_type:
        argv += ["--loss_type", loss_type]
    folder = main.run(resolve(argv, main.MODELS))
    return json.loads((Path(folder) / "metrics.json").read_text())


def dirac_distances() -> dict[str, float]:
    import gan

    results = {}
    for name, config in gan.DIRAC_CONFIGS.items():
        for simultaneous in (False, True):
            path = gan.dirac_trajectory(config, simultaneous=simultaneous)
            results[f"{name}{':simultaneous' if simultaneous else ''}"] = float((path[-1] ** 2).sum() ** 0.5)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[200], help="training steps of each run")
    parser.add_argument("--models", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-dirac", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: dict = {"runs": []}
    with tempfile.TemporaryDirectory() as runs_dir:
        for run in args.models:
            for steps in args.steps:
                metrics = train_run(run, steps, args.device, runs_dir)
                row = {"run": run, "steps": steps, "steps_per_second": metrics.get("steps_per_second"),
                       "frechet_distance": metrics.get("frechet_distance")}
                results["runs"].append(row)
                print(f"{run:22s} {steps:6d} steps  {row['steps_per_second']:8.3f} steps/s  "
                      f"Fréchet distance {row['frechet_distance']:.1f}", flush=True)
    if not args.skip_dirac:
        results["dirac"] = dirac_distances()
        for name, distance in results["dirac"].items():
            print(f"dirac {name:24s} final distance to (0, 0): {distance:.3g}")
    save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
