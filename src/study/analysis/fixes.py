"""Which fix works best: the variants that try to rescue one baseline, ranked by how soon they learn.

A run learns at the step its training loss left the plateau, and only if it learned as it is evaluated (its
outcome learns or overfits): a run whose loss left the plateau in training mode only, or never, is censored at
its last step, not counted as learning there:
each variant's step is the Kaplan-Meier median with its 95% interval (statsmodels), compared
with the baseline's by a log-rank test. Those describe speed. Whether a fix makes the net
learn is one question with one answer: the verdict of the claim that tests it (the contrast
of its rate of learning with the baseline's), read from the claims table.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from study.analysis.outcomes import LEARNING
from study.analysis.statistics import mean_interval

FIX_COLUMNS = [
    "rank",
    "variant",
    "seeds",
    "learned",
    "left",
    "median_exit_step",
    "median_exit_low",
    "median_exit_high",
    "first_window_step",
    "final_train_accuracy_mean",
    "final_train_accuracy_low",
    "final_train_accuracy_high",
    "logrank_p",
    "claim",
    "verdict",
]


def exit_times(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each run's step of leaving the plateau when it learned, or its last step when it did not; and whether it
    learned."""
    learned = (runs["plateau_exit_step"].notna() & runs["outcome"].isin(LEARNING)).to_numpy()
    times = np.where(learned, runs["plateau_exit_step"].astype(float), runs["steps"].astype(float))
    return times.astype(float), learned.astype(int)


def median_exit(runs: pd.DataFrame) -> tuple[float, float, float]:
    """Kaplan-Meier median step of leaving the plateau, with its 95% interval (NaN where not reached)."""
    times, left = exit_times(runs)
    if not left.any():
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) where the curve reaches 0 or 1
        curve = SurvfuncRight(times, left)
        median = float(curve.quantile(0.5))
        try:
            low, high = (float(v) for v in curve.quantile_ci(0.5))
        except (ValueError, ZeroDivisionError, IndexError):
            low, high = math.nan, math.nan
    return median, low, high


def logrank_p(fix: pd.DataFrame, baseline: pd.DataFrame) -> float:
    """Log-rank p of the fix's exit steps against the baseline's (NaN when no run of either left)."""
    times_fix, left_fix = exit_times(fix)
    times_base, left_base = exit_times(baseline)
    if not (left_fix.any() or left_base.any()):
        return math.nan
    times, left = np.concatenate([times_fix, times_base]), np.concatenate([left_fix, left_base])
    groups = np.array([1] * len(fix) + [0] * len(baseline))
    return float(survdiff(times, left, groups)[1])


def variant_row(runs: pd.DataFrame, first_window_step: int) -> dict:
    """Seeds, plateau exits and final accuracy of one variant's runs (one row per seed)."""
    median, low, high = median_exit(runs)
    accuracy = mean_interval(runs["final_train_accuracy"].to_numpy(float))
    return {
        "variant": runs["variant"].iloc[0],
        "seeds": len(runs),
        "learned": f"{int(runs['outcome'].isin(LEARNING).sum())}/{len(runs)}",
        "left": f"{int(runs['plateau_exit_step'].notna().sum())}/{len(runs)}",
        "median_exit_step": median,
        "median_exit_low": low,
        "median_exit_high": high,
        "first_window_step": first_window_step,
        "final_train_accuracy_mean": accuracy.value,
        "final_train_accuracy_low": accuracy.low,
        "final_train_accuracy_high": accuracy.high,
    }


def fix_claim(claims: pd.DataFrame, fix: str, baseline: str) -> dict:
    """The claim that tests whether ``fix`` makes ``baseline`` learn, and its verdict; none when no claim does."""
    if claims.empty:
        return {"claim": "", "verdict": "no claim tests it"}
    match = claims[(claims["variant"] == fix) & (claims["baseline"] == baseline) & (claims["kind"] == "contrast")]
    if match.empty:
        return {"claim": "", "verdict": "no claim tests it"}
    return {"claim": match["claim"].iloc[0], "verdict": match["verdict"].iloc[0]}


def fixes_table(runs: pd.DataFrame, steps: pd.DataFrame, ranking: dict | None, claims: pd.DataFrame) -> pd.DataFrame:
    """The ranking's baseline and the fixes that ran, ranked by median exit step (never left: last), then by
    the share of seeds that left and by final accuracy. Empty without a ranking, or when its baseline or
    every fix did not run."""
    if not ranking:
        return pd.DataFrame(columns=FIX_COLUMNS)
    base_name = ranking["baseline"]
    baseline = runs[runs["variant"] == base_name]
    fixes = [v for v in ranking["variants"] if v in set(runs["variant"])]
    if baseline.empty or not fixes:
        return pd.DataFrame(columns=FIX_COLUMNS)
    first_step = steps.groupby("variant")["step"].min()
    rows = []
    for name in fixes:
        fix = runs[runs["variant"] == name]
        row = variant_row(fix, int(first_step.get(name, 0)))
        rows.append(row | {"logrank_p": logrank_p(fix, baseline)} | fix_claim(claims, name, base_name))
    share_learned = runs.groupby("variant")["outcome"].apply(lambda outcomes: outcomes.isin(LEARNING).mean())
    rows.sort(
        key=lambda r: (
            math.inf if math.isnan(r["median_exit_step"]) else r["median_exit_step"],
            -share_learned[r["variant"]],
            -r["final_train_accuracy_mean"],
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    base_row = variant_row(baseline, int(first_step.get(base_name, 0))) | {"verdict": "baseline", "claim": ""}
    table = pd.DataFrame([base_row, *rows])
    table["rank"] = table["rank"].astype("Int64")
    return table.reindex(columns=FIX_COLUMNS)
