"""Parse the official dataset formats into uint8 arrays (N×H×W×C) and labels.

Nothing downloaded is ever unpickled: (Fashion-)MNIST comes as IDX files, CIFAR-10
and CIFAR-100 as their binary versions. Every parser checks what it reads and fails
with a message naming the file and what is wrong.

A format is registered once, in FORMATS: the files it needs, how to read them, and
the shape and size of the official set. The config check, prepare, the plan and the
bench all read it there, so a new format is one entry and its reader.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported where arrays are read, so the workflow parses without it
    import numpy as np


IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_SIDE, CIFAR_CHANNELS = 32, 3
CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS


@dataclass(frozen=True)
class CifarLayout:
    """A CIFAR binary archive: its members per split, and the label bytes that open each record (CIFAR-100:
    the coarse label, then the fine one, which is the label used)."""

    archive: str
    members: dict[str, list[str]]
    label_bytes: int
    classes: int

    @property
    def record(self) -> int:
        return self.label_bytes + CIFAR_PIXELS


CIFAR10 = CifarLayout(
    "cifar-10-binary.tar.gz",
    {
        "train": [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)],
        "val": ["cifar-10-batches-bin/test_batch.bin"],
    },
    label_bytes=1,
    classes=10,
)
CIFAR100 = CifarLayout(
    "cifar-100-binary.tar.gz",
    {"train": ["cifar-100-binary/train.bin"], "val": ["cifar-100-binary/test.bin"]},
    label_bytes=2,
    classes=100,
)


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
    import numpy as np

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
    import numpy as np

    images_name, labels_name = IDX_FILES[split]
    images = read_idx(Path(directory) / images_name, 3)
    labels = read_idx(Path(directory) / labels_name, 1)
    if len(images) != len(labels):
        raise DatasetFormatError(f"{images_name}: {len(images)} images but {labels_name} has {len(labels)} labels")
    return images[..., np.newaxis], labels


def cifar_records(raw: np.ndarray, source: str, layout: CifarLayout = CIFAR10) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR binary records: the layout's label bytes (the last is the label), then 3,072 channel-major pixel
    bytes."""
    import numpy as np

    if raw.size == 0 or raw.size % layout.record:
        raise DatasetFormatError(f"{source}: {raw.size} bytes is not a whole number of {layout.record}-byte records")
    records = raw.reshape(-1, layout.record)
    labels = _check_labels(records[:, layout.label_bytes - 1].copy(), source, layout.classes)
    pixels = records[:, layout.label_bytes :]
    images = pixels.reshape(-1, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def check_gzip_stream(path: Path) -> None:
    """Read a gzip file to the end of its stream, so that its CRC-32 and length trailer are checked."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 22):
                pass
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{path.name}: not a whole gzip stream ({error})") from error


def check_tar_members(tar: tarfile.TarFile, archive: str, layout: CifarLayout) -> dict[str, tarfile.TarInfo]:
    """The archive's members by name, once every one is a plain file or directory under a relative path,
    and every member the layout reads is a regular file of whole records."""
    members = {}
    for member in tar.getmembers():
        if member.name.startswith("/") or ".." in Path(member.name).parts:
            raise DatasetFormatError(f"{archive}: unsafe member path {member.name!r}")
        if not (member.isreg() or member.isdir()):
            raise DatasetFormatError(f"{archive}: member {member.name} is not a regular file or directory")
        members[member.name] = member
    for name in (name for names in layout.members.values() for name in names):
        member = members.get(name)
        if member is None or not member.isreg():
            raise DatasetFormatError(f"{archive}: member {name} is missing")
        if member.size == 0 or member.size % layout.record:
            raise DatasetFormatError(
                f"{archive}: member {name} declares {member.size} bytes, not a whole number of "
                f"{layout.record}-byte records"
            )
    return members


def read_cifar_archive(
    archive: str | os.PathLike, layout: CifarLayout = CIFAR10
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read both splits of a binary CIFAR archive laid out as ``layout``, checking every layer it carries.

    The gzip stream is read to its end (CRC-32 and length), every tar member is
    checked for its type and path, and each CIFAR member's declared size against
    the record size and against the bytes it holds. Members are read in memory;
    nothing is extracted to disk.
    """
    import numpy as np

    archive = Path(archive)
    check_gzip_stream(archive)
    splits = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = check_tar_members(tar, archive.name, layout)
            for split, names in layout.members.items():
                parts = []
                for name in names:
                    data = tar.extractfile(members[name]).read()
                    if len(data) != members[name].size:
                        raise DatasetFormatError(
                            f"{archive.name}: member {name} holds {len(data)} of its {members[name].size} bytes"
                        )
                    raw = np.frombuffer(data, dtype=np.uint8)
                    parts.append(cifar_records(raw, f"{archive.name}:{name}", layout))
                splits[split] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetFormatError(f"{archive.name}: not a readable tar archive ({error})") from error
    return splits


@dataclass(frozen=True)
class DatasetFormat:
    """A dataset format: the files it needs (in the order a dataset lists them), how both splits are read from
    the folder that holds them, and what the official files hold, for estimates made before any download."""

    files: tuple[str, ...]
    read: Callable[[Path], dict[str, tuple[np.ndarray, np.ndarray]]]
    shape: tuple[int, int, int]
    train_images: int
    classes: int


def cifar_format(layout: CifarLayout, train_images: int) -> DatasetFormat:
    return DatasetFormat(
        files=(layout.archive,),
        read=lambda directory: read_cifar_archive(Path(directory) / layout.archive, layout),
        shape=(CIFAR_SIDE, CIFAR_SIDE, CIFAR_CHANNELS),
        train_images=train_images,
        classes=layout.classes,
    )


FORMATS = {
    "idx": DatasetFormat(
        files=tuple(name for pair in IDX_FILES.values() for name in pair),
        read=lambda directory: {split: read_idx_split(directory, split) for split in SPLITS},
        shape=(28, 28, 1),
        train_images=60000,
        classes=10,
    ),
    "cifar10_binary": cifar_format(CIFAR10, train_images=50000),
    "cifar100_binary": cifar_format(CIFAR100, train_images=50000),
}


def dataset_format(name: str) -> DatasetFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown dataset format {name!r}; registered: {', '.join(FORMATS)}")
    return FORMATS[name]


def read_dataset(fmt: str, directory: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits of a dataset in format ``fmt`` from its downloaded files."""
    return dataset_format(fmt).read(Path(directory))
