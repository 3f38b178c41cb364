"""The runs in the trackers researchers already read: TensorBoard's HParams dashboard (always) and an MLflow
tracking server (when the config names one). Trackers get copies; the study's own files stay the record."""

from __future__ import annotations


def run_settings(run: dict) -> dict[str, object]:
    """What defines a run (study.training.run.Run as a dict), as a tracker shows it: one flat value per key."""
    spec, training = run["spec"], run["training"]
    return {
        "variant": run["variant"],
        "seed": int(run["seed"]),
        "dataset": spec["dataset"],
        "width": float(spec["width"]),
        "learning_rate": float(spec["learning_rate"]),
        "batch_size": int(spec["batch_size"]),
        "epochs": int(spec["epochs"]),
        "optimizer": spec.get("optimizer", {}).get("name", "adam"),
        "initializer": spec["initializer"],
        "batch_norm": bool(spec["batchnorm"]),
        # runs trained before the setting existed kept Keras' default
        "batch_norm_momentum": float(spec.get("batchnorm_momentum", 0.99)),
        "skip": bool(spec["skip"]),
        "activation": spec["activation"],
        "precision": training["precision"],
        "backend": training["backend"],
        # runs trained before the dead-run stop existed went on to the end
        "dead_run_stop": bool(run.get("dead_runs", {}).get("stop", False)),
    }
