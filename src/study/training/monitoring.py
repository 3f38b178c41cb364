"""What a person watching a training job sees: progress lines in its log, and TensorBoard scalars.

TensorBoard files are written through tf.summary under either backend: Keras' TensorBoard callback uses it
under JAX too. The runs' HParams sessions are the tables side's (study.tracking.hparams).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import keras

from study.training.diagnostics import TrainingDiagnostics

# Diagnostics written as TensorBoard scalars, one per layer (tag: statistic/depth_layer).
TENSORBOARD_STATISTICS = ("gradient_norm", "dead_fraction", "saturated_fraction", "probe_loss")


class ProgressLog(keras.callbacks.Callback):
    """Every ``every_seconds`` of an epoch, a log line: step out of the epoch's steps, running loss, images/s
    and the epoch's remaining time."""

    def __init__(self, every_seconds: float, batch_size: int, steps: int):
        super().__init__()
        self.every_seconds, self.batch_size, self.steps = every_seconds, batch_size, steps

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.start = self.last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self.last < self.every_seconds:
            return
        self.last = now
        done, seconds = batch + 1, now - self.start
        print(
            f"epoch {self.epoch}/{self.params['epochs']} step {done}/{self.steps} "
            f"loss {(logs or {}).get('loss', float('nan')):.4f} {done * self.batch_size / seconds:.0f} img/s "
            f"epoch ETA {(self.steps - done) * seconds / done:.0f} s",
            flush=True,
        )


class DiagnosticsScalars(keras.callbacks.Callback):
    """The diagnostics' per-layer statistics as TensorBoard scalars, at each epoch (0: before training).

    Runs after the TrainingDiagnostics callback it reads, so each epoch's rows are there.
    """

    def __init__(self, log_dir: Path, diagnostics: TrainingDiagnostics, first_epoch: int):
        super().__init__()
        self.summary = summary_tensorflow().summary
        self.writer = self.summary.create_file_writer(str(log_dir))
        self.diagnostics, self.first_epoch = diagnostics, first_epoch

    def on_train_begin(self, logs=None):
        if self.first_epoch == 0:
            self.write(0)

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def on_train_end(self, logs=None):
        self.writer.close()

    def write(self, epoch: int) -> None:
        with self.writer.as_default():
            for row in self.diagnostics.rows:
                if row["epoch"] == epoch and row["statistic"] in TENSORBOARD_STATISTICS:
                    self.summary.scalar(
                        f"{row['statistic']}/{row['depth']:02d}_{row['layer']}", row["value"], step=epoch
                    )
        self.writer.flush()


class TrackerLog(keras.callbacks.Callback):
    """Each epoch's recorded row and the diagnostics' scalars to a tracker (study.tracking.mlflow_runs), after
    the callbacks that record them, so that the tracker sees what the run's files hold."""

    def __init__(self, tracker, rows: list[dict], diagnostics: TrainingDiagnostics):
        super().__init__()
        self.tracker, self.rows, self.diagnostics = tracker, rows, diagnostics

    def on_epoch_end(self, epoch, logs=None):
        row = self.rows[-1]
        values = {key: row[key] for key in TRACKED_EPOCH_METRICS if key in row}
        values |= {
            f"{r['statistic']}/{r['depth']:02d}_{r['layer']}": r["value"]
            for r in self.diagnostics.rows
            if r["epoch"] == epoch + 1 and r["statistic"] in TENSORBOARD_STATISTICS
        }
        self.tracker.log_epoch(epoch + 1, values)


# history.csv's measures, as a tracker plots them per epoch
TRACKED_EPOCH_METRICS = ("running_loss", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def summary_tensorflow():
    """TensorFlow, for tf.summary alone; under another backend it is kept off the GPUs, which that backend
    holds (before anything initializes TensorFlow's devices)."""
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        with contextlib.suppress(RuntimeError):  # already initialized: nothing to hide any more
            tf.config.set_visible_devices([], "GPU")
    return tf


def tensorboard_callbacks(log_dir: Path, diagnostics: TrainingDiagnostics, first_epoch: int) -> list:
    """Keras' own TensorBoard callback (epoch metrics, train and validation) and the diagnostics' scalars; none
    where TensorFlow, which writes them, is not installed (a JAX-only machine)."""
    try:
        summary_tensorflow()
    except ImportError:
        print("no TensorBoard files: TensorFlow, which writes them, is not installed", flush=True)
        return []
    return [
        keras.callbacks.TensorBoard(str(log_dir), histogram_freq=0, write_graph=False, update_freq="epoch"),
        DiagnosticsScalars(log_dir / "diagnostics", diagnostics, first_epoch),
    ]
