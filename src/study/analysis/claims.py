"""The lecture's claims, declared in the config, each tested across seeds as the lecture states it.

Three kinds, by what the claim says (`study.analysis.statistics` has the tests):

- *rate*: ``expect: learns`` or ``does_not_learn`` without a baseline ("the 12-conv net does not
  learn"): the share of seeds with that outcome against the design's ``rate_threshold`` ("in most
  runs"). A run learns when its outcome is *learns* or *overfits*; every other outcome (stuck,
  undecided, diverged, learns in training mode only) does not learn.
- *contrast*: ``expect: learns`` or ``does_not_learn`` with a ``baseline`` ("batch norm makes the
  12-conv net learn"): an intersection-union test of both things the claim says, the variant has the
  outcome in most runs *and* more often than the baseline; its p is the larger of the two parts' p.
- *paired*: ``better_than`` (a metric, by at least the claim's ``by``) and ``larger_gap`` (the
  train-validation accuracy gap), seed by seed against a baseline.

Every p-value is Holm-adjusted within its family (one family, ``lecture``, unless a claim names
another). A claim is *confirmed* when its adjusted p is at most the design's alpha and the estimate
points the claimed way, *refuted* when it points the other way, and *undetermined* otherwise, with
the seeds that would give 80% power at the design's minimal effect and at the effect observed. Each
interval is at the level Holm tests the claim at (its step's alpha / k), so that it agrees with the
decision. A claim is *not testable* when its measure cannot reach its threshold at this profile, which
the profile declares before the runs (``design.not_testable``, in the protocol), and *not run* when a
variant it names did not train; both stay out of the family.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from study.analysis import statistics
from study.analysis.outcomes import LEARNING

EXPECTED_OUTCOMES = ("learns", "does_not_learn")
DEFAULT_FAMILY = "lecture"
NOT_TESTABLE, NOT_RUN = "not testable", "not run"
TESTS = {
    "rate": "exact binomial test against {threshold:g} (Clopper-Pearson interval)",
    "contrast": (
        "intersection-union test: the exact binomial test against {threshold:g} and Boschloo's exact test "
        "against the baseline, the larger p (exact interval of the difference)"
    ),
    "paired": "exact sign-flip test (interval: the values the test keeps)",
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
    "null",
    "confidence",
    "ci_low",
    "ci_high",
    "sd",
    "p_rate",
    "p_contrast",
    "p_value",
    "p_looks",
    "p_adjusted",
    "family_tests",
    "verdict",
    "seeds_needed",
    "seeds_needed_observed",
]
# Counts, missing where a claim was not tested.
INTEGER_COLUMNS = (
    "seeds_needed",
    "seeds_needed_observed",
    "n_outcome",
    "baseline_n_seeds",
    "baseline_n_outcome",
    "family_tests",
)


def claims_frame(rows) -> pd.DataFrame:
    """Claim records (a look's, or claims_table's rows) as the claims table: its columns in order, counts as
    integers."""
    table = pd.DataFrame(rows).reindex(columns=CLAIM_COLUMNS)
    return table.astype(dict.fromkeys(INTEGER_COLUMNS, "Int64"))


def claim_kind(claim: dict) -> str:
    if claim["expect"] in EXPECTED_OUTCOMES:
        return "contrast" if claim.get("baseline") else "rate"
    return "paired"


def has_outcome(outcomes: pd.Series, expect: str) -> pd.Series:
    """Whether each run has the claimed outcome: learned (learns or overfits), or did not."""
    learned = outcomes.isin(LEARNING)
    return learned if expect == "learns" else ~learned


def outcome_counts(runs: pd.DataFrame, variant: str, expect: str) -> tuple[pd.DataFrame, int]:
    mine = runs[runs["variant"] == variant].set_index("seed").sort_index()
    return mine, int(has_outcome(mine["outcome"], expect).sum())


def rate_claim(claim: dict, runs: pd.DataFrame, design: dict) -> dict:
    mine, k = outcome_counts(runs, claim["variant"], claim["expect"])
    threshold = design["rate_threshold"]
    return {
        "seeds": " ".join(str(s) for s in mine.index),
        "n_seeds": len(mine),
        "n_outcome": k,
        "estimate": k / len(mine),
        "null": threshold,
        "p_value": statistics.binomial_p(k, len(mine), threshold),
    }


def contrast_claim(claim: dict, runs: pd.DataFrame, design: dict) -> dict:
    """Both parts of "the variant has the outcome where the baseline does not": its rate against the threshold,
    and against the baseline's rate. Confirmed only when both are (the larger p; both estimates the claimed
    way), refuted only when both point the other way."""
    mine, k = outcome_counts(runs, claim["variant"], claim["expect"])
    base, k_base = outcome_counts(runs, claim["baseline"], claim["expect"])
    threshold = design["rate_threshold"]
    p_rate = statistics.binomial_p(k, len(mine), threshold)
    p_contrast = statistics.boschloo_p(k, len(mine), k_base, len(base))
    rate, difference = k / len(mine), k / len(mine) - k_base / len(base)
    sides = {np.sign(rate - threshold), np.sign(difference)}
    return {
        "seeds": " ".join(str(s) for s in mine.index),
        "n_seeds": len(mine),
        "n_outcome": k,
        "baseline_n_seeds": len(base),
        "baseline_n_outcome": k_base,
        "estimate": difference,
        "null": 0.0,
        "p_rate": p_rate,
        "p_contrast": p_contrast,
        "p_value": max(p_rate, p_contrast),
        "side": sides.pop() if len(sides) == 1 else 0.0,
    }


ACCURACY_GAP = "accuracy_gap"  # what a larger_gap claim compares: train minus validation accuracy


def compared_metric(claim: dict) -> str:
    """The column a paired claim compares seed by seed: ``metric`` for better_than (the final train accuracy
    unless named), the train-validation accuracy gap (ACCURACY_GAP) for larger_gap."""
    return claim.get("metric", "final_train_accuracy") if claim["expect"] == "better_than" else ACCURACY_GAP


def compared_values(claim: dict, runs: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray]:
    """The seeds both variants ran, and per seed the value a paired claim compares (compared_metric) for the
    variant and for its baseline."""
    mine = runs[runs["variant"] == claim["variant"]].set_index("seed")
    other = runs[runs["variant"] == claim["baseline"]].set_index("seed")
    seeds = sorted(set(mine.index) & set(other.index))
    mine, other = mine.loc[seeds], other.loc[seeds]
    metric = compared_metric(claim)
    if metric != ACCURACY_GAP:
        return seeds, mine[metric].to_numpy(float), other[metric].to_numpy(float)
    a = (mine["final_train_accuracy"] - mine["final_val_accuracy"]).to_numpy(float)
    b = (other["final_train_accuracy"] - other["final_val_accuracy"]).to_numpy(float)
    return seeds, a, b


def claimed_margin(claim: dict) -> float:
    """The least difference a paired claim states: ``by`` for better_than ("raises accuracy by at least 0.05"),
    none for larger_gap."""
    return float(claim.get("by", 0.0)) if claim["expect"] == "better_than" else 0.0


def paired_claim(claim: dict, runs: pd.DataFrame) -> dict:
    seeds, a, b = compared_values(claim, runs)
    differences = a - b
    margin = claimed_margin(claim)
    row = {
        "seeds": " ".join(str(s) for s in seeds),
        "n_seeds": len(seeds),
        "estimate": float(differences.mean()) if len(seeds) else math.nan,
        "null": margin,
        "p_value": statistics.paired_test(differences, null=margin).p,
        "sd": float(np.std(differences, ddof=1)) if len(differences) > 1 else math.nan,
        "differences": differences,
    }
    return row


def verdict_of(row: dict, alpha: float) -> str:
    """Confirmed when the adjusted p is at most alpha and the estimate lies on the claimed side of the null (for
    an intersection-union test, both parts' estimates), refuted when on the other side, undetermined otherwise."""
    p = row.get("p_adjusted", math.nan)
    side = row.get("side", np.sign(row.get("estimate", math.nan) - row.get("null", math.nan)))
    if math.isnan(p) or p > alpha or math.isnan(side) or side == 0:
        return "undetermined"
    return "confirmed" if side > 0 else "refuted"


def interval(row: dict, confidence: float) -> tuple[float, float]:
    """The claim's interval at ``confidence``: of its rate (rate), of the difference of its rates (contrast),
    or of its mean difference (paired, the values the sign-flip test keeps)."""
    if row["kind"] == "rate":
        return statistics.clopper_pearson(row["n_outcome"], row["n_seeds"], confidence=confidence)
    if row["kind"] == "contrast":
        return statistics.difference_interval(
            row["n_outcome"], row["n_seeds"], row["baseline_n_outcome"], row["baseline_n_seeds"], confidence
        )
    estimate = statistics.paired_test(row["differences"], confidence=confidence)
    return estimate.low, estimate.high


def design_effect(kind: str, design: dict) -> dict[str, float]:
    """The effect the design powers a claim of this ``kind`` for (``design.minimal_effect``): a true ``rate``;
    the ``high`` and ``low`` rates of a contrast, centred on 0.5; a mean ``difference`` beyond the claim's."""
    effect = design["minimal_effect"]
    if kind == "rate":
        return {"rate": min(1.0, design["rate_threshold"] + effect["rate_above_threshold"])}
    if kind == "contrast":
        difference = effect["rate_difference"]
        return {"high": 0.5 + difference / 2, "low": 0.5 - difference / 2}
    return {"difference": effect["accuracy_difference"]}


def observed_effect(row: dict) -> dict[str, float]:
    """The effect this study observed, in design_effect's terms."""
    if row["kind"] == "rate":
        return {"rate": row["n_outcome"] / row["n_seeds"]}
    if row["kind"] == "contrast":
        return {
            "high": row["n_outcome"] / row["n_seeds"],
            "low": row["baseline_n_outcome"] / row["baseline_n_seeds"],
        }
    return {"difference": row["estimate"] - row["null"]}


def points_claimed_way(effect: dict[str, float], threshold: float) -> bool:
    """Whether an effect is one the claim's test can find: a rate above the threshold, a contrast whose first
    rate is above the threshold and the second's, a positive difference."""
    if "rate" in effect:
        return effect["rate"] > threshold
    if "high" in effect:
        return effect["high"] > max(effect["low"], threshold)
    return effect["difference"] > 0


def seeds_for_power(row: dict, effect: dict[str, float], design: dict, level: float) -> int | None:
    """Seeds (per variant) for 80% power at ``effect`` (design_effect or observed_effect), at the claim's Holm
    ``level``: None when the effect does not point the claimed way or no number of seeds up to
    statistics.MAX_SEEDS is enough. A contrast needs both parts of its intersection-union test powered."""
    threshold = design["rate_threshold"]
    if not points_claimed_way(effect, threshold):
        return None
    if row["kind"] == "rate":
        return statistics.seeds_for_rate(threshold, effect["rate"], level)
    if row["kind"] == "contrast":
        high, low = effect["high"], effect["low"]
        needed = [statistics.seeds_for_rate(threshold, high, level), statistics.seeds_for_rates(high, low, level)]
        return None if None in needed else max(needed)
    return statistics.seeds_for_mean(effect["difference"], row.get("sd", math.nan), level)


def planned_seeds(config: dict) -> pd.DataFrame:
    """Before any run: the seeds per variant each testable claim needs for 80% power at the design's effects,
    at the lowest level it can be tested at, alpha / (looks x testable claims in its family): Holm's first step
    on p-values Bonferroni-corrected over the planned looks. A paired claim is planned at the design's
    ``paired_sd`` for the spread of its per-seed differences."""
    design = config["design"]
    testable = [claim for claim in config["claims"] if claim["claim"] not in design["not_testable"]]
    families = pd.Series([claim.get("family", DEFAULT_FAMILY) for claim in testable]).value_counts()
    rows = []
    for claim in testable:
        family, kind = claim.get("family", DEFAULT_FAMILY), claim_kind(claim)
        level = design["alpha"] / (look_count(design) * families[family])
        row = {"kind": kind, "sd": design["minimal_effect"]["paired_sd"]}
        needed = seeds_for_power(row, design_effect(kind, design), design, level)
        rows.append({"claim": claim["claim"], "family": family, "kind": kind, "level": level, "seeds_needed": needed})
    return pd.DataFrame(rows, columns=["claim", "family", "kind", "level", "seeds_needed"])


def not_trained(claim: dict, runs: pd.DataFrame) -> list[str]:
    """The variants a claim names (its variant, its baseline) that have no run in ``runs``."""
    names = (claim["variant"], claim.get("baseline"))
    return [name for name in names if name and name not in set(runs["variant"])]


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
    if not_trained(claim, runs):
        return row | {"n_seeds": 0, "p_value": math.nan, "verdict": NOT_RUN}
    if kind == "rate":
        row |= rate_claim(claim, runs, design)
    elif kind == "contrast":
        row |= contrast_claim(claim, runs, design)
    else:
        row |= paired_claim(claim, runs)
    if claim["claim"] in (design.get("not_testable") or {}):  # out of the family
        row |= {"p_value": math.nan, "verdict": NOT_TESTABLE}
    return row


def settle(row: dict, design: dict, with_power: bool = True) -> dict:
    """A claim's verdict, its interval at its level and (``with_power``) the seeds it needs for 80% power at the
    design's effect and at the effect observed, once its family is adjusted."""
    if row.get("verdict") == NOT_RUN:
        return row
    if row.get("verdict") == NOT_TESTABLE:
        low, high = interval(row, statistics.CONFIDENCE)
        return row | {"confidence": statistics.CONFIDENCE, "ci_low": low, "ci_high": high}
    level = row.get("holm_level", design["alpha"])
    low, high = interval(row, 1 - level)
    row |= {"confidence": 1 - level, "ci_low": low, "ci_high": high}
    row["verdict"] = verdict_of(row, design["alpha"])
    if row["verdict"] == "undetermined" and with_power:
        row["seeds_needed"] = seeds_for_power(row, design_effect(row["kind"], design), design, level)
        row["seeds_needed_observed"] = seeds_for_power(row, observed_effect(row), design, level)
    return row


def look_count(design: dict) -> int:
    """The number of planned looks (one when the design plans none)."""
    return max(len(design.get("looks") or []), 1)


def holm_levels(p_values: list[float], alpha: float) -> list[float]:
    """The level Holm's step-down procedure tests each p at: alpha / (m - rank), the smallest p first (rank 0),
    until the first p it does not reject; that step's level holds for every p after it, since Holm stops there
    (NaN for a p left out of the family). A claim's interval at 1 - this level agrees with its Holm decision."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    levels = [math.nan] * len(p_values)
    stopped = None
    for rank, (p, i) in enumerate(tested):
        level = alpha / (len(tested) - rank) if stopped is None else stopped
        if stopped is None and p > level:
            stopped = level
        levels[i] = level
    return levels


def claims_table(
    claims: list[dict],
    runs: pd.DataFrame,
    variants: dict,
    design: dict,
    earlier_p: dict | None = None,
    with_power: bool = True,
) -> pd.DataFrame:
    """Every claim tested, corrected over the design's looks (``earlier_p``: each claim's smallest p at the
    looks before this one), adjusted within its family, and settled; ``with_power``: with the seeds an
    undetermined claim needs (slow where they are many; the map's cells and the stability check skip them)."""
    rows = [claim_row(c, runs, variants, design) for c in claims]
    earlier_p = earlier_p or {}
    for row in rows:
        seen = [row.get("p_value", math.nan), earlier_p.get(row["claim"], math.nan)]
        row["p_looks"] = statistics.over_looks([math.nan if p is None else p for p in seen], look_count(design))
    for family in {row["family"] for row in rows}:
        members = [i for i, row in enumerate(rows) if row["family"] == family]
        family_p = [rows[i]["p_looks"] for i in members]
        adjusted = statistics.holm(family_p, design["alpha"])
        levels = holm_levels(family_p, design["alpha"])
        tests = sum(not math.isnan(p) for p in adjusted)
        for i, p, level in zip(members, adjusted, levels, strict=True):
            rows[i] |= {"p_adjusted": p, "family_tests": tests}
            if not math.isnan(level):
                rows[i]["holm_level"] = level / look_count(design)
    return claims_frame([settle(row, design, with_power) for row in rows])
