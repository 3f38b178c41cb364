"""TensorFlow settings of the study's jobs, applied before TensorFlow is imported."""

from __future__ import annotations

import os
import sys

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
