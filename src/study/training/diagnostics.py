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
from keras import ops

from study.specs import UNIT_HEALTH

DIAGNOSTIC_COLUMNS = ["epoch", "layer", "depth", "statistic", "value"]


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Conv and Dense layers in model order: the depth axis of the gradient plots."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)]


def activation_name(layer: keras.layers.Layer) -> str | None:
    """The layer's activation when the diagnostics count its units' health (study.specs.UNIT_HEALTH)."""
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in UNIT_HEALTH else None


def activation_stats(outputs, activation: str, saturation: float) -> dict:
    """Statistics of a layer's activated outputs over a probe batch (first axis), as scalar tensors.

    A sigmoid output counts as saturated within ``saturation`` of 0 or 1; a tanh output, tanh(x) =
    2 sigmoid(2x) - 1, within 2 ``saturation`` of -1 or 1, where its derivative is as small.
    """
    outputs = ops.cast(outputs, "float32")
    if activation == "tanh":
        saturated = ops.abs(outputs) > 1 - 2 * saturation
        return {
            "saturated_fraction": ops.mean(ops.cast(saturated, "float32")),
            "mean_tanh_derivative": ops.mean(1 - outputs * outputs),
        }
    if activation == "sigmoid":
        # sigma'(z) = sigma(z)(1 - sigma(z)): computable from the outputs alone.
        saturated = ops.logical_or(outputs < saturation, outputs > 1 - saturation)
        return {
            "saturated_fraction": ops.mean(ops.cast(saturated, "float32")),
            "mean_sigmoid_derivative": ops.mean(outputs * (1 - outputs)),
        }
    if UNIT_HEALTH.get(activation) == "dead_fraction":
        # A unit (one channel at one position, or one Dense neuron) is dead when it is at most zero for every
        # image of the batch: a ReLU passes no gradient there, a leaky ReLU only its small negative slope.
        return {"dead_fraction": ops.mean(ops.cast(ops.all(outputs <= 0, axis=0), "float32"))}
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
        self.probe_images = ops.convert_to_tensor(np.asarray(probe_images))
        self.probe_labels = ops.convert_to_tensor(np.asarray(probe_labels, dtype=np.int32))
        self.rows: list[dict] = [] if restored is None else restored.to_dict("records")
        self.seconds = seconds
        self._before_last_step: dict[str, np.ndarray] = {}

    def set_model(self, model):
        super().set_model(model)
        self.layers = weighted_layers(model)
        self.activated = [layer for layer in self.layers if activation_name(layer)]
        self.probe_model = keras.Model(model.inputs, [model.output, *(layer.output for layer in self.activated)])
        self.batchnorms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        self.batchnorm_inputs = (
            keras.Model(model.inputs, [layer.input for layer in self.batchnorms]) if self.batchnorms else None
        )
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        # One compiled pass: run eagerly, a record cost 4-7 bf16 training steps.
        self.probe = jax_probe(self) if keras.backend.backend() == "jax" else tensorflow_probe(self)

    def activation_statistics(self, outputs) -> list[dict]:
        return [
            activation_stats(output, activation_name(layer), self.saturation)
            for layer, output in zip(self.activated, outputs, strict=True)
        ]

    def on_train_begin(self, logs=None):
        if not self.rows:  # a resumed run has its epoch-0 rows already
            self.record(0)

    def on_train_batch_begin(self, batch, logs=None):
        # Only the weights before the epoch's last step (or last group of steps, with
        # steps_per_execution) are kept, for the update-to-weight ratio.
        last = (self.params.get("steps") or 0) - 1
        if batch <= last < batch + getattr(self.model, "steps_per_execution", 1):
            start = time.perf_counter()
            if hasattr(self.model, "jax_state_sync"):  # JAX keeps the weights apart until asked
                self.model.jax_state_sync()
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
        self.record_batchnorm_lag(epoch, depth_of)
        self._before_last_step = {}  # an epoch that ends early (a dead run) has no last-step update of its own
        self.seconds += time.perf_counter() - start

    def record_batchnorm_lag(self, epoch: int, depth_of: dict[str, int]) -> None:
        """How far each batch-norm layer's moving statistics lag its inputs' statistics on the probe batch (in
        inference mode): the mean over channels of |batch mean - moving mean| / batch std, and of the moving
        variance over the batch variance. Inference mode normalises with the moving statistics, so a large lag
        is why a net that learns in training mode can sit at chance when evaluated."""
        if self.batchnorm_inputs is None:
            return
        inputs = self.batchnorm_inputs(self.probe_images, training=False)
        inputs = inputs if isinstance(inputs, list | tuple) else [inputs]
        names = [layer.name for layer in self.model.layers]
        for layer, x in zip(self.batchnorms, inputs, strict=True):
            x = np.asarray(ops.convert_to_numpy(x), dtype=np.float64).reshape(-1, x.shape[-1])
            mean, variance = x.mean(axis=0), x.var(axis=0)
            moving_mean = np.asarray(layer.moving_mean, dtype=np.float64)
            moving_variance = np.asarray(layer.moving_variance, dtype=np.float64)
            std = np.sqrt(variance + layer.epsilon)
            # the depth of the weighted layer it normalises: the nearest one before it in the model
            before = [depth_of.get(name) for name in names[: names.index(layer.name)]]
            depth = max((d for d in before if d is not None), default=0)
            lag = float(np.mean(np.abs(mean - moving_mean) / std))
            ratio = float(np.mean((moving_variance + layer.epsilon) / (variance + layer.epsilon)))
            self.add(epoch, layer.name, depth, "batchnorm_mean_lag", lag)
            self.add(epoch, layer.name, depth, "batchnorm_variance_ratio", ratio)

    def add(self, epoch, layer, depth, statistic, value):
        self.rows.append({"epoch": epoch, "layer": layer, "depth": depth, "statistic": statistic, "value": value})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=DIAGNOSTIC_COLUMNS)


def tensorflow_probe(callback: TrainingDiagnostics):
    """The callback's probe pass under TensorFlow: loss, kernel gradient norms and activation statistics."""
    import tensorflow as tf

    kernels = [layer.kernel for layer in callback.layers]

    def statistics(images, labels):
        with tf.GradientTape() as tape:
            predictions, *outputs = tf.nest.flatten(callback.probe_model(images, training=False))
            loss = callback.loss_fn(labels, predictions)
        gradients = tape.gradient(loss, kernels)
        norms = [tf.norm(tf.cast(g, tf.float32)) if g is not None else tf.constant(0.0) for g in gradients]
        return loss, norms, callback.activation_statistics(outputs)

    return tf.function(statistics)


def jax_probe(callback: TrainingDiagnostics):
    """The same pass under JAX: a jitted value-and-gradient of the probe model's stateless call."""
    import jax
    import jax.numpy as jnp

    model = callback.probe_model
    position = {id(variable): i for i, variable in enumerate(model.trainable_variables)}
    kernels = [position[id(layer.kernel)] for layer in callback.layers]

    def loss_and_outputs(trainable, non_trainable, images, labels):
        (predictions, *outputs), _ = model.stateless_call(trainable, non_trainable, images, training=False)
        return callback.loss_fn(labels, predictions), outputs

    @jax.jit
    def statistics(trainable, non_trainable, images, labels):
        (loss, outputs), gradients = jax.value_and_grad(loss_and_outputs, has_aux=True)(
            trainable, non_trainable, images, labels
        )
        norms = [jnp.linalg.norm(gradients[i].astype(jnp.float32)) for i in kernels]
        return loss, norms, callback.activation_statistics(outputs)

    def probe(images, labels):
        trainable = [variable.value for variable in model.trainable_variables]
        non_trainable = [variable.value for variable in model.non_trainable_variables]
        return statistics(trainable, non_trainable, images, labels)

    return probe
