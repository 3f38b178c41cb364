"""Why a network does not learn: pre-flight checks, gradient and activation statistics, verdicts.

Pre-flight checks follow Karpathy's "A Recipe for Training Neural Networks":
the loss at initialisation should be near ln(10) for 10 balanced classes, and
a net that cannot overfit one small batch has a problem no amount of data fixes.
The callback records, once per epoch on a fixed probe batch, what the lecture
reasons about: per-layer gradient norms (vanishing gradients), sigmoid
saturation and dead ReLU units.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from study.datasets import load_subset, stratified_subset
from study.models import build_model

LN10 = math.log(10)
DIAGNOSTIC_COLUMNS = ["epoch", "layer", "depth", "statistic", "value"]
SATURATION_LOW, SATURATION_HIGH = 0.01, 0.99


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Conv and Dense layers in model order: the depth axis of the gradient plots."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)]


def activation_name(layer: keras.layers.Layer) -> str | None:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in ("sigmoid", "relu") else None


def activation_stats(outputs, activation: str) -> dict[str, tf.Tensor]:
    """Statistics of a layer's activated outputs over a probe batch (first axis), as scalar tensors."""
    outputs = tf.cast(outputs, tf.float32)
    if activation == "sigmoid":
        # sigma'(z) = sigma(z)(1 - sigma(z)): computable from the outputs alone.
        saturated = (outputs < SATURATION_LOW) | (outputs > SATURATION_HIGH)
        return {
            "saturated_fraction": tf.reduce_mean(tf.cast(saturated, tf.float32)),
            "mean_sigmoid_derivative": tf.reduce_mean(outputs * (1 - outputs)),
        }
    if activation == "relu":
        # A unit (one channel at one position, or one Dense neuron) is dead when it is
        # zero for every image of the batch.
        return {"dead_fraction": tf.reduce_mean(tf.cast(tf.reduce_all(outputs <= 0, axis=0), tf.float32))}
    return {}


class TrainingDiagnostics(keras.callbacks.Callback):
    """Per-layer gradient, weight, update and activation statistics on one fixed probe batch.

    Recorded before training (epoch 0) and after every epoch. Statistics use the
    model in inference mode, so batch-normalization statistics are read, never
    updated: the callback does not change what is trained.
    """

    def __init__(
        self,
        probe_images: np.ndarray,
        probe_labels: np.ndarray,
        restored: pd.DataFrame | None = None,
        seconds: float = 0.0,
    ):
        """``restored`` and ``seconds``: the rows and time of the epochs before a resume."""
        super().__init__()
        self.probe_images = tf.constant(probe_images)
        self.probe_labels = tf.constant(np.asarray(probe_labels, dtype=np.int32))
        self.rows: list[dict] = [] if restored is None else restored.to_dict("records")
        self.seconds = seconds
        self._before_last_step: dict[str, np.ndarray] = {}

    def set_model(self, model):
        super().set_model(model)
        self.layers = weighted_layers(model)
        self.activated = [layer for layer in self.layers if activation_name(layer)]
        self.probe_model = keras.Model(model.inputs, [model.output, *(layer.output for layer in self.activated)])
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        # One compiled pass: run eagerly, a record cost 4-7 bf16 training steps.
        self.probe = tf.function(self.probe_statistics)

    def probe_statistics(self, images, labels):
        """Loss, kernel gradient norms and activation statistics from one forward and backward pass."""
        with tf.GradientTape() as tape:
            predictions, *outputs = tf.nest.flatten(self.probe_model(images, training=False))
            loss = self.loss_fn(labels, predictions)
        gradients = tape.gradient(loss, [layer.kernel for layer in self.layers])
        gradient_norms = [
            tf.norm(tf.cast(gradient, tf.float32)) if gradient is not None else tf.constant(0.0)
            for gradient in gradients
        ]
        activations = [
            activation_stats(output, activation_name(layer))
            for layer, output in zip(self.activated, outputs, strict=True)
        ]
        return loss, gradient_norms, activations

    def on_train_begin(self, logs=None):
        if not self.rows:  # a resumed run has its epoch-0 rows already
            self.record(0)

    def on_train_batch_begin(self, batch, logs=None):
        # Only the weights before the epoch's last step (or last group of steps, with
        # steps_per_execution) are kept, for the update-to-weight ratio.
        last = (self.params.get("steps") or 0) - 1
        if batch <= last < batch + getattr(self.model, "steps_per_execution", 1):
            start = time.perf_counter()
            self._before_last_step = {layer.name: np.array(layer.kernel) for layer in self.layers}
            self.seconds += time.perf_counter() - start

    def on_epoch_end(self, epoch, logs=None):
        self.record(epoch + 1)

    def record(self, epoch: int) -> None:
        start = time.perf_counter()
        loss, gradient_norms, activations = self.probe(self.probe_images, self.probe_labels)
        for depth, (layer, gradient_norm) in enumerate(zip(self.layers, gradient_norms, strict=True), start=1):
            kernel = np.array(layer.kernel)
            weight_norm = float(np.linalg.norm(kernel))
            self.add(epoch, layer.name, depth, "gradient_norm", float(gradient_norm))
            self.add(epoch, layer.name, depth, "weight_norm", weight_norm)
            before = self._before_last_step.get(layer.name)
            if before is not None and epoch > 0:
                update = float(np.linalg.norm(kernel - before))
                self.add(epoch, layer.name, depth, "update_ratio", update / weight_norm if weight_norm else math.nan)
        depth_of = {layer.name: i for i, layer in enumerate(self.layers, start=1)}
        for layer, statistics in zip(self.activated, activations, strict=True):
            for statistic, value in statistics.items():
                self.add(epoch, layer.name, depth_of[layer.name], statistic, float(value))
        self.add(epoch, "model", 0, "probe_loss", float(loss))
        self.seconds += time.perf_counter() - start

    def add(self, epoch, layer, depth, statistic, value):
        self.rows.append({"epoch": epoch, "layer": layer, "depth": depth, "statistic": statistic, "value": value})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=DIAGNOSTIC_COLUMNS)


def initial_loss(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Mean loss of a model (untrained, typically) over the given images."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    losses = []
    for start in range(0, len(labels), batch_size):
        predictions = model(np.asarray(images[start : start + batch_size]), training=False)
        losses.append(float(loss_fn(labels[start : start + batch_size], predictions)) * len(predictions))
    return sum(losses) / len(labels)


def overfit_one_batch(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    steps: int,
    learning_rate: float,
    target_accuracy: float = 1.0,
) -> dict:
    """Train on one fixed batch; return the loss and accuracy curves and when (if) it was memorised."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    images, labels = np.asarray(images), np.asarray(labels, dtype=np.int32)
    curve = {"loss": [], "accuracy": []}
    reached = None
    for step in range(1, steps + 1):
        logs = model.train_on_batch(images, labels, return_dict=True)
        curve["loss"].append(float(logs["loss"]))
        curve["accuracy"].append(float(logs["accuracy"]))
        if reached is None and logs["accuracy"] >= target_accuracy:
            reached = step
    return {"steps": steps, "steps_to_overfit": reached, "overfits": reached is not None, **curve}


def run_verdict(history: pd.DataFrame, thresholds: dict, num_classes: int = 10) -> tuple[str, str]:
    """A run's verdict and the reason, judged on training metrics.

    A batch-normalized net's validation accuracy can sit near chance after few
    steps while its moving statistics settle, so 'stuck' looks at the training
    loss and accuracy only.
    """
    chance, plateau = 1 / num_classes, math.log(num_classes)
    losses = history["loss"].to_numpy(dtype=float)
    if not np.all(np.isfinite(losses)):
        epoch = int(history["epoch"].iloc[int(np.argmax(~np.isfinite(losses)))])
        return "diverged", f"non-finite training loss at epoch {epoch}"
    last = history.iloc[-1]
    if (
        abs(last["accuracy"] - chance) < thresholds["chance_band"]
        and abs(last["loss"] - plateau) < thresholds["loss_band"]
    ):
        return (
            "stuck at chance",
            f"train accuracy {last['accuracy']:.3f}, train loss {last['loss']:.3f} (ln {num_classes} = {plateau:.3f})",
        )
    accuracies = f"train accuracy {last['accuracy']:.3f}, validation accuracy {last['val_accuracy']:.3f}"
    if last["accuracy"] <= thresholds["learns_accuracy"]:
        return "undecided", f"{accuracies}: neither stuck at chance nor above {thresholds['learns_accuracy']}"
    gap = last["accuracy"] - last["val_accuracy"]
    if gap > thresholds["overfit_gap"]:
        return "overfits", f"train accuracy exceeds validation accuracy by {gap:.3f}"
    return "learns", accuracies


def preflight_checks(
    model_factory,
    images: np.ndarray,
    labels: np.ndarray,
    settings: dict,
    learning_rate: float,
    seed: int,
    num_classes: int = 10,
) -> dict:
    """Loss at initialisation and the overfit-one-batch test, on class-stratified draws.

    ``model_factory`` returns a freshly initialised model; it is called once, so
    both checks see the same initial weights.
    """
    model = model_factory()
    init_idx = stratified_subset(labels, settings["init_images"], seed)
    loss = initial_loss(model, images[init_idx], labels[init_idx])
    expected = math.log(num_classes)
    batch_idx = stratified_subset(labels, settings["batch"], seed + 1)
    overfit = overfit_one_batch(
        model, images[batch_idx], labels[batch_idx], settings["steps"], learning_rate, settings["overfit_accuracy"]
    )
    initial_ok = abs(loss - expected) <= settings["initial_loss_band"]
    return {
        "initial_loss": loss,
        "expected_initial_loss": expected,
        "initial_loss_ok": bool(initial_ok),
        "init_images": len(init_idx),
        "overfit_batch": len(batch_idx),
        "overfit": overfit,
        "passed": bool(initial_ok and overfit["overfits"]),
    }


class PreflightFailed(RuntimeError):
    """A variant failed its pre-flight checks and the config says not to train it."""


def run_preflight(
    variant: str,
    spec: dict,
    data_dir: str | os.PathLike,
    stats_path: str | os.PathLike,
    seed: int,
    settings: dict,
    subset: dict | None = None,
    subset_seed: int = 0,
) -> dict:
    """The pre-flight checks of one variant on its training images (under the run's subset)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    images, labels = load_subset(data_dir, "train", (subset or {}).get("train"), subset_seed)
    stats = json.loads(Path(stats_path).read_text())
    result = preflight_checks(
        lambda: build_model(spec, images.shape[1:], stats, name=variant),
        images,
        labels,
        settings,
        spec["learning_rate"],
        seed,
    )
    return {"variant": variant, "seed": seed, **result}


def require_preflight(result: dict, stop_failed: bool) -> None:
    """Raise PreflightFailed when the checks failed and the config makes that stop training."""
    if stop_failed and not result["passed"]:
        raise PreflightFailed(
            f"{result['variant']}: pre-flight checks failed (initial loss {result['initial_loss']:.3f}, "
            f"overfit one batch: {result['overfit']['overfits']}); preflight.stop_failed is true"
        )


def preflight_summary(result: dict) -> dict:
    """A pre-flight result without its curves: what metrics.json and the tables keep."""
    keys = ("variant", "initial_loss", "expected_initial_loss", "initial_loss_ok", "passed")
    return {k: result[k] for k in keys} | {
        "overfits": result["overfit"]["overfits"],
        "steps_to_overfit": result["overfit"]["steps_to_overfit"],
        "overfit_steps": result["overfit"]["steps"],
        "final_batch_loss": result["overfit"]["loss"][-1],
        "final_batch_accuracy": result["overfit"]["accuracy"][-1],
    }
