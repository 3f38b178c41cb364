"""The lecture's claims, declared in the config, checked against every seed's run.

Each seed of a claim's variant agrees, disagrees or is inconclusive, judged
from the run's verdict (one set of thresholds, the config's `verdicts`) or,
for comparisons, from paired differences between two variants with the same
seed. A claim the data does not support is reported as such.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

LEARNING = {"learns", "overfits"}
CLAIM_COLUMNS = [
    "claim",
    "expect",
    "variant",
    "baseline",
    "lecture",
    "seeds",
    "per_seed",
    "agree",
    "n_agree",
    "n_seeds",
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "p_value",
    "verdict",
    "reason",
]


def seed_outcome(expect: str, verdict: str) -> str:
    """'agree', 'disagree' or 'inconclusive' for one run under a 'learns' or 'stuck' claim."""
    if expect == "learns":
        return (
            "agree"
            if verdict in LEARNING
            else "disagree"
            if verdict in ("stuck at chance", "diverged")
            else "inconclusive"
        )
    if expect == "stuck":
        return "agree" if verdict == "stuck at chance" else "disagree" if verdict in LEARNING else "inconclusive"
    raise ValueError(f"unknown expectation {expect!r}")


def paired_statistics(differences: np.ndarray) -> dict[str, float]:
    """Mean of paired differences across seeds, its 95% t-interval and the paired t-test's p-value."""
    n = len(differences)
    mean = float(np.mean(differences))
    if n < 2:
        return {"mean_difference": mean, "ci95_low": math.nan, "ci95_high": math.nan, "p_value": math.nan}
    sd = float(np.std(differences, ddof=1))
    half = float(scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
    if sd == 0:
        p = 0.0 if mean != 0 else 1.0
    else:
        p = float(scipy_stats.ttest_1samp(differences, 0.0).pvalue)
    return {"mean_difference": mean, "ci95_low": mean - half, "ci95_high": mean + half, "p_value": p}


def overall_verdict(outcomes: list[str]) -> str:
    if outcomes and all(o == "agree" for o in outcomes):
        return "confirmed"
    if outcomes and all(o == "disagree" for o in outcomes):
        return "refuted"
    if all(o == "inconclusive" for o in outcomes):
        return "not testable at this budget"
    return "mixed"


def _describe(run: pd.Series) -> str:
    return f"{run['verdict']} (train acc {run['final_train_accuracy']:.3f}, loss {run['final_train_loss']:.3f})"


def _seeds_columns(seeds: list, per_seed: list[str], outcomes: list[str]) -> dict:
    n_agree = outcomes.count("agree")
    return {
        "seeds": " ".join(str(s) for s in seeds),
        "per_seed": "; ".join(per_seed),
        "n_agree": n_agree,
        "n_seeds": len(outcomes),
        "agree": f"{n_agree}/{len(outcomes)}",
    }


def outcome_claim(claim: dict, runs: pd.DataFrame) -> dict:
    """A 'learns' or 'stuck' claim, from each seed's verdict."""
    mine = runs[runs["variant"] == claim["variant"]].set_index("seed")
    outcomes = [seed_outcome(claim["expect"], r["verdict"]) for _, r in mine.iterrows()]
    verdict = overall_verdict(outcomes)
    reason = {
        "confirmed": "every seed behaves as claimed",
        "refuted": "no seed behaves as claimed",
        "mixed": "seeds disagree",
        "not testable at this budget": "no seed is clearly stuck or clearly learning yet",
    }[verdict]
    per_seed = [f"seed {s}: {_describe(r)}" for s, r in mine.iterrows()]
    return _seeds_columns(list(mine.index), per_seed, outcomes) | {"verdict": verdict, "reason": reason}


def compared_values(claim: dict, runs: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray, str]:
    """The seeds both variants ran, and per seed what a comparison claim compares, with its name."""
    mine = runs[runs["variant"] == claim["variant"]].set_index("seed")
    other = runs[runs["variant"] == claim["baseline"]].set_index("seed")
    seeds = sorted(set(mine.index) & set(other.index))
    mine, other = mine.loc[seeds], other.loc[seeds]
    if claim["expect"] == "better_than":
        metric = claim.get("metric", "final_train_accuracy")
        return seeds, mine[metric].to_numpy(float), other[metric].to_numpy(float), metric.replace("_", " ")
    gap = "final_train_accuracy", "final_val_accuracy"
    a = (mine[gap[0]] - mine[gap[1]]).to_numpy(float)
    b = (other[gap[0]] - other[gap[1]]).to_numpy(float)
    return seeds, a, b, "train-val accuracy gap"


def comparison_claim(claim: dict, runs: pd.DataFrame) -> dict:
    """A 'better_than' or 'larger_gap' claim, from paired differences seed by seed.

    Every seed agreeing is not enough when the 95% interval of the mean
    difference still holds 0: the claim is then 'mixed'.
    """
    variant, baseline = claim["variant"], claim["baseline"]
    seeds, a, b, what = compared_values(claim, runs)
    differences = a - b
    outcomes = ["agree" if d > 0 else "disagree" for d in differences]
    statistics = paired_statistics(differences) if len(differences) else {}
    reasons = {
        "confirmed": f"{variant} beats {baseline} on {what} for every seed",
        "refuted": f"{variant} never beats {baseline} on {what}",
        "mixed": f"{variant} beats {baseline} on {what} for some seeds only",
    }
    if claim["expect"] == "larger_gap":
        not_learning = [
            v for v in (variant, baseline) if not runs[runs["variant"] == v]["verdict"].isin(LEARNING).any()
        ]
        if not_learning:
            outcomes = ["inconclusive"] * len(outcomes)
            reasons["not testable at this budget"] = (
                f"{', '.join(not_learning)} did not learn in any seed, so its gap says nothing about overfitting"
            )
    verdict = overall_verdict(outcomes)
    if verdict == "confirmed" and len(differences) > 1 and not statistics["ci95_low"] > 0:
        verdict = "mixed"
        reasons["mixed"] = (
            f"every seed agrees, but the 95% CI of the mean difference includes 0 "
            f"(p = {statistics['p_value']:.2g}, {len(outcomes)} seeds)"
        )
    per_seed = [f"seed {s}: {what} {x:.3f} vs {y:.3f}" for s, x, y in zip(seeds, a, b, strict=True)]
    return (
        statistics
        | _seeds_columns(seeds, per_seed, outcomes)
        | {"verdict": verdict, "reason": reasons.get(verdict, "")}
    )


def evaluate_claim(claim: dict, runs: pd.DataFrame, variants: dict) -> dict:
    """One claim against the runs table (one row per variant x seed, with verdicts and final metrics)."""
    variant, baseline = claim["variant"], claim.get("baseline")
    row = {
        "claim": claim["claim"],
        "expect": claim["expect"],
        "variant": variant,
        "baseline": baseline or "",
        "lecture": variants.get(variant, {}).get("lecture", {}).get("says", ""),
    }
    missing = [name for name in (variant, baseline) if name and name not in set(runs["variant"])]
    if missing:
        return (
            row
            | _seeds_columns([], [], [])
            | {
                "verdict": "not testable at this budget",
                "reason": f"not run: {', '.join(missing)}",
            }
        )
    if claim["expect"] in ("learns", "stuck"):
        return row | outcome_claim(claim, runs)
    return row | comparison_claim(claim, runs)


def claims_table(claims: list[dict], runs: pd.DataFrame, variants: dict) -> pd.DataFrame:
    return pd.DataFrame([evaluate_claim(c, runs, variants) for c in claims]).reindex(columns=CLAIM_COLUMNS)
