"""How far each pre-flight check can be trusted: its predictions against the full runs' outcomes.

A check predicts "this net will not learn" when it fails. Over every variant x
seed, that prediction is scored against the run's outcome: a positive is a run
that did not learn (stuck, undecided or diverged).
"""

from __future__ import annotations

import math

import pandas as pd

from study.analysis.outcomes import LEARNING

CHECKS = {
    "initial loss near chance, ln(classes)": "initial_loss_ok",
    "overfits one batch": "overfits",
    "both (passed)": "passed",
}
CALIBRATION_COLUMNS = [
    "check",
    "runs",
    "true_positives",
    "false_positives",
    "true_negatives",
    "false_negatives",
    "precision",
    "recall",
    "flagged_variants",
]


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def calibration_table(preflight: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per check: its confusion counts over the runs, precision and recall of "will not learn"."""
    if preflight.empty or runs.empty:
        return pd.DataFrame(columns=CALIBRATION_COLUMNS)
    table = runs[["variant", "seed", "outcome"]].merge(preflight, on="variant", how="inner")
    failed_to_learn = ~table["outcome"].isin(LEARNING)
    rows = []
    for check, column in CHECKS.items():
        flagged = ~table[column].astype(bool)
        tp, fp = int((flagged & failed_to_learn).sum()), int((flagged & ~failed_to_learn).sum())
        tn, fn = int((~flagged & ~failed_to_learn).sum()), int((~flagged & failed_to_learn).sum())
        rows.append(
            {
                "check": check,
                "runs": len(table),
                "true_positives": tp,
                "false_positives": fp,
                "true_negatives": tn,
                "false_negatives": fn,
                "precision": ratio(tp, tp + fp),
                "recall": ratio(tp, tp + fn),
                "flagged_variants": " ".join(sorted(set(table.loc[flagged, "variant"]))),
            }
        )
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
