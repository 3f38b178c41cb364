"""Prepared datasets: each split written once as memory-mappable uint8 arrays with meta.json, verified and
read back, and capped by class-stratified draws."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from study.data.download import file_digest
from study.data.formats import ARRAYS, DatasetFormatError, dataset_format, read_dataset


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified random draw of ``size`` items.

    Archives may be ordered by class, so a head slice is never a fair subset.
    Each class gets its share of ``size`` (largest remainders break ties).
    """
    if size >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * size / len(labels)
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: size - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))


def class_count(splits: dict[str, tuple[np.ndarray, np.ndarray]], fmt: str) -> int:
    """The number of classes, from the labels: 0 to the largest label, each with a training image."""
    classes = 1 + max(int(labels.max()) for _, labels in splits.values() if labels.size)
    missing = sorted(set(range(classes)) - set(np.unique(splits["train"][1]).tolist()))
    if missing:
        raise DatasetFormatError(
            f"{', '.join(dataset_format(fmt).files)}: the labels run to {classes - 1}, but classes {missing} have no "
            "training image; the labels are not a dataset's classes"
        )
    return classes


def prepare(fmt: str, download_dir: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Parse a dataset and write its splits as memory-mappable ``.npy`` files.

    Returns (and writes as ``meta.json``) what was written and where it came from.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = read_dataset(fmt, download_dir)
    meta = {
        "format": fmt,
        "sources": {
            name: {"sha256": file_digest(Path(download_dir) / name, "sha256")} for name in dataset_format(fmt).files
        },
    }
    classes = class_count(splits, fmt)
    meta["classes"] = classes  # the class count comes from the data: every later stage reads it here
    for split, (images, labels) in splits.items():
        np.save(out_dir / f"{split}_images.npy", np.ascontiguousarray(images, dtype=np.uint8))
        np.save(out_dir / f"{split}_labels.npy", labels.astype(np.uint8))
        meta[split] = {
            "images": len(labels),
            "shape": list(images.shape[1:]),
            "class_counts": np.bincount(labels, minlength=classes).tolist(),
        }
    meta["arrays"] = {f"{name}.npy": file_digest(out_dir / f"{name}.npy", "sha256") for name in ARRAYS}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def verify_prepared(data_dir: Path, names: list[str]) -> None:
    """Check prepared arrays against the sha256 that meta.json recorded when they were written."""
    recorded = json.loads((data_dir / "meta.json").read_text()).get("arrays")
    if recorded is None:
        print(f"{data_dir}/meta.json records no checksums (prepared by an older version): arrays not verified")
        return
    for name in names:
        got = file_digest(data_dir / name, "sha256")
        if got != recorded[name]:
            raise DatasetFormatError(
                f"{data_dir / name}: its sha256 is {got}, but meta.json recorded {recorded[name]} when it was "
                f"prepared; the file was changed since. Delete {data_dir} and rerun to prepare it again."
            )


def read_meta(data_dir: str | os.PathLike) -> dict:
    """A prepared dataset's meta.json: image shape, class count, class counts per split, checksums."""
    path = Path(data_dir) / "meta.json"
    meta = json.loads(path.read_text())
    if "classes" not in meta:
        raise DatasetFormatError(
            f"{path} records no class count (prepared by an older version); delete {path.parent} and rerun"
        )
    return meta


def load_split(data_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Memory-map a prepared split, verified against meta.json: the images stay uint8 on disk until a batch
    is read."""
    data_dir = Path(data_dir)
    verify_prepared(data_dir, [f"{split}_images.npy", f"{split}_labels.npy"])
    return (
        np.load(data_dir / f"{split}_images.npy", mmap_mode="r"),
        np.load(data_dir / f"{split}_labels.npy"),
    )


def load_subset(data_dir: str | os.PathLike, split: str, cap: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A prepared split, capped to ``cap`` images by a class-stratified draw (all of it when no cap)."""
    images, labels = load_split(data_dir, split)
    if not cap or cap >= len(labels):
        return images, labels
    keep = stratified_subset(labels, cap, seed)
    return images[keep], labels[keep]
