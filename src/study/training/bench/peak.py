"""A CPU's practical fp32 peak: what a large single-precision matrix product (sgemm) reaches on it.

    python -m study.training.bench.peak

A formula (cores x FMA units x lanes x 2 x clock) overstates CPUs that run their widest
FMAs at part rate: on an AMD EPYC Zen 4 it gives 332 GFLOP/s where an sgemm reaches
about 205-220, since Zen 4 executes 512-bit FMAs in two halves. The benchmark reports its
models' arithmetic rate against this measured peak instead.
"""

from __future__ import annotations

import os
import time

import numpy as np


def sgemm_peak_gflops(size: int = 4096, repeats: int = 3) -> tuple[float, str]:
    """The best rate of ``repeats`` float32 products of two ``size`` x ``size`` matrices, in GFLOP/s,
    with a line saying how it was measured."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b  # warm-up: threads started, pages touched
    best = min(_seconds(a, b) for _ in range(repeats))
    gflops = 2 * size**3 / best / 1e9
    return gflops, f"sgemm {size}x{size} float32, best of {repeats}, {os.cpu_count()} cores"


def _seconds(a: np.ndarray, b: np.ndarray) -> float:
    start = time.perf_counter()
    a @ b
    return time.perf_counter() - start


if __name__ == "__main__":
    peak, how = sgemm_peak_gflops()
    print(f"{peak:.0f} GFLOP/s ({how})")
