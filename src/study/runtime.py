"""The device and TensorFlow settings a job runs with.

`configure_tensorflow` must run before TensorFlow is imported, so this module
imports TensorFlow only inside the functions that need a running one.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

# TensorFlow reads these once, at import. oneDNN is off by default on AMD CPUs
# although it made these nets faster there (docs/performance.md) and stays
# deterministic under op determinism. A user's own setting wins.
TENSORFLOW_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "1"}
TRAINING_DEFAULTS = {"precision": "auto", "steps_per_execution": 1}


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


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def choose_precision(device_type: str, flags: set[str]) -> tuple[str, str]:
    """The dtype policy that trains fastest on this device, and why.

    The measurements behind the choice are in docs/performance.md; a config's
    explicit `training.precision` overrides it.
    """
    if device_type == "GPU":
        return "float32", "GPU: not measured yet (benchmarks/gpu_check.sh), so full precision"
    if "amx_bf16" in flags:
        return "mixed_bfloat16", "CPU with AMX bf16 units, where bf16 measured fastest (docs/performance.md)"
    return "float32", "CPU without AMX, where bf16 is emulated and measured slower (docs/performance.md)"


def resolve_training(training: dict | None, device: dict) -> dict:
    """The config's `training` settings with 'auto' precision made concrete for ``device``, and why."""
    training = TRAINING_DEFAULTS | (training or {})
    if training["precision"] != "auto":
        return training | {"precision_choice": "set in the config"}
    precision, reason = choose_precision(device["type"], cpu_flags())
    return training | {"precision": precision, "precision_choice": f"auto: {reason}"}


def describe_device() -> dict:
    """The device Keras trains on: the first GPU when there is one, else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"type": "GPU", "name": details.get("device_name", gpus[0].name), "count": len(gpus)}
    return {"type": "CPU", "name": cpu_name(), "count": os.cpu_count()}


def set_threads(threads: int | None) -> None:
    """Size TensorFlow's op thread pool to the job's threads (possible only before its first op)."""
    import tensorflow as tf

    if not threads or tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        print(f"TensorFlow is already initialised; keeping its thread pool rather than {threads} threads")


def runtime_settings() -> dict:
    """How this process runs TensorFlow, beyond the run's own settings (after `seed_everything`)."""
    import tensorflow as tf

    return {
        "op_determinism": True,  # seed_everything turns it on; TensorFlow has no public getter
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
    }


def library_versions() -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
