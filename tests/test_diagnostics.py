import math

import keras
import numpy as np
import pytest

from study.training.diagnostics import TrainingDiagnostics, activation_stats
from study.training.preflight import initial_loss, overfit_one_batch

SATURATION = 0.01


def probe(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)).astype("float32"), (np.arange(n) % 10).astype("int32")


def dense_stack(depth, activation, units=16, bias=0.0, scale=None):
    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomNormal(stddev=scale) if scale else "glorot_uniform"
    inputs = keras.Input(shape=(8,))
    x = inputs
    for i in range(depth):
        x = keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=init,
            bias_initializer=keras.initializers.Constant(bias),
            name=f"hidden{i + 1}",
        )(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def diagnostics_of(model, images, labels, epochs=1):
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    callback = TrainingDiagnostics(images, labels, SATURATION)
    model.fit(images, labels, epochs=epochs, batch_size=8, verbose=0, callbacks=[callback])
    return callback.table()


def first_to_last_gradient_ratio(table):
    grads = table[(table.epoch == 0) & (table.statistic == "gradient_norm")].set_index("layer")["value"]
    return grads["hidden1"] / grads["predictions"]


def test_deep_saturated_sigmoid_stack_has_vanishing_first_layer_gradients():
    images, labels = probe()
    sigmoid = diagnostics_of(dense_stack(10, "sigmoid", scale=4.0), images * 5, labels)
    relu = diagnostics_of(dense_stack(10, "relu"), images, labels)
    assert first_to_last_gradient_ratio(sigmoid) < 1e-2
    assert first_to_last_gradient_ratio(relu) > 10 * first_to_last_gradient_ratio(sigmoid)
    at_init = sigmoid[sigmoid.epoch == 0]
    assert at_init[at_init.statistic == "saturated_fraction"]["value"].mean() > 0.5
    assert (at_init[at_init.statistic == "mean_sigmoid_derivative"]["value"] < 0.1).all()


def test_relu_layer_with_large_negative_bias_is_all_dead():
    images, labels = probe()
    table = diagnostics_of(dense_stack(1, "relu", bias=-100.0), images, labels)
    dead = table[table.statistic == "dead_fraction"].set_index(["epoch", "layer"])["value"]
    assert dead[(0, "hidden1")] == 1.0
    assert dead[(1, "hidden1")] == 1.0


def test_records_every_epoch_and_update_ratios():
    images, labels = probe()
    table = diagnostics_of(dense_stack(2, "relu"), images, labels, epochs=2)
    assert sorted(table.epoch.unique()) == [0, 1, 2]
    ratios = table[table.statistic == "update_ratio"]
    assert set(ratios.epoch) == {1, 2}
    assert (ratios["value"] > 0).all() and (ratios["value"] < 1).all()
    assert list(table[table.epoch == 0].drop_duplicates("layer").sort_values("depth")["layer"])[:3] == [
        "model",
        "hidden1",
        "hidden2",
    ]


@pytest.mark.parametrize("classes", [10, 100])
def test_a_model_that_predicts_every_class_alike_has_initial_loss_ln_classes(classes):
    inputs = keras.Input(shape=(8,))
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_initializer="zeros")(inputs)
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(40, 8)).astype("float32"), rng.integers(0, classes, 40).astype("int32")
    loss = initial_loss(keras.Model(inputs, outputs), images, labels, batch_size=16)
    assert loss == pytest.approx(math.log(classes), rel=1e-6)


def test_activation_stats_by_hand():
    sigmoid = np.array([[0.001, 0.5], [0.999, 0.5]])
    got = {name: float(value) for name, value in activation_stats(sigmoid, "sigmoid", SATURATION).items()}
    assert got["saturated_fraction"] == 0.5
    assert got["mean_sigmoid_derivative"] == pytest.approx(np.mean(sigmoid * (1 - sigmoid)))
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    got = {name: float(value) for name, value in activation_stats(relu, "relu", SATURATION).items()}
    assert got == {"dead_fraction": pytest.approx(1 / 3)}
    leaky = np.array([[-0.2, 1.0, -0.1], [-0.4, -0.3, 2.0]])  # a unit negative for every image passes little
    got = {name: float(value) for name, value in activation_stats(leaky, "leaky_relu", SATURATION).items()}
    assert got == {"dead_fraction": pytest.approx(1 / 3)}
    tanh = np.array([[0.999, 0.0], [-0.999, 0.5]])  # saturated beyond 1 - 2 * 0.01
    got = {name: float(value) for name, value in activation_stats(tanh, "tanh", SATURATION).items()}
    assert got["saturated_fraction"] == 0.5
    assert got["mean_tanh_derivative"] == pytest.approx(np.mean(1 - tanh**2))
    assert activation_stats(relu, "gelu", SATURATION) == {}, "no unit statistic for a smooth activation"


def test_overfit_one_batch_records_the_curves_of_a_trainable_and_an_untrainable_net():
    images, labels = probe(16)
    good = overfit_one_batch(dense_stack(2, "relu", units=64), images, labels, steps=300, spec={"learning_rate": 1e-2})
    assert len(good["loss"]) == len(good["accuracy"]) == 300 and max(good["accuracy"]) == 1.0
    dead = overfit_one_batch(
        dense_stack(2, "relu", bias=-100.0), images, labels, steps=50, spec={"learning_rate": 1e-3}
    )
    assert good["steps"] == 300 and max(dead["accuracy"]) < 1.0


def test_batchnorm_records_how_far_its_moving_statistics_lag_its_batch_statistics():
    # inputs far from the moving statistics' starting point (mean 0, variance 1): after one short epoch at
    # Keras' default momentum 0.99 the moving mean has barely moved, so inference mode normalises with a lag
    keras.utils.set_random_seed(0)
    images, labels = probe()
    images = images * 3 + 20
    inputs = keras.Input(shape=(8,))
    x = keras.layers.Dense(16, name="hidden1")(inputs)
    x = keras.layers.BatchNormalization(name="hidden1_bn")(x)
    x = keras.layers.Activation("relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    table = diagnostics_of(keras.Model(inputs, outputs), images, labels)
    lag = table[(table.statistic == "batchnorm_mean_lag") & (table.layer == "hidden1_bn")]
    assert list(lag.epoch) == [0, 1] and (lag.depth == 1).all()
    assert lag.value.iloc[-1] > 1.0  # more than a batch standard deviation off
    ratio = table[table.statistic == "batchnorm_variance_ratio"]["value"]
    assert len(ratio) == 2 and np.isfinite(ratio).all()
    plain = diagnostics_of(dense_stack(2, "relu"), *probe())
    assert not plain.statistic.str.startswith("batchnorm").any()
