"""The lecture's claims, declared in the config, each tested across seeds as the lecture states it.

Three kinds, by what the claim says (`study.analysis.statistics` has the tests):

- *rate*: ``expect: learns`` or ``stuck`` without a baseline ("the 12-conv net does not learn"):
  the share of seeds with that outcome against the design's ``rate_threshold`` ("in most runs").
- *contrast*: ``expect: learns`` or ``stuck`` with a ``baseline`` ("batch norm makes the 12-conv
  net learn"): the variant's rate of that outcome against the baseline's.
- *paired*: ``better_than`` (a metric) and ``larger_gap`` (the train-validation accuracy gap),
  seed by seed against a baseline.

Every p-value is Holm-adjusted within its family (one family, ``lecture``, unless a claim names
another). A claim is *confirmed* when its adjusted p is at most the design's alpha and the estimate
points the claimed way, *refuted* when it points the other way, and *undetermined* otherwise, with
the seeds that would give 80% power at the design's minimal effect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from study.analysis import statistics
from study.analysis.outcomes import LEARNING, NO_CAUSE

OUTCOMES = {"learns": LEARNING, "stuck": {"stuck"}}
DEFAULT_FAMILY = "lecture"
TESTS = {
    "rate": "exact binomial test against {threshold:g} (Clopper-Pearson 95% interval)",
    "contrast": "Boschloo's exact test of two rates (exact 95% interval of the difference)",
    "paired": "exact sign-flip test (Hartigan's 95% interval of the mean difference)",
    "paired_t": "paired t-test (95% t-interval of the mean difference)",
}
CLAIM_COLUMNS = [
    "claim",
    "expect",
    "variant",
    "baseline",
    "kind",
    "test",
    "family",
    "lecture",
    "seeds",
    "n_seeds",
    "n_outcome",
    "baseline_n_seeds",
    "baseline_n_outcome",
    "estimate",
    "ci_low",
    "ci_high",
    "sd",
    "p_value",
    "p_looks",
    "p_adjusted",
    "family_tests",
    "evidence",
    "verdict",
    "seeds_needed",
    "power_at",
    "per_seed",
    "reason",
]


def claim_kind(claim: dict) -> str:
    if claim["expect"] in OUTCOMES:
        return "contrast" if claim.get("baseline") else "rate"
    return "paired"


def _describe(run: pd.Series) -> str:
    left = run.get("plateau_exit_step")
    when = "" if pd.isna(left) else f", left the plateau at step {int(left)}"
    cause = run.get("cause", "")
    because = f"; cause: {cause}" if isinstance(cause, str) and cause not in ("", NO_CAUSE) else ""
    return f"{run['outcome']} (train loss {run['final_train_loss']:.3f}{when}{because})"


def outcome_counts(runs: pd.DataFrame, variant: str, expect: str) -> tuple[pd.DataFrame, int]:
    mine = runs[runs["variant"] == variant].set_index("seed").sort_index()
    return mine, int(mine["outcome"].isin(OUTCOMES[expect]).sum())


def rate_claim(claim: dict, runs: pd.DataFrame, design: dict) -> dict:
    mine, k = outcome_counts(runs, claim["variant"], claim["expect"])
    estimate = statistics.rate_test(k, len(mine), design["rate_threshold"])
    return {
        "seeds": " ".join(str(s) for s in mine.index),
        "n_seeds": len(mine),
        "n_outcome": k,
        **_estimate(estimate),
        "null": design["rate_threshold"],
        "per_seed": "; ".join(f"seed {s}: {_describe(r)}" for s, r in mine.iterrows()),
    }


def contrast_claim(claim: dict, runs: pd.DataFrame) -> dict:
    mine, k = outcome_counts(runs, claim["variant"], claim["expect"])
    base, k_base = outcome_counts(runs, claim["baseline"], claim["expect"])
    estimate = statistics.contrast_test(k, len(mine), k_base, len(base))
    return {
        "seeds": " ".join(str(s) for s in mine.index),
        "n_seeds": len(mine),
        "n_outcome": k,
        "baseline_n_seeds": len(base),
        "baseline_n_outcome": k_base,
        **_estimate(estimate),
        "null": 0.0,
        "per_seed": "; ".join(f"seed {s}: {_describe(r)}" for s, r in mine.iterrows())
        + f" | baseline {claim['baseline']}: "
        + "; ".join(f"seed {s}: {r['outcome']}" for s, r in base.iterrows()),
    }


def compared_values(claim: dict, runs: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray, str]:
    """The seeds both variants ran, and per seed what a paired claim compares, with its name."""
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
    return seeds, a, b, "train-validation accuracy gap"


def paired_claim(claim: dict, runs: pd.DataFrame) -> dict:
    seeds, a, b, what = compared_values(claim, runs)
    differences = a - b
    row = {
        "test": TESTS["paired_t" if len(seeds) >= statistics.EXACT_PAIRED_BELOW else "paired"],
        "seeds": " ".join(str(s) for s in seeds),
        "n_seeds": len(seeds),
        **_estimate(statistics.paired_test(differences)),
        "sd": float(np.std(differences, ddof=1)) if len(differences) > 1 else math.nan,
        "null": 0.0,
        "per_seed": "; ".join(f"seed {s}: {what} {x:.3f} vs {y:.3f}" for s, x, y in zip(seeds, a, b, strict=True)),
        "what": what,
    }
    if claim["expect"] == "larger_gap":
        not_learning = [
            v
            for v in (claim["variant"], claim["baseline"])
            if not runs[runs["variant"] == v]["outcome"].isin(LEARNING).any()
        ]
        if not_learning:
            row["p_value"] = math.nan  # not a test of this claim: left out of the family
            row["untestable"] = (
                f"{', '.join(not_learning)} did not learn in any seed, so its gap says nothing about overfitting"
            )
    return row


def _estimate(estimate: statistics.Estimate) -> dict:
    return {"estimate": estimate.value, "ci_low": estimate.low, "ci_high": estimate.high, "p_value": estimate.p}


def verdict_of(row: dict, null: float, alpha: float) -> str:
    """Confirmed when the adjusted p is at most alpha and the estimate lies on the claimed side of the null,
    refuted when on the other side, undetermined otherwise."""
    p, estimate = row.get("p_adjusted", math.nan), row.get("estimate", math.nan)
    if math.isnan(p) or p > alpha or math.isnan(estimate) or estimate == null:
        return "undetermined"
    return "confirmed" if estimate > null else "refuted"


def seeds_needed(row: dict, design: dict) -> tuple[int | None, str]:
    """Seeds (per variant) for 80% power at the design's minimal effect, at Holm's first-step level (with the
    Bonferroni correction over the looks), and that effect in words."""
    tests = max(int(row.get("family_tests") or 1), 1) * look_count(design)
    effect, level = design["minimal_effect"], design["alpha"] / tests
    if row["kind"] == "rate":
        above = effect["rate_above_threshold"]
        rate = min(1.0, design["rate_threshold"] + above)
        return statistics.seeds_for_rate(design["rate_threshold"], rate, level), f"a true rate of {rate:g}"
    if row["kind"] == "contrast":
        difference = effect["rate_difference"]
        low, high = 0.5 - difference / 2, 0.5 + difference / 2
        return statistics.seeds_for_contrast(difference, level), f"rates {high:g} against {low:g}"
    difference = effect["accuracy_difference"]
    spread = row.get("sd", math.nan)
    needed = statistics.seeds_for_mean(difference, spread, level)
    return needed, f"a difference of {difference:g} with the spread seen here, sd {spread:.3f}"


def reason(row: dict, claim: dict, what: str, design: dict) -> str:
    """Why the claim has its verdict, in one sentence with the numbers."""
    looks = look_count(design)
    corrected = f", Bonferroni over {looks} looks," if looks > 1 else ","
    tested = f"{row['test']}{corrected} Holm-adjusted over {row['family_tests']} tests of family '{row['family']}'"
    if row["kind"] == "rate":
        counted = f"{row['n_outcome']} of {row['n_seeds']} seeds {claim['expect']}"
    elif row["kind"] == "contrast":
        counted = (
            f"{row['n_outcome']} of {row['n_seeds']} seeds {claim['expect']} against "
            f"{row['baseline_n_outcome']} of {row['baseline_n_seeds']} for {claim['baseline']}"
        )
    else:
        counted = f"{claim['variant']} - {claim['baseline']} on {what}"
    p = format_p(row["p_adjusted"]) or "not tested"
    return f"{counted}: {evidence(row)}; {tested}; p = {p} against alpha {design['alpha']:g}"


def format_p(p: float | None) -> str:
    """A p-value as a reader writes it: '< 0.001', '0.034', or '' when there was no test."""
    if p is None or pd.isna(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def evidence(row) -> str:
    """A claim's numbers in a few words: the estimate with its interval."""
    if row.get("kind") not in TESTS or pd.isna(row.get("estimate")):
        return ""
    if row["kind"] == "rate":
        return (
            f"{int(row['n_outcome'])}/{int(row['n_seeds'])} seeds, rate {row['estimate']:.2f} "
            f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        )
    if row["kind"] == "contrast":
        return (
            f"{int(row['n_outcome'])}/{int(row['n_seeds'])} vs {int(row['baseline_n_outcome'])}/"
            f"{int(row['baseline_n_seeds'])}, difference {row['estimate']:+.2f} "
            f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]"
        )
    if pd.isna(row.get("ci_low")):
        interval = ""
    elif math.isinf(row["ci_low"]):
        interval = f" (no 95% interval from {int(row['n_seeds'])} seeds without assuming normal differences)"
    else:
        interval = f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    return f"mean difference {row['estimate']:+.3f}{interval}"


def claim_row(claim: dict, runs: pd.DataFrame, variants: dict, design: dict) -> dict:
    """One claim's test against the runs table (one row per variant x seed, with outcomes and final metrics);
    its verdict waits for the family's adjustment (`settle`)."""
    variant, baseline = claim["variant"], claim.get("baseline")
    kind = claim_kind(claim)
    row = {
        "claim": claim["claim"],
        "expect": claim["expect"],
        "variant": variant,
        "baseline": baseline or "",
        "kind": kind,
        "test": TESTS[kind].format(threshold=design["rate_threshold"]),
        "family": claim.get("family", DEFAULT_FAMILY),
        "lecture": variants.get(variant, {}).get("lecture", {}).get("says", ""),
    }
    missing = [name for name in (variant, baseline) if name and name not in set(runs["variant"])]
    if missing:
        return row | {"n_seeds": 0, "p_value": math.nan, "untestable": f"not run: {', '.join(missing)}"}
    if kind == "rate":
        return row | rate_claim(claim, runs, design)
    if kind == "contrast":
        return row | contrast_claim(claim, runs)
    return row | paired_claim(claim, runs)


def settle(row: dict, claim: dict, design: dict) -> dict:
    """A claim's verdict, reason and seeds needed, once its family's p-values are adjusted."""
    untestable, null, what = row.pop("untestable", None), row.pop("null", math.nan), row.pop("what", "")
    if untestable:
        return row | {"verdict": "undetermined", "reason": untestable}
    row["verdict"] = verdict_of(row, null, design["alpha"])
    row["reason"] = reason(row, claim, what, design)
    if row["verdict"] == "undetermined":
        row["seeds_needed"], row["power_at"] = seeds_needed(row, design)
        if row["seeds_needed"] is None:
            row["reason"] += "; no number of seeds gives 80% power at " + row["power_at"]
        else:
            row["reason"] += f"; {row['seeds_needed']} seeds per variant give 80% power at {row['power_at']}"
    return row


def look_count(design: dict) -> int:
    """The number of planned looks (one when the design plans none)."""
    return max(len(design.get("looks") or []), 1)


def claims_table(
    claims: list[dict], runs: pd.DataFrame, variants: dict, design: dict, earlier_p: dict | None = None
) -> pd.DataFrame:
    """Every claim tested, corrected over the design's looks (``earlier_p``: each claim's smallest p at the
    looks before this one), adjusted within its family, and settled."""
    rows = [claim_row(c, runs, variants, design) for c in claims]
    earlier_p = earlier_p or {}
    for row in rows:
        seen = [row.get("p_value", math.nan), earlier_p.get(row["claim"], math.nan)]
        row["p_looks"] = statistics.over_looks([math.nan if p is None else p for p in seen], look_count(design))
    for family in {row["family"] for row in rows}:
        members = [i for i, row in enumerate(rows) if row["family"] == family]
        adjusted = statistics.holm([rows[i]["p_looks"] for i in members], design["alpha"])
        tests = sum(not math.isnan(p) for p in adjusted)
        for i, p in zip(members, adjusted, strict=True):
            rows[i] |= {"p_adjusted": p, "family_tests": tests}
    rows = [settle(row, claim, design) for row, claim in zip(rows, claims, strict=True)]
    table = pd.DataFrame(rows)
    table["evidence"] = [evidence(row) for row in rows]
    table = table.reindex(columns=CLAIM_COLUMNS)
    for column in ("seeds_needed", "n_outcome", "baseline_n_seeds", "baseline_n_outcome", "family_tests"):
        table[column] = table[column].astype("Int64")
    return table
