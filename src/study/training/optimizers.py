"""The optimizer a variant's spec names, built in one place for training, pre-flight and bench.

``spec["optimizer"]`` (schema defaults filled in) names Adam, AdamW or SGD with momentum, at
``spec["learning_rate"]``, with an optional linear warm-up from 0 and a constant or cosine rate after it.
The schedule is a function of the optimizer's own step count, which Keras checkpoints with its other
variables, so a resumed run takes exactly the rates an uninterrupted one would.
"""

from __future__ import annotations

import keras

from study.specs import OPTIMIZER_NAMES

# The spec's optimizer before the schema had one: Keras' Adam at the variant's rate, no schedule.
ADAM = {"name": "adam", "warmup_steps": 0, "schedule": "constant"}


def learning_rate(spec: dict, total_steps: int):
    """The variant's rate as Keras takes it: a number when it is constant from the first step, otherwise a
    CosineDecay schedule (with alpha 1 a cosine that never decays: a constant rate after the warm-up)."""
    settings = spec.get("optimizer") or ADAM
    rate, warmup = spec["learning_rate"], settings["warmup_steps"]
    if settings["schedule"] == "constant" and warmup == 0:
        return rate
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else rate,
        decay_steps=max(1, total_steps - warmup),
        alpha=1.0 if settings["schedule"] == "constant" else 0.0,
        warmup_target=rate if warmup else None,
        warmup_steps=warmup,
    )


def build_optimizer(spec: dict, total_steps: int) -> keras.optimizers.Optimizer:
    """A fresh optimizer for a run of ``total_steps`` training steps of the variant ``spec``."""
    settings = spec.get("optimizer") or ADAM
    rate = learning_rate(spec, total_steps)
    if settings["name"] == "sgd":
        return keras.optimizers.SGD(rate, momentum=settings["momentum"])
    if settings["name"] == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=settings["weight_decay"])
    return keras.optimizers.Adam(rate)


def describe(spec: dict) -> str:
    """'SGD (momentum 0.9), warm-up 20 steps, cosine': the optimizer in words, for logs."""
    settings = spec.get("optimizer") or ADAM
    name = OPTIMIZER_NAMES[settings["name"]]
    if settings["name"] == "sgd":
        name += f" (momentum {settings['momentum']:g})"
    if settings["name"] == "adamw":
        name += f" (weight decay {settings['weight_decay']:g})"
    warmup = f", warm-up {settings['warmup_steps']} steps" if settings["warmup_steps"] else ""
    return f"{name} at lr {spec['learning_rate']:g}{warmup}, {settings['schedule']} rate"
