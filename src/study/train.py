"""The one training entry point every (variant, seed) job goes through."""

from __future__ import annotations

import json
import os
import platform
import shutil
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
from study.provenance import git_commit
from study.runtime import choose_precision, cpu_flags

PREFETCH_BATCHES = 2
SPEED_DEFAULTS = {"precision": "auto", "steps_per_execution": 1}
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def epoch_orders(n: int, seed: int, first_epoch: int, epochs: int) -> np.ndarray:
    """The order of the training images in each epoch, a function of (seed, epoch) alone.

    Drawing each epoch's permutation from its own seed makes a run resumed at
    epoch k see exactly the batches an uninterrupted run sees from epoch k on.
    """
    return np.stack([np.random.default_rng([seed, epoch]).permutation(n) for epoch in range(first_epoch, epochs)])


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int | None,
    first_epoch: int = 0,
    epochs: int = 1,
) -> tf.data.Dataset:
    """Batches of uint8 images: every epoch from ``first_epoch`` on, reshuffled, when ``seed`` is set.

    With a seed the dataset holds ``epochs - first_epoch`` epochs back to back (fit
    it with ``steps_per_epoch``); without one it is a single pass in file order.
    Only indices are shuffled. Each batch is read from ``images`` as it is needed,
    so a memory-mapped split stays on disk, in the page cache, as its only copy:
    nothing is copied into TensorFlow or converted to float until the model's
    input layer.
    """
    labels = np.asarray(labels, dtype=np.int32)
    if seed is None:
        batches = tf.data.Dataset.range(len(labels)).batch(batch_size)
    else:
        orders = tf.data.Dataset.from_tensor_slices(epoch_orders(len(labels), seed, first_epoch, epochs))
        batches = orders.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))

    def read_batch(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(images[indices]), labels[indices]

    def load(indices):
        pixels, targets = tf.numpy_function(read_batch, [indices], (tf.uint8, tf.int32), stateful=False)
        pixels.set_shape((None, *images.shape[1:]))
        targets.set_shape((None,))
        return pixels, targets

    batches = batches.map(load)
    # A fixed prefetch depth with autotuning off: tf.data's autotune thread made
    # about one epoch in four end late (by 10 ms x (2^k - 1)) while the iterator was
    # torn down; measured +6% wall time over 12 epochs with it, +0.4% without.
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(PREFETCH_BATCHES).with_options(options)


class EpochRecorder(keras.callbacks.Callback):
    """Each epoch's metrics and wall seconds (whole epoch, and its training phase alone).

    With a checkpoint directory the rows, and the diagnostics rows gathered so
    far, are rewritten there after every epoch, before the BackupAndRestore
    callback that follows it saves the weights: a run resumed from epoch k keeps
    rows 1..k and drops any later row of an epoch that was not checkpointed.
    """

    def __init__(self, rows: list[dict], diagnostics: TrainingDiagnostics, checkpoint_dir: Path | None):
        super().__init__()
        self.rows = rows
        self.diagnostics = diagnostics
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        row["seconds"] = end - self._start
        row["train_seconds"] = (self._train_end or end) - self._start
        self.rows.append(row)
        if self.checkpoint_dir is not None:
            _write_atomically(self.checkpoint_dir / "epochs.csv", pd.DataFrame(self.rows))
            _write_atomically(self.checkpoint_dir / "diagnostics.csv", self.diagnostics.table())
            state = {"diagnostics_seconds": self.diagnostics.seconds}
            (self.checkpoint_dir / "state.json").write_text(json.dumps(state))


def _write_atomically(path: Path, table: pd.DataFrame) -> None:
    partial = path.with_suffix(".partial")
    table.to_csv(partial, index=False)
    os.replace(partial, path)


def open_checkpoint(checkpoint_dir: Path, run: dict) -> int:
    """The epoch to resume from: the checkpoint's when ``run`` (spec, seed, data, settings) saved it, else 0.

    A checkpoint left by a different run, such as one killed before its variant's
    config changed, is removed rather than resumed.
    """
    run = json.loads(json.dumps(run, sort_keys=True))
    run_file = checkpoint_dir / "run.json"
    if checkpoint_dir.exists() and (not run_file.exists() or json.loads(run_file.read_text()) != run):
        print(f"removing {checkpoint_dir}: it holds the checkpoint of a different run", flush=True)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(run, sort_keys=True))
    return checkpointed_epoch(checkpoint_dir)


def checkpointed_epoch(checkpoint_dir: Path) -> int:
    """The last epoch BackupAndRestore saved in ``checkpoint_dir`` (0 when there is none)."""
    metadata = checkpoint_dir / "training_metadata.json"
    return json.loads(metadata.read_text())["epoch"] if metadata.exists() else 0


def restore_rows(checkpoint_dir: Path, first_epoch: int) -> tuple[list[dict], pd.DataFrame, float]:
    """Epoch rows, diagnostics rows and diagnostics seconds of the epochs a checkpoint covers."""
    if first_epoch == 0:
        return [], pd.DataFrame(), 0.0
    epochs = pd.read_csv(checkpoint_dir / "epochs.csv")
    diagnostics = pd.read_csv(checkpoint_dir / "diagnostics.csv")
    state = json.loads((checkpoint_dir / "state.json").read_text())
    return (
        epochs[epochs["epoch"] <= first_epoch].to_dict("records"),
        diagnostics[diagnostics["epoch"] <= first_epoch],
        state["diagnostics_seconds"],
    )


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


def source_commit() -> str:
    """The git commit of the study code that runs (the checkout the package is imported from)."""
    return git_commit(Path(__file__).resolve().parent)


def library_versions() -> dict:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def resolve_speed(speed: dict | None, device: dict) -> dict:
    """The config's `training` settings with 'auto' precision made concrete for ``device``, and why."""
    speed = SPEED_DEFAULTS | (speed or {})
    if speed["precision"] != "auto":
        return speed | {"precision_choice": "set in the config"}
    precision, reason = choose_precision(device["type"], cpu_flags())
    return speed | {"precision": precision, "precision_choice": f"auto: {reason}"}


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
    checkpoint_dir: str | os.PathLike | None = None,
    speed: dict | None = None,
    threads: int | None = None,
) -> dict:
    """Train one variant with one seed.

    Writes history.csv, diagnostics.csv, metrics.json and model.keras to
    ``out_dir``. ``subset`` caps the splits ({train: N, test: M}) with a
    class-stratified draw that depends on ``subset_seed`` only, so every
    training seed sees the same images. A run whose loss becomes NaN or inf
    stops there and is kept, with the verdict 'diverged'.

    With ``checkpoint_dir`` the run saves its state there after every epoch
    and, when started again after being killed, resumes from the last saved
    epoch (unless the spec, seed, data or settings changed meanwhile: then it
    starts over); the directory is removed once the outputs are written. ``speed`` holds
    the config's `training` settings (precision, steps_per_execution).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subset = subset or {}
    set_threads(threads)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    device = describe_device()
    speed = resolve_speed(speed, device)
    print(f"training {variant} seed {seed} on {device['type']}: {device['name']}", flush=True)
    print(f"precision {speed['precision']} ({speed['precision_choice']})", flush=True)

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    x_train, y_train = load_subset(data_dir, "train", subset.get("train"), subset_seed)
    x_test, y_test = load_subset(data_dir, "test", subset.get("test"), subset_seed)
    stats = json.loads(Path(stats_path).read_text())
    model = build_model(spec, x_train.shape[1:], stats, name=variant, precision=speed["precision"])
    model.compile(
        optimizer=keras.optimizers.Adam(spec["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=speed["steps_per_execution"],
    )
    model.summary(print_fn=lambda line, **_: print(line))
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
    run = {"spec": spec, "seed": seed, "subset": subset, "subset_seed": subset_seed, "speed": speed}
    first_epoch = open_checkpoint(checkpoint_dir, run) if checkpoint_dir else 0
    rows, restored_diagnostics, restored_seconds = restore_rows(checkpoint_dir, first_epoch)
    if first_epoch:
        print(f"resuming from the checkpoint of epoch {first_epoch} in {checkpoint_dir}", flush=True)
    epochs = spec["epochs"]
    train_data = make_dataset(x_train, y_train, spec["batch_size"], seed, first_epoch, epochs)
    val_data = make_dataset(x_test, y_test, spec["batch_size"], seed=None)
    probe = stratified_subset(y_train, probe_images, seed)
    diagnostics = TrainingDiagnostics(
        np.asarray(x_train[probe]), y_train[probe], restored=restored_diagnostics, seconds=restored_seconds
    )
    recorder = EpochRecorder(rows, diagnostics, checkpoint_dir)
    callbacks = [diagnostics, recorder, keras.callbacks.TerminateOnNaN()]
    if checkpoint_dir:
        callbacks.append(
            keras.callbacks.BackupAndRestore(checkpoint_dir, double_checkpoint=True, delete_checkpoint=False)
        )
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=-(-len(y_train) // spec["batch_size"]),
        callbacks=callbacks,
        verbose=2,
    )
    wall = time.perf_counter() - started

    epoch_rows = pd.DataFrame(rows)
    history = epoch_rows.reindex(columns=HISTORY_COLUMNS)
    history.to_csv(out_dir / "history.csv", index=False)
    diagnostics.table().to_csv(out_dir / "diagnostics.csv", index=False)
    model.save(out_dir / "model.keras")
    verdict, reason = run_verdict(history, verdict_thresholds)
    print(f"verdict: {verdict} ({reason})")

    data_meta = json.loads((Path(data_dir) / "meta.json").read_text())
    train_seconds = float(epoch_rows["train_seconds"].sum())
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
        "resumed_from_epoch": first_epoch or None,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(history["seconds"].mean()),
        "images_per_second": len(y_train) * len(history) / train_seconds,
        "diagnostics_seconds": diagnostics.seconds,
        "diagnostics_share": diagnostics.seconds / train_seconds,
        "preflight": preflight,
        "device": device | {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")},
        "git_commit": source_commit(),
        "versions": library_versions(),
        "settings": {
            "seed": seed,
            "op_determinism": True,
            **speed,
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
    if checkpoint_dir:
        shutil.rmtree(checkpoint_dir)
    return metrics
