"""Benchmark of the flows (cs236-hw3's MAF, ift6135-a3's planar flows): quality against CPU time.

Every run goes through the kit's one loop (``train.train``) with the registry's settings, so the
numbers are those of ``python main.py --model maf`` / ``--model planar``.

``maf``: trains the MAF on moons with the registry's setting (``--preset quick``, the default,
or ``full``, the handout's 5 blocks, hidden 100, batch 100, Adam 1e-3 for 50 epochs) once per
``--seeds`` and reports, per run and as medians over the runs, the seconds per epoch, the wall
time until the test NLL (evaluated after every epoch) first reaches each of ``--nll_targets``
(1.25 and 1.20 nats), the test NLL within ``--budget`` seconds (60) and at the end, next to the
data's entropy (about 1.13 nats), below which no model's expected NLL can go.

``planar``: trains one flow per (mode, target, K) chosen, alone, with the registry's setting
(``--preset``; ``--steps`` overrides its iterations), and reports its final validation NLL (from
samples) or reverse KL (from the energy; KL = mean loss2 + log Z) and its run time, per run and as
medians over ``--seeds``. For the arcs target (two arcs, left and right, each holding half the
mass) a run from the energy also reports the share of 10 000 of its samples on each side: a side
below 25 % counts as a dropped mode. The reverse KL bounds the shares too: the KL between the two
sides' shares and the target's 50/50 is at most the KL of the whole densities (data processing),
so a KL of 0.05 nats leaves each side at least 34 % of the mass (a side at 25 % costs 0.13 nats).

Usage::

    python bench/bench_flows.py maf [--preset full] [--seeds 0 1 2] [--budget 60] [--json out.json]
    python bench/bench_flows.py planar [--preset full] [--modes density] [--targets arcs] \\
        [--layers 32] [--seeds 0 1 2 3 4] [--json out.json]

Time measurements are only comparable on an otherwise idle machine: the script prints the load
average next to them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_json  # noqa: E402  (this folder is on the path of a script run)

MODE_SHARE_FLOOR = 0.25  # below this share of samples on one side, the arcs run dropped a mode
MODE_SAMPLES = 10_000


def _config(model: str, runs_dir: str, name: str, flags: list[str]):
    import main
    from config import resolve

    return resolve(["--model", model, "--runs_dir", runs_dir, "--run_name", name, "--device", "cpu", *flags],
                   main.MODELS)


def _rows(folder: Path) -> list[dict]:
    with (folder / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _median(values: list[float]) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    return ordered[len(ordered) // 2] if ordered else None


def maf_run(args, seed: int) -> dict:
    """One MAF run with the registry's setting (``--preset``): its per-epoch NLLs and times."""
    import main
    import train

    entry = main.MODELS["maf"]
    flags = ["--preset", args.preset, "--seed", str(seed), "--sample_every", str(10**9)]
    if args.epochs:
        flags += ["--epochs", str(args.epochs)]
    with tempfile.TemporaryDirectory() as runs:
        config = _config("maf", runs, "maf", flags)
        train.seed_everything(seed)  # as main.run: the seed sets the initial weights too
        folder = train.train(config, main.build(entry), main.recipe_of(entry), main.load_data(entry, config),
                             progress=False)
        rows = [row for row in _rows(folder) if row.get("val/test_nll")]
        final = json.loads((folder / "metrics.json").read_text())
    epochs = [{"epoch": float(r["epoch"]), "seconds": float(r["seconds"]), "val_nll": float(r["val/nll"]),
               "test_nll": float(r["val/test_nll"])} for r in rows]
    seconds = [b["seconds"] - a["seconds"] for a, b in zip([{"seconds": 0.0}] + epochs, epochs)]
    within = [e["test_nll"] for e in epochs if e["seconds"] <= args.budget]
    result = {"seed": seed, "epochs_run": config.epochs, "lr": config.lr, "lr_schedule": config.lr_schedule,
              "batch_size": config.batch_size, "seconds_per_epoch": _median(seconds),
              "training_seconds": final["seconds"], "final_test_nll": final["test_nll"],
              "data_entropy": final["data_entropy"],
              f"test_nll_within_{args.budget:g}s": within[-1] if within else None, "epochs": epochs}
    for target in args.nll_targets:  # the wall time of the first evaluation at or below the target
        result[f"seconds_to_{target:g}"] = next((e["seconds"] for e in epochs if e["test_nll"] <= target), None)
    return result


def bench_maf(args) -> dict:
    """``--seeds`` MAF runs; each one's numbers and their medians (with the number of runs that
    reached each target)."""
    runs = []
    for seed in args.seeds:
        run = maf_run(args, seed)
        reached = ", ".join(f"<= {t:g} after {_seconds(run[f'seconds_to_{t:g}'])}" for t in args.nll_targets)
        print(f"MAF seed {seed} ({args.preset}: {run['epochs_run']} epochs, lr {run['lr']:g} {run['lr_schedule']}, "
              f"batch {run['batch_size']}): {run['seconds_per_epoch']:.2f} s per epoch; test NLL {reached}; "
              f"final {run['final_test_nll']:.4f} nats (entropy floor {run['data_entropy']:.4f})")
        runs.append(run)
    summary = {"preset": args.preset, "seeds": args.seeds,
               "seconds_per_epoch_median": _median([r["seconds_per_epoch"] for r in runs]),
               "final_test_nll_median": _median([r["final_test_nll"] for r in runs]),
               f"test_nll_within_{args.budget:g}s_median": _median([r[f"test_nll_within_{args.budget:g}s"] for r in runs]),
               "data_entropy": runs[0]["data_entropy"]}
    for target in args.nll_targets:  # a run that never reached the target counts as infinitely slow
        times = sorted(math.inf if r[f"seconds_to_{target:g}"] is None else r[f"seconds_to_{target:g}"] for r in runs)
        middle = times[len(times) // 2]
        summary[f"seconds_to_{target:g}_median"] = None if math.isinf(middle) else middle
        summary[f"runs_reaching_{target:g}"] = sum(not math.isinf(t) for t in times)
    print("MAF medians: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in summary.items() if k != "seeds"))
    return {"summary": summary, "runs": runs}


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def arcs_sides(model, k: int) -> tuple[float, float]:
    """Shares of samples of the arcs flow (from the energy) left and right of z1 = 0."""
    import torch

    with torch.no_grad():
        z0 = torch.randn(MODE_SAMPLES, model.dim, generator=torch.Generator().manual_seed(1))
        _, z = model.reverse_kl_terms("arcs", k, z0)
    right = float((z[:, 0] > 0).float().mean())
    return 1 - right, right


def bench_planar(args) -> dict:
    import flow_network
    import main
    import train

    entry = main.MODELS["planar"]
    results = []
    for mode in args.modes:
        for target in args.targets:
            for k in args.layers:
                for seed in args.seeds:
                    with tempfile.TemporaryDirectory() as runs:
                        name = f"{mode}-{target}-K{k}-seed{seed}"
                        flags = ["--preset", args.preset, "--seed", str(seed), "--sample_every", str(10**9)]
                        config = _config("planar", runs, name, flags + (["--steps", str(args.steps)] if args.steps else []))
                        train.seed_everything(seed)  # as main.run: the seed sets the initial weights too
                        model = flow_network.PlanarExperiments(layers=(k,), targets=(target,), modes=(mode,))
                        folder = train.train(config, model, main.recipe_of(entry), main.load_data(entry, config),
                                             progress=False)
                        final = json.loads((folder / "metrics.json").read_text())
                    key = f"{'nll' if mode == 'samples' else 'kl'}/{target}/K{k}"
                    row = {"mode": mode, "target": target, "K": k, "seed": seed, "steps": config.steps,
                           "lr": config.lr, "lr_schedule": config.lr_schedule,
                           "seconds": final["seconds"], key.split("/")[0]: final[key]}
                    if mode == "density" and target == "arcs":
                        row["sides"] = arcs_sides(model, k)
                        row["mode_dropped"] = min(row["sides"]) < MODE_SHARE_FLOOR
                    print(json.dumps(row))
                    results.append(row)
    summary = []
    for mode in args.modes:
        for target in args.targets:
            for k in args.layers:
                rows = [r for r in results if (r["mode"], r["target"], r["K"]) == (mode, target, k)]
                metric = "nll" if mode == "samples" else "kl"
                line = {"mode": mode, "target": target, "K": k, "seeds": len(rows),
                        f"{metric}_median": _median([r[metric] for r in rows]),
                        f"{metric}_max": max(r[metric] for r in rows),
                        "seconds_median": _median([r["seconds"] for r in rows])}
                if "mode_dropped" in rows[0]:
                    line["modes_dropped"] = sum(r["mode_dropped"] for r in rows)
                summary.append(line)
                print("planar median: " + json.dumps(line))
    return {"summary": summary, "runs": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    maf = sub.add_parser("maf")
    maf.add_argument("--preset", default="quick", choices=["quick", "full"], help="the registry's setting to run")
    maf.add_argument("--epochs", type=int, help="instead of the preset's number of epochs")
    maf.add_argument("--seeds", nargs="+", type=int, default=[42])
    maf.add_argument("--budget", type=float, default=60.0, help="seconds of training for the quality figure")
    maf.add_argument("--nll_targets", nargs="+", type=float, default=[1.25, 1.20])
    planar = sub.add_parser("planar")
    planar.add_argument("--modes", nargs="+", default=["samples", "density"], choices=["samples", "density"])
    planar.add_argument("--targets", nargs="+", default=["arcs", "sine"], choices=["arcs", "sine"])
    planar.add_argument("--layers", nargs="+", type=int, default=[2, 8, 32])
    planar.add_argument("--preset", default="quick", choices=["quick", "full"], help="the registry's setting to run")
    planar.add_argument("--steps", type=int, help="instead of the preset's number of iterations")
    planar.add_argument("--seeds", nargs="+", type=int, default=[42])
    for command in (maf, planar):
        command.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    import torch

    machine = {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    print(f"machine: {machine}")
    results = bench_maf(args) if args.what == "maf" else bench_planar(args)
    save_json(args.json, {"machine": machine, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
