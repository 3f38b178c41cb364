"""Cheap checks of a variant before it trains, after Karpathy's "A Recipe for Training Neural Networks".

The loss at initialisation should be near ln(classes) for balanced classes, and a
net that cannot overfit one small batch has a problem no amount of data fixes.
This job records what it measured; whether a result passed is judged on the tables
side (`study.analysis.outcomes.judge_preflight`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from study.data.prepare import load_subset, read_meta, stratified_subset
from study.training.models import build_model
from study.training.optimizers import build_optimizer
from study.training.run import Run
from study.training.runtime import seed_everything


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
    spec: dict,
) -> dict:
    """Train on one fixed batch for ``steps`` steps with the variant's optimizer (its warm-up as in training,
    its cosine over these steps); return its loss and accuracy curves."""
    model.compile(optimizer=build_optimizer(spec, steps), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels = np.asarray(images), np.asarray(labels, dtype=np.int32)
    curve = {"loss": [], "accuracy": []}
    for _ in range(steps):
        logs = model.train_on_batch(images, labels, return_dict=True)
        curve["loss"].append(float(logs["loss"]))
        curve["accuracy"].append(float(logs["accuracy"]))
    return {"steps": steps, **curve}


def preflight_checks(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, settings: dict, spec: dict, seed: int
) -> dict:
    """Loss at initialisation and the overfit-one-batch test of a fresh ``model``, on class-stratified draws.

    Both checks see the same initial weights: the loss is measured before the
    model trains on the batch.
    """
    init_idx = stratified_subset(labels, settings["init_images"], seed)
    loss = initial_loss(model, images[init_idx], labels[init_idx])
    batch_idx = stratified_subset(labels, settings["batch"], seed + 1)
    overfit = overfit_one_batch(model, images[batch_idx], labels[batch_idx], settings["steps"], spec)
    return {"initial_loss": loss, "init_images": len(init_idx), "overfit_batch": len(batch_idx), "overfit": overfit}


def run_preflight(run: Run, settings: dict, data_dir: str | os.PathLike, stats_path: str | os.PathLike) -> dict:
    """The pre-flight checks of a run's variant on its training images (under the run's subset).

    They run in float32 whatever the run's precision: they test the architecture,
    not the arithmetic.
    """
    seed_everything(run.seed)
    images, labels = load_subset(data_dir, "train", run.subset.get("train"), run.subset_seed)
    stats = json.loads(Path(stats_path).read_text())
    classes = read_meta(data_dir)["classes"]
    model = build_model(run.spec, images.shape[1:], stats, classes=classes, name=run.variant)
    result = preflight_checks(model, images, labels, settings, run.spec, run.seed)
    return {"variant": run.variant, "seed": run.seed, "classes": classes, **result}
