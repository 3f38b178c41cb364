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
from study.analysis.outcomes import LEARNING, NO_CAUSE

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
    "evidence",
    "verdict",
    "seeds_needed",
    "power_at",
    "seeds_needed_observed",
    "power_at_observed",
    "per_seed",
    "reason",
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


def _describe(run: pd.Series) -> str:
    left = run.get("plateau_exit_step")
    when = "" if pd.isna(left) else f", left the plateau at step {int(left)}"
    cause = run.get("cause", "")
    because = f"; cause: {cause}" if isinstance(cause, str) and cause not in ("", NO_CAUSE) else ""
    return f"{run['outcome']} (train loss {run['final_train_loss']:.3f}{when}{because})"


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
        "per_seed": "; ".join(f"seed {s}: {_describe(r)}" for s, r in mine.iterrows()),
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


def claimed_margin(claim: dict) -> float:
    """The least difference a paired claim states: ``by`` for better_than ("raises accuracy by at least 0.05"),
    none for larger_gap."""
    return float(claim.get("by", 0.0)) if claim["expect"] == "better_than" else 0.0


def paired_claim(claim: dict, runs: pd.DataFrame) -> dict:
    seeds, a, b, what = compared_values(claim, runs)
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
        "per_seed": "; ".join(f"seed {s}: {what} {x:.3f} vs {y:.3f}" for s, x, y in zip(seeds, a, b, strict=True)),
        "what": what,
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


def seeds_needed(row: dict, design: dict, level: float) -> tuple[int | None, str]:
    """Seeds (per variant) for 80% power at the design's minimal effect, at the claim's Holm level."""
    effect = design["minimal_effect"]
    if row["kind"] == "rate":
        rate = min(1.0, design["rate_threshold"] + effect["rate_above_threshold"])
        return statistics.seeds_for_rate(design["rate_threshold"], rate, level), f"a true rate of {rate:g}"
    if row["kind"] == "contrast":  # both parts of the intersection-union test, each with 80% power
        difference, threshold = effect["rate_difference"], design["rate_threshold"]
        low, high = 0.5 - difference / 2, 0.5 + difference / 2
        at = f"rates {high:g} against {low:g}"
        if high <= threshold:
            return None, at + f", the first not above the threshold {threshold:g}"
        needed = [statistics.seeds_for_contrast(difference, level), statistics.seeds_for_rate(threshold, high, level)]
        return (None if None in needed else max(needed)), at
    difference = effect["accuracy_difference"]
    spread = row.get("sd", math.nan)
    needed = statistics.seeds_for_mean(difference, spread, level)
    return (
        needed,
        f"a difference of {difference:g} beyond the claimed {row['null']:g}, with the spread seen, sd {spread:.3f}",
    )


def seeds_needed_observed(row: dict, design: dict, level: float) -> tuple[int | None, str]:
    """Seeds (per variant) for 80% power if the effect is what this study observed."""
    if row["kind"] == "rate":
        rate = row["n_outcome"] / row["n_seeds"]
        if rate <= design["rate_threshold"]:
            return None, f"the rate observed, {rate:.2f}, which is not above {design['rate_threshold']:g}"
        return statistics.seeds_for_rate(design["rate_threshold"], rate, level), f"the rate observed, {rate:.2f}"
    if row["kind"] == "contrast":
        first = row["n_outcome"] / row["n_seeds"]
        second = row["baseline_n_outcome"] / row["baseline_n_seeds"]
        at = f"the rates observed, {first:.2f} against {second:.2f}"
        if first <= second or first <= design["rate_threshold"]:
            return None, at + ", which do not point the claimed way"
        needed = [
            statistics.seeds_for_rate(design["rate_threshold"], first, level),
            statistics.seeds_for_rates(first, second, level),
        ]
        return (None if None in needed else max(needed)), at
    difference = row["estimate"] - row["null"]
    at = f"the difference observed, {row['estimate']:+.3f}, sd {row.get('sd', math.nan):.3f}"
    if not difference > 0:
        return None, at + ", which does not point the claimed way"
    return statistics.seeds_for_mean(difference, row.get("sd", math.nan), level), at


def reason(row: dict, claim: dict, what: str, design: dict) -> str:
    """Why the claim has its verdict, in one sentence with the numbers."""
    looks = look_count(design)
    corrected = f", Bonferroni over {looks} looks," if looks > 1 else ","
    tested = f"{row['test']}{corrected} Holm-adjusted over {row['family_tests']} tests of family '{row['family']}'"
    if row["kind"] == "rate":
        counted = f"{row['n_outcome']} of {row['n_seeds']} seeds {outcome_words(claim['expect'])}"
    elif row["kind"] == "contrast":
        counted = (
            f"{row['n_outcome']} of {row['n_seeds']} seeds {outcome_words(claim['expect'])} against "
            f"{row['baseline_n_outcome']} of {row['baseline_n_seeds']} for {claim['baseline']} (p = "
            f"{format_p(row['p_rate'])} against the threshold, {format_p(row['p_contrast'])} against the baseline)"
        )
    else:
        counted = f"{claim['variant']} - {claim['baseline']} on {what}"
    p = format_p(row["p_adjusted"]) or "not tested"
    said = f"{counted}: {evidence(row)}; {tested}; p = {p} against alpha {design['alpha']:g}"
    if (
        row["kind"] == "contrast"
        and not (row["ci_low"] > 0 or row["ci_high"] < 0)
        and row["p_adjusted"] <= design["alpha"]
    ):
        said += (
            "; the interval of the difference (Santner and Snell's, exact) is more cautious than Boschloo's test and "
            "reaches 0, but the verdict is the test's"
        )
    return said


def outcome_words(expect: str) -> str:
    return "learned" if expect == "learns" else "did not learn"


def format_p(p: float | None) -> str:
    """A p-value as a reader writes it: '< 0.001', '0.034', or '' when there was no test."""
    if p is None or pd.isna(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_confidence(confidence: float) -> str:
    """'95%', '99.6%': a confidence level as few digits as say it."""
    return f"{100 * confidence:.4g}%"


def evidence(row) -> str:
    """A claim's numbers in a few words: the estimate with its interval at the claim's level."""
    if row.get("kind") not in TESTS or pd.isna(row.get("estimate")):
        return ""
    level = "" if pd.isna(row.get("confidence")) else f" ({format_confidence(row['confidence'])})"
    if row["kind"] == "rate":
        return (
            f"{int(row['n_outcome'])}/{int(row['n_seeds'])} seeds, rate {row['estimate']:.2f} "
            f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]{level}"
        )
    if row["kind"] == "contrast":
        return (
            f"{int(row['n_outcome'])}/{int(row['n_seeds'])} vs {int(row['baseline_n_outcome'])}/"
            f"{int(row['baseline_n_seeds'])}, difference {row['estimate']:+.2f} "
            f"[{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]{level}"
        )
    margin = "" if not row.get("null") else f" (claimed at least {row['null']:+.3f})"
    if pd.isna(row.get("ci_low")):
        span = ""
    elif math.isinf(row["ci_low"]) or math.isinf(row["ci_high"]):
        span = f" (no{level} interval from {int(row['n_seeds'])} seeds)"
    else:
        span = f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]{level}"
    return f"mean difference {row['estimate']:+.3f}{span}{margin}"


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
        return row | {"n_seeds": 0, "p_value": math.nan, "not_run": f"not run: {', '.join(missing)}"}
    declared = (design.get("not_testable") or {}).get(claim["claim"])
    if kind == "rate":
        row |= rate_claim(claim, runs, design)
    elif kind == "contrast":
        row |= contrast_claim(claim, runs, design)
    else:
        row |= paired_claim(claim, runs)
    if declared:
        row["not_testable"] = f"declared not testable at this profile: {declared}"
    if row.get("not_testable"):
        row["p_value"] = math.nan  # out of the family
    return row


def settle(row: dict, claim: dict, design: dict, with_power: bool = True) -> dict:
    """A claim's verdict, interval at its level, reason and (``with_power``) seeds needed, once its family is
    adjusted."""
    what = row.pop("what", "")
    if row.get("not_run"):
        return row | {"verdict": NOT_RUN, "reason": row.pop("not_run")}
    if row.get("not_testable"):
        low, high = interval(row, statistics.CONFIDENCE)
        row |= {"confidence": statistics.CONFIDENCE, "ci_low": low, "ci_high": high}
        return row | {"verdict": NOT_TESTABLE, "reason": row.pop("not_testable")}
    level = row.get("holm_level", design["alpha"])
    low, high = interval(row, 1 - level)
    row |= {"confidence": 1 - level, "ci_low": low, "ci_high": high}
    row["verdict"] = verdict_of(row, design["alpha"])
    row["reason"] = reason(row, claim, what, design)
    if row["verdict"] == "undetermined" and with_power:
        row["seeds_needed"], row["power_at"] = seeds_needed(row, design, level)
        row["seeds_needed_observed"], row["power_at_observed"] = seeds_needed_observed(row, design, level)
        for needed, at in (
            (row["seeds_needed"], row["power_at"]),
            (row["seeds_needed_observed"], row["power_at_observed"]),
        ):
            if needed is None:
                row["reason"] += f"; no number of seeds up to {statistics.MAX_SEEDS} gives 80% power at {at}"
            else:
                row["reason"] += f"; {needed} seeds per variant give 80% power at {at}"
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
    rows = [settle(row, claim, design, with_power) for row, claim in zip(rows, claims, strict=True)]
    table = pd.DataFrame(rows)
    table["evidence"] = [evidence(row) for row in rows]
    return claims_frame(table)
