import pandas as pd
import pytest

from study.analysis.calibration import calibration_table
from study.analysis.claims import bootstrap_interval
from study.analysis.fixes import fixes_table
from study.analysis.stability import stability_summary, stability_table

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


def test_fixes_are_ranked_by_when_they_leave_the_plateau_with_the_baseline_first():
    table = fixes_table(TABLE, RANKING)
    assert table["variant"].tolist() == ["deep", "bn", "skip", "he"]
    assert table["rank"].tolist()[1:] == [1, 2, 3] and pd.isna(table["rank"].iloc[0])
    bn = table.set_index("variant").loc["bn"]
    assert bn["exit_step_mean"] == 15 and (bn["exit_step_low"], bn["exit_step_high"]) == pytest.approx(
        bootstrap_interval(pd.Series([15.0, 20.0, 10.0]).to_numpy())
    )
    assert bn["learned"] == "3/3" and bn["verdict"] == "confirmed"


def test_a_seed_that_never_left_counts_at_its_last_step_and_is_marked():
    he = fixes_table(TABLE, RANKING).set_index("variant").loc["he"]
    assert he["left"] == "2/3" and he["exit_step_mean"] == pytest.approx((40 + 80 + 50) / 3)
    # one stuck seed out of three: the paired difference is too uncertain after Holm's adjustment
    assert he["verdict"] == "undetermined"


def test_no_ranking_or_no_runs_of_it_gives_an_empty_table():
    assert fixes_table(TABLE, None).empty
    assert fixes_table(TABLE, {"baseline": "other", "variants": ["bn"]}).empty


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


def test_stability_compares_claims_tested_on_disjoint_seeds_and_flags_conflicts():
    first = pd.DataFrame(
        [
            {"claim": "a", "seeds": "1 2 3", "evidence": "x", "verdict": "confirmed", "reason": ""},
            {"claim": "b", "seeds": "1 2 3", "evidence": "x", "verdict": "undetermined", "reason": ""},
            {"claim": "c", "seeds": "1 2 3", "evidence": "x", "verdict": "confirmed", "reason": ""},
        ]
    )
    second = pd.DataFrame(
        [
            {"claim": "a", "seeds": "4 5 6", "evidence": "y", "verdict": "refuted", "reason": ""},
            {"claim": "b", "seeds": "4 5 6", "evidence": "y", "verdict": "confirmed", "reason": ""},
            {"claim": "c", "seeds": "", "evidence": "", "verdict": "undetermined", "reason": "not run: v"},
        ]
    )
    table = stability_table(first, second)
    assert table["claim"].tolist() == ["a", "b"]
    assert table["conflict"].tolist() == [True, False]
    assert stability_summary(table) == (
        "2 claims on both seed sets: 1 conflicts (confirmed on one, refuted on the other); "
        "undetermined: 1 on the first, 0 on the second"
    )
    with pytest.raises(ValueError, match="share seeds"):
        stability_table(first, second.assign(seeds="3 4 5"))


def test_the_stability_command_writes_its_table_and_its_section_of_a_published_readme(tmp_path, capsys):
    from study.analysis.stability import main

    first = pd.DataFrame([{"claim": "a", "seeds": "1 2", "evidence": "x", "verdict": "confirmed", "reason": ""}])
    second = pd.DataFrame([{"claim": "a", "seeds": "6 7", "evidence": "y", "verdict": "confirmed", "reason": ""}])
    first.to_csv(tmp_path / "first.csv", index=False)
    second.to_csv(tmp_path / "second.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text("# Reproduction\n\ntext\n")
    args = [str(tmp_path / "first.csv"), str(tmp_path / "second.csv"), "--out", str(tmp_path / "stability.csv")]
    for _ in range(2):  # a second run replaces the section instead of adding another
        main([*args, "--readme", str(readme)])
    assert pd.read_csv(tmp_path / "stability.csv")["conflict"].tolist() == [False]
    text = readme.read_text()
    assert text.startswith("# Reproduction\n\ntext\n") and text.count("## Stability on a second set of seeds") == 1
    assert "a second run on seeds 6 7 tested" in text and "| a | 1 2 | x | confirmed | 6 7 | y | confirmed |" in text
    assert "1 claims on both seed sets: 0 conflicts" in capsys.readouterr().out
