"""The claims: each tested as the lecture states it, in one Holm family, with seeds for 80% power."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study.analysis import statistics
from study.analysis.claims import claims_table

DESIGN = {
    "alpha": 0.05,
    "rate_threshold": 0.5,
    "minimal_effect": {"rate_above_threshold": 0.4, "rate_difference": 0.5, "accuracy_difference": 0.05},
}


def runs(rows):
    return pd.DataFrame(
        [
            {
                "variant": v,
                "seed": s,
                "outcome": outcome,
                "cause": "none",
                "plateau_exit_step": None if outcome == "stuck" else 20,
                "final_train_accuracy": acc,
                "final_train_loss": loss,
                "final_val_accuracy": val,
                "best_val_accuracy": val,
            }
            for v, s, outcome, acc, loss, val in rows
        ]
    )


VARIANTS = {"deep": {"lecture": {"says": "does not learn"}}, "relu": {}, "fix": {}, "small": {}, "big": {}}


def table_of(claims, runs_table):
    return claims_table(claims, runs_table, VARIANTS, DESIGN).set_index("claim")


def test_a_rate_claim_uses_the_exact_binomial_test_and_five_of_five_is_not_enough():
    table = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in range(1, 6)])
    row = table_of([{"claim": "deep does not learn", "expect": "stuck", "variant": "deep"}], table).iloc[0]
    assert row["kind"] == "rate" and (row["n_outcome"], row["n_seeds"]) == (5, 5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(statistics.clopper_pearson(5, 5))
    assert row["p_value"] == pytest.approx(2 / 32) and row["verdict"] == "undetermined"
    assert row["lecture"] == "does not learn" and "seed 2: stuck (train loss 2.303" in row["per_seed"]
    # 80% power at a true rate of 0.9 against 1/2, exactly, at alpha / 1
    assert row["seeds_needed"] == statistics.seeds_for_rate(0.5, 0.9, 0.05) and "a true rate of 0.9" in row["reason"]


def test_a_rate_claim_is_confirmed_by_enough_unanimous_seeds_and_refuted_the_other_way():
    stuck = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in range(1, 8)])
    assert table_of([{"claim": "c", "expect": "stuck", "variant": "deep"}], stuck).iloc[0]["verdict"] == "confirmed"
    learning = runs([("deep", s, "learns", 0.5, 1.2, 0.4) for s in range(1, 8)])
    row = table_of([{"claim": "c", "expect": "stuck", "variant": "deep"}], learning).iloc[0]
    assert row["verdict"] == "refuted" and row["ci_high"] < 0.5


def fix_runs(fix_learned, baseline_learned, n=5):
    rows = [("fix", s, "learns" if s <= fix_learned else "stuck", 0.4, 1.6, 0.35) for s in range(1, n + 1)]
    rows += [("deep", s, "learns" if s <= baseline_learned else "stuck", 0.1, 2.3, 0.1) for s in range(1, n + 1)]
    return runs(rows)


FIX_CLAIM = {"claim": "the fix makes it learn", "expect": "learns", "variant": "fix", "baseline": "deep"}


def test_a_fix_is_a_contrast_with_its_baseline():
    row = table_of([FIX_CLAIM], fix_runs(5, 0)).iloc[0]
    assert row["kind"] == "contrast" and row["estimate"] == 1.0
    assert row["p_value"] == pytest.approx(stats.boschloo_exact([[5, 0], [0, 5]]).pvalue)
    assert row["verdict"] == "confirmed" and "5/5 vs 0/5" in row["evidence"]
    # a fix that barely changes anything is not confirmed, however often it learns
    row = table_of([FIX_CLAIM], fix_runs(5, 4)).iloc[0]
    assert row["verdict"] == "undetermined" and row["seeds_needed"] == statistics.seeds_for_contrast(0.5, 0.05)


def test_every_claim_is_one_family_holm_adjusted_unless_the_config_names_families():
    table = pd.concat([fix_runs(5, 1), runs([("other", s, "learns", 0.4, 1.6, 0.3) for s in range(1, 6)])])
    claims = [FIX_CLAIM, *({"claim": f"other {i}", "expect": "learns", "variant": "other"} for i in range(11))]
    out = table_of(claims, table)
    fix = out.loc["the fix makes it learn"]
    assert fix["family_tests"] == 12 and fix["p_adjusted"] == pytest.approx(min(1, 12 * fix["p_value"]))
    assert fix["p_value"] < 0.05 and fix["verdict"] == "undetermined"  # alone (p = 0.014) it would be confirmed
    named = [FIX_CLAIM | {"family": "fixes"}, *claims[1:]]
    assert table_of(named, table).loc["the fix makes it learn", "verdict"] == "confirmed"


def comparison(variant, baseline, a, b, expect="better_than"):
    rows = [(variant, s, "learns", x, 1.0, 0.3) for s, x in enumerate(a, start=1)]
    rows += [(baseline, s, "learns", y, 1.0, 0.3) for s, y in enumerate(b, start=1)]
    claim = {"claim": f"{variant} vs {baseline}", "expect": expect, "variant": variant, "baseline": baseline}
    return claim | {"metric": "final_train_accuracy"}, runs(rows)


def test_a_paired_comparison_below_20_seeds_is_the_exact_sign_flip_test():
    a = [0.6, 0.7, 0.65, 0.62, 0.68, 0.66, 0.61]
    claim, table = comparison("relu", "deep", a, [0.1, 0.1, 0.12, 0.11, 0.1, 0.12, 0.1])
    row = table_of([claim], table).iloc[0]
    differences = np.array(a) - np.array([0.1, 0.1, 0.12, 0.11, 0.1, 0.12, 0.1])
    assert row["estimate"] == pytest.approx(differences.mean()) and row["p_value"] == pytest.approx(2 / 128)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(statistics.hartigan_interval(differences))
    assert row["verdict"] == "confirmed" and pd.isna(row["seeds_needed"])
    five, table = comparison("relu", "deep", a[:5], [0.1] * 5)
    assert table_of([five], table).iloc[0]["verdict"] == "undetermined"  # 2/32 is the smallest p at 5 seeds


def test_a_worse_variant_refutes_a_better_than_claim():
    claim, table = comparison("small", "big", [0.20, 0.21, 0.19, 0.20, 0.22, 0.2, 0.21], [0.4] * 7)
    row = table_of([claim], table).iloc[0]
    assert row["ci_high"] < 0 and row["verdict"] == "refuted"


def test_larger_gap_needs_nets_that_learned():
    table = runs([("big", 1, "overfits", 0.9, 0.3, 0.6), ("small", 1, "undecided", 0.15, 2.2, 0.14)])
    claim = {"claim": "big overfits more", "expect": "larger_gap", "variant": "big", "baseline": "small"}
    row = table_of([claim], table).iloc[0]
    assert row["verdict"] == "undetermined" and "small did not learn" in row["reason"]
    assert math.isnan(row["p_adjusted"])


def test_a_claim_on_a_variant_that_did_not_run_is_undetermined_and_out_of_the_family():
    table = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in range(1, 8)])
    claims = [
        {"claim": "a", "expect": "stuck", "variant": "deep"},
        {"claim": "b", "expect": "learns", "variant": "fix"},
    ]
    out = table_of(claims, table)
    assert out["verdict"].tolist() == ["confirmed", "undetermined"] and "not run: fix" in out.loc["b", "reason"]
    assert out.loc["a", "family_tests"] == 1
    assert out.loc["a", "evidence"] == "7/7 seeds, rate 1.00 [0.59, 1.00]"
    assert "exact binomial test" in out.loc["a", "reason"] and "family 'lecture'" in out.loc["a", "reason"]
