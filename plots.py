"""Figures shared by several models.

Sample grids: a batch of images laid out as a grid and saved as both PDF and PNG. Loss curves:
every column of a run's ``metrics.csv`` against the step, one panel per kind. 2-D figures:
panels of points (samples, data) and densities on the plane, for the flows and score models.

Every figure is drawn on its own ``matplotlib.figure.Figure`` and written with the Agg (PNG) or
PDF canvas, never through ``pyplot``: nothing is global, nothing needs a display, and no figure
outlives the call that made it.

Shapes: N images, C channels (1 grayscale, 3 RGB), H x W pixels.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

GRID_PADDING = 2  # image pixels of border between (and around) the tiles of a grid
GRID_PAD_SHADE = 0.5  # brightness of that border, from 0 (black) to 1 (white)
PIXELS_PER_IMAGE_PIXEL = 4  # each image pixel becomes a 4 x 4 block in the saved figure
DPI = 100  # dots per inch of the saved figure; with the line above it fixes the page size


def image_grid(images, nrow: int = 8, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Lay out a batch of images as one array, row by row, ``nrow`` images per row.

    Args:
        images: (N, C, H, W) torch tensor or NumPy array, C in {1, 3}.
        nrow: number of columns of the grid (fewer when N < nrow).
        value_range: (low, high): values are clipped to it and mapped to [0, 1].

    Returns:
        float64 array in [0, 1]: (rows * (H + p) + p, cols * (W + p) + p) for C = 1, with a
        trailing axis of 3 for C = 3, where p = GRID_PADDING. Unused cells of the last row and the
        borders have the shade GRID_PAD_SHADE.
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().float().numpy()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"image grid: images must have shape (N, C, H, W) with N >= 1 and C in "
                         f"{{1, 3}}; got shape {images.shape}")
    if int(nrow) != nrow or nrow < 1:
        raise ValueError(f"image grid: nrow must be a positive integer, got {nrow!r}")
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"image grid: value_range must be (low, high) with low < high, got {value_range!r}")

    n, c, h, w = images.shape
    cols = min(int(nrow), n)
    rows = math.ceil(n / cols)
    pad = GRID_PADDING
    scaled = (np.clip(images, low, high) - low) / (high - low)  # (N, C, H, W) in [0, 1]
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), GRID_PAD_SHADE)
    for index in range(n):
        row, col = divmod(index, cols)
        top, left = pad + row * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = scaled[index].transpose(1, 2, 0)  # (H, W, C)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(images, path, nrow: int = 8,
                    value_range: tuple[float, float] = (-1.0, 1.0)) -> list[Path]:
    """Save a batch of images as a grid, to ``<path>.pdf`` and ``<path>.png``.

    Args:
        images: (N, C, H, W) torch tensor or NumPy array; C = 1 is drawn in grayscale, C = 3 as
            RGB.
        path: file name without suffix (e.g. ``runs/wgan/samples/1000``); parent folders are
            created.
        nrow: images per row of the grid.
        value_range: (low, high) of the images' values, drawn black to white; values outside
            are clipped. (-1, 1) suits generators ending in tanh, (0, 1) ones ending in sigmoid.

    Returns:
        The paths written: ``[<path>.pdf, <path>.png]``.

    The figure has no axes or margins: one image pixel is a PIXELS_PER_IMAGE_PIXEL-wide square,
    so the PNG is exactly PIXELS_PER_IMAGE_PIXEL times the size of :func:`image_grid`'s array.
    """
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    height, width = grid.shape[:2]
    scale = PIXELS_PER_IMAGE_PIXEL / DPI  # inches per image pixel
    figure = Figure(figsize=(width * scale, height * scale), dpi=DPI)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    axes.set_axis_off()
    return save_figure(figure, path)


# ----------------------------------------------------------------------------------------------
# Loss curves of a run
# ----------------------------------------------------------------------------------------------

CURVE_AXES = ("step", "epoch", "seconds")  # columns of metrics.csv that are not curves
CURVE_PANEL_SIZE = (4.5, 3.2)  # inches per panel
CURVE_COLUMNS = 3  # panels per row of the figure


def curve_panel(column: str) -> str:
    """Which panel a metrics.csv column is drawn in: its prefix before "/" (``val/elbo`` goes
    to "val", ``grad_norm/generator`` to "grad_norm"), "loss" for names ending in ``loss``,
    else its own name."""
    if "/" in column:
        return column.split("/", 1)[0]
    return "loss" if column.endswith("loss") else column


def read_curves(csv_path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every column of a metrics.csv as (steps, values), leaving out the rows where it is empty."""
    with Path(csv_path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    curves = {}
    for column in (rows[0].keys() if rows else ()):
        if column in CURVE_AXES:
            continue
        points = [(float(row["step"]), float(row[column])) for row in rows if row.get(column) not in (None, "")]
        if points:
            steps, values = np.array(points).T
            curves[column] = (steps, values)
    return curves


def save_loss_curves(csv_path, path) -> list[Path]:
    """Draw every column of a run's ``metrics.csv`` against the step, to ``<path>.pdf`` and ``.png``.

    One panel per :func:`curve_panel` group (training losses together, validation metrics
    together, gradient norms together), at most CURVE_COLUMNS panels per row. Returns the paths
    written, or ``[]`` when the file is missing or holds no rows yet.
    """
    if not Path(csv_path).exists():
        return []
    curves = read_curves(csv_path)
    if not curves:
        return []
    panels: dict[str, list[str]] = {}
    for column in curves:
        panels.setdefault(curve_panel(column), []).append(column)
    cols = min(CURVE_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / cols)
    figure = Figure(figsize=(CURVE_PANEL_SIZE[0] * cols, CURVE_PANEL_SIZE[1] * rows), dpi=DPI,
                    layout="constrained")
    for index, (panel, columns) in enumerate(panels.items()):
        axes = figure.add_subplot(rows, cols, index + 1)
        for column in columns:
            steps, values = curves[column]
            axes.plot(steps, values, marker="." if len(steps) < 30 else None, label=column)
        axes.set_title("losses" if panel == "loss" else panel)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return save_figure(figure, path)


def save_twin_curves(csv_path, left: tuple[str, str], right: tuple[str, str], path, title: str = "") -> list[Path]:
    """Two columns of a run's ``metrics.csv`` against the step on one figure, each on its own
    y-axis (``left`` and ``right`` are ``(column, label)``), to ``<path>.pdf`` and ``.png``.
    A column without values yet is left out; returns the paths written ([] when neither has any)."""
    curves = read_curves(csv_path) if Path(csv_path).exists() else {}
    if left[0] not in curves and right[0] not in curves:
        return []
    figure = Figure(figsize=(6.4, 4.0), dpi=DPI, layout="constrained")
    axes = figure.add_subplot(1, 1, 1)
    lines = []
    for side, ((column, label), color) in enumerate(zip((left, right), ("tab:blue", "tab:red"))):
        target = axes if side == 0 else axes.twinx()
        target.set_ylabel(label, color=color)
        target.tick_params(axis="y", labelcolor=color)
        if column in curves:
            steps, values = curves[column]
            lines += target.plot(steps, values, color=color, marker="o" if len(steps) < 30 else None, label=label)
    axes.set_xlabel("step")
    axes.grid(alpha=0.3)
    axes.legend(lines, [line.get_label() for line in lines], fontsize="small")
    if title:
        axes.set_title(title)
    return save_figure(figure, path)


# ----------------------------------------------------------------------------------------------
# Paths in a plane (parameter trajectories)
# ----------------------------------------------------------------------------------------------


def _draw_paths(axes, paths: dict, title: str, labels: tuple[str, str], target=(0.0, 0.0)) -> None:
    for (name, path), style in zip(paths.items(), ("-", "--", ":", "-.")):
        path = np.asarray(path, dtype=np.float64)
        line, = axes.plot(path[:, 0], path[:, 1], style, linewidth=1.2, label=name)
        axes.plot(path[-1, 0], path[-1, 1], "o", color=line.get_color(), markersize=4)
    first = np.asarray(next(iter(paths.values())))[0]
    axes.plot(first[0], first[1], "k^", markersize=6, label="start")
    axes.plot(*target, "k*", markersize=9, label="equilibrium")
    axes.set_title(title, fontsize=9)
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.grid(alpha=0.3)


def save_trajectories(panels: dict, path, labels: tuple[str, str] = ("θ", "ψ"),
                      limits: float | None = None, columns: int = 3) -> list[Path]:
    """Save paths in a plane, one panel per entry, to ``<path>.pdf`` and ``<path>.png``.

    Args:
        panels: ``{panel title: {curve name: (T, 2) array of points}}``; each curve is drawn as
            a line with its end marked, the first curve's start as a triangle and the equilibrium
            (0, 0) as a star.
        path: file name without suffix; parent folders are created.
        labels: the axes' names.
        limits: if given, every panel shows [-limits, limits]^2 (paths that leave it are cut).
        columns: panels per row.

    Returns:
        The paths written: ``[<path>.pdf, <path>.png]``.
    """
    count = len(panels)
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    figure = Figure(figsize=(3.6 * cols, 3.4 * rows), dpi=DPI)
    for index, (title, paths) in enumerate(panels.items()):
        axes = figure.add_subplot(rows, cols, index + 1)
        _draw_paths(axes, paths, title, labels)
        if limits is not None:
            axes.set_xlim(-limits, limits)
            axes.set_ylim(-limits, limits)
        axes.set_aspect("equal", adjustable="box")
        if index == 0:
            axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return save_figure(figure, path)


def save_figure(figure: Figure, path) -> list[Path]:
    """Write ``figure`` to ``<path>.pdf`` and ``<path>.png`` (parent folders created); return both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".pdf", ".png"):
        target = path.with_name(path.name + suffix)  # keeps dots in the name, e.g. "step_1.5k"
        figure.savefig(target, dpi=DPI)
        written.append(target)
    return written


# ----------------------------------------------------------------------------------------------
# 2-D figures: point sets and densities on the plane
# ----------------------------------------------------------------------------------------------

PANEL_SIZE = 3.2  # inches per side of one square 2-D panel
POINT_SIZE = 2.0  # marker area of a scatter point
DENSITY_CELLS = 120  # grid cells per side of a density panel


@dataclass
class PlanePanel:
    """One panel of a 2-D figure: a density drawn as an image, points on top, or both.

    Attributes:
        title: the panel's title.
        extent: (x_min, x_max, y_min, y_max) of the axes.
        points: (N, 2) points drawn as a scatter (e.g. samples of a model), or None.
        reference: (M, 2) points drawn first, in light grey (e.g. the training data), or None.
        density: a (rows, columns) array of values on an even grid over ``extent`` (row 0 at
            y_min), drawn as an image, or None.
        field, trajectories, vlines, hlines: optional layers drawn between the reference and
            the points: arrows of a vector field (e.g. a learned score), paths with their start
            and end marked (e.g. Langevin trajectories), and dashed guide lines.
    """

    title: str
    extent: tuple[float, float, float, float]
    points: np.ndarray | None = None
    reference: np.ndarray | None = None
    density: np.ndarray | None = None
    field: tuple | None = None  # (positions (N, 2), vectors (N, 2)), drawn as arrows
    trajectories: np.ndarray | None = None  # (K, S, 2) paths, each with its start (o) and end (x)
    vlines: tuple = ()  # x values of dashed guide lines (e.g. observed coordinates)
    hlines: tuple = ()  # y values of dashed guide lines
    point_size: float = POINT_SIZE  # marker area of the points and the reference (larger for a large panel)


def plane_grid(extent: tuple[float, float, float, float], cells: int = DENSITY_CELLS) -> np.ndarray:
    """Centres of a ``cells`` x ``cells`` grid over ``extent``, as (cells * cells, 2) rows, row-major
    from y_min (reshape values to (cells, cells) for :class:`PlanePanel`'s ``density``)."""
    x_min, x_max, y_min, y_max = extent
    xs = x_min + (np.arange(cells) + 0.5) * (x_max - x_min) / cells
    ys = y_min + (np.arange(cells) + 0.5) * (y_max - y_min) / cells
    return np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1).reshape(-1, 2)


def save_plane_panels(panels: list[PlanePanel], path, ncols: int = 3, title: str = "",
                      panel_size: tuple[float, float] = (PANEL_SIZE, PANEL_SIZE)) -> list[Path]:
    """Draw 2-D panels in a grid, ``ncols`` per row, to ``<path>.pdf`` and ``<path>.png``.

    ``panel_size`` is (width, height) in inches of one panel (wide ones suit a text cloud)."""
    if not panels:
        raise ValueError("save_plane_panels needs at least one panel")
    cols = min(ncols, len(panels))
    rows = math.ceil(len(panels) / cols)
    figure = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows + (0.3 if title else 0)), dpi=DPI,
                    layout="constrained")
    if title:
        figure.suptitle(title)
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(rows, cols, index + 1)
        if panel.density is not None:
            axes.imshow(panel.density, origin="lower", extent=panel.extent, cmap="viridis", aspect="auto")
        if panel.reference is not None:
            axes.scatter(*np.asarray(panel.reference).T, s=panel.point_size, color="0.75", linewidths=0)
        if panel.field is not None:
            (x, y), (u, v) = (np.asarray(a).T for a in panel.field)
            axes.quiver(x, y, u, v, color="tab:blue", angles="xy", width=0.0015)
        for trajectory in (() if panel.trajectories is None else np.asarray(panel.trajectories)):  # (S, 2) each
            line = axes.plot(*trajectory.T, linewidth=0.8, alpha=0.8)[0]
            axes.plot(*trajectory[0], "o", color=line.get_color(), markersize=4)
            axes.plot(*trajectory[-1], "x", color=line.get_color(), markersize=6)
        for x in panel.vlines:
            axes.axvline(x, color="0.3", linestyle="--", linewidth=0.7)
        for y in panel.hlines:
            axes.axhline(y, color="0.3", linestyle="--", linewidth=0.7)
        if panel.points is not None:
            color = "white" if panel.density is not None else "tab:red" if panel.field is not None else "tab:blue"
            axes.scatter(*np.asarray(panel.points).T, s=panel.point_size, color=color, linewidths=0)
        axes.set_xlim(panel.extent[:2])
        axes.set_ylim(panel.extent[2:])
        axes.set_title(panel.title, fontsize="medium")
        axes.set_aspect("equal")
    return save_figure(figure, path)
