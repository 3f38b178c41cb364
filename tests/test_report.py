"""The report's prose states what the run's config and outputs say, not fixed numbers."""

import pandas as pd

from study.report import batchnorm_notes, method_notes, saturation_note

VERDICTS = {"chance_band": 0.05, "loss_band": 0.05, "learns_accuracy": 0.2, "overfit_gap": 0.15}


def summary(val_accuracy, steps):
    return pd.DataFrame(
        [{"variant": "bn", "final_train_accuracy_mean": 0.45, "final_val_accuracy_mean": val_accuracy, "steps": steps}]
    )


def test_the_batchnorm_note_uses_the_runs_steps_and_the_verdicts_chance_band():
    config = {"variants": {"bn": {"batchnorm": True}}, "verdicts": VERDICTS}
    note = batchnorm_notes(summary(0.11, 78), config)
    assert "this run's 78 steps" in note and "about 54% of the way" in note  # 1 - 0.99 ** 78
    assert "about 45% of the way in this run's 60 steps" in batchnorm_notes(summary(0.11, 60), config)
    assert batchnorm_notes(summary(0.17, 78), config) == "", "0.17 is outside chance 0.10 + band 0.05"
    wider = config | {"verdicts": VERDICTS | {"chance_band": 0.1}}
    assert "**bn**" in batchnorm_notes(summary(0.17, 78), wider)
    assert batchnorm_notes(summary(0.11, 78), config | {"variants": {"bn": {"batchnorm": False}}}) == ""


def test_the_method_notes_quote_the_configs_thresholds():
    text = method_notes({"verdicts": VERDICTS | {"learns_accuracy": 0.3, "chance_band": 0.02}})
    assert "final train accuracy above 0.3" in text and "within 0.02 of 0.10" in text
    assert "0.2" not in text.replace("0.02", "")
    assert "below 0.05 or above 0.95" in saturation_note({"diagnostics": {"saturation": 0.05}})


def test_tables_print_counts_with_separators_numbers_with_3_decimals_and_headers_as_words():
    from study.report import params_view, styled

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
