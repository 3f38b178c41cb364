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

from study.specs import UNIT_HEALTH

LEARNING = {"learns", "overfits"}
# A run whose training loss left the plateau while the net, as it is evaluated (inference mode), stayed at
# chance: it did not learn. Batch norm's moving statistics lagging its batch statistics is one way there.
TRAINING_MODE_ONLY = "learns in training mode only"
# A run whose net, evaluated, fits its training images while its validation accuracy stays at chance: it
# learned nothing that holds beyond them, so it did not learn either.
MEMORIZES = "memorizes"
# The cause of a run that learned: there is nothing to explain. Not "n/a", which pandas reads as missing.
NO_CAUSE = "none sought (it learned)"


def chance_loss(classes: int) -> float:
    """The loss of a net that predicts every class alike: ln(classes)."""
    return math.log(classes)


def chance_accuracy(classes: int) -> float:
    return 1 / classes


def chance_label(classes: int) -> str:
    """The chance loss as the figures label it: 'chance: ln(classes) = its value', to 2 decimals."""
    return f"chance: ln {classes} = {chance_loss(classes):.2f}"


def plateau_line(classes: int, thresholds: dict) -> float:
    """The loss a run must fall below, and stay below, to have left the plateau: ln(classes) minus the margin."""
    return chance_loss(classes) - thresholds["plateau_margin"]


def plateau_stretches(on_plateau: np.ndarray, windows: int) -> list[tuple[int, int]]:
    """The stretches (start, end) of at least ``windows`` consecutive True entries: on the plateau, shorter
    stretches are noise, not a return to it."""
    stretches, start = [], None
    for i, on in enumerate([*on_plateau, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= windows:
                stretches.append((start, i))
            start = None
    return stretches


def plateau_exit(steps: pd.DataFrame, line: float, windows: int) -> int | None:
    """The step at which the training loss left the plateau for good: the end of the first window after the
    last stretch of ``windows`` or more windows on the plateau (at or above ``line``; the start of the run
    counts as on it), when at least ``windows`` windows follow, the first of them below the line. None when
    the run has not left.
    """
    on_plateau = steps["loss"].to_numpy(dtype=float) >= line
    stretches = plateau_stretches(on_plateau, windows)
    if stretches:
        first = stretches[-1][1]
    else:  # never on the plateau for long: it left at its first window below the line
        first = int(np.argmax(~on_plateau)) if (~on_plateau).any() else len(on_plateau)
    if len(on_plateau) - first < windows:
        return None
    return int(steps["step"].iloc[first])


def not_left(steps: pd.DataFrame, line: float, windows: int) -> tuple[str, dict]:
    """The outcome of a run that has not left the plateau for good, and the facts it rests on: undecided when
    it left for ``windows`` or more windows and fell back (``fell_back``), or began to leave in its last
    windows (``leaving_at_end``); stuck otherwise (``never_left``)."""
    on_plateau = steps["loss"].to_numpy(dtype=float) >= line
    stretches = plateau_stretches(on_plateau, windows)
    below = plateau_stretches(~on_plateau, windows)
    facts = {"line": line, "windows": windows, "total_steps": int(steps["step"].iloc[-1])}
    if below and stretches and below[0][0] < stretches[-1][0]:
        return "undecided", facts | {"rule": "fell_back", "step": int(steps["step"].iloc[below[0][0]])}
    if stretches and stretches[-1][1] < len(on_plateau):
        return "undecided", facts | {"rule": "leaving_at_end"}
    return "stuck", facts | {"rule": "never_left"}


def evaluated_at_chance(last_epoch: pd.Series, classes: int, thresholds: dict) -> dict[str, bool]:
    """Where the net, measured in inference mode at the last epoch's end, is still at chance: its train-probe
    loss at or above the plateau line (``train_loss``), its train-probe or validation accuracy within the
    stated margin of chance (``train_accuracy``, ``val_accuracy``)."""
    line = plateau_line(classes, thresholds)
    floor = chance_accuracy(classes) + thresholds["evaluated_accuracy_margin"]
    return {
        "train_loss": not last_epoch["train_loss"] < line,
        "train_accuracy": not last_epoch["train_accuracy"] >= floor,
        "val_accuracy": not last_epoch["val_accuracy"] >= floor,
    }


def has_stalled(losses: np.ndarray, windows: int) -> tuple[bool, float, float]:
    """Whether the loss has not fallen since the run left: the mean of its last ``windows`` windows against the
    mean of its first ``windows`` after leaving (fewer, without overlap, when fewer follow)."""
    k = min(windows, len(losses) // 2)
    if k == 0:
        return False, math.nan, math.nan
    first, last = float(losses[:k].mean()), float(losses[-k:].mean())
    return last >= first, first, last


def run_outcome(
    history: pd.DataFrame, steps: pd.DataFrame, classes: int, thresholds: dict, stopped_dead: dict | None = None
) -> tuple[str, dict, int | None]:
    """A run's outcome, the facts it was decided on (``rule`` names which decided it; study.reporting.run_words
    says it in words), and the step at which it left the plateau (None if it did not).

    Judged on the training loss every few steps (steps.csv), over ``thresholds['windows']``
    consecutive windows at a time, not on a final accuracy against a threshold: a run that
    leaves the plateau late still learns, and one window below the line is not leaving it.
    A run that left the plateau learns only if the net as it is evaluated (inference mode, at the last
    epoch's end) is off chance too; otherwise it *learns in training mode only*. The overfit gap compares
    train and validation accuracy, both measured in inference mode at the last epoch's end.

    A run its training ended because it was dead (``stopped_dead``: the step, the dead layer and the checks in
    a row that found it so, study.training.dead_runs) is stuck: nothing at or below that layer could learn.
    """
    losses = np.concatenate([steps["loss"].to_numpy(dtype=float), history["running_loss"].to_numpy(dtype=float)])
    if not np.all(np.isfinite(losses)):
        return "diverged", {"rule": "non_finite"}, None
    line, windows, total = plateau_line(classes, thresholds), thresholds["windows"], int(steps["step"].iloc[-1])
    exit_step = plateau_exit(steps, line, windows)
    if stopped_dead:
        return "stuck", {"rule": "ended_dead", **stopped_dead}, exit_step
    if exit_step is None:
        return (*not_left(steps, line, windows), None)
    after = steps.loc[steps["step"] >= exit_step, "loss"].to_numpy(dtype=float)
    stalled, first, last = has_stalled(after, windows)
    facts = {"step": exit_step, "total_steps": total, "final_step_loss": float(steps["loss"].iloc[-1])}
    if stalled:
        return "undecided", facts | {"rule": "stalled", "first_loss": first, "last_loss": last}, exit_step
    last_epoch = history.iloc[-1]
    at_chance = evaluated_at_chance(last_epoch, classes, thresholds)
    facts |= {
        "line": line,
        "accuracy_floor": chance_accuracy(classes) + thresholds["evaluated_accuracy_margin"],
        "at_chance": at_chance,
        **{f"evaluated_{key}": float(last_epoch[key]) for key in at_chance},
    }
    if at_chance["train_loss"] or at_chance["train_accuracy"]:
        return TRAINING_MODE_ONLY, facts | {"rule": "training_mode_only"}, exit_step
    if at_chance["val_accuracy"]:
        return MEMORIZES, facts | {"rule": "memorizes"}, exit_step
    gap = last_epoch["train_accuracy"] - last_epoch["val_accuracy"]
    if gap > thresholds["overfit_gap"]:
        return "overfits", facts | {"rule": "overfits", "gap": float(gap)}, exit_step
    return "learns", facts | {"rule": "learns"}, exit_step


def diagnostic_signs(diagnostics: pd.DataFrame) -> dict:
    """What the last recorded epoch of a run's diagnostics says about why it might not learn.

    gradient_ratio: the first weighted layer's gradient norm over the last one's;
    gradient_scale: the largest over layers of a layer's gradient norm over its weight norm (small everywhere
    when gradients are uniformly small, which the first/last ratio cannot see);
    dead_fraction, saturated_fraction: the largest over layers (NaN for a net without ReLUs or sigmoids);
    batchnorm_lag: the largest over batch-norm layers of how far the moving means lag the probe batch's means,
    in the batch's standard deviations (NaN for a net without batch norm, or a run that did not record it).
    """
    last = diagnostics[diagnostics["epoch"] == diagnostics["epoch"].max()]

    def by_depth(statistic):
        rows = last[last["statistic"] == statistic].sort_values("depth")
        return rows.set_index("layer")["value"].astype(float)

    gradients = by_depth("gradient_norm")
    top = gradients.iloc[-1] if len(gradients) else math.nan
    ratio = gradients.iloc[0] / top if len(gradients) and top > 0 else math.nan
    relative = (gradients / by_depth("weight_norm").reindex(gradients.index)).dropna()

    def largest(statistic):
        values = last.loc[last["statistic"] == statistic, "value"]
        return float(values.max()) if len(values) else math.nan

    return {
        "gradient_ratio": float(ratio),
        "gradient_scale": float(relative.max()) if len(relative) else math.nan,
        "dead_fraction": largest("dead_fraction"),
        "saturated_fraction": largest("saturated_fraction"),
        "batchnorm_lag": largest("batchnorm_mean_lag"),
    }


def run_cause(signs: dict, thresholds: dict, activation: str = "relu") -> str:
    """Which of the lecture's causes the diagnostic signs show; 'none' when none shows where all were
    measured, and 'not measured' where the ``activation`` has no unit statistics to show one.

    Dead units come first: a layer of ReLUs that output 0 for every image passes no gradient,
    so a vanishing first-layer gradient beside them is their effect, and is named as such.
    Gradients small at every layer (He et al. 2015's deep plain ReLU net under Glorot init) are vanishing
    gradients too, though the first/last ratio is near 1.
    """
    causes = thresholds["causes"]
    vanishing = signs["gradient_ratio"] < causes["vanishing_gradient_ratio"]
    if signs["dead_fraction"] > causes["dead_fraction"]:
        if not vanishing:
            return "dead units"
        zero = signs["gradient_ratio"] == 0
        return "dead units (first-layer gradient zero)" if zero else "dead units (and vanishing gradients)"
    if vanishing:
        return "vanishing gradients"
    if signs["saturated_fraction"] > causes["saturated_fraction"]:
        return "saturation"  # saturated units make every gradient small: they come first
    if signs.get("gradient_scale", math.nan) < causes["small_gradient_scale"]:
        return "vanishing gradients (uniformly small at every layer)"
    if activation not in UNIT_HEALTH:
        return f"not measured (no dead or saturated count for {activation} units; gradients not vanishing)"
    return "none"


def training_mode_cause(signs: dict) -> str:
    """Why a net that left the plateau in training mode is at chance in inference mode, as far as recorded."""
    lag = signs.get("batchnorm_lag", math.nan)
    if math.isnan(lag):
        return "inference mode differs from training mode (no batch-norm statistics recorded to say why)"
    return f"batch-norm moving statistics lag the batch statistics (by up to {lag:.2f} batch standard deviations)"


def cause_of(outcome: str, signs: dict, thresholds: dict, activation: str) -> str:
    if outcome in LEARNING:
        return NO_CAUSE
    if outcome == TRAINING_MODE_ONLY:
        return training_mode_cause(signs)
    if outcome == MEMORIZES:
        return "memorization (validation at chance)"
    return run_cause(signs, thresholds, activation)


def judge_run(
    history: pd.DataFrame,
    steps: pd.DataFrame,
    diagnostics: pd.DataFrame,
    classes: int,
    thresholds: dict,
    activation: str = "relu",
    stopped_dead: dict | None = None,
):
    """What aggregate makes of one run's recorded facts: outcome and the facts it was decided on, cause, the
    diagnostic signs the cause was read from, and the step it left the plateau. ``activation``: the run's,
    which says which unit statistics it recorded; ``stopped_dead``: where its training ended it dead, if it
    did."""
    outcome, basis, exit_step = run_outcome(history, steps, classes, thresholds, stopped_dead)
    signs = diagnostic_signs(diagnostics)
    return {
        "outcome": outcome,
        "outcome_basis": basis,
        "cause": cause_of(outcome, signs, thresholds, activation),
        **signs,
        "plateau_exit_step": exit_step,
    }


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
