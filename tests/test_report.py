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
