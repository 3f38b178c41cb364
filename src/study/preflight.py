"""Cheap checks of a variant before it trains, after Karpathy's "A Recipe for Training Neural Networks".

The loss at initialisation should be near ln 10 for 10 balanced classes, and a
net that cannot overfit one small batch has a problem no amount of data fixes.
Whether a result passed, and what the tables keep of it, is `study.verdicts`'.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from study.datasets import load_subset, stratified_subset
from study.models import build_model
from study.run import Run
from study.runtime import seed_everything
from study.verdicts import PLATEAU_LOSS


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


def preflight_checks(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, settings: dict, learning_rate: float, seed: int
) -> dict:
    """Loss at initialisation and the overfit-one-batch test of a fresh ``model``, on class-stratified draws.

    Both checks see the same initial weights: the loss is measured before the
    model trains on the batch.
    """
    init_idx = stratified_subset(labels, settings["init_images"], seed)
    loss = initial_loss(model, images[init_idx], labels[init_idx])
    batch_idx = stratified_subset(labels, settings["batch"], seed + 1)
    overfit = overfit_one_batch(
        model, images[batch_idx], labels[batch_idx], settings["steps"], learning_rate, settings["overfit_accuracy"]
    )
    initial_ok = abs(loss - PLATEAU_LOSS) <= settings["initial_loss_band"]
    return {
        "initial_loss": loss,
        "expected_initial_loss": PLATEAU_LOSS,
        "initial_loss_ok": bool(initial_ok),
        "init_images": len(init_idx),
        "overfit_batch": len(batch_idx),
        "overfit": overfit,
        "passed": bool(initial_ok and overfit["overfits"]),
    }


def run_preflight(run: Run, settings: dict, data_dir: str | os.PathLike, stats_path: str | os.PathLike) -> dict:
    """The pre-flight checks of a run's variant on its training images (under the run's subset).

    They run in float32 whatever the run's precision: they test the architecture,
    not the arithmetic.
    """
    seed_everything(run.seed)
    images, labels = load_subset(data_dir, "train", run.subset.get("train"), run.subset_seed)
    stats = json.loads(Path(stats_path).read_text())
    model = build_model(run.spec, images.shape[1:], stats, name=run.variant)
    result = preflight_checks(model, images, labels, settings, run.spec["learning_rate"], run.seed)
    return {"variant": run.variant, "seed": run.seed, **result}
