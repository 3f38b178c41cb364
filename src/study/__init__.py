"""Why deep CNNs fail to train and what fixes them: the study's library."""

import os

# TensorFlow reads these once, at import; the package sets them before any of
# its modules imports Keras. oneDNN is off by default on AMD CPUs although it is
# 1.5-1.8x faster for these nets and stays deterministic under op determinism.
# A user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
