"""Build the lecture's CNNs from a variant spec (config data, not code).

A spec names its blocks (each a list of conv filter counts; every conv is
3×3, stride 1, padding 'same'; every block ends in 2×2 max-pooling), its
activation, its Dense head, how inputs are normalized and which of the
lecture's fixes are on: batch normalization after each conv, He
initialization, and the skip connection (a strided 3×3 conv of the block's
input added to the pooled block output).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import layers, ops

from study.specs import conv_filters

MIXED_PRECISIONS = ("mixed_bfloat16", "mixed_float16")


def _sigmoid_in_float32(x):
    return ops.cast(ops.sigmoid(ops.cast(x, "float32")), x.dtype)


@functools.cache
def _fused_sigmoid():
    """Under TensorFlow, the float32 sigmoid as one XLA-compiled kernel; JAX compiles the whole step anyway."""
    if keras.backend.backend() != "tensorflow":
        return _sigmoid_in_float32
    import tensorflow as tf

    return tf.function(_sigmoid_in_float32, jit_compile=True)


@keras.saving.register_keras_serializable(package="study")
def sigmoid(x):
    """The logistic sigmoid for mixed precision: one XLA-fused float32 kernel, forward and backward.

    In bfloat16, TensorFlow's own sigmoid and its gradient run as separate,
    slow elementwise passes: they took 55 ms of a 155 ms step of the 2-conv
    CIFAR net (Intel CPU, AMX), against 25 ms in float32. Fused, the net trains
    1.3x faster than with them. Named `sigmoid`, as the diagnostics look for it.
    """
    return _fused_sigmoid()(x)


def activation_function(name: str, precision: str):
    """The Keras activation for a spec's ``name`` under ``precision``."""
    return sigmoid if name == "sigmoid" and precision in MIXED_PRECISIONS else name


def input_layers(inputs, spec: dict, stats: dict | None, precision: str):
    """Scale or standardize uint8 pixels inside the model (Rescaling casts them to float)."""
    if spec["normalization"] == "scale01":
        return layers.Rescaling(1.0 / 255.0, name="scale01", dtype=precision)(inputs)
    if spec["normalization"] == "standardize":
        if stats is None:
            raise ValueError("a 'standardize' variant needs the dataset's channel statistics")
        mean, std = np.asarray(stats["mean"], "float32"), np.asarray(stats["std"], "float32")
        return layers.Rescaling(scale=1.0 / std, offset=-mean / std, name="standardize", dtype=precision)(inputs)
    raise ValueError(f"unknown normalization {spec['normalization']!r}")


def build_model(
    spec: dict,
    input_shape: tuple[int, ...],
    stats: dict | None = None,
    *,
    classes: int,
    name: str = "model",
    precision: str = "float32",
    pixels: str = "uint8",
) -> keras.Model:
    """The Keras model a variant spec describes (functional API, uncompiled), with a ``classes``-way softmax.

    ``pixels``: "uint8", the study's way, scales or standardizes raw pixels inside the model; "scaled" takes
    floats the caller already divided by 255, the lecture's way (``x / 255.0`` before ``fit``).

    ``precision`` is the layers' Keras dtype policy, e.g. "mixed_bfloat16": its
    variables stay float32 while it computes in bfloat16.
    """
    conv_options = {
        "kernel_size": 3,
        "padding": "same",
        "activation": activation_function(spec["activation"], precision),
        "kernel_initializer": spec["initializer"],
        "dtype": precision,
    }
    if pixels == "scaled" and spec["normalization"] != "scale01":
        raise ValueError("pixels scaled by the caller fit only a 'scale01' variant")
    inputs = keras.Input(shape=input_shape, dtype="uint8" if pixels == "uint8" else "float32", name="pixels")
    x = input_layers(inputs, spec, stats, precision) if pixels == "uint8" else inputs
    for b, filters in enumerate(conv_filters(spec), start=1):
        block_input = x
        for c, f in enumerate(filters, start=1):
            x = layers.Conv2D(f, name=f"block{b}_conv{c}", **conv_options)(x)
            if spec["batchnorm"]:
                x = layers.BatchNormalization(
                    momentum=spec["batchnorm_momentum"], name=f"block{b}_bn{c}", dtype=precision
                )(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool", dtype=precision)(x)
        if spec["skip"]:
            residual = layers.Conv2D(filters[-1], strides=2, name=f"block{b}_skip", **conv_options)(block_input)
            x = layers.add([x, residual], name=f"block{b}_add", dtype=precision)
    x = layers.Flatten(name="flatten", dtype=precision)(x)
    for d, units in enumerate(spec["dense"], start=1):
        x = layers.Dense(
            units,
            activation=activation_function(spec["activation"], precision),
            kernel_initializer=spec["initializer"],
            name=f"dense{d}",
            dtype=precision,
        )(x)
    # The softmax stays float32 under a mixed-precision policy, for a stable loss.
    outputs = layers.Dense(
        classes, activation="softmax", kernel_initializer=spec["initializer"], name="predictions", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def vgg16_imagenet_reference() -> keras.Model:
    """The lecture's first reference count: Keras' VGG16 at 244×244×3 with 10 classes."""
    return keras.applications.VGG16(input_shape=(244, 244, 3), classes=10, weights=None)


def vgg16_cifar_reference() -> keras.Model:
    """The lecture's "VGG16-like for CIFAR-10" (Sequential, ReLU, Dense 256-256-10)."""
    model = keras.Sequential([keras.Input(shape=(32, 32, 3))], name="vgg16_like_cifar10")
    for convs, filters in zip([2, 2, 3, 3, 3], [64, 256, 512, 512, 512], strict=True):
        for _ in range(convs):
            model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(256, activation="relu"))
    model.add(layers.Dense(256, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


# name -> (builder, the lecture's printed total)
REFERENCE_MODELS = {
    "VGG16 (Keras, 244x244x3, 10 classes)": (vgg16_imagenet_reference, 134_301_514),
    "VGG16-like for CIFAR-10": (vgg16_cifar_reference, 21_034_826),
}


def count_params(spec: dict, input_shape: tuple[int, ...], classes: int) -> int:
    """Weights of a variant's model; counting needs no data (standardization is a weightless rescaling)."""
    channels = input_shape[-1]
    placeholder_stats = {"mean": [0.0] * channels, "std": [1.0] * channels}
    count = build_model(spec, input_shape, placeholder_stats, classes=classes).count_params()
    keras.backend.clear_session()
    return count


def variant_counts(variants: dict[str, dict], datasets: dict[str, dict]) -> dict[str, tuple[str, int]]:
    """name -> (dataset, count) for each variant, built at its dataset's image shape and class count
    (``datasets``: name -> its meta.json)."""
    counts = {}
    for name, spec in variants.items():
        meta = datasets[spec["dataset"]]
        counts[name] = (spec["dataset"], count_params(spec, tuple(meta["train"]["shape"]), meta["classes"]))
    return counts


def reference_counts() -> dict[str, tuple[int, int]]:
    """Each reference model's count as Keras builds it, beside the lecture's printed total."""
    counts = {}
    for name, (builder, lecture_count) in REFERENCE_MODELS.items():
        counts[name] = (builder().count_params(), lecture_count)
        keras.backend.clear_session()
    return counts
