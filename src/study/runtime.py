"""TensorFlow settings of the study's jobs, applied before TensorFlow is imported."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# TensorFlow reads these once, at import. oneDNN is off by default on AMD CPUs
# although it made these nets 1.5-1.8x faster there and stays deterministic
# under op determinism. A user's own setting wins.
TENSORFLOW_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "1"}


def configure_tensorflow() -> dict:
    """Set the study's TensorFlow environment; return what is in force."""
    missing = {name: value for name, value in TENSORFLOW_ENVIRONMENT.items() if name not in os.environ}
    if missing and "tensorflow" in sys.modules:
        raise RuntimeError("configure_tensorflow() must run before tensorflow is imported")
    os.environ.update(missing)
    return {name: os.environ[name] for name in TENSORFLOW_ENVIRONMENT}


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", info, re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def choose_precision(device_type: str, flags: set[str]) -> tuple[str, str]:
    """The dtype policy that trains fastest on this device, with the measurement behind the choice.

    ``python -m study.bench`` measured the choices; a config's explicit
    `training.precision` overrides this.
    """
    if device_type == "GPU":
        return "float32", "GPU: not measured yet (benchmarks/gpu_check.sh), so full precision"
    if "amx_bf16" in flags:
        return "mixed_bfloat16", "CPU with AMX bf16 units: 1.8-2.8x the throughput of float32 (study.bench, Intel Xeon)"
    return "float32", "CPU without AMX: bf16 ran about 7x slower than float32 where it is emulated"
