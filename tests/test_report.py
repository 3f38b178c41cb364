"""The report's prose states what the run's config and outputs say, not fixed numbers."""

import pandas as pd

from study.reporting.views import batchnorm_notes, lecture_table, method_notes, saturation_note

OUTCOMES = {
    "windows": 3,
    "plateau_margin": 0.05,
    "overfit_gap": 0.15,
    "causes": {"vanishing_gradient_ratio": 0.01, "dead_fraction": 0.9, "saturated_fraction": 0.9},
}


def summary(val_accuracy, steps, classes=10, dataset="cifar10"):
    row = {"variant": "bn", "dataset": dataset, "classes": classes, "steps": steps}
    return pd.DataFrame([row | {"final_train_accuracy_mean": 0.45, "final_val_accuracy_mean": val_accuracy}])


def test_the_batchnorm_note_uses_the_runs_steps():
    config = {"variants": {"bn": {"batchnorm": True}}, "outcomes": OUTCOMES}
    note = batchnorm_notes(summary(0.11, 78), config)
    assert "this run's 78 steps" in note and "about 54% of the way" in note  # 1 - 0.99 ** 78
    assert "about 45% of the way in this run's 60 steps" in batchnorm_notes(summary(0.11, 60), config)
    assert batchnorm_notes(summary(0.17, 78), config) == "", "0.17 is not near chance (0.10 + 0.05)"
    assert batchnorm_notes(summary(0.11, 78), config | {"variants": {"bn": {"batchnorm": False}}}) == ""
    # chance is the dataset's own: at 100 classes 0.11 is far from 0.01 + 0.05, and 0.03 is near it
    assert batchnorm_notes(summary(0.11, 78, classes=100), config) == ""
    assert "validation accuracy 0.030" in batchnorm_notes(summary(0.03, 78, classes=100), config)


def test_the_method_notes_quote_the_configs_thresholds():
    causes = {"vanishing_gradient_ratio": 0.001, "dead_fraction": 0.8, "saturated_fraction": 0.7}
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
    from study.reporting.views import params_view, styled

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
    from study.reporting.views import cell_text

    assert [cell_text(v) for v in (None, float("nan"), pd.NA, True, False)] == ["", "", "", "yes", "no"]
    assert [cell_text(v) for v in (134301514, 0.12345, "text")] == ["134,301,514", "0.123", "text"]


def test_headers_are_aligned_with_their_columns():
    from study.reporting.views import styled

    html = styled(pd.DataFrame({"variant": ["a"], "final_loss": [2.3]})).to_html()
    assert "th.col0 {\n  text-align: left;" in html and "td.col0 {\n  text-align: left;" in html
    assert "th.col1 {\n  text-align: right;" in html and "td.col1 {\n  text-align: right;" in html


def test_the_ladder_gives_each_claim_its_verdict_as_a_symbol_and_a_word_in_the_configs_order():
    from study.reporting.views import ladder_html

    html = ladder_html(CLAIMS)
    assert html.index("? undetermined</span> the 12-conv ReLU net does not learn") < html.index(
        "✓ confirmed (exploratory)</span> He initialization"
    )
    assert html.count("<li>") == 2


def test_each_claim_folds_its_test_p_runs_seed_by_seed_and_reason():
    from study.reporting.views import claim_details

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
    from study.reporting.views import config_yaml

    html = config_yaml({"variants": {"a": {"blocks": [[64, 64], [128]], "he_init": True, "note": None}}})
    assert html.startswith("<details><summary>")
    assert "blocks:\n    - [64, 64]\n    - [128]\n" in html and "he_init: true" in html and "note: null" in html


def test_the_forest_plot_sets_each_claim_against_its_own_reference():
    import matplotlib

    matplotlib.use("Agg")
    from study.reporting.figures import plot_claims_forest

    figure = plot_claims_forest(CLAIMS, {"rate_threshold": 0.5})
    lines = [line.get_xydata().tolist() for line in figure.axes[0].lines if len(line.get_xdata()) == 2]
    assert [[0.5, -0.35], [0.5, 0.35]] in lines, "the rate claim's tick sits at the threshold"
    assert [[0.0, 0.65], [0.0, 1.35]] in lines, "the contrast's tick sits at 0"
    assert [[0.16, 0.0], [1.0, 0.0]] in lines and [[0.4, 1.0], [1.0, 1.0]] in lines, "each interval on its row"
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["1", "2"]


def test_a_run_sentence_stands_beside_the_lectures_recipe():
    from study.reporting.views import run_sentence

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
