"""A CPU's practical fp32 peak: what a large single-precision matrix product (sgemm) reaches on it.

    python -m study.training.bench.peak

A formula (cores x FMA units x lanes x 2 x clock) overstates CPUs that run their widest
FMAs at part rate, such as AMD's Zen 4, which executes 512-bit FMAs in two halves. The
benchmark reports its models' arithmetic rate against this measured peak instead.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import numpy as np

# Some machines pin OpenBLAS to an older kernel (OPENBLAS_CORETYPE=Haswell: AVX2) for old builds
# that misbehave on new CPUs; the measurement runs without the pin, to find what the CPU reaches.
PINNED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def measure(size: int, repeats: int) -> float:
    """GFLOP/s of the best of ``repeats`` float32 products of two ``size`` x ``size`` matrices, in this process."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b  # warm-up: threads started, pages touched
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def sgemm_peak_gflops(size: int = 6144, repeats: int = 3) -> tuple[float, str]:
    """The CPU's sgemm rate in GFLOP/s, measured in a fresh process without an OpenBLAS kernel pin, with a line
    saying how it was measured."""
    env = {key: value for key, value in os.environ.items() if key not in PINNED}
    code = f"from study.training.bench.peak import measure; print(measure({size}, {repeats}))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    pinned = [f"{key}={os.environ[key]}" for key in PINNED if key in os.environ]
    unpinned = f", without {' '.join(pinned)}" if pinned else ""
    how = f"sgemm {size}x{size} float32, best of {repeats}, {os.cpu_count()} cores{unpinned}"
    return float(result.stdout.split()[-1]), how


if __name__ == "__main__":
    peak, how = sgemm_peak_gflops()
    print(f"{peak:.0f} GFLOP/s ({how})")
