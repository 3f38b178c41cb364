"""Per-channel statistics of a training set, on the 0-255 scale."""

from __future__ import annotations

import json
import os

import numpy as np

CHUNK_IMAGES = 4096


def channel_stats(images: np.ndarray) -> dict[str, list[float]]:
    """Per-channel mean and population standard deviation of N×H×W×C uint8 images.

    Sums are taken in exact integer arithmetic, chunk by chunk, so a
    memory-mapped dataset is never copied whole into floats.
    """
    channels = images.shape[-1]
    total = np.zeros(channels, dtype=np.int64)
    total_sq = np.zeros(channels, dtype=np.int64)
    for start in range(0, len(images), CHUNK_IMAGES):
        chunk = np.asarray(images[start : start + CHUNK_IMAGES], dtype=np.int64).reshape(-1, channels)
        total += chunk.sum(axis=0)
        total_sq += (chunk * chunk).sum(axis=0)
    count = images.size // channels
    mean = total / count
    variance = total_sq / count - mean * mean
    return {"mean": mean.tolist(), "std": np.sqrt(np.maximum(variance, 0.0)).tolist(), "pixels_per_channel": count}


def write_channel_stats(images: np.ndarray, path: str | os.PathLike, dataset: str) -> dict:
    stats = {"dataset": dataset, "images": len(images), **channel_stats(images)}
    with open(path, "w") as out:
        json.dump(stats, out, indent=2)
        out.write("\n")
    return stats
