"""Why a network does not learn, seen during training: a Keras callback.

It records, before training and after every epoch, on a fixed probe batch, what
the lecture reasons about: per-layer gradient norms (vanishing gradients),
sigmoid saturation and dead ReLU units.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

DIAGNOSTIC_COLUMNS = ["epoch", "layer", "depth", "statistic", "value"]


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Conv and Dense layers in model order: the depth axis of the gradient plots."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)]


def activation_name(layer: keras.layers.Layer) -> str | None:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in ("sigmoid", "relu") else None


def activation_stats(outputs, activation: str, saturation: float) -> dict[str, tf.Tensor]:
    """Statistics of a layer's activated outputs over a probe batch (first axis), as scalar tensors.

    A sigmoid output counts as saturated within ``saturation`` of 0 or 1.
    """
    outputs = tf.cast(outputs, tf.float32)
    if activation == "sigmoid":
        # sigma'(z) = sigma(z)(1 - sigma(z)): computable from the outputs alone.
        saturated = (outputs < saturation) | (outputs > 1 - saturation)
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
        saturation: float,
        restored: pd.DataFrame | None = None,
        seconds: float = 0.0,
    ):
        """``saturation``: see `activation_stats`; ``restored``, ``seconds``: rows and time before a resume."""
        super().__init__()
        self.saturation = saturation
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
            activation_stats(output, activation_name(layer), self.saturation)
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
