"""The evidence behind the answers of written/flows.md that need figures and trained flows.

``python -m written.flows_evidence --effect`` draws the figure of question 3.2 (deterministic:
seeded samples of N(0, I) and the three planar transformations of ``calc_flows.EXAMPLES``).

``python -m written.flows_evidence --run runs/planar-...`` takes a finished ``python main.py
--model planar`` run: it copies its density and sample figures (questions 3.7 and 3.9) and writes
``figures/flows_planar_results.json`` (the settings, the final validation NLL per target and K,
the reverse KL per target and K, each target's entropy and log-normaliser), from which
``calc_flows.answer_numbers`` formats the table the answers print, and prints that table.

Everything goes to ``written/figures/``; the answer key of a release (``--solutions``) carries the
figures its answers show.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
RESULTS = FIGURES / "flows_planar_results.json"
EFFECT_SAMPLES = 2_000  # N(0, I) samples in each panel of the 3.2 figure
EFFECT_SEED = 0
EFFECT_EXTENT = (-4.0, 4.0, -4.0, 4.0)


def effect_figure(path: Path = FIGURES / "flows_planar_effect") -> list[Path]:
    """Question 3.2: samples of N(0, I) and their images under each example transformation."""
    from plots import PlanePanel, save_plane_panels
    from written import calc_flows as calc

    z = np.random.default_rng(EFFECT_SEED).standard_normal((EFFECT_SAMPLES, 2))
    panels = [PlanePanel(f"{EFFECT_SAMPLES} samples of N(0, I)", EFFECT_EXTENT, points=z)]
    for name, (u, w, b) in calc.EXAMPLES.items():
        title = f"{name}: u = ({u[0]:g}, {u[1]:g}), w = ({w[0]:g}, {w[1]:g})"
        panels.append(PlanePanel(title, EFFECT_EXTENT, points=calc.planar(z, u, w, b), reference=z))
    return save_plane_panels(panels, path, ncols=4)


def collect_run(folder: Path) -> dict:
    """The results of a planar run folder, and its figures copied next to them."""
    config = json.loads((folder / "config.json").read_text())
    final = json.loads((folder / "metrics.json").read_text())
    import data

    results = {
        "steps": final["step"], "batch_size": config["batch_size"], "lr": config["lr"], "seed": config["seed"],
        "lr_schedule": config.get("lr_schedule", "constant"), "anneal_steps": config.get("anneal_steps", 0),
        "seconds": final["seconds"],
        "nll": {key.split("/", 1)[1]: value for key, value in final.items() if key.startswith("nll/")},
        "kl": {key.split("/", 1)[1]: value for key, value in final.items() if key.startswith("kl/")},
        "targets": {name: data.target_constants(name) for name in data.ENERGIES},
    }
    for name in ("densities", "samples"):
        shutil.copyfile(folder / "figures" / f"{name}.png", FIGURES / f"flows_planar_{name}.png")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--effect", action="store_true", help="draw the figure of question 3.2")
    parser.add_argument("--run", type=Path, help="a finished `python main.py --model planar` run folder")
    args = parser.parse_args(argv)
    FIGURES.mkdir(exist_ok=True)
    if args.effect:
        print("wrote " + ", ".join(str(p) for p in effect_figure()))
    if args.run:
        RESULTS.write_text(json.dumps(collect_run(args.run), indent=2) + "\n")
        from written import calc_flows as calc

        print(f"wrote {RESULTS}\n" + calc.planar_table())
    if not (args.effect or args.run):
        parser.error("nothing to do: give --effect and/or --run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
