"""The lecture's claims, declared in the config, checked against every seed's run, with how sure we can be.

An outcome claim ('learns', 'stuck') counts the seeds whose run had the outcome
and gives a Wilson 95% interval for the rate: confirmed when the whole interval
is above one half, refuted when it is below, undetermined otherwise. A
comparison claim ('better_than', 'larger_gap') pairs two variants seed by seed:
the mean difference, a bootstrap 95% interval, and a paired t-test's p-value
adjusted with Holm's method across all comparison claims. It is confirmed or
refuted only when the interval excludes 0 and the adjusted p is below 0.05.
Every undetermined claim says how many seeds would settle it, were the observed
rate or effect to hold.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

LEARNING = {"learns", "overfits"}
OUTCOMES = {"learns": LEARNING, "stuck": {"stuck"}}
Z95 = float(scipy_stats.norm.ppf(0.975))
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # the same intervals every time the tables are rebuilt
MAX_SEEDS = 1000  # beyond this, "more seeds" is not a useful answer
CLAIM_COLUMNS = [
    "claim",
    "expect",
    "variant",
    "baseline",
    "lecture",
    "seeds",
    "n_seeds",
    "n_outcome",
    "p_low",
    "p_high",
    "mean_difference",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "evidence",
    "verdict",
    "seeds_needed",
    "per_seed",
    "reason",
]


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (``successes`` may be fractional: an expected count)."""
    if n == 0:
        return 0.0, 1.0
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (NaNs are left out and stay NaN)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[i] = running
    return adjusted


def outcome_verdict(p_low: float, p_high: float) -> str:
    """Confirmed when the rate's whole interval is above one half, refuted when below."""
    return "confirmed" if p_low > 0.5 else "refuted" if p_high < 0.5 else "undetermined"


def seeds_needed_for_rate(n_outcome: int, n: int) -> int | None:
    """Seeds at which the observed rate would put the Wilson interval wholly on one side of 1/2."""
    rate = n_outcome / n if n else 0.5
    if rate == 0.5:
        return None
    for seeds in range(max(n, 1), MAX_SEEDS + 1):
        low, high = wilson_interval(rate * seeds, seeds)
        if low > 0.5 or high < 0.5:
            return seeds
    return None


def bootstrap_interval(differences: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean of paired differences (seeds resampled)."""
    if len(differences) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    resamples = rng.choice(differences, size=(BOOTSTRAP_RESAMPLES, len(differences)), replace=True).mean(axis=1)
    low, high = np.quantile(resamples, [ALPHA / 2, 1 - ALPHA / 2])
    return float(low), float(high)


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided paired t-test of a mean difference of 0."""
    if len(differences) < 2:
        return math.nan
    if np.std(differences, ddof=1) == 0:
        return 0.0 if np.mean(differences) != 0 else 1.0
    return float(scipy_stats.ttest_1samp(differences, 0.0).pvalue)


def seeds_needed_for_effect(differences: np.ndarray, tests: int) -> int | None:
    """Seeds at which the observed mean and spread of the differences would give a paired t-test
    p below 0.05 even after multiplying by ``tests`` (Holm's largest factor); always more seeds than ran."""
    n = len(differences)
    mean = float(np.mean(differences)) if n else 0.0
    sd = float(np.std(differences, ddof=1)) if n > 1 else math.nan
    if mean == 0 or math.isnan(sd):
        return None
    for seeds in range(2, MAX_SEEDS + 1):
        t = abs(mean) / (sd / math.sqrt(seeds)) if sd > 1e-12 * abs(mean) else math.inf
        if 2 * scipy_stats.t.sf(t, seeds - 1) * tests < ALPHA:
            return max(seeds, n + 1)
    return None


def _describe(run: pd.Series) -> str:
    left = run.get("plateau_exit_step")
    when = "" if pd.isna(left) else f", left the plateau at step {int(left)}"
    return f"{run['outcome']} (train loss {run['final_train_loss']:.3f}{when}; cause: {run.get('cause', '')})"


def outcome_claim(claim: dict, runs: pd.DataFrame) -> dict:
    """A 'learns' or 'stuck' claim, from each seed's outcome."""
    mine = runs[runs["variant"] == claim["variant"]].set_index("seed").sort_index()
    n, n_outcome = len(mine), int(mine["outcome"].isin(OUTCOMES[claim["expect"]]).sum())
    low, high = wilson_interval(n_outcome, n)
    verdict = outcome_verdict(low, high)
    row = {
        "seeds": " ".join(str(s) for s in mine.index),
        "n_seeds": n,
        "n_outcome": n_outcome,
        "p_low": low,
        "p_high": high,
        "verdict": verdict,
        "per_seed": "; ".join(f"seed {s}: {_describe(r)}" for s, r in mine.iterrows()),
        "reason": f"{n_outcome} of {n} seeds {claim['expect']}; Wilson 95% interval of the rate "
        f"[{low:.2f}, {high:.2f}]",
    }
    if verdict == "undetermined":
        row["seeds_needed"] = seeds_needed_for_rate(n_outcome, n)
        row["reason"] += " holds 1/2" + settle_note(row["seeds_needed"], "rate")
    return row


def settle_note(seeds: int | None, what: str) -> str:
    if seeds is None:
        return f"; no number of seeds would settle it at the observed {what}"
    return f"; at the observed {what}, {seeds} seeds would settle it"


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
    """A 'better_than' or 'larger_gap' claim's paired statistics; its verdict waits for Holm's adjustment."""
    seeds, a, b, what = compared_values(claim, runs)
    differences = a - b
    low, high = bootstrap_interval(differences)
    row = {
        "seeds": " ".join(str(s) for s in seeds),
        "n_seeds": len(seeds),
        "mean_difference": float(np.mean(differences)) if len(differences) else math.nan,
        "ci_low": low,
        "ci_high": high,
        "p_value": paired_p_value(differences),
        "per_seed": "; ".join(f"seed {s}: {what} {x:.3f} vs {y:.3f}" for s, x, y in zip(seeds, a, b, strict=True)),
        "differences": differences,
        "what": what,
    }
    if claim["expect"] == "larger_gap":
        not_learning = [
            v
            for v in (claim["variant"], claim["baseline"])
            if not runs[runs["variant"] == v]["outcome"].isin(LEARNING).any()
        ]
        if not_learning:
            row["p_value"] = math.nan  # not a test of this claim: left out of Holm's family
            row["untestable"] = (
                f"{', '.join(not_learning)} did not learn in any seed, so its gap says nothing about overfitting"
            )
    return row


def comparison_verdict(ci_low: float, ci_high: float, p_adjusted: float) -> str:
    """Confirmed (or refuted) only when the interval excludes 0 above (below) and the adjusted p is below 0.05."""
    if p_adjusted < ALPHA and ci_low > 0:
        return "confirmed"
    if p_adjusted < ALPHA and ci_high < 0:
        return "refuted"
    return "undetermined"


def settle_comparison(row: dict, claim: dict, tests: int) -> dict:
    """Verdict, reason and seeds needed of a comparison claim, once its p-value is adjusted."""
    differences, what = row.pop("differences"), row.pop("what")
    untestable = row.pop("untestable", None)
    if untestable:
        return row | {"verdict": "undetermined", "seeds_needed": None, "reason": untestable}
    low, high, p = row["ci_low"], row["ci_high"], row["p_adjusted"]
    verdict = comparison_verdict(low, high, p)
    reason = (
        f"{claim['variant']} - {claim['baseline']} on {what}: mean {row['mean_difference']:+.3f}, "
        f"bootstrap 95% CI [{low:+.3f}, {high:+.3f}], Holm-adjusted p = {p:.3g} over {tests} comparisons"
    )
    if verdict != "undetermined":
        return row | {"verdict": verdict, "seeds_needed": None, "reason": reason}
    seeds = seeds_needed_for_effect(differences, tests)
    return row | {"verdict": verdict, "seeds_needed": seeds, "reason": reason + settle_note(seeds, "effect")}


def evidence(row: pd.Series) -> str:
    """A claim's numbers in a few words: seeds with the outcome and the rate's interval, or the mean
    paired difference with its interval and adjusted p."""
    if not pd.isna(row.get("p_low")):
        return f"{int(row['n_outcome'])}/{int(row['n_seeds'])} seeds, rate in [{row['p_low']:.2f}, {row['p_high']:.2f}]"
    if pd.isna(row.get("mean_difference")):
        return ""
    text = f"{row['mean_difference']:+.3f}"
    if not pd.isna(row.get("ci_low")):
        text += f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    if not pd.isna(row.get("p_adjusted")):
        text += f", Holm p = {row['p_adjusted']:.2g}"
    return text


def claim_row(claim: dict, runs: pd.DataFrame, variants: dict) -> dict:
    """One claim against the runs table (one row per variant x seed, with outcomes and final metrics)."""
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
        return row | {"n_seeds": 0, "verdict": "undetermined", "reason": f"not run: {', '.join(missing)}"}
    if claim["expect"] in OUTCOMES:
        return row | outcome_claim(claim, runs)
    return row | comparison_claim(claim, runs)


def claims_table(claims: list[dict], runs: pd.DataFrame, variants: dict) -> pd.DataFrame:
    rows = [claim_row(c, runs, variants) for c in claims]
    compared = [i for i, row in enumerate(rows) if "differences" in row]
    adjusted = holm([rows[i]["p_value"] for i in compared])
    tests = sum(not math.isnan(p) for p in adjusted)
    for i, p in zip(compared, adjusted, strict=True):
        rows[i] = settle_comparison(rows[i] | {"p_adjusted": p}, claims[i], tests)
    table = pd.DataFrame(rows)
    table["evidence"] = table.apply(evidence, axis=1)
    table = table.reindex(columns=CLAIM_COLUMNS)
    table["seeds_needed"] = table["seeds_needed"].astype("Int64")
    table["n_outcome"] = table["n_outcome"].astype("Int64")
    return table
