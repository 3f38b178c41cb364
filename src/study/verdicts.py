"""What a run's outputs say: its verdict, and whether its variant passed the pre-flight checks.

Pure pandas and NumPy: the tables side reads these without loading TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from study.datasets import NUM_CLASSES

CHANCE_ACCURACY = 1 / NUM_CLASSES
PLATEAU_LOSS = math.log(NUM_CLASSES)  # the loss of a net that predicts every class alike


def run_verdict(history: pd.DataFrame, thresholds: dict) -> tuple[str, str]:
    """A run's verdict and the reason, judged on training metrics.

    A batch-normalized net's validation accuracy can sit near chance after few
    steps while its moving statistics settle, so 'stuck' looks at the training
    loss and accuracy only.
    """
    losses = history["loss"].to_numpy(dtype=float)
    if not np.all(np.isfinite(losses)):
        epoch = int(history["epoch"].iloc[int(np.argmax(~np.isfinite(losses)))])
        return "diverged", f"non-finite training loss at epoch {epoch}"
    last = history.iloc[-1]
    if (
        abs(last["accuracy"] - CHANCE_ACCURACY) < thresholds["chance_band"]
        and abs(last["loss"] - PLATEAU_LOSS) < thresholds["loss_band"]
    ):
        return (
            "stuck at chance",
            f"train accuracy {last['accuracy']:.3f}, train loss {last['loss']:.3f} "
            f"(ln {NUM_CLASSES} = {PLATEAU_LOSS:.3f})",
        )
    accuracies = f"train accuracy {last['accuracy']:.3f}, validation accuracy {last['val_accuracy']:.3f}"
    if last["accuracy"] <= thresholds["learns_accuracy"]:
        return "undecided", f"{accuracies}: neither stuck at chance nor above {thresholds['learns_accuracy']}"
    gap = last["accuracy"] - last["val_accuracy"]
    if gap > thresholds["overfit_gap"]:
        return "overfits", f"train accuracy exceeds validation accuracy by {gap:.3f}"
    return "learns", accuracies


def verdict_rules(thresholds: dict) -> list[str]:
    """The verdicts in words, with the thresholds a run was judged by."""
    return [
        f"*stuck at chance*: final train accuracy within {thresholds['chance_band']} of {CHANCE_ACCURACY:.2f} "
        f"and train loss within {thresholds['loss_band']} of ln {NUM_CLASSES} ≈ {PLATEAU_LOSS:.3f}",
        f"*learns*: final train accuracy above {thresholds['learns_accuracy']}",
        f"*overfits*: a learning net whose train accuracy exceeds its validation accuracy by more than "
        f"{thresholds['overfit_gap']}",
        f"*undecided*: neither stuck nor above {thresholds['learns_accuracy']} at this budget",
        "*diverged*: a NaN or infinite training loss",
    ]


class PreflightFailed(RuntimeError):
    """A variant failed its pre-flight checks and the config says not to train it."""


def require_preflight(result: dict, stop_failed: bool) -> None:
    """Raise PreflightFailed when the checks failed and the config makes that stop training."""
    if stop_failed and not result["passed"]:
        raise PreflightFailed(
            f"{result['variant']}: pre-flight checks failed (initial loss {result['initial_loss']:.3f}, "
            f"overfit one batch: {result['overfit']['overfits']}); preflight.stop_failed is true"
        )


def preflight_summary(result: dict) -> dict:
    """A pre-flight result without its curves: what metrics.json and the tables keep."""
    keys = ("variant", "initial_loss", "expected_initial_loss", "initial_loss_ok", "passed")
    return {k: result[k] for k in keys} | {
        "overfits": result["overfit"]["overfits"],
        "steps_to_overfit": result["overfit"]["steps_to_overfit"],
        "overfit_steps": result["overfit"]["steps"],
        "final_batch_loss": result["overfit"]["loss"][-1],
        "final_batch_accuracy": result["overfit"]["accuracy"][-1],
    }
