"""Benchmark of assignment cscd84-a4 on this machine: GAN training speed and test-suite time.

Reports, as medians over repeats:

* training steps per second (one discriminator + one generator update, batch 64 as in the
  handout) of every GAN of the registry, for the vanilla objective and WGAN-GP (lambda = 10),
  on real MNIST batches from ``data.load_images``;
* the wall time of the public test suite (``pytest tests --ignore tests/instructor``), run as a
  fresh process, the way a student runs it.

* with ``--quality 0 500 1000``: sample quality against training time, as the Fréchet distance
  of 1000 samples to real digits in the features of the kit's classifier (``metrics.py``)
  after each of those numbers of steps, with the training seconds spent to get there; with
  ``--seeds 0 1 2``, one run per seed (seeding the weights, the noise and the batch order) and
  the median over seeds at each number of steps.

Usage: ``python bench/bench_gan.py [--steps 20] [--repeats 3] [--device cpu] [--quality 0 500 1000]
[--seeds 0 1 2] [--objectives WGAN-GP] [--models vit] [--skip-speed] [--skip-tests]
[--original-vit path/to/vit.py] [--json out.json]``.

The ViT GAN's reference point (WGAN-GP, lambda = 10, batch 64, the offline 5 000-digit sample,
seeds 0, 1, 2): the original course code was measured at median Fréchet distances of 337 after
500 steps and 222 after 1 000. The kit's ViTGAN trains weight for weight as the original's: it
draws the same initial weights and calls its attention the same way. ``--original-vit FILE``
trains the course's own ViTGAN from its ``vit.py`` (TODOs filled in) next to the kit's, seed for
seed; ``python bench/bench_gan.py --models vit --objectives WGAN-GP --skip-speed --skip-tests
--quality 500 1000 --seeds 0 1 2 --original-vit FILE`` printed the same distances for both, to
the last digit: 360, 279, 288 after 500 steps (median 288) and 188, 241, 201 after 1 000
(median 201), with torch's 2 threads on a 2-core CPU; seeds 3-5 gave 387, 303, 207 and 197, 210,
263. After 1 000 steps a run depends on float rounding about as much as on its seed: with one
thread (``OMP_NUM_THREADS=1``) the same code gives 362, 281, 303 and 181, 298, 255 (median 255),
and a fused attention kernel (``need_weights=False``, equal to 1e-6) gives other runs again.
So compare codes seed for seed with the same threads, and read medians over several seeds.
The same runs of the other two GANs (seeds 0-2, 2 threads): ``mlp`` 234 (264, 227, 234) after
500 steps and 119 (108, 120, 119) after 1 000; ``vit:mlp`` 176 (176, 200, 161) and 194 (198, 172,
194).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_json  # noqa: E402  (this folder is on the path of a script run)


OBJECTIVES = {"GAN": None, "WGAN-GP": 10.0}  # name -> --gradient_penalty


def setup(model_name: str, gradient_penalty: float | None, device: str, seed: int = 0, build=None):
    """A freshly built model of the registry and a function doing one training step on it;
    ``seed`` fixes its initial weights, its noise and the order of its batches. ``build()``, if
    given, makes the model instead of the registry (the course's own code, ``--original-vit``);
    it is trained exactly as the registry's model would be."""
    import torch

    import data
    import main
    import train
    from config import TrainConfig

    config = TrainConfig(model=model_name, gradient_penalty=gradient_penalty, device=device)
    torch.manual_seed(seed)
    entry = main.MODELS[model_name]
    model = (build() if build else main.build(entry)).to(train.pick_device(device))
    dataset = data.load_images(entry.data, str(ROOT / "data"), transform=entry.transform, verbose=False)
    optimizers = train.GAN.optimizers(model, config)
    step = train.GAN.step(config)
    target = train.pick_device(device)

    def forever():  # the loop's batch order: epoch after epoch, each shuffled by (seed, epoch)
        epoch = 0
        while True:
            yield from train.epoch_batches(dataset, config.batch_size, seed, epoch)
            epoch += 1

    batches = forever()

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


def quality_curve(model_name: str, gradient_penalty: float | None, checkpoints: list[int], device: str,
                  seed: int = 0, build=None) -> list[dict]:
    """Fréchet distance of 1000 samples after each number of steps in ``checkpoints``, with the
    training time spent to get there (evaluation time excluded); ``build`` as in :func:`setup`."""
    import data
    import main
    import metrics
    import train

    model, one_step, target = setup(model_name, gradient_penalty, device, seed, build)
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
        with train.rng_aside(target):  # the evaluation's noise is drawn on the side: training goes on as without it
            distance = evaluator(metrics.sample_images(model, evaluator.num_images, target))
        curve.append({"step": done, "train_seconds": round(seconds, 2), "frechet_distance": round(distance, 2)})
    return curve


def original_vit_builder(path: Path, model_name: str):
    """``build()`` for :func:`setup`: the course's own ``ViTGAN`` from its ``vit.py`` (with the
    students' parts filled in), with the discriminator of registry entry ``model_name``.

    The original imports its sibling as ``src.mlp``: the file's folder and that folder's parent
    are put on the module path so that either layout resolves."""
    import importlib.util

    import main

    path = path.resolve()
    if not path.is_file():
        raise SystemExit(f"--original-vit: no file {path}")
    choice = {"vit": "ViT", "vit:mlp": "MLP"}.get(model_name)
    if choice is None:
        raise SystemExit(f"--original-vit compares the ViT GANs (vit, vit:mlp), not {model_name!r}")
    for folder in (path.parent.parent, path.parent):
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("original_vit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    embed_dim = main.MODELS[model_name].kwargs["embed_dim"]
    return lambda: module.ViTGAN(embed_dim, choice)


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
    parser.add_argument("--objectives", nargs="*", choices=list(OBJECTIVES), default=list(OBJECTIVES),
                        help="GAN (the vanilla objective), WGAN-GP (lambda = 10), or both (default)")
    parser.add_argument("--skip-speed", action="store_true", help="do not time training steps")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the public test suite")
    parser.add_argument("--quality", type=int, nargs="*", metavar="STEP",
                        help="also report the Fréchet distance after these numbers of steps (e.g. 0 250 500 1000)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0],
                        help="one quality run per seed; the median over seeds is reported (default: 0)")
    parser.add_argument("--original-vit", type=Path, metavar="VIT_PY",
                        help="with --quality: also train the course's own ViTGAN from this vit.py (its TODOs "
                             "filled in) the same way, seed for seed, next to each ViT GAN of --models")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    import torch

    import main as registry

    names = args.models or [n for n, e in registry.MODELS.items() if e.recipe == "GAN"]
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
               "torch": torch.__version__, "device": args.device, "batch_size": 64, "training": []}
    print(f"{results['machine']}, torch {torch.__version__}, device {args.device}")
    if not args.skip_speed:
        print(f"{'model':10s} {'objective':10s} {'steps/s (median)':>17s}   all repeats")
        for name in names:
            for objective in args.objectives:
                rates = time_training(name, OBJECTIVES[objective], args.steps, args.repeats, args.device)
                median = statistics.median(rates)
                results["training"].append({"model": name, "objective": objective, "steps_per_second": median,
                                            "repeats": rates})
                print(f"{name:10s} {objective:10s} {median:17.2f}   " + ", ".join(f"{r:.2f}" for r in rates))
    if args.quality:
        results["quality"] = []
        seeds = ", ".join(f"seed {seed}" for seed in args.seeds)
        runs = [(name, name, None) for name in names]  # (label, registry entry, builder)
        if args.original_vit:
            runs += [(f"{name} (original code)", name, original_vit_builder(args.original_vit, name))
                     for name in names if name.startswith("vit")]
        width = max(10, *(len(label) for label, _, _ in runs))
        print(f"\n{'model':{width}s} {'objective':10s} {'step':>6s} {'train s':>8s} {'Fréchet distance: median':>25s}"
              f"   ({seeds})")
        for label, name, build in runs:
            for objective in args.objectives:
                curves = {seed: quality_curve(name, OBJECTIVES[objective], sorted(args.quality), args.device, seed, build)
                          for seed in args.seeds}
                for index, step in enumerate(sorted(args.quality)):
                    per_seed = [curves[seed][index]["frechet_distance"] for seed in args.seeds]
                    seconds = statistics.median(curves[seed][index]["train_seconds"] for seed in args.seeds)
                    median = statistics.median(per_seed)
                    results["quality"].append({"model": label, "objective": objective, "step": step,
                                               "train_seconds": seconds, "frechet_distance": median,
                                               "per_seed": dict(zip(args.seeds, per_seed))})
                    print(f"{label:{width}s} {objective:10s} {step:6d} {seconds:8.1f} {median:25.1f}   ("
                          + ", ".join(f"{d:.0f}" for d in per_seed) + ")")
    if not args.skip_tests:
        times = time_public_tests(args.repeats)
        results["public_tests_seconds"] = {"median": statistics.median(times), "repeats": times}
        print(f"public test suite: {statistics.median(times):.1f} s (median of {len(times)}: "
              + ", ".join(f"{t:.1f}" for t in times) + ")")
    save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
