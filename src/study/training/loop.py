"""The training loop every (variant, seed) job goes through: `train_run`.

A training job records what happened (history, steps, diagnostics, timing, the data it
saw) and judges nothing: outcomes, causes and claims are computed from these files on
the tables side (`study.analysis`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pandas as pd

from study.data.prepare import load_subset, read_meta, stratified_subset
from study.provenance import git_commit
from study.specs import planned_steps, steps_per_epoch
from study.tracking import run_settings
from study.training.checkpoints import CheckpointSeal, open_checkpoint, restore_rows, save_rows
from study.training.dead_runs import DeadRunStop
from study.training.diagnostics import TrainingDiagnostics
from study.training.feeding import make_dataset
from study.training.models import build_model
from study.training.monitoring import ProgressLog, TrackerLog, tensorboard_callbacks
from study.training.optimizers import build_optimizer
from study.training.optimizers import describe as describe_optimizer
from study.training.run import Run
from study.training.runtime import (
    describe_device,
    library_versions,
    resolve_training,
    runtime_settings,
    seed_everything,
    set_threads,
)

# running_*: Keras' running means over the epoch's batches, in training mode; train_* and val_*: measured at the
# epoch's end in inference mode, on a fixed draw of training images and on the whole validation split.
HISTORY_COLUMNS = [
    "epoch",
    "running_loss",
    "running_accuracy",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "seconds",
]
RUNNING = {"loss": "running_loss", "accuracy": "running_accuracy"}
STEP_COLUMNS = ["step", "epoch", "steps", "loss", "accuracy"]
PROGRESS_SECONDS = 30  # between progress lines in a training log


class TrainingData(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: int


class TrainProbe(keras.callbacks.Callback):
    """Train loss and accuracy at each epoch's end, in inference mode on a fixed draw of training images, as
    Keras measures validation: the epoch's running means mix weights from its first step to its last, and
    batch-normalized nets run there on batch statistics."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size

    def on_epoch_end(self, epoch, logs=None):
        measured = self.model.evaluate(
            self.images, self.labels, batch_size=self.batch_size, verbose=0, return_dict=True
        )
        if logs is not None:  # the callbacks after this one (EpochRecorder) read the same logs
            logs.update({"train_loss": float(measured["loss"]), "train_accuracy": float(measured["accuracy"])})


class StepRecorder(keras.callbacks.Callback):
    """The training loss and accuracy every ``interval`` steps: each row is the mean over the images
    of the steps since the previous row.

    Keras reports running means since the epoch began, weighted by batch size; a window's mean is
    recovered from two of them, (seen_b * mean_b - seen_a * mean_a) / (seen_b - seen_a), so every
    step is counted and nothing more is computed. Windows restart with each epoch (its last window
    may be shorter), so the rows of a checkpointed epoch are final and a resumed run keeps them.
    """

    def __init__(self, rows: list[dict], interval: int, batch_size: int, images: int):
        super().__init__()
        self.rows, self.interval, self.batch_size, self.images = rows, interval, batch_size, images

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.steps_per_epoch = epoch + 1, self.params["steps"]
        self.last = {"steps": 0, "seen": 0, "loss": 0.0, "accuracy": 0.0}  # running sums at the last row
        self.current = self.last

    def on_train_batch_end(self, batch, logs=None):
        seen = min((batch + 1) * self.batch_size, self.images)
        self.current = {"steps": batch + 1, "seen": seen} | {k: seen * float(logs[k]) for k in ("loss", "accuracy")}
        if self.current["steps"] - self.last["steps"] >= self.interval:
            self.add_row()

    def on_epoch_end(self, epoch, logs=None):
        if self.current["steps"] > self.last["steps"]:
            self.add_row()

    def add_row(self):
        now, last = self.current, self.last
        images = now["seen"] - last["seen"]
        self.rows.append(
            {
                "step": (self.epoch - 1) * self.steps_per_epoch + now["steps"],
                "epoch": self.epoch,
                "steps": now["steps"] - last["steps"],
                "loss": (now["loss"] - last["loss"]) / images,
                "accuracy": (now["accuracy"] - last["accuracy"]) / images,
            }
        )
        self.last = now


class EpochRecorder(keras.callbacks.Callback):
    """Each epoch's metrics and wall seconds (whole epoch, and its training phase alone).

    With a checkpoint directory the rows, and the diagnostics rows gathered so
    far, are saved there after every epoch, before the BackupAndRestore
    callback that follows it saves the weights: a run resumed from epoch k keeps
    rows 1..k and drops any later row of an epoch that was not checkpointed.
    """

    def __init__(
        self,
        rows: list[dict],
        step_rows: list[dict],
        diagnostics: TrainingDiagnostics,
        dead_runs: DeadRunStop,
        checkpoint_dir: Path | None,
    ):
        super().__init__()
        self.rows, self.step_rows = rows, step_rows
        self.diagnostics, self.dead_runs = diagnostics, dead_runs
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        row = {"epoch": epoch + 1, **{RUNNING.get(k, k): float(v) for k, v in (logs or {}).items()}}
        row["seconds"] = end - self._start
        row["train_seconds"] = (self._train_end or end) - self._start
        self.rows.append(row)
        if self.checkpoint_dir is not None:
            save_rows(
                self.checkpoint_dir,
                pd.DataFrame(self.rows),
                pd.DataFrame(self.step_rows, columns=STEP_COLUMNS),
                self.diagnostics.table(),
                {
                    "diagnostics_seconds": self.diagnostics.seconds,
                    "dead_checks": self.dead_runs.checks,
                    "stopped_dead": self.dead_runs.stopped,
                },
            )


def source_commit() -> str:
    """The git commit of the study code that runs (the checkout the package is imported from)."""
    return git_commit(Path(__file__).resolve().parent)


def load_training_data(run: Run, data_dir: Path) -> TrainingData:
    """The run's training and test images: the prepared splits under the run's subset."""
    x_train, y_train = load_subset(data_dir, "train", run.subset.get("train"), run.subset_seed)
    x_val, y_val = load_subset(data_dir, "val", run.subset.get("val"), run.subset_seed)
    return TrainingData(x_train, y_train, x_val, y_val, read_meta(data_dir)["classes"])


def compiled_model(run: Run, data: TrainingData, stats: dict) -> keras.Model:
    precision = run.training["precision"]
    model = build_model(
        run.spec, data.x_train.shape[1:], stats, classes=data.classes, name=run.variant, precision=precision
    )
    total_steps = planned_steps(run.spec, len(data.y_train))
    print(f"optimizer: {describe_optimizer(run.spec)}, {total_steps} steps")
    model.compile(
        optimizer=build_optimizer(run.spec, total_steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=run.training["steps_per_execution"],
    )
    model.summary(print_fn=lambda line, **_: print(line))
    return model


def fit(run: Run, model: keras.Model, data: TrainingData, out_dir: Path, checkpoint_dir: Path | None, tracker=None):
    """Train ``model`` for the run's epochs, resuming from a checkpoint of this same run when there is one.

    TensorBoard logs go to OUT_DIR/tensorboard as it trains, and each epoch to ``tracker`` when there is one.
    A run that meets the dead-run rule ends after that step (study.training.dead_runs). Returns the epoch rows,
    the step rows, the diagnostics and dead-run callbacks and the epoch resumed from (0 for a fresh start).
    """
    first_epoch = open_checkpoint(checkpoint_dir, run.to_dict()) if checkpoint_dir else 0
    rows, step_rows, restored, state = restore_rows(checkpoint_dir, first_epoch)
    if first_epoch:
        print(f"resuming from the checkpoint of epoch {first_epoch} in {checkpoint_dir}", flush=True)
    batch_size, epochs = run.spec["batch_size"], run.spec["epochs"]
    probe = stratified_subset(data.y_train, run.diagnostics["probe_images"], run.seed)
    diagnostics = TrainingDiagnostics(
        np.asarray(data.x_train[probe]),
        data.y_train[probe],
        run.diagnostics["saturation"],
        restored=restored,
        seconds=state.get("diagnostics_seconds", 0.0),
    )
    dead_runs = DeadRunStop(diagnostics, run.dead_runs, state.get("dead_checks", []), state.get("stopped_dead"))
    if dead_runs.stopped:  # it ended dead at the epoch it saved: the weights are restored, nothing more trains
        print(f"the checkpointed run ended dead at step {dead_runs.stopped['step']}", flush=True)
    last_epoch = first_epoch if dead_runs.stopped else epochs
    steps = steps_per_epoch(len(data.y_train), batch_size)
    train_probe = stratified_subset(data.y_train, run.diagnostics["train_probe_images"], run.seed)
    callbacks = [
        diagnostics,
        TrainProbe(np.asarray(data.x_train[train_probe]), data.y_train[train_probe], batch_size),
        *tensorboard_callbacks(out_dir / "tensorboard", diagnostics, first_epoch),
        ProgressLog(PROGRESS_SECONDS, batch_size, steps),
        StepRecorder(step_rows, run.diagnostics["step_interval"], batch_size, len(data.y_train)),
        dead_runs,
        EpochRecorder(rows, step_rows, diagnostics, dead_runs, checkpoint_dir),
        *([TrackerLog(tracker, rows, diagnostics)] if tracker else []),
        keras.callbacks.TerminateOnNaN(),
    ]
    if checkpoint_dir:
        callbacks += [
            keras.callbacks.BackupAndRestore(checkpoint_dir, double_checkpoint=True, delete_checkpoint=False),
            CheckpointSeal(checkpoint_dir),
        ]
    model.fit(
        make_dataset(data.x_train, data.y_train, batch_size, run.seed, first_epoch, epochs),
        validation_data=make_dataset(data.x_val, data.y_val, batch_size, seed=None),
        epochs=last_epoch,
        initial_epoch=first_epoch,
        steps_per_epoch=steps,
        shuffle=False,  # the batches come in each epoch's own order; Keras would reorder a PyDataset's
        callbacks=callbacks,
        verbose=2,
    )
    return pd.DataFrame(rows), pd.DataFrame(step_rows, columns=STEP_COLUMNS), diagnostics, dead_runs, first_epoch


def final_metrics(history: pd.DataFrame) -> dict:
    """The run's final and best metrics: facts read off its history, judged nowhere here."""
    return {
        "epochs": len(history),
        "final_train_accuracy": float(history["train_accuracy"].iloc[-1]),
        "final_train_loss": float(history["train_loss"].iloc[-1]),
        "final_running_loss": float(history["running_loss"].iloc[-1]),
        "final_val_accuracy": float(history["val_accuracy"].iloc[-1]),
        "final_val_loss": float(history["val_loss"].iloc[-1]),
        "best_val_accuracy": float(history["val_accuracy"].max()),
        "best_val_epoch": int(history.loc[history["val_accuracy"].idxmax(), "epoch"]),
    }


def timing(
    epoch_rows: pd.DataFrame, step_rows: pd.DataFrame, diagnostics: TrainingDiagnostics, images: int, batch_size: int
) -> dict:
    """Where a run's time went: training phases, whole epochs, and the diagnostics callback. ``images``: the
    training images of an epoch."""
    steps = int(step_rows["step"].iloc[-1])  # fewer than the epochs' when the run ended dead
    full_epochs, partial_steps = divmod(steps, steps_per_epoch(images, batch_size))
    images_seen = full_epochs * images + partial_steps * batch_size
    train_seconds = float(epoch_rows["train_seconds"].sum())
    return {
        "steps": steps,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(epoch_rows["seconds"].mean()),
        "images_per_second": images_seen / train_seconds,
        "diagnostics_seconds": diagnostics.seconds,
        "diagnostics_share": diagnostics.seconds / train_seconds,
    }


def data_record(data_dir: Path, data: TrainingData) -> dict:
    """Where the run's images came from and how many of each class it used."""
    meta = json.loads((data_dir / "meta.json").read_text())
    return {
        "sources": meta["sources"],
        "train_class_counts": np.bincount(data.y_train, minlength=data.classes).tolist(),
        "val_class_counts": np.bincount(data.y_val, minlength=data.classes).tolist(),
    }


def train_run(
    run: Run,
    data_dir: str | os.PathLike,
    stats_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    protocol_sha256: str | None = None,
    tracker=None,
) -> dict:
    """Train one run; write history.csv, diagnostics.csv, metrics.json and model.keras to ``out_dir``.

    The run's subset caps the splits with a class-stratified draw that depends on
    its ``subset_seed`` only, so every training seed sees the same images. A run
    whose loss becomes NaN or inf stops there and is kept (the tables side judges
    it 'diverged'). With ``checkpoint_dir`` the run saves its state there after every
    epoch and, started again after being killed, resumes from the last saved
    epoch, unless the run (its whole `Run` value) changed meanwhile: then it
    starts over. The directory is removed once the outputs are written. ``protocol_sha256``: the hash of
    the protocol the run was trained under (study.protocol), recorded with it. ``tracker``: a copy of the run
    in a tracker (study.tracking.mlflow_runs.Tracker), which never fails the run.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
    out_dir.mkdir(parents=True, exist_ok=True)
    set_threads(threads)
    seed_everything(run.seed)
    device = describe_device()
    run = run.with_training(resolve_training(run.training, device))
    print(f"training {run.variant} seed {run.seed} on {device['type']}: {device['name']}", flush=True)
    print(f"precision {run.training['precision']} ({run.training['precision_choice']})", flush=True)

    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    started = time.perf_counter()
    if tracker:
        tracker.start(run.variant, run.seed, run_settings(run.to_dict()))
    data = load_training_data(run, data_dir)
    stats = json.loads(Path(stats_path).read_text())
    model = compiled_model(run, data, stats)
    epoch_rows, step_rows, diagnostics, dead_runs, first_epoch = fit(run, model, data, out_dir, checkpoint_dir, tracker)
    wall = time.perf_counter() - started

    history = epoch_rows.reindex(columns=HISTORY_COLUMNS)
    history.to_csv(out_dir / "history.csv", index=False)
    step_rows.to_csv(out_dir / "steps.csv", index=False)
    diagnostic_rows = diagnostics.table()
    diagnostic_rows.to_csv(out_dir / "diagnostics.csv", index=False)
    model.save(out_dir / "model.keras")
    metrics = {
        "variant": run.variant,
        "seed": run.seed,
        "dataset": run.dataset,
        "classes": data.classes,
        **final_metrics(history),
        "params": int(model.count_params()),
        "train_images": len(data.y_train),
        "val_images": len(data.y_val),
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "wall_seconds": wall,
        "resumed_from_epoch": first_epoch or None,
        **timing(epoch_rows, step_rows, diagnostics, len(data.y_train), run.spec["batch_size"]),
        "dead_runs": dead_runs.record(),
        "run": run.to_dict(),
        "runtime": runtime_settings(),
        "device": device | {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")},
        "git_commit": source_commit(),
        "protocol_sha256": protocol_sha256,
        "versions": library_versions(),
        "data": data_record(data_dir, data),
        "stats": stats,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if tracker:
        tracker.finish(out_dir / "model.keras")
    if checkpoint_dir:
        shutil.rmtree(checkpoint_dir)
    return metrics
