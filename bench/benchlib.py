"""What every benchmark script shares: writing its results as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def save_json(path: Path | None, results) -> None:
    """Write ``results`` to ``path`` (its folder made as needed); nothing when ``path`` is None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
