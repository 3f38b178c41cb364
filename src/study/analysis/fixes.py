"""Which fix works best: the variants that try to rescue one baseline, ranked.

For each variant of the config's `fix_ranking`, across seeds: how many left the
loss plateau, the step at which they left it, and the final train accuracy, each
with a bootstrap 95% interval; then the paired comparison of its final train
accuracy with the baseline's, Holm-adjusted across the fixes, as the claims do.
A seed that never left the plateau counts as leaving at its last step, so its
variant's steps are a lower bound (marked in `left`).
"""

from __future__ import annotations

import math

import pandas as pd

from study.analysis.claims import LEARNING, bootstrap_interval, comparison_verdict, holm, paired_p_value

FIX_COLUMNS = [
    "rank",
    "variant",
    "seeds",
    "learned",
    "left",
    "exit_step_mean",
    "exit_step_low",
    "exit_step_high",
    "final_train_accuracy_mean",
    "final_train_accuracy_low",
    "final_train_accuracy_high",
    "difference_vs_baseline",
    "difference_low",
    "difference_high",
    "p_adjusted",
    "verdict",
]


def variant_row(runs: pd.DataFrame) -> dict:
    """Seeds, plateau exits and final accuracy of one variant's runs (one row per seed)."""
    exits = runs["plateau_exit_step"].fillna(runs["steps"]).to_numpy(float)
    accuracy = runs["final_train_accuracy"].to_numpy(float)
    exit_low, exit_high = bootstrap_interval(exits)
    accuracy_low, accuracy_high = bootstrap_interval(accuracy)
    return {
        "variant": runs["variant"].iloc[0],
        "seeds": len(runs),
        "learned": f"{int(runs['outcome'].isin(LEARNING).sum())}/{len(runs)}",
        "left": f"{int(runs['plateau_exit_step'].notna().sum())}/{len(runs)}",
        "exit_step_mean": float(exits.mean()),
        "exit_step_low": exit_low,
        "exit_step_high": exit_high,
        "final_train_accuracy_mean": float(accuracy.mean()),
        "final_train_accuracy_low": accuracy_low,
        "final_train_accuracy_high": accuracy_high,
    }


def against_baseline(fix: pd.DataFrame, baseline: pd.DataFrame) -> dict:
    """Paired difference of final train accuracy with the baseline, over the seeds both ran."""
    both = fix[["seed", "final_train_accuracy"]].merge(
        baseline[["seed", "final_train_accuracy"]], on="seed", suffixes=("", "_baseline")
    )
    differences = (both["final_train_accuracy"] - both["final_train_accuracy_baseline"]).to_numpy(float)
    low, high = bootstrap_interval(differences)
    mean = float(differences.mean()) if len(differences) else math.nan
    return {
        "difference_vs_baseline": mean,
        "difference_low": low,
        "difference_high": high,
        "p_value": paired_p_value(differences),
    }


def fixes_table(runs: pd.DataFrame, ranking: dict | None) -> pd.DataFrame:
    """The ranking's baseline and fixes that ran: fixes ranked by mean exit step, then final accuracy.

    Empty without a ranking in the config, or when its baseline or every fix did not run.
    """
    if not ranking:
        return pd.DataFrame(columns=FIX_COLUMNS)
    baseline = runs[runs["variant"] == ranking["baseline"]]
    fixes = [v for v in ranking["variants"] if v in set(runs["variant"])]
    if baseline.empty or not fixes:
        return pd.DataFrame(columns=FIX_COLUMNS)
    rows = [
        variant_row(runs[runs["variant"] == v]) | against_baseline(runs[runs["variant"] == v], baseline) for v in fixes
    ]
    for row, p in zip(rows, holm([row.pop("p_value") for row in rows]), strict=True):
        row["p_adjusted"] = p
        row["verdict"] = comparison_verdict(row["difference_low"], row["difference_high"], p)
    rows.sort(key=lambda row: (row["exit_step_mean"], -row["final_train_accuracy_mean"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    table = pd.DataFrame([variant_row(baseline) | {"verdict": "baseline"}, *rows])
    table["rank"] = table["rank"].astype("Int64")
    return table.reindex(columns=FIX_COLUMNS)
