"""Tiny datasets in the official file formats, and a loopback server for them."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import numpy as np

from study.data.formats import CIFAR10, CIFAR100, IDX_FILES
from study.data.prepare import prepare
from study.data.stats import write_channel_stats


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def class_patterns(classes: int, shape: tuple[int, ...], rng) -> np.ndarray:
    """One brightness pattern per class, shared by the training and validation images, so that what a net
    learns from the one holds on the other."""
    return rng.integers(0, 256, size=(classes, *shape))


def class_images(labels: np.ndarray, patterns: np.ndarray, rng) -> np.ndarray:
    """Noisy images whose brightness pattern depends on the class, so a net can learn them."""
    noise = rng.integers(-40, 41, size=(len(labels), *patterns.shape[1:]))
    return np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)


def write_fashion_mnist(directory: Path, n_train: int = 200, n_val: int = 60, seed: int = 0) -> dict:
    """Write the four IDX .gz files; return their payload sha256 checksums as config entries."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    patterns = class_patterns(10, (28, 28), rng)
    for split, n in (("train", n_train), ("val", n_val)):
        labels = np.arange(n) % 10
        images = class_images(labels, patterns, rng)
        for name, array in zip(IDX_FILES[split], (images, labels), strict=True):
            payload = idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(payload, mtime=0))
            checksums[name] = {"algorithm": "sha256", "covers": "payload", "value": hashlib.sha256(payload).hexdigest()}
    return checksums


def cifar_records(images: np.ndarray, labels: np.ndarray, coarse: np.ndarray | None = None) -> bytes:
    """CIFAR binary records: CIFAR-10's label byte, or with ``coarse`` CIFAR-100's coarse then fine label."""
    chw = images.transpose(0, 3, 1, 2).reshape(len(labels), -1)
    heads = [labels[:, None]] if coarse is None else [coarse[:, None], labels[:, None]]
    return np.concatenate([*(h.astype(np.uint8) for h in heads), chw], axis=1).tobytes()


def tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return raw.getvalue()


def write_cifar10(directory: Path, n_train: int = 200, n_val: int = 60, seed: int = 1) -> dict:
    """Write cifar-10-binary.tar.gz in the official layout; return its md5 as a config entry."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n_train) % 10
    patterns = class_patterns(10, (32, 32, 3), rng)
    images = class_images(labels, patterns, rng)
    members = {
        name: cifar_records(images[idx], labels[idx])
        for name, idx in zip(CIFAR10.members["train"], np.array_split(np.arange(n_train), 5), strict=True)
    }
    val_labels = np.arange(n_val) % 10
    members[CIFAR10.members["val"][0]] = cifar_records(class_images(val_labels, patterns, rng), val_labels)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    archive = tar_gz(members)
    (directory / "cifar-10-binary.tar.gz").write_bytes(archive)
    return {"cifar-10-binary.tar.gz": {"algorithm": "md5", "covers": "file", "value": hashlib.md5(archive).hexdigest()}}


def write_cifar100(directory: Path, n_train: int = 400, n_val: int = 200, seed: int = 2) -> dict:
    """Write cifar-100-binary.tar.gz in the official layout (coarse label, fine label, pixels; the fine label
    of image i is i mod 100, its coarse one the fine one's fifth); return its sha256 as a config entry."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    members = {}
    patterns = class_patterns(100, (32, 32, 3), rng)
    for split, n in (("train", n_train), ("val", n_val)):
        fine = np.arange(n) % 100
        members[CIFAR100.members[split][0]] = cifar_records(class_images(fine, patterns, rng), fine, fine // 5)
    members["cifar-100-binary/fine_label_names.txt"] = b"apple\naquarium_fish\n"
    archive = tar_gz(members)
    (directory / CIFAR100.archive).write_bytes(archive)
    return {CIFAR100.archive: {"algorithm": "sha256", "covers": "file", "value": hashlib.sha256(archive).hexdigest()}}


def prepared_cifar10(root: Path, n_train: int, n_val: int) -> Path:
    """Tiny CIFAR-10 in the official layout under ROOT/dl, prepared into ROOT/data, statistics in ROOT/stats.json."""
    write_cifar10(root / "dl", n_train=n_train, n_val=n_val)
    prepare("cifar10_binary", root / "dl", root / "data")
    write_channel_stats(np.load(root / "data" / "train_images.npy"), root / "stats.json", "cifar10")
    return root


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path, handler_class=QuietHandler):
    """Serve ``directory`` over HTTP on 127.0.0.1 for the duration of the block; yield the base URL."""
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
