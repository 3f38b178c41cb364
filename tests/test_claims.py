import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study.analysis.claims import (
    bootstrap_interval,
    claim_row,
    claims_table,
    holm,
    seeds_needed_for_effect,
    seeds_needed_for_rate,
    wilson_interval,
)


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


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score, no correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_the_wilson_interval_matches_newcombes_published_values(successes, n, low, high):
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=5e-5)


def test_the_holm_adjustment_matches_a_worked_example_and_skips_missing_p_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04, made monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.02, math.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == 0.5
    assert holm([0.6, 0.7]) == [1.0, 1.0]


def test_seeds_needed_for_a_rate_is_where_the_wilson_interval_leaves_one_half():
    # 3/3: [0.44, 1] holds 1/2; 4/4: [0.51, 1] does not
    assert wilson_interval(3, 3)[0] < 0.5 < wilson_interval(4, 4)[0]
    assert seeds_needed_for_rate(3, 3) == 4
    assert seeds_needed_for_rate(0, 3) == 4
    # 4/5 = 0.8: the interval of 0.8 * n successes in n seeds first excludes 1/2 at n = 11
    assert wilson_interval(0.8 * 10, 10)[0] < 0.5 < wilson_interval(0.8 * 11, 11)[0]
    assert seeds_needed_for_rate(4, 5) == 11
    assert seeds_needed_for_rate(1, 2) is None  # an even split never settles


def test_seeds_needed_for_an_effect_is_where_the_bonferroni_bound_t_test_passes():
    differences = np.array([0.05, 0.01, 0.03])
    needed = seeds_needed_for_effect(differences, tests=3)
    mean, sd = differences.mean(), differences.std(ddof=1)

    def p(n):
        return 2 * stats.t.sf(mean / (sd / math.sqrt(n)), n - 1) * 3

    assert p(needed) < 0.05 <= p(needed - 1)
    assert seeds_needed_for_effect(np.array([0.02, -0.02]), tests=1) is None  # no effect to find
    # no spread: any pair would show it, but the answer is always more seeds than ran
    assert seeds_needed_for_effect(np.array([0.1, 0.1, 0.1]), tests=2) == 4


def test_stuck_claim_confirmed_when_five_seeds_of_five_are_stuck():
    table = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in range(1, 6)])
    row = claim_row({"claim": "deep does not learn", "expect": "stuck", "variant": "deep"}, table, VARIANTS)
    assert row["verdict"] == "confirmed" and (row["n_outcome"], row["n_seeds"]) == (5, 5)
    assert row["p_low"] == pytest.approx(wilson_interval(5, 5)[0]) and row["p_low"] > 0.5
    assert row["lecture"] == "does not learn"
    assert "seed 2: stuck (train loss 2.303; cause: none)" in row["per_seed"]


def test_three_unanimous_seeds_leave_a_claim_undetermined_and_say_four_would_settle_it():
    table = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in (1, 2, 3)])
    row = claim_row({"claim": "c", "expect": "stuck", "variant": "deep"}, table, VARIANTS)
    assert row["verdict"] == "undetermined" and row["seeds_needed"] == 4
    assert "4 seeds would settle it" in row["reason"]


def test_a_fix_that_rescues_some_seeds_is_undetermined_not_tuned_away():
    rows = [("fix", s, "learns", 0.4, 1.6, 0.35) for s in (1, 2, 3)] + [("fix", 4, "stuck", 0.1, 2.302, 0.1)]
    row = claim_row({"claim": "fix learns", "expect": "learns", "variant": "fix"}, runs(rows), VARIANTS)
    assert row["verdict"] == "undetermined" and row["n_outcome"] == 3 and row["seeds_needed"] > 4


def test_refuted_and_undetermined_for_runs_that_were_not_run_or_undecided():
    learning = runs([("deep", s, "learns", 0.5, 1.2, 0.4) for s in range(1, 6)])
    row = claim_row({"claim": "c", "expect": "stuck", "variant": "deep"}, learning, VARIANTS)
    assert row["verdict"] == "refuted" and row["p_high"] < 0.5
    slow = runs([("deep", s, "undecided", 0.15, 2.2, 0.12) for s in range(1, 6)])
    assert claim_row({"claim": "c", "expect": "learns", "variant": "deep"}, slow, VARIANTS)["verdict"] == "refuted"
    missing = claim_row({"claim": "c", "expect": "learns", "variant": "relu"}, slow, VARIANTS)
    assert missing["verdict"] == "undetermined" and "not run: relu" in missing["reason"]


def comparison(variant, baseline, a, b, expect="better_than"):
    rows = [(variant, s, "learns", x, 1.0, 0.3) for s, x in enumerate(a, start=1)]
    rows += [(baseline, s, "learns", y, 1.0, 0.3) for s, y in enumerate(b, start=1)]
    claim = {"claim": f"{variant} vs {baseline}", "expect": expect, "variant": variant, "baseline": baseline}
    return claim | {"metric": "final_train_accuracy"}, runs(rows)


def test_a_comparison_reports_the_bootstrap_interval_and_the_paired_t_test():
    claim, table = comparison("relu", "deep", [0.6, 0.7, 0.65, 0.62, 0.68], [0.1, 0.1, 0.12, 0.11, 0.1])
    row = claims_table([claim], table, VARIANTS).iloc[0]
    differences = np.array([0.5, 0.6, 0.53, 0.51, 0.58])
    assert row["mean_difference"] == pytest.approx(differences.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(bootstrap_interval(differences))
    assert min(differences) <= row["ci_low"] < differences.mean() < row["ci_high"] <= max(differences)
    assert row["p_value"] == pytest.approx(
        stats.ttest_rel([0.6, 0.7, 0.65, 0.62, 0.68], [0.1, 0.1, 0.12, 0.11, 0.1]).pvalue
    )
    assert row["p_adjusted"] == row["p_value"]  # the only comparison: Holm changes nothing
    assert row["verdict"] == "confirmed" and pd.isna(row["seeds_needed"])


def test_holm_adjusts_across_comparisons_and_can_leave_a_claim_undetermined():
    # alone, big vs small would be confirmed (p about 0.035); second smallest of three, Holm doubles its p
    pairs = [
        comparison("relu", "deep", [0.60, 0.70, 0.65], [0.10, 0.10, 0.12]),
        comparison("big", "small", [0.33, 0.30, 0.36], [0.30, 0.28, 0.32]),
        comparison("fix", "deep", [0.10, 0.12, 0.09], [0.10, 0.10, 0.12]),
    ]
    claims = [claim for claim, _ in pairs]
    table = pd.concat([t for _, t in pairs]).drop_duplicates(["variant", "seed"])
    out = claims_table(claims, table, VARIANTS).set_index("variant")
    assert out.loc["big", "p_value"] < 0.05 < out.loc["big", "p_adjusted"]
    assert out.loc["big", "p_adjusted"] == pytest.approx(2 * out.loc["big", "p_value"])
    assert out.loc["big", "ci_low"] > 0  # the interval alone would have confirmed it
    assert out.loc["big", "verdict"] == "undetermined" and out.loc["big", "seeds_needed"] > 3
    assert out.loc["relu", "verdict"] == "confirmed"


def test_a_worse_variant_refutes_a_better_than_claim():
    claim, table = comparison("small", "big", [0.20, 0.21, 0.19, 0.20, 0.22], [0.40, 0.42, 0.39, 0.41, 0.40])
    row = claims_table([claim], table, VARIANTS).iloc[0]
    assert row["ci_high"] < 0 and row["verdict"] == "refuted"


def test_larger_gap_needs_nets_that_learned():
    table = runs([("big", 1, "overfits", 0.9, 0.3, 0.6), ("small", 1, "undecided", 0.15, 2.2, 0.14)])
    claim = {"claim": "big overfits more", "expect": "larger_gap", "variant": "big", "baseline": "small"}
    row = claims_table([claim], table, VARIANTS).iloc[0]
    assert row["verdict"] == "undetermined" and "small did not learn" in row["reason"]
    assert math.isnan(row["p_adjusted"])


def test_claims_table_has_one_row_per_claim_and_the_issue_columns():
    table = runs([("deep", s, "stuck", 0.1, 2.303, 0.1) for s in range(1, 6)])
    claims = [
        {"claim": "a", "expect": "stuck", "variant": "deep"},
        {"claim": "b", "expect": "learns", "variant": "fix"},
    ]
    out = claims_table(claims, table, VARIANTS)
    assert out["claim"].tolist() == ["a", "b"]
    assert out["verdict"].tolist() == ["confirmed", "undetermined"]
    for column in ("seeds", "p_low", "p_high", "ci_low", "ci_high", "p_adjusted", "verdict", "seeds_needed"):
        assert column in out.columns
    assert out.loc[0, "evidence"] == "5/5 seeds, rate in [0.57, 1.00]"
