"""The one training entry point every (variant, seed) job goes through."""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from study.datasets import load_subset, stratified_subset
from study.diagnostics import TrainingDiagnostics, run_verdict
from study.models import build_model

PREFETCH_BATCHES = 2
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int | None) -> tf.data.Dataset:
    """Batches of uint8 images; a seeded reshuffle of indices each epoch when ``seed`` is set.

    Only indices are shuffled, so the pipeline holds one uint8 copy of the
    images and converts nothing to float until the model's input layer.
    """
    pixels = tf.constant(np.asarray(images))
    targets = tf.constant(np.asarray(labels, dtype=np.int32))
    order = tf.data.Dataset.range(len(labels))
    if seed is not None:
        order = order.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(lambda idx: (tf.gather(pixels, idx), tf.gather(targets, idx)))
    # A fixed prefetch depth with autotuning off: tf.data's autotune thread made
    # about one epoch in four end late (by 10 ms x (2^k - 1)) while the iterator was
    # torn down; measured +6% wall time over 12 epochs with it, +0.4% without.
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(PREFETCH_BATCHES).with_options(options)


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch, and of its training phase alone (before validation)."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds: list[float] = []
        self.train_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        self.epoch_seconds.append(end - self._start)
        self.train_seconds.append((self._train_end or end) - self._start)


def describe_device() -> dict:
    """The device Keras trains on: the first GPU when there is one, else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return {"type": "GPU", "name": details.get("device_name", gpus[0].name), "count": len(gpus)}
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"type": "CPU", "name": name, "count": os.cpu_count()}


def library_versions() -> dict:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def set_threads(threads: int | None) -> None:
    """Size TensorFlow's op thread pool to the job's threads (possible only before its first op)."""
    if not threads or tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        print(f"TensorFlow is already initialised; keeping its thread pool rather than {threads} threads")


def train_run(
    spec: dict,
    data_dir: str | os.PathLike,
    stats_path: str | os.PathLike,
    seed: int,
    out_dir: str | os.PathLike,
    variant: str,
    *,
    subset: dict | None = None,
    subset_seed: int = 0,
    probe_images: int = 256,
    verdict_thresholds: dict,
    preflight: dict | None = None,
    threads: int | None = None,
) -> dict:
    """Train one variant with one seed.

    Writes history.csv, diagnostics.csv, metrics.json and model.keras to
    ``out_dir``. ``subset`` caps the splits ({train: N, test: M}) with a
    class-stratified draw that depends on ``subset_seed`` only, so every
    training seed sees the same images. A run whose loss becomes NaN or inf
    stops there and is kept, with the verdict 'diverged'.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subset = subset or {}
    set_threads(threads)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    device = describe_device()
    print(f"training {variant} seed {seed} on {device['type']}: {device['name']}", flush=True)

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    x_train, y_train = load_subset(data_dir, "train", subset.get("train"), subset_seed)
    x_test, y_test = load_subset(data_dir, "test", subset.get("test"), subset_seed)
    stats = json.loads(Path(stats_path).read_text())
    model = build_model(spec, x_train.shape[1:], stats, name=variant)
    model.compile(
        optimizer=keras.optimizers.Adam(spec["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary(print_fn=lambda line, **_: print(line))
    train_data = make_dataset(x_train, y_train, spec["batch_size"], seed=seed)
    val_data = make_dataset(x_test, y_test, spec["batch_size"], seed=None)
    probe = stratified_subset(y_train, probe_images, seed)
    timer = EpochTimer()
    diagnostics = TrainingDiagnostics(np.asarray(x_train[probe]), y_train[probe])
    callbacks = [timer, diagnostics, keras.callbacks.TerminateOnNaN()]
    fit = model.fit(train_data, validation_data=val_data, epochs=spec["epochs"], callbacks=callbacks, verbose=2)
    wall = time.perf_counter() - started

    history = pd.DataFrame(fit.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["seconds"] = timer.epoch_seconds
    history = history.reindex(columns=HISTORY_COLUMNS)
    history.to_csv(out_dir / "history.csv", index=False)
    diagnostics.table().to_csv(out_dir / "diagnostics.csv", index=False)
    model.save(out_dir / "model.keras")
    verdict, reason = run_verdict(history, verdict_thresholds)
    print(f"verdict: {verdict} ({reason})")

    data_meta = json.loads((Path(data_dir) / "meta.json").read_text())
    train_seconds = float(np.sum(timer.train_seconds))
    metrics = {
        "variant": variant,
        "seed": seed,
        "dataset": spec["dataset"],
        "epochs": len(history),
        "verdict": verdict,
        "verdict_reason": reason,
        "final_train_accuracy": float(history["accuracy"].iloc[-1]),
        "final_train_loss": float(history["loss"].iloc[-1]),
        "final_val_accuracy": float(history["val_accuracy"].iloc[-1]),
        "final_val_loss": float(history["val_loss"].iloc[-1]),
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "best_val_epoch": int(history.loc[history["val_accuracy"].idxmax(), "epoch"]),
        "params": int(model.count_params()),
        "train_images": len(y_train),
        "val_images": len(y_test),
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": wall,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(history["seconds"].mean()),
        "images_per_second": len(y_train) * len(history) / train_seconds,
        "diagnostics_seconds": diagnostics.seconds,
        "diagnostics_share": diagnostics.seconds / train_seconds,
        "preflight": preflight,
        "device": device,
        "versions": library_versions(),
        "settings": {
            "seed": seed,
            "op_determinism": True,
            "threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
        },
        "data": {
            "sources": data_meta["sources"],
            "subset": subset,
            "subset_seed": subset_seed,
            "train_class_counts": np.bincount(y_train, minlength=10).tolist(),
            "test_class_counts": np.bincount(y_test, minlength=10).tolist(),
        },
        "stats": stats,
        "spec": spec,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
