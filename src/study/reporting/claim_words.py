"""The claims in words: each claim's evidence, the effects its power is given at, its seeds one by one and the
reason for its verdict, written from the numbers `study.analysis.claims` computes. The claims, stability and
sensitivity tables take these columns here, through the registry (study.layout.TABLES)."""

from __future__ import annotations

import math

import pandas as pd

from study.analysis import statistics
from study.analysis.claims import (
    ACCURACY_GAP,
    CLAIM_COLUMNS,
    NOT_RUN,
    NOT_TESTABLE,
    TESTS,
    compared_metric,
    compared_values,
    design_effect,
    look_count,
    not_trained,
    observed_effect,
    points_claimed_way,
)
from study.reporting.run_words import run_words

# The claims table as published: the numbers of CLAIM_COLUMNS with the words of this module among them.
WORDED_AFTER = {
    "family_tests": ["evidence"],
    "seeds_needed": ["power_at"],
    "seeds_needed_observed": ["power_at_observed", "per_seed", "reason"],
}
CLAIMS_TABLE_COLUMNS = [word for column in CLAIM_COLUMNS for word in [column, *WORDED_AFTER.get(column, [])]]


def format_p(p: float | None) -> str:
    """A p-value as a reader writes it: '< 0.001', '0.034', or '' when there was no test."""
    if p is None or pd.isna(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_confidence(confidence: float) -> str:
    """'95%', '99.6%': a confidence level as few digits as say it."""
    return f"{100 * confidence:.4g}%"


def outcome_words(expect: str) -> str:
    return "learned" if expect == "learns" else "did not learn"


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


def compared_words(claim: dict) -> str:
    metric = compared_metric(claim)
    return "train-validation accuracy gap" if metric == ACCURACY_GAP else metric.replace("_", " ")


def power_words(row, design: dict, observed: bool) -> str:
    """The effect a claim's seeds for 80% power are given at: the design's (``observed`` false) or the one this
    study observed, said with why no number of seeds can reach it where it does not point the claimed way."""
    effect = observed_effect(row) if observed else design_effect(row["kind"], design)
    threshold = design["rate_threshold"]
    way = points_claimed_way(effect, threshold)
    if row["kind"] == "rate":
        if not observed:
            return f"a true rate of {effect['rate']:g}"
        said = f"the rate observed, {effect['rate']:.2f}"
        return said if way else f"{said}, which is not above {threshold:g}"
    if row["kind"] == "contrast":
        if not observed:
            said = f"rates {effect['high']:g} against {effect['low']:g}"
            return said if way else f"{said}, the first not above the threshold {threshold:g}"
        said = f"the rates observed, {effect['high']:.2f} against {effect['low']:.2f}"
        return said if way else f"{said}, which do not point the claimed way"
    spread = row.get("sd", math.nan)
    if not observed:
        return (
            f"a difference of {effect['difference']:g} beyond the claimed {row['null']:g}, with the spread seen, "
            f"sd {spread:.3f}"
        )
    said = f"the difference observed, {row['estimate']:+.3f}, sd {spread:.3f}"
    return said if way else f"{said}, which does not point the claimed way"


def reason(row, claim: dict, design: dict, runs: pd.DataFrame) -> str:
    """Why the claim has its verdict, in one sentence with the numbers."""
    if row["verdict"] == NOT_RUN:
        return f"not run: {', '.join(not_trained(claim, runs))}"
    if row["verdict"] == NOT_TESTABLE:
        return f"declared not testable at this profile: {design['not_testable'][row['claim']]}"
    looks = look_count(design)
    corrected = f", Bonferroni over {looks} looks," if looks > 1 else ","
    tested = f"{row['test']}{corrected} Holm-adjusted over {row['family_tests']} tests of family '{row['family']}'"
    if row["kind"] == "rate":
        counted = f"{row['n_outcome']} of {row['n_seeds']} seeds {outcome_words(row['expect'])}"
    elif row["kind"] == "contrast":
        counted = (
            f"{row['n_outcome']} of {row['n_seeds']} seeds {outcome_words(row['expect'])} against "
            f"{row['baseline_n_outcome']} of {row['baseline_n_seeds']} for {row['baseline']} (p = "
            f"{format_p(row['p_rate'])} against the threshold, {format_p(row['p_contrast'])} against the baseline)"
        )
    else:
        counted = f"{row['variant']} - {row['baseline']} on {compared_words(claim)}"
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
    if row["verdict"] == "undetermined":
        for needed, observed in ((row["seeds_needed"], False), (row["seeds_needed_observed"], True)):
            at = power_words(row, design, observed)
            if pd.isna(needed):
                said += f"; no number of seeds up to {statistics.MAX_SEEDS} gives 80% power at {at}"
            else:
                said += f"; {int(needed)} seeds per variant give 80% power at {at}"
    return said


def per_seed(row, claim: dict, runs: pd.DataFrame) -> str:
    """What each seed of the claim's variant did (and its baseline's, for a contrast), or the values a paired
    claim compares."""
    if row["verdict"] == NOT_RUN:
        return ""
    if row["kind"] == "paired":
        seeds, a, b = compared_values(claim, runs)
        what = compared_words(claim)
        return "; ".join(f"seed {s}: {what} {x:.3f} vs {y:.3f}" for s, x, y in zip(seeds, a, b, strict=True))
    mine = runs[runs["variant"] == row["variant"]].set_index("seed").sort_index()
    said = "; ".join(f"seed {s}: {run_words(r)}" for s, r in mine.iterrows())
    if row["kind"] == "contrast":
        base = runs[runs["variant"] == row["baseline"]].set_index("seed").sort_index()
        said += f" | baseline {row['baseline']}: " + "; ".join(f"seed {s}: {r['outcome']}" for s, r in base.iterrows())
    return said


def with_evidence(claims: pd.DataFrame) -> pd.DataFrame:
    """A claims table with its evidence column (the stability check and the map's cells show no more)."""
    return claims.assign(evidence=[evidence(row) for row in claims.to_dict("records")])


def worded_claims(claims: pd.DataFrame, config: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """The claims table with its words: evidence, the effects its power is at, per seed, and the reason.
    ``runs``: the runs table the claims were judged on."""
    by_name = {claim["claim"]: claim for claim in config["claims"]}
    design = config["design"]
    rows = claims.to_dict("records")
    undetermined = [row["verdict"] == "undetermined" for row in rows]
    words = {
        "evidence": [evidence(row) for row in rows],
        "power_at": [power_words(r, design, False) if u else "" for r, u in zip(rows, undetermined, strict=True)],
        "power_at_observed": [
            power_words(r, design, True) if u else "" for r, u in zip(rows, undetermined, strict=True)
        ],
        "per_seed": [per_seed(row, by_name[row["claim"]], runs) for row in rows],
        "reason": [reason(row, by_name[row["claim"]], design, runs) for row in rows],
    }
    worded = claims.assign(**words)
    extra = [column for column in worded if column not in CLAIMS_TABLE_COLUMNS]
    return worded[CLAIMS_TABLE_COLUMNS + extra]


def stability_summary(table: pd.DataFrame) -> str:
    """'5 claims on both seed sets: the sets differ on 0; pooled: 3 confirmed, 2 undetermined.'"""
    pooled = table["verdict_pooled"].value_counts()
    return (
        f"{len(table)} claims on both seed sets: the two sets differ (exact or Welch test, at the design's alpha) "
        f"on {int((table['agreement'] == 'differ').sum())}; on the pooled seeds: "
        + ", ".join(f"{count} {verdict}" for verdict, count in pooled.items())
    )
