"""Benchmark of assignment cscd84-a4 on this machine: GAN training speed and test-suite time.

Reports, as medians over repeats:

* training steps per second (one discriminator + one generator update, batch 64 as in the
  handout) of every GAN of the registry, for the vanilla objective and WGAN-GP (lambda = 10),
  on real MNIST batches from ``data.load_images``;
* the wall time of the public test suite (``pytest tests --ignore tests/instructor``), run as a
  fresh process, the way a student runs it.

* with ``--quality 0 500 1000``: sample quality against training time, as the Fréchet distance
  of 1000 samples to real digits in the features of the kit's classifier (``metrics.py``)
  after each of those numbers of steps, with the training seconds spent to get there.

Usage: ``python bench/bench_gan.py [--steps 20] [--repeats 3] [--device cpu] [--quality 0 500 1000]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(model_name: str, gradient_penalty: float | None, device: str):
    """A freshly built model of the registry and a function doing one training step on it."""
    import torch

    import data
    import main
    import train
    from config import TrainConfig

    config = TrainConfig(model=model_name, gradient_penalty=gradient_penalty, device=device)
    torch.manual_seed(0)
    model = main.build(main.MODELS[model_name]).to(train.pick_device(device))
    entry = main.MODELS[model_name]
    dataset = data.load_images(entry.data, str(ROOT / "data"), transform=entry.transform, verbose=False)
    optimizers = train.GAN.optimizers(model, config)
    step = train.GAN.step(config)
    batches = train.infinite_batches(dataset, config.batch_size, seed=0)
    target = train.pick_device(device)

    def one_step():
        images, labels = next(batches)
        step(train.GAN.make_batch(images.to(target), labels.to(target), model, target), model, optimizers)

    return model, one_step, target


def time_training(model_name: str, gradient_penalty: float | None, steps: int, repeats: int, device: str) -> list[float]:
    """Steps per second of ``repeats`` timed runs of ``steps`` steps each (after warm-up steps)."""
    import torch

    _, one_step, target = setup(model_name, gradient_penalty, device)
    for _ in range(3):  # warm-up: allocator, autograd graph caches
        one_step()
    rates = []
    for _ in range(repeats):
        if target.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            one_step()
        if target.type == "cuda":
            torch.cuda.synchronize()
        rates.append(steps / (time.perf_counter() - started))
    return rates


def quality_curve(model_name: str, gradient_penalty: float | None, checkpoints: list[int], device: str) -> list[dict]:
    """Fréchet distance of 1000 samples after each number of steps in ``checkpoints``, with the
    training time spent to get there (evaluation time excluded)."""
    import data
    import main
    import metrics

    model, one_step, target = setup(model_name, gradient_penalty, device)
    entry = main.MODELS[model_name]
    reference = data.load_images(entry.data, str(ROOT / "data"), transform="plain", verbose=False)
    evaluator = metrics.FrechetEvaluator(reference, target, cache=ROOT / "data" / f"kit-classifier-{entry.data}.pt")
    curve, done, seconds = [], 0, 0.0
    for goal in checkpoints:
        started = time.perf_counter()
        while done < goal:
            one_step()
            done += 1
        seconds += time.perf_counter() - started
        distance = evaluator(metrics.sample_images(model, evaluator.num_images, target))
        curve.append({"step": done, "train_seconds": round(seconds, 2), "frechet_distance": round(distance, 2)})
    return curve


def time_public_tests(repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                                 "--ignore", "tests/instructor"], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"the public tests failed:\n{result.stdout[-2000:]}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default: every GAN)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the public test suite")
    parser.add_argument("--quality", type=int, nargs="*", metavar="STEP",
                        help="also report the Fréchet distance after these numbers of steps (e.g. 0 250 500 1000)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    import torch

    import main as registry

    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
               "torch": torch.__version__, "device": args.device, "batch_size": 64, "training": []}
    print(f"{results['machine']}, torch {torch.__version__}, device {args.device}")
    print(f"{'model':10s} {'objective':10s} {'steps/s (median)':>17s}   all repeats")
    for name in args.models or [n for n, e in registry.MODELS.items() if e.recipe == "GAN"]:
        for penalty in (None, 10.0):
            rates = time_training(name, penalty, args.steps, args.repeats, args.device)
            objective = "GAN" if penalty is None else "WGAN-GP"
            median = statistics.median(rates)
            results["training"].append({"model": name, "objective": objective, "steps_per_second": median, "repeats": rates})
            print(f"{name:10s} {objective:10s} {median:17.2f}   " + ", ".join(f"{r:.2f}" for r in rates))
    if args.quality:
        results["quality"] = []
        print(f"\n{'model':10s} {'objective':10s} {'step':>6s} {'train s':>8s} {'Fréchet distance':>17s}")
        for name in args.models or [n for n, e in registry.MODELS.items() if e.recipe == "GAN"]:
            for penalty in (None, 10.0):
                objective = "GAN" if penalty is None else "WGAN-GP"
                curve = quality_curve(name, penalty, sorted(args.quality), args.device)
                results["quality"].append({"model": name, "objective": objective, "curve": curve})
                for point in curve:
                    print(f"{name:10s} {objective:10s} {point['step']:6d} {point['train_seconds']:8.1f} "
                          f"{point['frechet_distance']:17.1f}")
    if not args.skip_tests:
        times = time_public_tests(args.repeats)
        results["public_tests_seconds"] = {"median": statistics.median(times), "repeats": times}
        print(f"public test suite: {statistics.median(times):.1f} s (median of {len(times)}: "
              + ", ".join(f"{t:.1f}" for t in times) + ")")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
