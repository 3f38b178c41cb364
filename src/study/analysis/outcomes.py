"""How each run is judged, from the facts its training job recorded: its outcome (learns, stuck, ...), the
cause its diagnostics show, and whether its variant passed the pre-flight checks.

Pure pandas and NumPy, on the tables side: changing a threshold here re-judges the runs without retraining
them. Chance is the dataset's own: a net that predicts every one of its ``classes`` alike has loss
ln(classes) and accuracy 1/classes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def chance_loss(classes: int) -> float:
    """The loss of a net that predicts every class alike: ln(classes)."""
    return math.log(classes)


def chance_accuracy(classes: int) -> float:
    return 1 / classes


def plateau_line(classes: int, thresholds: dict) -> float:
    """The loss a run must fall below, and stay below, to have left the plateau: ln(classes) minus the margin."""
    return chance_loss(classes) - thresholds["plateau_margin"]


def plateau_exit(steps: pd.DataFrame, line: float) -> int | None:
    """The step at which the training loss left the plateau for good: the end of the first window
    of the last stretch of windows below the plateau ``line``, when that stretch lasts to the end.

    None when the last window is still on the plateau (or above it).
    """
    below = steps["loss"].to_numpy(dtype=float) < line
    if not below.size or not below[-1]:
        return None
    on_plateau = np.flatnonzero(~below)
    first = on_plateau[-1] + 1 if on_plateau.size else 0
    return int(steps["step"].iloc[first])


def run_outcome(
    history: pd.DataFrame, steps: pd.DataFrame, classes: int, thresholds: dict
) -> tuple[str, str, int | None]:
    """A run's outcome, the reason, and the step at which it left the plateau (None if it did not).

    Judged on the training loss every few steps (steps.csv), not on a final accuracy
    against a threshold: a run that leaves the plateau late still learns. The overfit gap
    compares train and validation accuracy both measured in inference mode at the last
    epoch's end.
    """
    losses = np.concatenate([steps["loss"].to_numpy(dtype=float), history["running_loss"].to_numpy(dtype=float)])
    if not np.all(np.isfinite(losses)):
        return "diverged", "non-finite training loss", None
    line, total = plateau_line(classes, thresholds), int(steps["step"].iloc[-1])
    exit_step = plateau_exit(steps, line)
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
    gap = last["train_accuracy"] - last["val_accuracy"]
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


def judge_run(history: pd.DataFrame, steps: pd.DataFrame, diagnostics: pd.DataFrame, classes: int, thresholds: dict):
    """What aggregate makes of one run's recorded facts: outcome and reason, cause, the diagnostic signs the
    cause was read from, and the step it left the plateau."""
    outcome, reason, exit_step = run_outcome(history, steps, classes, thresholds)
    signs = diagnostic_signs(diagnostics)
    return {
        "outcome": outcome,
        "outcome_reason": reason,
        "cause": run_cause(signs, thresholds),
        **signs,
        "plateau_exit_step": exit_step,
    }


def outcome_rules(thresholds: dict, classes: dict[str, int]) -> list[str]:
    """The outcomes and causes in words, with the thresholds a run was judged by; ``classes``: each dataset's
    class count, whose chance loss sets its plateau line."""
    causes, margin = thresholds["causes"], thresholds["plateau_margin"]
    lines = ", ".join(
        f"{dataset}: ln {count} − {margin} = {plateau_line(count, thresholds):.3f}"
        for dataset, count in classes.items()
    )
    return [
        f"*stuck*: the training loss (mean over each window of steps) never fell below its dataset's chance loss, "
        f"ln(classes), minus {margin} ({lines})",
        "*learns*: it fell below that line, stayed below until the end and ended lower than where it left",
        f"*overfits*: a learning net whose final train accuracy exceeds its validation accuracy by more than "
        f"{thresholds['overfit_gap']} (both in inference mode at the last epoch's end)",
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


def judge_preflight(result: dict, settings: dict) -> dict:
    """A pre-flight result judged by the config's ``preflight`` thresholds, without its curves: what the
    tables keep. The initial loss is checked against the chance loss of the result's own class count."""
    expected = chance_loss(result["classes"])
    initial_ok = abs(result["initial_loss"] - expected) <= settings["initial_loss_band"]
    reached = [step for step, acc in enumerate(result["overfit"]["accuracy"], 1) if acc >= settings["overfit_accuracy"]]
    steps_to_overfit = reached[0] if reached else None
    return {
        "variant": result["variant"],
        "classes": result["classes"],
        "initial_loss": result["initial_loss"],
        "expected_initial_loss": expected,
        "initial_loss_ok": bool(initial_ok),
        "overfits": steps_to_overfit is not None,
        "steps_to_overfit": steps_to_overfit,
        "overfit_steps": result["overfit"]["steps"],
        "final_batch_loss": result["overfit"]["loss"][-1],
        "final_batch_accuracy": result["overfit"]["accuracy"][-1],
        "passed": bool(initial_ok and steps_to_overfit is not None),
    }


def require_preflight(judged: dict, stop_failed: bool) -> None:
    """Raise PreflightFailed when the checks failed and the config makes that stop training."""
    if stop_failed and not judged["passed"]:
        raise PreflightFailed(
            f"{judged['variant']}: pre-flight checks failed (initial loss {judged['initial_loss']:.3f} against "
            f"ln {judged['classes']} = {judged['expected_initial_loss']:.3f}, overfit one batch: "
            f"{judged['overfits']}); preflight.stop_failed is true"
        )
