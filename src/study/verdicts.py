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


def plateau_line(thresholds: dict) -> float:
    """The loss a run must fall below, and stay below, to have left the plateau."""
    return PLATEAU_LOSS - thresholds["plateau_margin"]


def plateau_exit(steps: pd.DataFrame, thresholds: dict) -> int | None:
    """The step at which the training loss left the plateau for good: the end of the first window
    of the last stretch of windows below the plateau line, when that stretch lasts to the end.

    None when the last window is still on the plateau (or above it).
    """
    below = steps["loss"].to_numpy(dtype=float) < plateau_line(thresholds)
    if not below.size or not below[-1]:
        return None
    on_plateau = np.flatnonzero(~below)
    first = on_plateau[-1] + 1 if on_plateau.size else 0
    return int(steps["step"].iloc[first])


def run_verdict(history: pd.DataFrame, steps: pd.DataFrame, thresholds: dict) -> tuple[str, str, int | None]:
    """A run's verdict, the reason, and the step at which it left the plateau (None if it did not).

    Judged on the training loss every few steps (steps.csv), not on a final accuracy
    against a threshold: a run that leaves the plateau late still learns. Training
    metrics only, as a batch-normalized net's validation accuracy can sit near chance
    after few steps while its moving statistics settle.
    """
    losses = np.concatenate([steps["loss"].to_numpy(dtype=float), history["loss"].to_numpy(dtype=float)])
    if not np.all(np.isfinite(losses)):
        return "diverged", "non-finite training loss", None
    line, total = plateau_line(thresholds), int(steps["step"].iloc[-1])
    exit_step = plateau_exit(steps, thresholds)
    if exit_step is None:
        if (steps["loss"] < line).any():
            dip = int(steps.loc[steps["loss"] < line, "step"].iloc[0])
            return "undecided", f"the loss fell below {line:.3f} at step {dip} but ended on the plateau", None
        return "stuck", f"the training loss never fell below {line:.3f} in {total} steps", None
    left = float(steps.loc[steps["step"] == exit_step, "loss"].iloc[0])
    final = float(steps["loss"].iloc[-1])
    if final > left:
        return "undecided", f"left the plateau at step {exit_step} but its loss has not fallen since", exit_step
    last = history.iloc[-1]
    gap = last["accuracy"] - last["val_accuracy"]
    left_at = f"left the plateau at step {exit_step} of {total}, loss {final:.3f} at the end"
    if gap > thresholds["overfit_gap"]:
        return "overfits", f"{left_at}; train accuracy exceeds validation accuracy by {gap:.3f}", exit_step
    return "learns", left_at, exit_step


def diagnostic_signs(diagnostics: pd.DataFrame) -> dict:
    """What the last recorded epoch of a run's diagnostics says about why it might not learn.

    gradient_ratio: the first weighted layer's gradient norm over the last one's;
    dead_fraction, saturated_fraction: the largest over layers (NaN for a net without ReLUs
    or sigmoids).
    """
    last = diagnostics[diagnostics["epoch"] == diagnostics["epoch"].max()]
    gradients = last[last["statistic"] == "gradient_norm"].sort_values("depth")["value"].to_numpy(float)
    top = gradients[-1] if gradients.size else math.nan
    ratio = gradients[0] / top if gradients.size and top > 0 else math.nan

    def largest(statistic):
        values = last.loc[last["statistic"] == statistic, "value"]
        return float(values.max()) if len(values) else math.nan

    return {
        "gradient_ratio": float(ratio),
        "dead_fraction": largest("dead_fraction"),
        "saturated_fraction": largest("saturated_fraction"),
    }


def run_cause(signs: dict, thresholds: dict) -> str:
    """The first of the lecture's causes the diagnostic signs show, or 'none'."""
    causes = thresholds["causes"]
    if signs["gradient_ratio"] < causes["vanishing_gradient_ratio"]:
        return "vanishing gradients"
    if signs["dead_fraction"] > causes["dead_fraction"]:
        return "dead units"
    if signs["saturated_fraction"] > causes["saturated_fraction"]:
        return "saturation"
    return "none"


def verdict_rules(thresholds: dict) -> list[str]:
    """The verdicts and causes in words, with the thresholds a run was judged by."""
    line, causes = plateau_line(thresholds), thresholds["causes"]
    return [
        f"*stuck*: the training loss (mean over each window of steps) never fell below ln {NUM_CLASSES} "
        f"− {thresholds['plateau_margin']} = {line:.3f}",
        f"*learns*: it fell below {line:.3f}, stayed below until the end and ended lower than where it left",
        f"*overfits*: a learning net whose final train accuracy exceeds its validation accuracy by more than "
        f"{thresholds['overfit_gap']}",
        "*undecided*: it left the plateau but fell back, or its loss has not fallen since it left",
        "*diverged*: a NaN or infinite training loss",
        f"cause *vanishing gradients*: the first layer's gradient norm is below {causes['vanishing_gradient_ratio']:g} "
        "times the last layer's (last recorded epoch)",
        f"cause *dead units*: in some layer more than {causes['dead_fraction']:.0%} of the ReLU units output 0 for "
        "every probe image",
        f"cause *saturation*: in some layer more than {causes['saturated_fraction']:.0%} of the sigmoid outputs are "
        "saturated",
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
