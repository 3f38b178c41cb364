"""Ending a run once it is dead: a Keras callback.

Once no ReLU of some layer fires for any image, no gradient reaches that layer or any weighted layer below it,
and the layers above see the same zeros whatever the image: the net can only learn the labels' frequencies,
and sits at chance. Only the optimizer's decaying momentum still moves the weights below, so the state seldom
changes. Every few steps the run is checked on the diagnostics' probe batch, in inference mode, and after
several dead checks in a row it ends there. How often such runs recover when they go on is measured by runs with
the stop off (docs/method.md).

Nets with batch normalization are not checked: their inference mode normalises with the moving statistics, not
with the batch statistics their training sees, so a layer dead there may be alive in training.
"""

from __future__ import annotations

import time

import keras

from study.specs import UNIT_HEALTH
from study.training.diagnostics import TrainingDiagnostics, activation_name


def dead_layer(layer_names: list[str], gradient_norms: list[float], dead_fractions: dict[str, float]) -> str | None:
    """The lowest layer whose units are all dead on the probe batch (dead fraction exactly 1) while its kernel and
    every kernel below it have an exactly zero gradient; None when no layer is.

    ``layer_names`` and ``gradient_norms``: the weighted layers in model order (the diagnostics' depth order);
    ``dead_fractions``: the ReLU-family layers' dead fractions, by name. A dead layer that a skip connection
    bypasses leaves gradients below it, so it does not count.
    """
    for depth, name in enumerate(layer_names):
        if dead_fractions.get(name) == 1.0:
            return name if all(norm == 0.0 for norm in gradient_norms[: depth + 1]) else None
    return None


class DeadRunStop(keras.callbacks.Callback):
    """Every ``check_every_steps`` training steps, whether the run is dead (`dead_layer`), recorded as a check; after
    ``consecutive_checks`` dead checks in a row, with ``stop`` on, training ends after that step (Keras still
    closes the epoch: its history row, validation and checkpoint are the stopped net's).

    ``checks`` and ``stopped``: what a resumed run had recorded, so that the count goes on where it was.
    """

    def __init__(self, diagnostics: TrainingDiagnostics, settings: dict, checks: list[dict], stopped: dict | None):
        super().__init__()
        self.diagnostics = diagnostics
        self.stop, self.every = settings["stop"], settings["check_every_steps"]
        self.needed = settings["consecutive_checks"]
        self.checks, self.stopped = list(checks), stopped

    def set_model(self, model):
        super().set_model(model)
        self.applies = not self.diagnostics.batchnorms
        self.dead_units = [
            layer.name
            for layer in self.diagnostics.activated
            if UNIT_HEALTH.get(activation_name(layer)) == "dead_fraction"
        ]

    def on_epoch_begin(self, epoch, logs=None):
        self.first_step = epoch * self.params["steps"]

    def on_train_batch_end(self, batch, logs=None):
        step = self.first_step + batch + 1  # with steps_per_execution, batch is the group's last
        if not self.applies or not self.dead_units or step < self.next_check():
            return
        self.checks.append({"step": step, "dead_layer": self.check()})
        # the first step the rule is met at is this one: a run that met it before has stopped, or has the stop off
        if self.stop and self.stopped is None and rule_met_at(self.checks, self.needed) is not None:
            self.stopped = {"step": step, "layer": self.checks[-1]["dead_layer"], "checks": self.needed}
            self.model.stop_training = True

    def next_check(self) -> int:
        last = self.checks[-1]["step"] if self.checks else 0
        return (last // self.every + 1) * self.every

    def check(self) -> str | None:
        start = time.perf_counter()
        if hasattr(self.model, "jax_state_sync"):  # JAX keeps the weights apart until asked
            self.model.jax_state_sync()
        _, gradient_norms, activations = self.diagnostics.probe(
            self.diagnostics.probe_images, self.diagnostics.probe_labels
        )
        self.diagnostics.seconds += time.perf_counter() - start  # counted with the diagnostics' cost
        dead = {
            layer.name: float(statistics["dead_fraction"])
            for layer, statistics in zip(self.diagnostics.activated, activations, strict=True)
            if layer.name in self.dead_units
        }
        names = [layer.name for layer in self.diagnostics.layers]
        return dead_layer(names, [float(norm) for norm in gradient_norms], dead)

    def record(self) -> dict:
        """What the run's metrics.json keeps: the settings' effect as facts, every check, and where it ended."""
        return {
            "checked": self.applies and bool(self.dead_units),
            "checks": self.checks,
            "rule_met_at_step": rule_met_at(self.checks, self.needed),
            "stopped": self.stopped,
        }


def rule_met_at(checks: list[dict], needed: int) -> int | None:
    """The first step at which ``needed`` checks in a row had found the run dead, whether or not it stopped."""
    streak = 0
    for check in checks:
        streak = streak + 1 if check["dead_layer"] else 0
        if streak >= needed:
            return check["step"]
    return None
