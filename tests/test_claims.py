import math

import pandas as pd
import pytest
from scipy import stats

from study.claims import claims_table, evaluate_claim, paired_statistics, seed_outcome


def runs(rows):
    return pd.DataFrame(
        [
            {
                "variant": v,
                "seed": s,
                "verdict": verdict,
                "final_train_accuracy": acc,
                "final_train_loss": loss,
                "final_val_accuracy": val,
                "best_val_accuracy": val,
            }
            for v, s, verdict, acc, loss, val in rows
        ]
    )


VARIANTS = {"deep": {"lecture": {"says": "does not learn"}}, "relu": {}, "fix": {}, "small": {}, "big": {}}


@pytest.mark.parametrize(
    ("expect", "verdict", "outcome"),
    [
        ("learns", "learns", "agree"),
        ("learns", "overfits", "agree"),
        ("learns", "stuck at chance", "disagree"),
        ("learns", "diverged", "disagree"),
        ("learns", "undecided", "inconclusive"),
        ("stuck", "stuck at chance", "agree"),
        ("stuck", "learns", "disagree"),
        ("stuck", "undecided", "inconclusive"),
        ("stuck", "diverged", "inconclusive"),
    ],
)
def test_seed_outcome(expect, verdict, outcome):
    assert seed_outcome(expect, verdict) == outcome


def test_stuck_claim_confirmed_when_every_seed_is_stuck():
    table = runs([("deep", s, "stuck at chance", 0.1, 2.303, 0.1) for s in (1, 2, 3)])
    row = evaluate_claim({"claim": "deep does not learn", "expect": "stuck", "variant": "deep"}, table, VARIANTS)
    assert row["verdict"] == "confirmed" and row["agree"] == "3/3"
    assert row["lecture"] == "does not learn"
    assert "seed 2: stuck at chance (train acc 0.100, loss 2.303)" in row["per_seed"]


def test_a_fix_that_rescues_some_seeds_is_mixed_not_tuned_away():
    table = runs([("fix", 1, "learns", 0.4, 1.6, 0.35), ("fix", 2, "stuck at chance", 0.1, 2.302, 0.1)])
    row = evaluate_claim({"claim": "fix learns", "expect": "learns", "variant": "fix"}, table, VARIANTS)
    assert row["verdict"] == "mixed" and row["agree"] == "1/2"


def test_refuted_and_not_testable():
    learning = runs([("deep", s, "learns", 0.5, 1.2, 0.4) for s in (1, 2)])
    assert (
        evaluate_claim({"claim": "c", "expect": "stuck", "variant": "deep"}, learning, VARIANTS)["verdict"] == "refuted"
    )
    slow = runs([("deep", s, "undecided", 0.15, 2.2, 0.12) for s in (1, 2)])
    row = evaluate_claim({"claim": "c", "expect": "learns", "variant": "deep"}, slow, VARIANTS)
    assert row["verdict"] == "not testable at this budget"
    missing = evaluate_claim({"claim": "c", "expect": "learns", "variant": "relu"}, slow, VARIANTS)
    assert missing["verdict"] == "not testable at this budget" and "not run: relu" in missing["reason"]


def test_better_than_pairs_seeds_and_reports_a_paired_interval():
    table = runs(
        [
            ("relu", 1, "learns", 0.6, 1.0, 0.5),
            ("relu", 2, "learns", 0.7, 0.9, 0.5),
            ("relu", 3, "learns", 0.65, 1, 0.5),
            ("deep", 1, "stuck at chance", 0.1, 2.3, 0.1),
            ("deep", 2, "stuck at chance", 0.1, 2.3, 0.1),
            ("deep", 3, "stuck at chance", 0.12, 2.3, 0.1),
        ]
    )
    claim = {
        "claim": "relu beats sigmoid",
        "expect": "better_than",
        "variant": "relu",
        "baseline": "deep",
        "metric": "final_train_accuracy",
    }
    row = evaluate_claim(claim, table, VARIANTS)
    differences = [0.5, 0.6, 0.53]
    assert row["verdict"] == "confirmed" and row["agree"] == "3/3"
    assert row["mean_difference"] == pytest.approx(sum(differences) / 3)
    half = stats.t.ppf(0.975, 2) * pd.Series(differences).std() / math.sqrt(3)
    assert row["ci95_high"] - row["ci95_low"] == pytest.approx(2 * half)
    assert row["p_value"] == pytest.approx(stats.ttest_rel([0.6, 0.7, 0.65], [0.1, 0.1, 0.12]).pvalue)


def test_every_seed_agreeing_is_not_enough_when_the_interval_holds_zero():
    table = runs(
        [
            ("big", 1, "learns", 0.30, 1.9, 0.3),
            ("big", 2, "learns", 0.26, 2.0, 0.3),
            ("big", 3, "learns", 0.30, 1.9, 0.3),
            ("small", 1, "learns", 0.29, 2.0, 0.3),
            ("small", 2, "learns", 0.23, 2.1, 0.3),
            ("small", 3, "learns", 0.21, 2.1, 0.3),
        ]
    )
    claim = {
        "claim": "c",
        "expect": "better_than",
        "variant": "big",
        "baseline": "small",
        "metric": "final_train_accuracy",
    }
    row = evaluate_claim(claim, table, VARIANTS)
    assert row["agree"] == "3/3" and row["ci95_low"] < 0
    assert row["verdict"] == "mixed" and "includes 0" in row["reason"]


def test_larger_gap_needs_nets_that_learned():
    table = runs([("big", 1, "overfits", 0.9, 0.3, 0.6), ("small", 1, "undecided", 0.15, 2.2, 0.14)])
    claim = {"claim": "big overfits more", "expect": "larger_gap", "variant": "big", "baseline": "small"}
    row = evaluate_claim(claim, table, VARIANTS)
    assert row["verdict"] == "not testable at this budget" and "small did not learn" in row["reason"]
    table = runs([("big", 1, "overfits", 0.9, 0.3, 0.6), ("small", 1, "learns", 0.6, 1.1, 0.55)])
    assert evaluate_claim(claim, table, VARIANTS)["verdict"] == "confirmed"


def test_paired_statistics_single_seed():
    got = paired_statistics(pd.Series([0.2]).to_numpy())
    assert got["mean_difference"] == 0.2 and math.isnan(got["ci95_low"]) and math.isnan(got["p_value"])


def test_claims_table_has_one_row_per_claim():
    table = runs([("deep", 1, "stuck at chance", 0.1, 2.303, 0.1)])
    claims = [
        {"claim": "a", "expect": "stuck", "variant": "deep"},
        {"claim": "b", "expect": "learns", "variant": "fix"},
    ]
    out = claims_table(claims, table, VARIANTS)
    assert out["claim"].tolist() == ["a", "b"]
    assert out["verdict"].tolist() == ["confirmed", "not testable at this budget"]
