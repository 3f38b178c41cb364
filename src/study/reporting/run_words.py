"""A run's outcome in words: the facts `study.analysis.outcomes.run_outcome` decided it on, said as a reason."""

from __future__ import annotations

import pandas as pd

from study.analysis.outcomes import NO_CAUSE

AT_CHANCE = {
    "train_loss": "train loss {value:.3f}, not below {line:.3f}",
    "train_accuracy": "train accuracy {value:.3f}, below chance + margin {floor:.3f}",
    "val_accuracy": "validation accuracy {value:.3f}, below chance + margin {floor:.3f}",
}


def at_chance_words(basis: dict) -> list[str]:
    """Where the evaluated net is at chance, one phrase per measure, in AT_CHANCE's order."""
    return [
        AT_CHANCE[key].format(value=basis[f"evaluated_{key}"], line=basis["line"], floor=basis["accuracy_floor"])
        for key in AT_CHANCE
        if basis["at_chance"][key]
    ]


def outcome_reason(basis: dict) -> str:
    """Why a run has its outcome, from the facts it was decided on (the rule that decided it and its numbers)."""
    rule = basis["rule"]
    if rule == "non_finite":
        return "non-finite training loss"
    if rule == "ended_dead":
        return (
            f"ended dead at step {basis['step']}: no unit of {basis['layer']} fired for any probe image and no "
            f"layer at or below it had a gradient, at {basis['checks']} checks in a row"
        )
    if rule == "fell_back":
        return f"left the plateau at step {basis['step']} but fell back onto it for {basis['windows']} or more windows"
    if rule == "leaving_at_end":
        return (
            f"began to leave the plateau in its last windows (fewer than {basis['windows']} below {basis['line']:.3f})"
        )
    if rule == "never_left":
        return (
            f"the training loss never stayed below {basis['line']:.3f} for {basis['windows']} windows in "
            f"{basis['total_steps']} steps"
        )
    if rule == "stalled":
        return (
            f"left the plateau at step {basis['step']} but its loss has not fallen since (mean "
            f"{basis['first_loss']:.3f} over its first windows after, {basis['last_loss']:.3f} over its last)"
        )
    left_at = (
        f"left the plateau at step {basis['step']} of {basis['total_steps']}, loss {basis['final_step_loss']:.3f} "
        "at the end"
    )
    if rule == "training_mode_only":
        at_chance = "; ".join(at_chance_words(basis))
        return f"its training-mode loss {left_at}, but the net in inference mode is at chance: {at_chance}"
    if rule == "memorizes":
        return f"{left_at}; it fits its training images but its {at_chance_words(basis)[0]}"
    if rule == "overfits":
        return f"{left_at}; train accuracy exceeds validation accuracy by {basis['gap']:.3f}"
    return left_at


def run_words(run: pd.Series) -> str:
    """'learns (train loss 0.412, left the plateau at step 40)', with the cause of a run that did not learn."""
    left = run.get("plateau_exit_step")
    when = "" if pd.isna(left) else f", left the plateau at step {int(left)}"
    cause = run.get("cause", "")
    because = f"; cause: {cause}" if isinstance(cause, str) and cause not in ("", NO_CAUSE) else ""
    return f"{run['outcome']} (train loss {run['final_train_loss']:.3f}{when}{because})"


def worded_runs(runs: pd.DataFrame, metrics: list[dict]) -> pd.DataFrame:
    """The runs table with each run's outcome reason beside its outcome; ``metrics``: the judged records the
    table was made from, in its order."""
    reasons = [outcome_reason(m["outcome_basis"]) for m in metrics]
    worded = runs.copy()
    worded.insert(runs.columns.get_loc("outcome") + 1, "outcome_reason", reasons)
    return worded
