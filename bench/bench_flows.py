"""Benchmark of the flows (cs236-hw3's MAF, ift6135-a3's planar flows): quality against CPU time.

Every run goes through the kit's one loop (``train.train``) with the registry's settings, so the
numbers are those of ``python main.py --model maf`` / ``--model planar``.

``maf``: trains the MAF on moons (5 blocks, hidden 100, batch 100, Adam 1e-3) for ``--epochs``
epochs and reports the training seconds per epoch, the validation and test NLL after every
epoch, the wall time until the test NLL first reaches ``--nll_target`` (1.25 nats), and the test
NLL reached within ``--budget`` seconds (60) of training, next to the data's entropy (about 1.13
nats), below which no model's expected NLL can go.

``planar``: trains one flow per (mode, target, K) chosen, alone, for ``--steps`` iterations
(the handout's 20 000), and reports its final validation NLL (from samples) or reverse KL (from
the energy; KL = mean loss2 + log Z) and its run time. ``--seeds`` repeats each setting; for the
arcs target (two arcs, left and right, each holding half the mass) a run from the energy also
reports the share of 10 000 samples on each side: a side below 25 % counts as a dropped mode.

Usage::

    python bench/bench_flows.py maf [--epochs 50] [--budget 60] [--json out.json]
    python bench/bench_flows.py planar [--modes density] [--targets arcs] [--layers 32] \\
        [--steps 20000] [--seeds 0 1 2 3 4] [--json out.json]

Time measurements are only comparable on an otherwise idle machine: the script prints the load
average next to them.
"""

from __future__ import annotations

import argparse
import csv
import json
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


def bench_maf(args) -> dict:
    import main
    import train

    entry = main.MODELS["maf"]
    with tempfile.TemporaryDirectory() as runs:
        config = _config("maf", runs, "maf", ["--epochs", str(args.epochs), "--seed", str(args.seed),
                                              "--sample_every", str(10**9)])
        folder = train.train(config, main.build(entry), main.recipe_of(entry), main.load_data(entry, config),
                             progress=False)
        rows = [row for row in _rows(folder) if row.get("val/test_nll")]
        final = json.loads((folder / "metrics.json").read_text())
    epochs = [{"epoch": float(r["epoch"]), "seconds": float(r["seconds"]), "val_nll": float(r["val/nll"]),
               "test_nll": float(r["val/test_nll"])} for r in rows]
    seconds = [b["seconds"] - a["seconds"] for a, b in zip([{"seconds": 0.0}] + epochs, epochs)]
    reached = next((e["seconds"] for e in epochs if e["test_nll"] <= args.nll_target), None)
    within = [e["test_nll"] for e in epochs if e["seconds"] <= args.budget]
    result = {
        "seconds_per_epoch_median": sorted(seconds)[len(seconds) // 2],
        f"seconds_to_test_nll_{args.nll_target}": reached,
        f"best_test_nll_within_{args.budget:g}s": min(within) if within else None,
        "final_test_nll": final["test_nll"], "data_entropy": final["data_entropy"], "epochs": epochs,
    }
    print(f"MAF: {result['seconds_per_epoch_median']:.2f} s per epoch (median); test NLL first <= "
          f"{args.nll_target} after {reached if reached is None else f'{reached:.1f}'} s; best within "
          f"{args.budget:g} s: {result[f'best_test_nll_within_{args.budget:g}s']}; after {args.epochs} epochs: "
          f"{final['test_nll']:.4f} nats (entropy floor {final['data_entropy']:.4f})")
    return result


def arcs_sides(model, k: int) -> tuple[float, float]:
    """Shares of samples of the arcs flow (from the energy) left and right of z1 = 0."""
    import torch

    with torch.no_grad():
        z0 = torch.randn(MODE_SAMPLES, model.dim, generator=torch.Generator().manual_seed(1))
        _, z = model.reverse_kl_terms("arcs", k, z0)
    right = float((z[:, 0] > 0).float().mean())
    return 1 - right, right


def bench_planar(args) -> list[dict]:
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
                        config = _config("planar", runs, name, ["--steps", str(args.steps), "--seed", str(seed),
                                                                 "--sample_every", str(10**9)])
                        model = flow_network.PlanarExperiments(layers=(k,), targets=(target,), modes=(mode,))
                        folder = train.train(config, model, main.recipe_of(entry), main.load_data(entry, config),
                                             progress=False)
                        final = json.loads((folder / "metrics.json").read_text())
                    key = f"{'nll' if mode == 'samples' else 'kl'}/{target}/K{k}"
                    row = {"mode": mode, "target": target, "K": k, "seed": seed, "steps": args.steps,
                           "seconds": final["seconds"], key.split("/")[0]: final[key]}
                    if mode == "density" and target == "arcs":
                        row["sides"] = arcs_sides(model, k)
                        row["mode_dropped"] = min(row["sides"]) < MODE_SHARE_FLOOR
                    print(json.dumps(row))
                    results.append(row)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    maf = sub.add_parser("maf")
    maf.add_argument("--epochs", type=int, default=50)
    maf.add_argument("--seed", type=int, default=42)
    maf.add_argument("--budget", type=float, default=60.0, help="seconds of training for the quality figure")
    maf.add_argument("--nll_target", type=float, default=1.25)
    planar = sub.add_parser("planar")
    planar.add_argument("--modes", nargs="+", default=["samples", "density"], choices=["samples", "density"])
    planar.add_argument("--targets", nargs="+", default=["arcs", "sine"], choices=["arcs", "sine"])
    planar.add_argument("--layers", nargs="+", type=int, default=[2, 8, 32])
    planar.add_argument("--steps", type=int, default=20_000)
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
