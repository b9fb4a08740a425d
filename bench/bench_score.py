"""Benchmark of the score model (cs446-sp24, ``--model score``): training speed and sample fidelity.

Reports:

* training steps per second (one Adam update of ``diffusion.compute_denoising_loss`` on a
  batch of the text point cloud, with the registry's quick defaults), as the median of repeats;
* the time of the sampler: 1000 samples by annealed Langevin dynamics (10 levels x 100 steps);
* with ``--quality 500 1000 2000``: sample fidelity against training time. After each of those
  numbers of steps, 1000 samples are drawn and compared with the cloud
  (``metrics.point_cloud_fidelity``): the fraction within 0.05 of it, and the mean
  nearest-neighbour distances both ways. Training seconds are wall-clock time of the updates
  only (sampling excluded), with the process's CPU seconds next to them: on a shared,
  overloaded machine the CPU seconds say what a quiet laptop would need. With ``--seeds 0 1 2``
  one such run per seed (seeding the weights, the noise, the batch order and the jitter of the
  cloud), then the median over seeds at each number of steps.

Usage: ``python bench/bench_score.py [--steps 100] [--repeats 3] [--quality 500 1000 2000]
[--seeds 0 1 2] [--threads N] [--text CS446] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_json  # noqa: E402  (this folder is on the path of a script run)


def setup(text: str, device: str, seed: int = 0):
    """A fresh ScoreNet with the registry's quick settings, its cloud, and a one-step function."""
    import torch

    import data
    import diffusion
    import main
    import train
    from config import resolve

    config = resolve(["--model", "score", "--text", text, "--device", device, "--seed", str(seed)], main.MODELS)
    train.seed_everything(seed)
    target = train.pick_device(device)
    model = main.build(main.MODELS["score"]).to(target)
    cloud = data.text_splits(config).train
    optimizers = train.adam(model, config)
    step = diffusion.denoising_step(config)

    # the loop's own batch order: epoch after epoch, each shuffled by (seed, epoch)
    stream = train._batches(cloud, config.batch_size, seed, 0, train.steps_per_epoch(cloud, config.batch_size))
    schedule = train.LR_SCHEDULES[config.lr_schedule]  # the loop's learning-rate schedule over --steps
    initial_lrs = {name: [group["lr"] for group in opt.param_groups] for name, opt in optimizers.items()}
    done = 0

    def one_step():
        nonlocal done
        train.set_scheduled_lrs(optimizers, initial_lrs, schedule, min(done / config.steps, 1.0))
        done += 1
        (points,) = next(stream)
        return step({"x": points.to(target)}, model, optimizers)

    return model, one_step, cloud.tensors[0].numpy(), target, config


def time_training(text: str, steps: int, repeats: int, device: str) -> list[float]:
    """Steps per second of ``repeats`` timed runs of ``steps`` steps (after 5 warm-up steps)."""
    _, one_step, _, _, _ = setup(text, device)
    for _ in range(5):
        one_step()
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            one_step()
        rates.append(steps / (time.perf_counter() - started))
    return rates


def sample_fidelity(model, cloud, target) -> tuple[dict, float]:
    """Fidelity of 1000 fresh samples (the handout's sampler settings) and the sampling seconds."""
    import diffusion
    import metrics

    model.eval()
    started = time.perf_counter()
    samples = diffusion.langevin_dynamics_sample(model, diffusion.NUM_SAMPLES, diffusion.generate_sigmas().to(target))
    seconds = time.perf_counter() - started
    model.train()
    return metrics.point_cloud_fidelity(samples.cpu().numpy(), cloud), seconds


def quality_curve(text: str, checkpoints: list[int], device: str, seed: int = 0) -> list[dict]:
    """Fidelity after each number of steps in ``checkpoints``, with the training time to get there."""
    model, one_step, cloud, target, _ = setup(text, device, seed)
    curve, done, wall, cpu = [], 0, 0.0, 0.0
    for goal in checkpoints:
        started, started_cpu = time.perf_counter(), time.process_time()
        info = {}
        while done < goal:
            info = one_step()
            done += 1
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        quality, sampling = sample_fidelity(model, cloud, target)
        curve.append({"step": done, "train_seconds": round(wall, 1), "train_cpu_seconds": round(cpu, 1),
                      "loss": round(info.get("denoising_loss", float("nan")), 4),
                      "within_0.05": round(quality["within_radius"], 3),
                      "sample_to_data": round(quality["sample_to_data"], 4),
                      "data_to_sample": round(quality["data_to_sample"], 4),
                      "sampling_seconds": round(sampling, 1)})
        print(f"{seed:4d} {done:6d} {wall:8.1f} {cpu:8.1f} {curve[-1]['loss']:8.4f} {quality['within_radius']:8.3f} "
              f"{quality['sample_to_data']:9.4f} {quality['data_to_sample']:9.4f} {sampling:9.1f}", flush=True)
    return curve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--text", default="CS446", help="the text of the point cloud")
    parser.add_argument("--quality", type=int, nargs="*", metavar="STEP",
                        help="also report sample fidelity after these numbers of steps (e.g. 500 1000 2000)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0],
                        help="one quality run per seed; the median over seeds is reported (default: 0)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    import torch

    import main as registry

    if args.threads:
        torch.set_num_threads(args.threads)
    quick = registry.MODELS["score"].defaults
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
               "torch": torch.__version__, "device": args.device, "quick_defaults": quick}
    print(f"{results['machine']}, torch {torch.__version__}, device {args.device}, quick defaults {quick}")
    rates = time_training(args.text, args.steps, args.repeats, args.device)
    results["steps_per_second"] = {"median": statistics.median(rates), "repeats": rates}
    print(f"training: {statistics.median(rates):.1f} steps/s (median of {len(rates)}: "
          + ", ".join(f"{r:.1f}" for r in rates) + ")")
    if args.quality:
        checkpoints = sorted(args.quality)
        print(f"\n{'seed':>4s} {'step':>6s} {'train s':>8s} {'cpu s':>8s} {'loss':>8s} {'in 0.05':>8s} "
              f"{'samp->data':>9s} {'data->samp':>9s} {'sample s':>9s}")
        curves = {seed: quality_curve(args.text, checkpoints, args.device, seed) for seed in args.seeds}
        results["quality"] = {"per_seed": curves, "median": []}
        print(f"\nmedian over seeds {', '.join(map(str, args.seeds))}:\n"
              f"{'step':>6s} {'train s':>8s} {'cpu s':>8s} {'in 0.05':>8s}   (per seed)")
        for index, step in enumerate(checkpoints):
            rows = [curves[seed][index] for seed in args.seeds]
            keys = ("train_seconds", "train_cpu_seconds", "within_0.05", "sample_to_data", "data_to_sample")
            median = {key: statistics.median(row[key] for row in rows) for key in keys}
            results["quality"]["median"].append({"step": step, **median})
            print(f"{step:6d} {median['train_seconds']:8.1f} {median['train_cpu_seconds']:8.1f} "
                  f"{median['within_0.05']:8.3f}   (" + ", ".join(f"{row['within_0.05']:.3f}" for row in rows) + ")")
    save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
