"""The device, backend and framework settings a job runs with.

Keras runs on TensorFlow (the default, the reference, the one all speed work
targets) or on JAX, as the run's `training.backend` says. `configure_backend`
must run before Keras is imported, so this module imports Keras, TensorFlow and
JAX only inside the functions that need them; each function that differs by
backend keeps its TensorFlow and its JAX lines side by side.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

# TensorFlow reads these once, at import. A user's own setting wins.
# - oneDNN is off by default on AMD CPUs although it made these nets faster there
#   (docs/performance.md) and stays deterministic under op determinism.
# - Memory growth: by default TensorFlow reserves nearly all of a GPU's memory when it
#   starts; growing it as needed lets a job share its GPU with other processes.
TENSORFLOW_ENVIRONMENT = {
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "1",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
}
# JAX reads these at start. Without preallocation JAX takes GPU memory as it needs it
# instead of 75% of the GPU; deterministic ops make GPU runs repeatable.
JAX_ENVIRONMENT = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
BACKENDS = ("tensorflow", "jax")


def configure_backend(backend: str = "tensorflow") -> dict:
    """Make Keras run on ``backend`` and set its framework's environment; return what is in force."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {BACKENDS}")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise RuntimeError(f"configure_backend({backend!r}) must run before Keras is imported")
    environment = TENSORFLOW_ENVIRONMENT if backend == "tensorflow" else JAX_ENVIRONMENT
    missing = {name: value for name, value in environment.items() if name not in os.environ}
    if backend == "tensorflow" and missing and "tensorflow" in sys.modules:
        raise RuntimeError("configure_backend() must run before tensorflow is imported")
    os.environ.update(missing | {"KERAS_BACKEND": backend})
    return {name: os.environ[name] for name in [*environment, "KERAS_BACKEND"]}


def backend() -> str:
    import keras

    return keras.backend.backend()


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
    from study.config import schema_defaults

    training = schema_defaults("training") | (training or {})
    if training["precision"] != "auto":
        return training | {"precision_choice": "set in the config"}
    precision, reason = choose_precision(device["type"], cpu_flags())
    return training | {"precision": precision, "precision_choice": f"auto: {reason}"}


def jax_gpus() -> list:
    import jax

    return [device for device in jax.devices() if device.platform == "gpu"]


def describe_device() -> dict:
    """The device Keras trains on: the first GPU when there is one, else the CPU."""
    if backend() == "jax":
        gpus = jax_gpus()
        if gpus:
            return {"type": "GPU", "name": gpus[0].device_kind, "count": len(gpus)}
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return {"type": "GPU", "name": details.get("device_name", gpus[0].name), "count": len(gpus)}
    return {"type": "CPU", "name": cpu_name(), "count": os.cpu_count()}


def gpu_peak_memory_mb() -> float | None:
    """The most memory this process has held on its GPU, in MiB (None without a GPU)."""
    if backend() == "jax":
        gpus = jax_gpus()
        stats = gpus[0].memory_stats() if gpus else None
        return stats["peak_bytes_in_use"] / 2**20 if stats else None
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def set_threads(threads: int | None) -> None:
    """Size TensorFlow's op thread pool to the job's threads (possible only before its first op).

    JAX sizes its own pool to the machine; under it this does nothing.
    """
    if not threads or backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        print(f"TensorFlow is already initialised; keeping its thread pool rather than {threads} threads")


def runtime_settings() -> dict:
    """How this process runs its framework, beyond the run's own settings (after `seed_everything`)."""
    if backend() == "jax":
        return {"op_determinism": True, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "unset")}
    import tensorflow as tf

    return {
        "op_determinism": True,  # seed_everything turns it on; TensorFlow has no public getter
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
    }


def library_versions() -> dict:
    """Python, Keras, NumPy and the backend's framework."""
    import keras
    import numpy as np

    framework = backend()
    version = __import__(framework).__version__
    return {
        "python": platform.python_version(),
        framework: version,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and make its kernels deterministic.

    TensorFlow needs op determinism turned on; JAX's CPU kernels are deterministic,
    and JAX_ENVIRONMENT asks for deterministic GPU ones.
    """
    import keras

    keras.utils.set_random_seed(seed)
    if backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
