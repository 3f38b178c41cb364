"""Parse the official dataset formats into uint8 arrays (N×H×W×C) and labels.

Nothing downloaded is ever unpickled: Fashion-MNIST comes as IDX files and
CIFAR-10 as its binary version. Every parser checks what it reads and fails
with a message naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

import numpy as np

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_MEMBERS = {
    "train": [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)],
    "val": ["cifar-10-batches-bin/test_batch.bin"],
}
CIFAR_SIDE, CIFAR_CHANNELS = 32, 3
CIFAR10_LABELS = 10  # the binary format's label byte: 0..9
CIFAR_RECORD = 1 + CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS

# Files each format expects, in the order a dataset's downloads are listed.
FORMAT_FILES = {
    "idx": [name for pair in IDX_FILES.values() for name in pair],
    "cifar10_binary": [CIFAR_ARCHIVE],
}
# What the official files of each format hold, for estimates made before anything is
# downloaded; everything else reads the prepared data's meta.json.
FORMAT_TYPICAL = {
    "idx": {"shape": (28, 28, 1), "train_images": 60000, "classes": 10},
    "cifar10_binary": {
        "shape": (CIFAR_SIDE, CIFAR_SIDE, CIFAR_CHANNELS),
        "train_images": 50000,
        "classes": CIFAR10_LABELS,
    },
}
# The official test split is the study's validation split, as in the lecture (validation_data=(x_test, y_test)):
# "val" on disk, in `subset`, in metrics and tables; "validation" in prose.
SPLITS = ("train", "val")
ARRAYS = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]


class DatasetFormatError(ValueError):
    """A dataset file is not what its format says it should be."""


def _check_labels(labels: np.ndarray, source: str, classes: int) -> np.ndarray:
    if labels.size and labels.max() >= classes:
        raise DatasetFormatError(f"{source}: label {int(labels.max())} is outside 0..{classes - 1}")
    return labels


def read_idx(path: str | os.PathLike, expected_dims: int) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes with ``expected_dims`` dimensions."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{path.name}: not a readable gzip file ({error})") from error
    if len(data) < 4 or data[0:2] != b"\x00\x00":
        raise DatasetFormatError(f"{path.name}: bad IDX magic number {data[:4].hex() or 'missing'}")
    dtype_code, dims = data[2], data[3]
    if dtype_code != 0x08:
        raise DatasetFormatError(f"{path.name}: IDX data type 0x{dtype_code:02x} is not unsigned byte (0x08)")
    if dims != expected_dims:
        raise DatasetFormatError(f"{path.name}: IDX has {dims} dimensions, expected {expected_dims}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise DatasetFormatError(f"{path.name}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DatasetFormatError(
            f"{path.name}: header declares shape {shape} ({expected} bytes), file holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_split(directory: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = IDX_FILES[split]
    images = read_idx(Path(directory) / images_name, 3)
    labels = read_idx(Path(directory) / labels_name, 1)
    if len(images) != len(labels):
        raise DatasetFormatError(f"{images_name}: {len(images)} images but {labels_name} has {len(labels)} labels")
    return images[..., np.newaxis], labels


def cifar_records(raw: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary records: 1 label byte, then 3,072 channel-major pixel bytes."""
    if raw.size == 0 or raw.size % CIFAR_RECORD:
        raise DatasetFormatError(f"{source}: {raw.size} bytes is not a whole number of {CIFAR_RECORD}-byte records")
    records = raw.reshape(-1, CIFAR_RECORD)
    labels = _check_labels(records[:, 0].copy(), source, CIFAR10_LABELS)
    images = records[:, 1:].reshape(-1, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def check_gzip_stream(path: Path) -> None:
    """Read a gzip file to the end of its stream, so that its CRC-32 and length trailer are checked."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 22):
                pass
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{path.name}: not a whole gzip stream ({error})") from error


def check_tar_members(tar: tarfile.TarFile, archive: str) -> dict[str, tarfile.TarInfo]:
    """The archive's members by name, once every one is a plain file or directory under a relative path,
    and every CIFAR member is a regular file of whole records."""
    members = {}
    for member in tar.getmembers():
        if member.name.startswith("/") or ".." in Path(member.name).parts:
            raise DatasetFormatError(f"{archive}: unsafe member path {member.name!r}")
        if not (member.isreg() or member.isdir()):
            raise DatasetFormatError(f"{archive}: member {member.name} is not a regular file or directory")
        members[member.name] = member
    for name in (name for names in CIFAR_MEMBERS.values() for name in names):
        member = members.get(name)
        if member is None or not member.isreg():
            raise DatasetFormatError(f"{archive}: member {name} is missing")
        if member.size == 0 or member.size % CIFAR_RECORD:
            raise DatasetFormatError(
                f"{archive}: member {name} declares {member.size} bytes, not a whole number of "
                f"{CIFAR_RECORD}-byte records"
            )
    return members


def read_cifar_archive(archive: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read both splits of the binary CIFAR-10 archive, checking every layer it carries.

    The gzip stream is read to its end (CRC-32 and length), every tar member is
    checked for its type and path, and each CIFAR member's declared size against
    the record size and against the bytes it holds. Members are read in memory;
    nothing is extracted to disk.
    """
    archive = Path(archive)
    check_gzip_stream(archive)
    splits = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = check_tar_members(tar, archive.name)
            for split, names in CIFAR_MEMBERS.items():
                parts = []
                for name in names:
                    data = tar.extractfile(members[name]).read()
                    if len(data) != members[name].size:
                        raise DatasetFormatError(
                            f"{archive.name}: member {name} holds {len(data)} of its {members[name].size} bytes"
                        )
                    parts.append(cifar_records(np.frombuffer(data, dtype=np.uint8), f"{archive.name}:{name}"))
                splits[split] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetFormatError(f"{archive.name}: not a readable tar archive ({error})") from error
    return splits


def read_dataset(fmt: str, directory: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits of a dataset in format ``fmt`` from its downloaded files."""
    if fmt == "idx":
        return {split: read_idx_split(directory, split) for split in SPLITS}
    if fmt == "cifar10_binary":
        return read_cifar_archive(Path(directory) / CIFAR_ARCHIVE)
    raise ValueError(f"unknown dataset format {fmt!r}; known: {sorted(FORMAT_FILES)}")
