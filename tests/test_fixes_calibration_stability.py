import re

import pandas as pd
import pytest
from scipy import stats

from study.analysis.calibration import calibration_table
from study.analysis.claims import claims_table
from study.analysis.fixes import fixes_table
from study.analysis.stability import STABILITY_COLUMNS
from study.reporting import notes, table_views
from study.reporting.claim_words import stability_summary, with_evidence
from study.reporting.published_text import stability_section
from study.reporting.worded_tables import stability_of_runs

RANKING = {"baseline": "deep", "variants": ["bn", "he", "skip"]}


def runs(rows):
    return pd.DataFrame(
        [
            {
                "variant": v,
                "seed": s,
                "outcome": outcome,
                "plateau_exit_step": exit_step,
                "steps": 80,
                "final_train_accuracy": accuracy,
            }
            for v, s, outcome, exit_step, accuracy in rows
        ]
    ).astype({"plateau_exit_step": "Int64"})


TABLE = runs(
    [("deep", s, "stuck", None, 0.10) for s in (1, 2, 3)]
    + [("bn", 1, "learns", 15, 0.40), ("bn", 2, "learns", 20, 0.42), ("bn", 3, "learns", 10, 0.41)]
    + [("he", 1, "learns", 40, 0.25), ("he", 2, "stuck", None, 0.10), ("he", 3, "learns", 50, 0.22)]
    + [("skip", 1, "learns", 25, 0.30), ("skip", 2, "learns", 30, 0.31), ("skip", 3, "learns", 20, 0.33)]
)


STEPS = pd.DataFrame({"variant": ["deep", "bn", "he", "skip"], "step": [5, 5, 5, 5]})
CLAIMS = pd.DataFrame(
    [
        {"claim": "bn fixes it", "variant": "bn", "baseline": "deep", "kind": "contrast", "verdict": "confirmed"},
        {"claim": "he fixes it", "variant": "he", "baseline": "deep", "kind": "contrast", "verdict": "undetermined"},
    ]
)


def ranked():
    return fixes_table(TABLE, STEPS, RANKING, CLAIMS).set_index("variant")


def test_fixes_are_ranked_by_their_kaplan_meier_median_step_with_the_baseline_first():
    table = fixes_table(TABLE, STEPS, RANKING, CLAIMS)
    assert table["variant"].tolist() == ["deep", "bn", "skip", "he"]
    assert table["rank"].tolist()[1:] == [1, 2, 3] and pd.isna(table["rank"].iloc[0])
    bn = table.set_index("variant").loc["bn"]
    assert bn["median_exit_step"] == 15 and bn["learned"] == "3/3" and bn["first_window_step"] == 5
    assert bn["logrank_p"] < 0.05


def test_a_seed_that_never_left_is_censored_not_counted_as_leaving_at_its_last_step():
    he = ranked().loc["he"]
    # left at 40 and 50, censored at 80: the Kaplan-Meier curve drops to 2/3 at 40 and 1/3 at 50
    assert he["left"] == "2/3" and he["median_exit_step"] == 50
    deep = ranked().loc["deep"]
    assert pd.isna(deep["median_exit_step"]) and deep["verdict"] == "baseline"


def test_whether_a_fix_makes_the_net_learn_is_read_from_the_claim_that_tests_it():
    table = ranked()
    assert table.loc["bn", "verdict"] == "confirmed" and table.loc["bn", "claim"] == "bn fixes it"
    assert table.loc["he", "verdict"] == "undetermined"
    assert table.loc["skip", "verdict"] == "no claim tests it"


def test_no_ranking_or_no_runs_of_it_gives_an_empty_table():
    assert fixes_table(TABLE, STEPS, None, CLAIMS).empty
    assert fixes_table(TABLE, STEPS, {"baseline": "other", "variants": ["bn"]}, CLAIMS).empty


def test_calibration_scores_each_check_against_the_runs_outcomes():
    preflight = pd.DataFrame(
        [
            {"variant": "deep", "initial_loss_ok": True, "overfits": True, "passed": True},
            {"variant": "bn", "initial_loss_ok": False, "overfits": True, "passed": False},
            {"variant": "he", "initial_loss_ok": True, "overfits": False, "passed": False},
            {"variant": "skip", "initial_loss_ok": True, "overfits": True, "passed": True},
        ]
    )
    table = calibration_table(preflight, TABLE).set_index("check")
    overfit = table.loc["overfits one batch"]
    # flags he (1 stuck seed of 3): TP 1, FP 2; misses deep's 3 stuck seeds: FN 3; TN: bn and skip, 6
    assert (overfit["true_positives"], overfit["false_positives"]) == (1, 2)
    assert (overfit["false_negatives"], overfit["true_negatives"]) == (3, 6)
    assert overfit["precision"] == pytest.approx(1 / 3) and overfit["recall"] == pytest.approx(1 / 4)
    initial = table.loc["initial loss near chance, ln(classes)"]
    assert initial["true_positives"] == 0 and initial["false_positives"] == 3 and initial["precision"] == 0
    assert table.loc["both (passed)", "flagged_variants"] == "bn he"


DESIGN = {
    "alpha": 0.05,
    "rate_threshold": 0.5,
    "minimal_effect": {"rate_above_threshold": 0.4, "rate_difference": 0.5, "accuracy_difference": 0.05},
}
STABILITY_CONFIG = {
    "claims": [
        {"claim": "deep is stuck", "expect": "does_not_learn", "variant": "deep"},
        {"claim": "bn fixes it", "expect": "learns", "variant": "bn", "baseline": "deep"},
        {"claim": "skip fixes it", "expect": "learns", "variant": "skip", "baseline": "deep"},
    ],
    "variants": {},
    "design": DESIGN,
}


def seed_set(seeds, deep_stuck):
    rows = [("deep", s, "stuck" if s - seeds[0] < deep_stuck else "learns", None, 0.1) for s in seeds]
    rows += [("bn", s, "learns", 15, 0.4) for s in seeds]
    return runs(rows).assign(final_train_loss=1.0, cause="none")


def test_stability_tests_whether_two_seed_sets_differ_and_pools_them():
    first, second = seed_set(range(1, 8), 7), seed_set(range(8, 15), 0)
    table = stability_of_runs(first, second, STABILITY_CONFIG).set_index("claim")
    assert "skip fixes it" not in table.index  # not run on the second set
    stuck = table.loc["deep is stuck"]
    assert (stuck["verdict_first"], stuck["verdict_second"]) == ("confirmed", "refuted")
    assert stuck["agreement"] == "differ" and stuck["p_value"] == pytest.approx(
        stats.boschloo_exact([[0, 7], [7, 0]]).pvalue
    )
    assert stuck["seeds_pooled"] == " ".join(str(s) for s in range(1, 15)) and stuck["verdict_pooled"] == "undetermined"
    same = stability_of_runs(seed_set(range(1, 8), 7), seed_set(range(8, 15), 6), STABILITY_CONFIG)
    assert same.set_index("claim").loc["deep is stuck", "agreement"] == "no evidence they differ"
    assert "the two sets differ (exact or Welch test, at the design's alpha) on 0" in stability_summary(same)
    with pytest.raises(ValueError, match="share runs"):
        stability_of_runs(first, seed_set(range(7, 14), 0), STABILITY_CONFIG)


def test_the_first_seed_sets_verdicts_in_the_stability_check_are_the_studys():
    """A claim only the first set ran still counts in that set's Holm family, as in the claims table: here it
    makes 'deep is stuck' (6/6, p = 1/32) undetermined, where a family without it would confirm it."""
    skip = [("skip", s, "learns" if s <= 2 else "stuck", 20 if s <= 2 else None, 0.4) for s in range(1, 7)]
    first = pd.concat([seed_set(range(1, 7), 6), runs(skip)]).assign(final_train_loss=1.0, cause="none")
    table = stability_of_runs(first, seed_set(range(8, 14), 6), STABILITY_CONFIG).set_index("claim")
    study = with_evidence(claims_table(STABILITY_CONFIG["claims"], first, {}, DESIGN)).set_index("claim")
    assert "skip fixes it" not in table.index
    assert table.loc["deep is stuck", "verdict_first"] == study.loc["deep is stuck", "verdict"] == "undetermined"
    for claim in table.index:
        assert table.loc[claim, "evidence_first"] == study.loc[claim, "evidence"]


def test_the_stability_check_reads_in_words_in_the_report_and_the_published_readme():
    table = stability_of_runs(seed_set(range(1, 6), 5), seed_set(range(6, 11), 4), STABILITY_CONFIG)
    assert table.columns.tolist() == STABILITY_COLUMNS
    shown = table_views.stability_view(table)
    row = shown.set_index("claim").loc["deep is stuck"]
    assert row["first seeds: evidence, verdict"].endswith(": undetermined")  # 5/5: p = 0.0625 before Holm
    assert row["second minus first [95% CI]"].startswith("-0.20 [") and row["Holm-adjusted p"] == "1.000"
    assert row["do the sets differ?"] == "no evidence they differ"
    cells = " ".join(shown.astype(str).to_numpy().ravel())
    assert not re.search(r"\b(nan|None|True|False)\b", cells), cells
    config = {"stability": {"seeds": [6, 7, 8, 9, 10], "variants": []}}
    assert "also trained on seeds 6, 7, 8, 9, 10" in notes.stability_text(table, config)
    assert "names no second seed set" in notes.stability_text(table.iloc[0:0], config)
    section = stability_section(table, config)
    assert section.startswith("## Stability on a second set of seeds") and "seeds 6 7 8 9 10" in section
    assert stability_section(table.iloc[0:0], config) == ""
