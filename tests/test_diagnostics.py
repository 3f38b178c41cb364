import math

import keras
import numpy as np
import pandas as pd
import pytest

from study.diagnostics import TrainingDiagnostics, activation_stats
from study.preflight import initial_loss, overfit_one_batch
from study.verdicts import PLATEAU_LOSS, diagnostic_signs, plateau_exit, run_cause, run_verdict

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


def test_constant_output_model_has_initial_loss_ln10():
    inputs = keras.Input(shape=(8,))
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")(inputs)
    images, labels = probe(40)
    assert initial_loss(keras.Model(inputs, outputs), images, labels, batch_size=16) == pytest.approx(
        PLATEAU_LOSS, rel=1e-6
    )


def test_activation_stats_by_hand():
    sigmoid = np.array([[0.001, 0.5], [0.999, 0.5]])
    got = {name: float(value) for name, value in activation_stats(sigmoid, "sigmoid", SATURATION).items()}
    assert got["saturated_fraction"] == 0.5
    assert got["mean_sigmoid_derivative"] == pytest.approx(np.mean(sigmoid * (1 - sigmoid)))
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    got = {name: float(value) for name, value in activation_stats(relu, "relu", SATURATION).items()}
    assert got == {"dead_fraction": pytest.approx(1 / 3)}


def test_overfit_one_batch_detects_a_trainable_and_an_untrainable_net():
    images, labels = probe(16)
    good = overfit_one_batch(dense_stack(2, "relu", units=64), images, labels, steps=300, learning_rate=1e-2)
    assert good["overfits"] and good["steps_to_overfit"] <= 300 and len(good["loss"]) == 300
    dead = overfit_one_batch(dense_stack(2, "relu", bias=-100.0), images, labels, steps=50, learning_rate=1e-3)
    assert not dead["overfits"] and dead["steps_to_overfit"] is None


THRESHOLDS = {
    "plateau_margin": 0.05,
    "overfit_gap": 0.15,
    "causes": {"vanishing_gradient_ratio": 0.01, "dead_fraction": 0.9, "saturated_fraction": 0.9},
}


def history(acc=0.5, val_acc=0.45, loss=1.5):
    return pd.DataFrame({"epoch": [1], "loss": [loss], "accuracy": [acc], "val_accuracy": [val_acc]})


def steps(losses, interval=5):
    return pd.DataFrame({"step": [interval * (i + 1) for i in range(len(losses))], "loss": losses})


PLATEAU = [2.31, 2.303, 2.302, 2.304, 2.301, 2.303]


@pytest.mark.parametrize(
    ("losses", "h", "verdict", "exit_step"),
    [
        (PLATEAU, history(0.1, 0.1, 2.303), "stuck", None),
        ([2.3, 2.1, 1.8, 1.5, 1.3], history(), "learns", 10),
        ([2.3, 1.5, 0.8, 0.3], history(0.98, 0.6, 0.1), "overfits", 10),
        ([2.3, 2.0, math.nan], history(), "diverged", None),
        # validation accuracy plays no part in whether a net learns
        ([2.3, 1.9, 1.7], history(0.45, 0.40, loss=1.7), "learns", 10),
        # it dipped below the line once, then fell back onto the plateau
        ([2.30, 2.20, 2.30, 2.302], history(0.1, 0.1, 2.3), "undecided", None),
        # it left, then its loss rose again while staying below the line
        ([2.30, 1.90, 2.20], history(0.2, 0.2, 2.2), "undecided", 10),
    ],
    ids=["stuck", "learns", "overfits", "diverged", "learns-validation-unused", "fell-back", "rose-again"],
)
def test_verdicts_come_from_the_loss_trajectory(losses, h, verdict, exit_step):
    got, _, left = run_verdict(h, steps(losses), THRESHOLDS)
    assert (got, left) == (verdict, exit_step)


def test_a_run_that_leaves_the_plateau_late_is_not_counted_as_stuck():
    # 95 steps on the plateau, then below the line for the last two windows, accuracy still near chance:
    # a final-accuracy threshold (the old rule: above 0.2) would not have called it learning
    late = steps([*PLATEAU * 3, 2.303, 2.20, 2.10])
    verdict, reason, left = run_verdict(history(0.12, 0.11, 2.2), late, THRESHOLDS)
    assert verdict == "learns" and left == 100
    assert plateau_exit(late, THRESHOLDS) == 100 and "step 100 of 105" in reason


@pytest.mark.parametrize(
    ("signs", "cause"),
    [
        ({"gradient_ratio": 1e-5, "dead_fraction": math.nan, "saturated_fraction": 0.95}, "vanishing gradients"),
        ({"gradient_ratio": 0.5, "dead_fraction": 0.95, "saturated_fraction": math.nan}, "dead units"),
        ({"gradient_ratio": 0.5, "dead_fraction": math.nan, "saturated_fraction": 0.95}, "saturation"),
        ({"gradient_ratio": 0.5, "dead_fraction": 0.2, "saturated_fraction": math.nan}, "none"),
    ],
)
def test_the_cause_is_the_first_sign_over_its_threshold(signs, cause):
    assert run_cause(signs, THRESHOLDS) == cause


def test_diagnostic_signs_read_the_last_epoch():
    rows = [
        (0, "conv1", 1, "gradient_norm", 1.0),
        (0, "dense", 2, "gradient_norm", 1.0),
        (3, "conv1", 1, "gradient_norm", 1e-6),
        (3, "dense", 2, "gradient_norm", 0.5),
        (3, "conv1", 1, "dead_fraction", 0.97),
    ]
    table = pd.DataFrame(rows, columns=["epoch", "layer", "depth", "statistic", "value"])
    signs = diagnostic_signs(table)
    assert signs["gradient_ratio"] == pytest.approx(2e-6)
    assert signs["dead_fraction"] == 0.97 and math.isnan(signs["saturated_fraction"])
