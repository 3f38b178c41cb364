"""How the tables side judges a run from its recorded facts: outcome, cause, pre-flight checks, at any class count."""

import math

import pandas as pd
import pytest
from conftest import OUTCOME_THRESHOLDS

from study.analysis.outcomes import (
    LEARNING,
    chance_accuracy,
    chance_loss,
    diagnostic_signs,
    judge_preflight,
    judge_run,
    plateau_exit,
    plateau_line,
    run_cause,
    run_outcome,
)
from study.reporting.run_words import outcome_reason

THRESHOLDS = OUTCOME_THRESHOLDS | {"windows": 1}  # judged one window at a time, unless a test says otherwise


def history(acc=0.5, val_acc=0.45, loss=1.5):
    return pd.DataFrame(
        {"epoch": [1], "running_loss": [loss], "train_loss": [loss], "train_accuracy": [acc], "val_accuracy": [val_acc]}
    )


def steps(losses, interval=5):
    return pd.DataFrame({"step": [interval * (i + 1) for i in range(len(losses))], "loss": losses})


PLATEAU = [2.31, 2.303, 2.302, 2.304, 2.301, 2.303]


@pytest.mark.parametrize(
    ("losses", "h", "outcome", "exit_step"),
    [
        (PLATEAU, history(0.1, 0.1, 2.303), "stuck", None),
        ([2.3, 2.1, 1.8, 1.5, 1.3], history(), "learns", 10),
        ([2.3, 1.5, 0.8, 0.3], history(0.98, 0.6, 0.1), "overfits", 10),
        ([2.3, 2.0, math.nan], history(), "diverged", None),
        # validation accuracy off chance plays no further part in whether a net learns
        ([2.3, 1.9, 1.7], history(0.45, 0.40, loss=1.7), "learns", 10),
        # it dipped below the line once, then fell back onto the plateau
        ([2.30, 2.20, 2.30, 2.302], history(0.1, 0.1, 2.3), "undecided", None),
        # it left, then its loss rose again while staying below the line
        ([2.30, 1.90, 2.20], history(0.2, 0.2, 2.2), "undecided", 10),
    ],
    ids=["stuck", "learns", "overfits", "diverged", "learns-validation-unused", "fell-back", "rose-again"],
)
def test_outcomes_come_from_the_loss_trajectory(losses, h, outcome, exit_step):
    got, _, left = run_outcome(h, steps(losses), 10, THRESHOLDS)
    assert (got, left) == (outcome, exit_step)


def test_a_run_that_leaves_the_plateau_late_is_not_counted_as_stuck():
    # 95 steps on the plateau, then below the line for the last two windows, accuracy just off chance (by the
    # margin): a final-accuracy threshold (the old rule: above 0.2) would not have called it learning
    late = steps([*PLATEAU * 3, 2.303, 2.20, 2.10])
    outcome, basis, left = run_outcome(history(0.17, 0.16, 2.2), late, 10, THRESHOLDS)
    assert outcome == "learns" and left == 100
    assert plateau_exit(late, plateau_line(10, THRESHOLDS), 1) == 100 and "step 100 of 105" in outcome_reason(basis)


K = THRESHOLDS | {"windows": 3}
ON, OFF = 2.31, 2.0  # a window on the plateau (at or above ln 10 - 0.05 = 2.253) and one below it


@pytest.mark.parametrize(
    ("losses", "outcome", "exit_step"),
    [
        ([ON] * 6 + [2.2], "undecided", None),  # one window below at the very end is not leaving
        ([ON] * 6 + [2.2, 2.1, 2.0], "learns", 35),
        ([ON] * 3 + [2.2, ON, 2.1, 2.0, 1.9], "learns", 20),  # one window back on the plateau is noise
        ([ON] * 3 + [OFF] * 3 + [ON] * 3, "undecided", None),  # three windows back on it: fell back
        ([ON] * 3 + [OFF] * 2 + [ON] * 3, "stuck", None),  # two windows off it were noise too
        ([ON] * 3 + [2.0, 1.9, 2.0, 2.1, 2.1, 2.2], "undecided", 20),  # its loss has not fallen since it left
    ],
    ids=["last-window", "three-windows", "one-window-back", "fell-back", "short-dip", "stalled"],
)
def test_each_step_of_the_judgement_takes_k_consecutive_windows(losses, outcome, exit_step):
    got, basis, left = run_outcome(history(0.3, 0.3, 2.0), steps(losses), 10, K)
    assert (got, left) == (outcome, exit_step), outcome_reason(basis)


def test_a_run_that_learned_gets_no_cause():
    diagnostics = pd.DataFrame(
        [(1, "conv1", 1, "gradient_norm", 0.0), (1, "dense", 2, "gradient_norm", 1.0)],
        columns=["epoch", "layer", "depth", "statistic", "value"],
    )
    learned = judge_run(history(0.4, 0.35, 1.5), steps([2.3, 2.1, 1.8, 1.5, 1.3]), diagnostics, 10, THRESHOLDS)
    assert learned["outcome"] == "learns" and learned["cause"] == "none sought (it learned)"
    stuck = judge_run(history(0.1, 0.1, 2.3), steps(PLATEAU), diagnostics, 10, THRESHOLDS)
    assert stuck["cause"] == "vanishing gradients"


@pytest.mark.parametrize(
    ("signs", "cause"),
    [
        ({"gradient_ratio": 1e-5, "dead_fraction": math.nan, "saturated_fraction": 0.95}, "vanishing gradients"),
        ({"gradient_ratio": 0.5, "dead_fraction": 0.95, "saturated_fraction": math.nan}, "dead units"),
        ({"gradient_ratio": 0.5, "dead_fraction": math.nan, "saturated_fraction": 0.95}, "saturation"),
        ({"gradient_ratio": 0.5, "dead_fraction": 0.2, "saturated_fraction": math.nan}, "none"),
        # dead units come first: a dead layer is what zeroes the gradient below it
        (
            {"gradient_ratio": 0.0, "dead_fraction": 0.98, "saturated_fraction": math.nan},
            "dead units (first-layer gradient zero)",
        ),
        (
            {"gradient_ratio": 1e-5, "dead_fraction": 0.98, "saturated_fraction": math.nan},
            "dead units (and vanishing gradients)",
        ),
    ],
)
def test_the_cause_is_the_sign_over_its_threshold_dead_units_first(signs, cause):
    assert run_cause(signs, THRESHOLDS) == cause


def test_a_net_whose_units_are_not_counted_is_never_said_to_have_no_cause():
    unmeasured = {"gradient_ratio": 0.5, "dead_fraction": math.nan, "saturated_fraction": math.nan}
    assert run_cause(unmeasured, THRESHOLDS, "gelu") == (
        "not measured (no dead or saturated count for gelu units; gradients not vanishing)"
    )
    assert run_cause(unmeasured | {"gradient_ratio": 1e-5}, THRESHOLDS, "elu") == "vanishing gradients"
    assert run_cause(unmeasured | {"dead_fraction": 0.2}, THRESHOLDS, "leaky_relu") == "none"


def test_diagnostic_signs_read_the_last_epoch():
    rows = [
        (0, "conv1", 1, "gradient_norm", 1.0),
        (0, "dense", 2, "gradient_norm", 1.0),
        (3, "conv1", 1, "gradient_norm", 1e-6),
        (3, "dense", 2, "gradient_norm", 0.5),
        (3, "conv1", 1, "dead_fraction", 0.97),
    ]
    table = pd.DataFrame(rows, columns=["epoch", "layer", "depth", "statistic", "value"])
    signs = diagnostic_signs(table)
    assert signs["gradient_ratio"] == pytest.approx(2e-6)
    assert signs["dead_fraction"] == 0.97 and math.isnan(signs["saturated_fraction"])


# A net over 100 classes at 25% accuracy has a loss near 3: well below its own chance loss, ln 100 = 4.605, and
# above the line a ten-class rule would draw (2.253). Judged against ln 100, it learns.
HUNDRED = [4.61, 4.60, 4.4, 3.9, 3.4, 3.0]


def test_a_hundred_class_run_is_judged_against_ln_100_and_one_in_a_hundred():
    assert chance_loss(100) == pytest.approx(4.60517, rel=1e-5) and chance_accuracy(100) == 0.01
    assert plateau_line(100, THRESHOLDS) == pytest.approx(math.log(100) - 0.05)
    outcome, basis, left = run_outcome(history(0.25, 0.24, 3.0), steps(HUNDRED), 100, THRESHOLDS)
    assert (outcome, left) == ("learns", 15) and "loss 3.000" in outcome_reason(basis)
    plateau = [4.606, 4.604, 4.605, 4.603]
    assert run_outcome(history(0.01, 0.01, 4.605), steps(plateau), 100, THRESHOLDS)[0] == "stuck"


def test_the_same_hundred_class_losses_would_be_stuck_under_a_ten_class_line():
    # what the class count from the data guards against: the ten-class line reads this learning net as stuck
    assert run_outcome(history(0.25, 0.24, 3.0), steps(HUNDRED), 10, THRESHOLDS)[0] == "stuck"


def test_judge_run_gives_outcome_cause_and_exit_step_from_the_run_files():
    diagnostics = pd.DataFrame(
        [(1, "conv1", 1, "gradient_norm", 0.5), (1, "dense", 2, "gradient_norm", 1.0)],
        columns=["epoch", "layer", "depth", "statistic", "value"],
    )
    judged = judge_run(history(0.25, 0.24, 3.0), steps(HUNDRED), diagnostics, 100, THRESHOLDS)
    assert judged["outcome"] == "learns" and judged["plateau_exit_step"] == 15
    assert judged["cause"] == "none sought (it learned)" and judged["gradient_ratio"] == 0.5


def preflight_result(classes, initial_loss, accuracy):
    return {
        "variant": "v",
        "classes": classes,
        "initial_loss": initial_loss,
        "overfit": {"steps": len(accuracy), "loss": [1.0] * len(accuracy), "accuracy": accuracy},
    }


PREFLIGHT = {"initial_loss_band": 0.5, "overfit_accuracy": 1.0}


def test_the_preflight_initial_loss_is_checked_against_the_runs_own_chance_loss():
    at_hundred = judge_preflight(preflight_result(100, 4.7, [0.5, 1.0, 1.0]), PREFLIGHT)
    assert at_hundred["expected_initial_loss"] == pytest.approx(math.log(100))
    assert at_hundred["initial_loss_ok"] and at_hundred["steps_to_overfit"] == 2 and at_hundred["passed"]
    ten_class_loss = judge_preflight(preflight_result(100, 2.3, [0.5, 0.9]), PREFLIGHT)
    assert not ten_class_loss["initial_loss_ok"] and not ten_class_loss["overfits"] and not ten_class_loss["passed"]


def test_the_overfit_mark_is_a_threshold_of_the_tables_side():
    result = preflight_result(10, 2.3, [0.5, 0.9, 0.95])
    assert not judge_preflight(result, PREFLIGHT)["overfits"]
    assert judge_preflight(result, PREFLIGHT | {"overfit_accuracy": 0.9})["steps_to_overfit"] == 2


def test_the_outcome_rules_name_each_datasets_own_chance_line():
    from study.reporting.notes import outcome_rules

    text = " ".join(outcome_rules(K, {"cifar100": 100, "fashion_mnist": 10}))
    assert "for 3 windows in a row" in text
    assert "cifar100: ln 100 − 0.05 = 4.555" in text and "fashion_mnist: ln 10 − 0.05 = 2.253" in text


def test_a_net_whose_training_loss_left_the_plateau_but_is_at_chance_in_inference_mode_does_not_learn():
    # batch norm's failure in the published study: the training-mode loss left the plateau at step 10, but the
    # net as it is evaluated has an inference-mode train loss of 3.1 and accuracies at chance
    left = steps([2.3, 2.1, 1.8, 1.5, 1.3])
    for at_chance in (history(0.11, 0.12, loss=3.1), history(0.40, 0.40, loss=2.4), history(0.12, 0.40, loss=1.6)):
        outcome, basis, exit_step = run_outcome(at_chance, left, 10, THRESHOLDS)
        assert outcome == "learns in training mode only" and exit_step == 10
        assert "in inference mode is at chance" in outcome_reason(basis)
    # its train probe off chance, its validation at chance: it memorizes, which is not learning either
    outcome, basis, _ = run_outcome(history(0.95, 0.11, loss=0.2), left, 10, THRESHOLDS)
    assert outcome == "memorizes" and "validation accuracy 0.110" in outcome_reason(basis)
    judged = judge_run(history(0.11, 0.12, loss=3.1), left, DIAGNOSTICS_WITH_BATCHNORM, 10, THRESHOLDS)
    assert judged["outcome"] not in LEARNING
    assert (
        judged["cause"]
        == "batch-norm moving statistics lag the batch statistics (by up to 4.20 batch standard deviations)"
    )
    # just off chance by the margin on every measure: it learns
    assert run_outcome(history(0.16, 0.16, loss=2.2), left, 10, THRESHOLDS)[0] == "learns"


def test_gradients_small_at_every_layer_are_named_vanishing_though_the_first_to_last_ratio_is_near_one():
    # He et al. (2015): a deep plain ReLU net under Glorot init has gradients of about 1e-4 at every layer
    glorot = {"gradient_ratio": 0.8, "gradient_scale": 2e-5, "dead_fraction": 0.7, "saturated_fraction": math.nan}
    he = glorot | {"gradient_scale": 1e-2}
    assert run_cause(glorot, THRESHOLDS) == "vanishing gradients (uniformly small at every layer)"
    assert run_cause(he, THRESHOLDS) == "none"


def test_the_gradient_scale_is_each_layers_gradient_norm_over_its_weight_norm_at_its_largest():
    rows = [
        (1, "conv1", 1, "gradient_norm", 1e-4),
        (1, "conv1", 1, "weight_norm", 8.0),
        (1, "conv2", 2, "gradient_norm", 3e-4),
        (1, "conv2", 2, "weight_norm", 10.0),
    ]
    signs = diagnostic_signs(pd.DataFrame(rows, columns=["epoch", "layer", "depth", "statistic", "value"]))
    assert signs["gradient_scale"] == pytest.approx(3e-5) and signs["gradient_ratio"] == pytest.approx(1 / 3)
    assert math.isnan(signs["batchnorm_lag"])


DIAGNOSTICS_WITH_BATCHNORM = pd.DataFrame(
    [
        (3, "conv1", 1, "gradient_norm", 0.1),
        (3, "conv1", 1, "weight_norm", 5.0),
        (3, "bn1", 1, "batchnorm_mean_lag", 4.2),
        (3, "bn2", 2, "batchnorm_mean_lag", 0.3),
    ],
    columns=["epoch", "layer", "depth", "statistic", "value"],
)
