"""The report's prose states what the run's config and outputs say, not fixed numbers."""

import pandas as pd

from study.reporting.notes import batchnorm_notes, method_notes, saturation_note
from study.reporting.table_views import lecture_table

OUTCOMES = {
    "windows": 3,
    "plateau_margin": 0.05,
    "overfit_gap": 0.15,
    "evaluated_accuracy_margin": 0.02,
    "causes": {"vanishing_gradient_ratio": 0.01, "dead_fraction": 0.9, "saturated_fraction": 0.9},
}


def summary(val_accuracy, steps, classes=10, dataset="cifar10"):
    row = {"variant": "bn", "dataset": dataset, "classes": classes, "steps": steps}
    return pd.DataFrame([row | {"final_train_accuracy_mean": 0.45, "final_val_accuracy_mean": val_accuracy}])


def test_the_batchnorm_note_uses_the_runs_steps():
    config = {"variants": {"bn": {"batchnorm": True, "batchnorm_momentum": 0.99}}, "outcomes": OUTCOMES}
    note = batchnorm_notes(summary(0.11, 78), config)
    assert "this run's 78 steps" in note and "about 54% of the way" in note  # 1 - 0.99 ** 78
    assert "a momentum of 0.99" in note
    faster = {"variants": {"bn": {"batchnorm": True, "batchnorm_momentum": 0.98}}, "outcomes": OUTCOMES}
    assert "about 79% of the way" in batchnorm_notes(summary(0.11, 78), faster)  # 1 - 0.98 ** 78
    assert "about 45% of the way in this run's 60 steps" in batchnorm_notes(summary(0.11, 60), config)
    assert batchnorm_notes(summary(0.17, 78), config) == "", "0.17 is not near chance (0.10 + 0.05)"
    assert batchnorm_notes(summary(0.11, 78), config | {"variants": {"bn": {"batchnorm": False}}}) == ""
    # chance is the dataset's own: at 100 classes 0.11 is far from 0.01 + 0.05, and 0.03 is near it
    assert batchnorm_notes(summary(0.11, 78, classes=100), config) == ""
    assert "validation accuracy 0.030" in batchnorm_notes(summary(0.03, 78, classes=100), config)


def test_the_method_notes_quote_the_configs_thresholds():
    causes = {"vanishing_gradient_ratio": 0.001, "dead_fraction": 0.8, "saturated_fraction": 0.7}
    causes |= {"small_gradient_scale": 0.003}
    design = {"alpha": 0.01, "rate_threshold": 0.6, "minimal_effect": {"rate_above_threshold": 0.25}}
    design["minimal_effect"] |= {"rate_difference": 0.4, "accuracy_difference": 0.02}
    config = {"outcomes": OUTCOMES | {"plateau_margin": 0.1, "causes": causes}, "diagnostics": {"step_interval": 7}}
    config["design"] = design
    text = method_notes(config, summary(0.5, 10, classes=100, dataset="cifar100"))
    assert "every 7 steps" in text and "cifar100: ln 100 − 0.1 = 4.505" in text
    assert "below 0.001 times the last layer's" in text and "more than 80% of the ReLU" in text
    assert "more than 70% of the sigmoid" in text and "0.9" not in text
    assert "above 0.6" in text and "at most 0.01" in text and "true rate 0.85" in text
    assert "two rates 0.4 apart" in text and "mean difference of 0.02" in text
    assert "below 0.05 or above 0.95" in saturation_note({"diagnostics": {"saturation": 0.05}})


def test_tables_print_counts_with_separators_numbers_with_3_decimals_and_headers_as_words():
    from study.reporting.cells import styled
    from study.reporting.table_views import params_view

    params = pd.DataFrame(
        {
            "model": ["VGG16", "small"],
            "kind": ["lecture reference", "variant"],
            "dataset": [None, "cifar10"],
            "params": [134301514, 8834],
            "lecture_params": [134301514.0, float("nan")],
            "matches_lecture": [True, None],
        }
    )
    html = styled(params_view(params)).to_html()
    assert "134,301,514" in html and "8,834" in html and "134301514.0" not in html
    assert "the lecture&#x27;s count" in html or "the lecture's count" in html
    html = styled(
        pd.DataFrame({"final_train_accuracy": [0.12345], "steps": [27], "TF_ENABLE_ONEDNN_OPTS": ["1"]})
    ).to_html()
    assert "0.123" in html and "0.1235" not in html and ">27<" in html
    assert "final train accuracy" in html and "TF_ENABLE_ONEDNN_OPTS" in html


def test_our_number_stands_beside_the_lectures_only_with_both_recipes():
    row = summary(0.55, 320).iloc[0].to_dict() | {
        "n_seeds": 5,
        "epochs": 8,
        "width": 0.25,
        "learning_rate": 0.002,
        "batch_size": 256,
        "train_images": 10000,
        "lecture_width": 1.0,
        "lecture_learning_rate": 0.001,
        "lecture_batch_size": 256,
        "lecture_epochs": 50,
        "lecture_says": "learns",
        "lecture_train_accuracy": 0.99,
        "lecture_val_accuracy": float("nan"),
        "final_train_accuracy_std": 0.02,
        "final_val_accuracy_std": 0.01,
        "final_val_accuracy_ci95": 0.01,
        "best_val_accuracy_mean": 0.56,
        "params": 1000,
        "seconds_per_epoch": 3.0,
    }
    shown = lecture_table(pd.DataFrame([row])).iloc[0]
    assert shown["our recipe"] == "width 0.25, Adam lr 0.002, batch 256, 10,000 images, 8 epochs (320 steps)"
    assert shown["lecture's recipe (one run)"] == "width 1, Adam lr 0.001, batch 256, the whole training set, 50 epochs"


CLAIMS = pd.DataFrame(
    [
        {
            "claim": "the 12-conv ReLU net does not learn",
            "kind": "rate",
            "variant": "deep",
            "baseline": None,
            "seeds": "1 2",
            "estimate": 1.0,
            "ci_low": 0.16,
            "ci_high": 1.0,
            "verdict": "undetermined",
            "evidence": "2/2 seeds, rate 1.00 [0.16, 1.00]",
            "test": "exact binomial test against 0.5",
            "family": "lecture",
            "family_tests": 2,
            "p_adjusted": 0.5,
            "lecture": "does not learn",
            "seeds_needed": 20.0,
            "power_at": "a true rate of 0.9",
            "reason": "2 of 2 seeds stuck",
            "protocol": "confirmatory",
        },
        {
            "claim": "He initialization makes the 12-conv net learn",
            "kind": "contrast",
            "variant": "deep_he",
            "baseline": "deep",
            "seeds": "1 2",
            "estimate": 1.0,
            "ci_low": 0.4,
            "ci_high": 1.0,
            "verdict": "confirmed",
            "evidence": "2/2 vs 0/2",
            "test": "Boschloo's exact test",
            "family": "lecture",
            "family_tests": 2,
            "p_adjusted": 0.0004,
            "lecture": None,
            "seeds_needed": float("nan"),
            "power_at": None,
            "reason": "2 of 2 seeds learn against 0 of 2",
            "protocol": "exploratory",
        },
    ]
)
RUNS = pd.DataFrame(
    [
        {"variant": variant, "seed": seed, "outcome": outcome, "cause": cause, "plateau_exit_step": step}
        | {"final_train_loss": 2.3 if step is None else 1.2, "final_train_accuracy": 0.1, "final_val_accuracy": 0.1}
        for variant, outcome, cause, step in [
            ("deep", "stuck", "dead units", None),
            ("deep_he", "learns", "none", 40),
            ("other", "learns", "none", 10),
        ]
        for seed in (1, 2, 3)
    ]
)


def test_values_are_written_as_a_reader_writes_them():
    from study.reporting.cells import cell_text

    assert [cell_text(v) for v in (None, float("nan"), pd.NA, True, False)] == ["", "", "", "yes", "no"]
    assert [cell_text(v) for v in (134301514, 0.12345, "text")] == ["134,301,514", "0.123", "text"]


def test_headers_are_aligned_with_their_columns():
    from study.reporting.cells import styled

    html = styled(pd.DataFrame({"variant": ["a"], "final_loss": [2.3]})).to_html()
    assert "th.col0 {\n  text-align: left;" in html and "td.col0 {\n  text-align: left;" in html
    assert "th.col1 {\n  text-align: right;" in html and "td.col1 {\n  text-align: right;" in html


def test_the_ladder_gives_each_claim_its_verdict_as_a_symbol_and_a_word_in_the_configs_order():
    from study.reporting.first_screen import ladder_html

    html = ladder_html(CLAIMS)
    assert html.index("? undetermined</span> the 12-conv ReLU net does not learn") < html.index(
        "✓ confirmed (exploratory)</span> He initialization"
    )
    assert html.count("<li value=") == 2 and '<li value="2">' in html


def test_each_claim_folds_its_test_p_runs_seed_by_seed_and_reason():
    from study.reporting.claim_details import claim_details

    html = claim_details(CLAIMS, RUNS)
    assert html.count("<details>") == 2
    he = html[html.index("2. ") :]
    assert "<b>Holm-adjusted p:</b> &lt; 0.001" in he and "<b>family:</b> lecture (Holm over 2 tests)" in he
    assert "deep_he (the claim&#x27;s net)" in he or "deep_he (the claim's net)" in he
    assert he.count("(baseline)") == 2 and "seed 3" not in he and "other" not in he
    assert "never" in he and ">40<" in he and "dead units" in he
    assert "seeds for 80% power" not in he and "20 per variant, at a true rate of 0.9" in html
    assert "<b>Why:</b> 2 of 2 seeds learn against 0 of 2" in he
    one_seed = claim_details(CLAIMS.assign(seeds=[1.0, 1.0]), RUNS)  # pandas reads a lone seed as a number
    assert one_seed[one_seed.index("2. ") :].count("(baseline)") == 1, "seed 1 of the baseline, and no other"


def test_the_configuration_is_folded_as_yaml_with_short_lists_on_one_line():
    from study.reporting.cells import config_yaml

    html = config_yaml({"variants": {"a": {"blocks": [[64, 64], [128]], "he_init": True, "note": None}}})
    assert html.startswith("<details><summary>")
    assert "blocks:\n    - [64, 64]\n    - [128]\n" in html and "he_init: true" in html and "note: null" in html


def test_the_forest_plot_sets_each_claim_against_its_own_reference():
    import matplotlib

    matplotlib.use("Agg")
    from study.reporting.forest import plot_claims_forest

    figure = plot_claims_forest(CLAIMS, {"rate_threshold": 0.5})
    lines = [line.get_xydata().tolist() for line in figure.axes[0].lines if len(line.get_xdata()) == 2]
    assert [[0.5, -0.35], [0.5, 0.35]] in lines, "the rate claim's tick sits at the threshold"
    assert [[0.0, 0.65], [0.0, 1.35]] in lines, "the contrast's tick sits at 0"
    assert [[0.16, 0.0], [1.0, 0.0]] in lines and [[0.4, 1.0], [1.0, 1.0]] in lines, "each interval on its row"
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["1", "2"]


def test_a_run_sentence_stands_beside_the_lectures_recipe():
    from study.reporting.first_screen import run_sentence

    row = {"dataset": "cifar10", "seeds": "11 12", "n_seeds": 2, "train_images": 10000, "width": 0.25}
    row |= {"learning_rate": 0.002, "batch_size": 256, "epochs": 3, "lecture_width": 1.0}
    row |= {"lecture_learning_rate": 0.001, "lecture_batch_size": 256, "lecture_epochs": 10}
    provenance = {"training": [{"precision": "float32"}], "devices": ["CPU: AMD EPYC (2 cores)"]}
    text = run_sentence(pd.DataFrame([row, row | {"seeds": "11 12 13", "n_seeds": 3}]), provenance)
    assert "cifar10, 10,000 training images a dataset; 2 variants, 2–3 seeds each (seeds 11–13)" in text
    assert "width 0.25, Adam lr 0.002, batch 256, 3 epochs; float32 on CPU: AMD EPYC (2 cores)" in text
    assert "<b>What the lecture ran:</b> one run of each model, width 1, Adam lr 0.001" in text


def test_chromium_is_found_on_path_or_its_absence_is_said(tmp_path, monkeypatch):
    from study.reporting.browser import find_chromium, missing_chromium

    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() is None
    assert missing_chromium("results/report.pdf") == (
        "Chromium not found on PATH (looked for chromium, chromium-browser, google-chrome, google-chrome-stable): "
        "results/report.pdf skipped."
    )
    browser = tmp_path / "chromium-browser"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert find_chromium() == str(browser)


def untested(claim: dict, verdict: str, reason: str) -> dict:
    """A claim without a test: no seeds, estimate, interval or p."""
    nothing = {"seeds": float("nan"), "estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    nothing |= {"evidence": None, "p_adjusted": float("nan"), "seeds_needed": float("nan"), "power_at": None}
    return claim | nothing | {"verdict": verdict, "reason": reason}


def study_with_families() -> pd.DataFrame:
    """The lecture's 12 claims, 2 confirmed, 1 undetermined, 1 not testable and 8 not run, then 2 claims a
    user's config adds in family he2015."""
    rate, contrast = CLAIMS.to_dict("records")
    lecture = [contrast | {"claim": "fix 1"}, contrast | {"claim": "fix 2"}, rate | {"claim": "deep stays stuck"}]
    lecture.append(untested(rate | {"claim": "sigmoid saturates"}, "not testable", "2 seeds cannot reach p 0.05"))
    lecture += [untested(rate | {"claim": f"lecture claim {i}"}, "not run", "not run: deep_bn") for i in range(5, 13)]
    he2015 = [
        rate | {"claim": "PReLU learns", "family": "he2015"},
        contrast | {"claim": "PReLU beats ReLU", "family": "he2015", "verdict": "refuted"},
    ]
    return pd.DataFrame(lecture + he2015)


def test_the_first_screen_counts_the_tested_claims_of_each_family_and_shows_the_untested_apart():
    from study.reporting.first_screen import ladder_html, story_sentences

    claims = study_with_families()
    lecture, he2015 = story_sentences(claims)
    # "tested" is what got a test: confirmed, refuted or undetermined; not testable and not run are apart
    assert lecture == (
        "The lecture's story: 2 of the 3 claims tested are confirmed (1 undetermined), so this run does not "
        "reproduce the story in full; each claim's details below say what it would take. Shown apart: 1 not "
        "testable at this profile, 8 not run in this study."
    )
    assert he2015.startswith("Family he2015: 0 of the 2 claims tested are confirmed (1 undetermined, 1 refuted)")
    assert "lecture" not in he2015 and "undetermined" not in lecture.replace("(1 undetermined)", "")
    assert all("12 undetermined" not in text and "of 12" not in text for text in (lecture, he2015))
    html = ladder_html(claims)
    tested, rest = html.split("</ol>", 1)
    assert tested.count("<li") == 3 and "not run" not in tested and "not testable" not in tested
    assert "<details><summary>8 not run in this study</summary>" in rest
    assert '<li value="4"><span class="verdict not-testable">⊘ not testable</span> sigmoid saturates' in rest
    assert "(2 seeds cannot reach p 0.05)" in rest and rest.count("(not run: deep_bn)") == 8
    assert rest.index("Family he2015") < rest.index('<li value="13">'), "the user's family under its own name"


def test_a_family_whose_claims_are_all_confirmed_reproduces_and_one_left_untested_only_in_part():
    from study.reporting.first_screen import story_sentences

    assert story_sentences(CLAIMS.assign(verdict="confirmed")) == [
        "Both claims of the lecture's story are confirmed: the story reproduces here."
    ]
    assert story_sentences(CLAIMS.assign(verdict=["confirmed", "not run"])) == [
        "The lecture's story: the one claim tested is confirmed, but not every claim could be tested, so this "
        "run reproduces the story only in part. Shown apart: 1 not run in this study."
    ]
    assert story_sentences(CLAIMS.assign(verdict="not run")) == [
        "None of the 2 claims of the lecture's story was tested here. Shown apart: 2 not run in this study."
    ]


def test_each_new_verdict_has_its_own_mark_class_and_colour_and_is_never_exploratory():
    from study.reporting.first_screen import REPORT_CSS, verdict_html

    assert verdict_html("not run", "exploratory") == '<span class="verdict not-run">○ not run</span>'
    assert verdict_html("not testable") == '<span class="verdict not-testable">⊘ not testable</span>'
    assert ".verdict.not-run { color:" in REPORT_CSS and ".verdict.not-testable { color: #CC79A7; }" in REPORT_CSS


def test_the_forest_plot_gives_untested_claims_no_point_and_names_them_in_words():
    import matplotlib

    matplotlib.use("Agg")
    from study.reporting.first_screen import forest_alt
    from study.reporting.forest import plot_claims_forest

    claims = study_with_families()
    ax = plot_claims_forest(claims, {"rate_threshold": 0.5}).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3", "13", "14"]
    points = [line for line in ax.lines if len(line.get_xdata()) == 1]
    assert len(points) == 5, "one point for each tested claim, none for the 9 without an estimate"
    assert "not plotted, without an estimate: 4 (not testable); 5–12 (not run)" in ax.get_xlabel()
    alt = forest_alt(claims)
    assert alt.startswith("Forest plot of the 5 tested claims (2 confirmed, 2 undetermined, 1 refuted). 1. fix 1:")
    assert "lecture claim 5" not in alt and alt.endswith("claims 4 (not testable); 5–12 (not run).")
    nothing = plot_claims_forest(CLAIMS.assign(verdict="not run", estimate=float("nan")), {"rate_threshold": 0.5})
    assert [t.get_text() for t in nothing.axes[0].texts] == ["no claim was tested in this study"]


def test_a_claim_not_run_folds_its_reason_without_an_empty_table_of_runs():
    from study.reporting.claim_details import claim_details

    html = claim_details(study_with_families(), RUNS)
    five = html[html.index("5. ") : html.index("6. ")]
    assert "<b>family:</b> lecture (left out of its Holm family: not run)" in five
    assert "<b>Holm-adjusted p:</b> not tested" in five and "<table" not in five
    assert "<b>Why:</b> not run: deep_bn" in five


def lecture_row(**values) -> dict:
    row = {"dataset": "cifar10", "seeds": "11", "n_seeds": 1, "train_images": 10000, "width": 0.25}
    row |= {"learning_rate": 0.002, "batch_size": 256, "epochs": 1, "lecture_width": 1.0}
    row |= {"lecture_learning_rate": 0.001, "lecture_batch_size": 256, "lecture_epochs": 10}
    return row | values


def test_a_value_the_lecture_does_not_give_leaves_its_clause_out_and_counts_are_pluralised():
    from study.reporting.first_screen import run_sentence

    provenance = {"training": [{"precision": "float32"}], "devices": ["CPU"]}
    missing = dict.fromkeys(["lecture_width", "lecture_learning_rate", "lecture_batch_size", "lecture_epochs"])
    text = run_sentence(pd.DataFrame([lecture_row(**missing)]), provenance)
    assert "1 variant, 1 seed each (seed 11)" in text and "batch 256, 1 epoch;" in text
    assert "<b>What the lecture ran:</b> one run of each model, the whole training set; its hardware" in text
    assert "epochs" not in text and ", epoch" not in text and "width ," not in text and "lr ," not in text
    text = run_sentence(pd.DataFrame([lecture_row(epochs=2, lecture_epochs=None), lecture_row()]), provenance)
    assert "1–2 epochs;" in text and "the whole training set, 10 epochs; its hardware" in text


def test_the_lecture_table_writes_no_recipe_the_lecture_does_not_give_and_one_epoch_singular():
    row = summary(0.55, 1).iloc[0].to_dict() | lecture_row(n_seeds=5) | {"train_images": 1, "optimizer": "sgd"}
    row |= {"lecture_says": None, "lecture_train_accuracy": None, "lecture_val_accuracy": None}
    row |= {"final_train_accuracy_std": 0.0, "final_val_accuracy_std": 0.0, "final_val_accuracy_ci95": 0.0}
    row |= {"best_val_accuracy_mean": 0.5, "params": 10, "seconds_per_epoch": 1.0}
    missing = dict.fromkeys(["lecture_width", "lecture_learning_rate", "lecture_batch_size", "lecture_epochs"])
    shown = lecture_table(pd.DataFrame([row, row | missing | {"lecture_epochs": 3}, row | missing]))
    assert shown["our recipe"][0] == "width 0.25, SGD lr 0.002, batch 256, 1 image, 1 epoch (1 step)"
    assert list(shown["lecture's recipe (one run)"]) == [
        "width 1, Adam lr 0.001, batch 256, the whole training set, 10 epochs",
        "the whole training set, 3 epochs",
        "",
    ]


def test_the_design_notes_take_their_numbers_from_the_statistics_and_name_every_verdict(monkeypatch):
    from study.reporting import notes

    design = {"alpha": 0.05, "rate_threshold": 0.5, "minimal_effect": {"rate_above_threshold": 0.3}}
    design["minimal_effect"] |= {"rate_difference": 0.5, "accuracy_difference": 0.05}
    text = notes.design_notes(design)
    assert "t-test" not in text and "20 seeds" not in text and "from 20" not in text
    assert "sign-flip test at every number of seeds" in text and "(none exists below 6 seeds)" in text
    assert "80% power" in text and "Clopper-Pearson 95% interval" in text
    assert "undecided, diverged or learns in training mode only counts as not having the outcome" in text
    assert "*not testable*" in text and "*not run*" in text
    monkeypatch.setattr(notes, "POWER", 0.9)
    monkeypatch.setattr(notes, "CONFIDENCE", 0.99)
    text = notes.design_notes(design)
    assert "90% power" in text and "Clopper-Pearson 99% interval" in text and "below 8 seeds" in text
    assert "80%" not in text and "95%" not in text
