"""Do two studies that should agree (two seed sets, float32 against bf16, TensorFlow against JAX, two CPUs)
agree, claim by claim? The same tests as the claims, asked of the difference between the studies.

- rate claims: Boschloo's exact test of the two studies' rates, the exact interval of B - A;
- contrast claims: the same test on each arm (the variant's rates, the baseline's), Bonferroni
  over the two arms, so it asks whether either arm moved; B - A of the contrasts, no interval;
- paired claims: Welch's t-test of the two studies' mean differences, with its interval of B - A
  (approximate at a few seeds, where the claims themselves use exact sign flips).

The p-values are Holm-adjusted across the claims compared. An adjusted p at most the design's
alpha reads "they differ"; above it, "no evidence they differ", which is not evidence that they
agree: the interval says how large a difference is still possible.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from study.analysis.statistics import CONFIDENCE, contrast_test, holm

AGREEMENT_COLUMNS = [
    "claim",
    "kind",
    "seeds_a",
    "evidence_a",
    "verdict_a",
    "seeds_b",
    "evidence_b",
    "verdict_b",
    "difference",
    "difference_low",
    "difference_high",
    "p_value",
    "p_adjusted",
    "agreement",
]


def _count(value) -> int:
    return 0 if pd.isna(value) else int(value)


def rate_difference(a: pd.Series, b: pd.Series) -> tuple[float, float, float, float]:
    test = contrast_test(_count(b["n_outcome"]), _count(b["n_seeds"]), _count(a["n_outcome"]), _count(a["n_seeds"]))
    return test.value, test.low, test.high, test.p


def contrast_difference(a: pd.Series, b: pd.Series) -> tuple[float, float, float, float]:
    arms = [
        contrast_test(_count(b[k]), _count(b[n]), _count(a[k]), _count(a[n])).p
        for k, n in (("n_outcome", "n_seeds"), ("baseline_n_outcome", "baseline_n_seeds"))
    ]
    p = math.nan if any(math.isnan(x) for x in arms) else min(1.0, 2 * min(arms))
    return b["estimate"] - a["estimate"], math.nan, math.nan, p


def paired_difference(a: pd.Series, b: pd.Series) -> tuple[float, float, float, float]:
    n_a, n_b = _count(a["n_seeds"]), _count(b["n_seeds"])
    if n_a < 2 or n_b < 2 or pd.isna(a["sd"]) or pd.isna(b["sd"]):
        return b["estimate"] - a["estimate"], math.nan, math.nan, math.nan
    var_a, var_b = a["sd"] ** 2 / n_a, b["sd"] ** 2 / n_b
    difference, se = b["estimate"] - a["estimate"], math.sqrt(var_a + var_b)
    if se == 0:
        return difference, difference, difference, 0.0 if difference else 1.0
    df = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    p = 2 * stats.t.sf(abs(difference) / se, df)
    return difference, difference - half, difference + half, float(p)


DIFFERENCES = {"rate": rate_difference, "contrast": contrast_difference, "paired": paired_difference}


def compare_claims(a: pd.DataFrame, b: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """One row per claim both studies tested: each study's evidence and verdict, and whether they differ."""
    rows = []
    for _, left in a.iterrows():
        match = b[b["claim"] == left["claim"]]
        if match.empty or left.get("kind") not in DIFFERENCES or not _count(left["n_seeds"]):
            continue
        right = match.iloc[0]
        if not _count(right["n_seeds"]):
            continue
        difference, low, high, p = DIFFERENCES[left["kind"]](left, right)
        rows.append(
            {
                "claim": left["claim"],
                "kind": left["kind"],
                "seeds_a": left["seeds"],
                "evidence_a": left["evidence"],
                "verdict_a": left["verdict"],
                "seeds_b": right["seeds"],
                "evidence_b": right["evidence"],
                "verdict_b": right["verdict"],
                "difference": difference,
                "difference_low": low,
                "difference_high": high,
                "p_value": p,
            }
        )
    for row, adjusted in zip(rows, holm([row["p_value"] for row in rows], alpha), strict=True):
        row["p_adjusted"] = adjusted
        row["agreement"] = (
            "not tested" if np.isnan(adjusted) else "differ" if adjusted <= alpha else "no evidence they differ"
        )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
