"""The sensitivity map: the grid expanded into cell variants as Paramspace does, and each cell judged as the
study is."""

import re

import pandas as pd
import pytest
from conftest import REPO

from study.analysis.sensitivity import claims_by_cell, rates_table, trend_claims
from study.analysis.statistics import clopper_pearson, trend_test
from study.config import ConfigError, check_config, load_config
from study.layout import cells, sensitivity_runs, split_cell_variant, variant_spec
from study.reporting.claim_words import with_evidence
from study.reporting.notes import lecture_cell_text, sensitivity_text
from study.reporting.table_views import sensitivity_view
from study.reporting.worded_tables import trend_evidence
from study.training.run import Run

MAP = {
    "variants": ["cifar_12conv_relu", "cifar_12conv_relu_he"],
    "grid": {"learning_rate": [0.001, 0.002], "width": [0.25, 0.5]},
    "seeds": [31, 32, 33],
    "lecture": {"learning_rate": 0.001, "width": 1.0},
}


@pytest.fixture
def config():
    quick = load_config([REPO / "config" / "config.yaml", REPO / "config" / "quick.yaml"])
    for name in MAP["variants"]:  # the profile's own cell, fixed here rather than followed from quick.yaml
        quick["variants"][name] |= {"learning_rate": 0.002, "width": 0.25}
    return quick | {"sensitivity": MAP}


def test_the_grid_is_expanded_into_cell_variants_as_paramspace_does(config):
    names = [name for name, _ in cells(MAP)]
    assert names == [
        "learning_rate-0.001_width-0.25",
        "learning_rate-0.001_width-0.5",
        "learning_rate-0.002_width-0.25",
        "learning_rate-0.002_width-0.5",
    ]
    runs = sensitivity_runs(config)
    assert len(runs) == 2 * 4 * 3 and runs[0] == ("cifar_12conv_relu.learning_rate-0.001_width-0.25", 31)
    assert split_cell_variant(runs[0][0]) == ("cifar_12conv_relu", "learning_rate-0.001_width-0.25")
    # a cell variant names its Keras model, whose names must match Keras' root scope pattern
    assert all(re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*", name) for name, _ in runs)
    spec = variant_spec(config, "cifar_12conv_relu_he.learning_rate-0.001_width-0.5")
    assert (spec["learning_rate"], spec["width"], spec["initializer"]) == (0.001, 0.5, "he_normal")
    assert spec["epochs"] == config["variants"]["cifar_12conv_relu_he"]["epochs"]  # the rest is the variant's
    run = Run.from_config(config, "cifar_12conv_relu.learning_rate-0.002_width-0.5", 31)
    assert (run.spec["learning_rate"], run.spec["width"]) == (0.002, 0.5)


@pytest.mark.parametrize(
    ("sensitivity", "named"),
    [
        (MAP | {"variants": ["nope"]}, "sensitivity.variants: ['nope'] are not variants"),
        (MAP | {"grid": {"epochs": [1, 2.5]}}, "sensitivity.grid.epochs: [2.5] are not whole numbers"),
        (MAP | {"seeds": []}, "sensitivity: a map of variants needs a grid and seeds"),
        (MAP | {"trend_along": "epochs"}, "sensitivity.trend_along: 'epochs' is not a key of the grid"),
    ],
)
def test_a_bad_map_is_refused_with_its_key(config, sensitivity, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        check_config(config | {"sensitivity": sensitivity})


def map_runs(learned: dict[tuple[str, str], int]) -> pd.DataFrame:
    """Three seeds per cell variant; ``learned`` says how many of them learned."""
    rows = []
    for (variant, cell), k in learned.items():
        for i, seed in enumerate((31, 32, 33)):
            outcome = "learns" if i < k else "stuck"
            rows.append({"variant": f"{variant}.{cell}", "seed": seed, "outcome": outcome})
    return pd.DataFrame(rows).assign(final_train_loss=1.0, cause="none", plateau_exit_step=None)


def test_each_cell_gets_its_rate_of_learning_its_claims_and_its_marks(config):
    learned = {}
    for cell, values in cells(MAP):
        baseline = 0 if values["learning_rate"] == 0.002 else 3  # stuck only at the profile's rate
        learned |= {("cifar_12conv_relu", cell): baseline, ("cifar_12conv_relu_he", cell): 3}
    runs = map_runs(learned)
    rates = rates_table(runs, config).set_index(["cell", "variant"])
    profile = rates.loc[("learning_rate-0.002_width-0.25", "cifar_12conv_relu")]
    assert (profile["n_learned"], profile["n_seeds"], profile["profile_cell"]) == (0, 3, True)
    assert (profile["rate_low"], profile["rate_high"]) == pytest.approx(clopper_pearson(0, 3))
    assert not rates["lecture_cell"].any()  # width 1 is not in the grid
    assert "is not a cell of the map: it was not measured here" in lecture_cell_text(rates.reset_index(), config)
    by_cell = with_evidence(claims_by_cell(runs, config))
    he = by_cell[by_cell["claim"] == "He initialization makes the 12-conv net learn"].set_index("cell")
    assert set(he["verdict"]) == {"undetermined"}  # 3/3 against 0/3 settles nothing at 3 seeds
    assert he.loc["learning_rate-0.001_width-0.25", "evidence"].startswith("3/3 vs 3/3")
    assert set(by_cell["claim"]) == {
        "the 12-conv ReLU net does not learn",
        "He initialization makes the 12-conv net learn",
    }
    keys = list(MAP["grid"])
    text = sensitivity_text(rates.reset_index(), by_cell, keys)
    assert "He initialization makes the 12-conv net learn: confirmed in 0 of 4 cells" in text
    assert "own setting is the cell learning_rate-0.002_width-0.25, one cell of the map" in text
    view = sensitivity_view(by_cell, keys)
    assert list(view.columns)[0] == "learning_rate 0.001, width 0.25" and view.shape == (2, 4)


def test_the_lecture_cell_is_marked_when_the_map_measures_it(config):
    lectured = config | {"sensitivity": MAP | {"grid": {"learning_rate": [0.001], "width": [1.0]}}}
    runs = map_runs(
        {
            ("cifar_12conv_relu", "learning_rate-0.001_width-1.0"): 1,
            ("cifar_12conv_relu_he", "learning_rate-0.001_width-1.0"): 3,
        }
    )
    rates = rates_table(runs, lectured)
    assert rates["lecture_cell"].all() and "is a cell of the map, marked" in lecture_cell_text(rates, lectured)


PUBLISHED_MAP = MAP | {"grid": {"learning_rate": [0.001, 0.002, 0.004], "width": [0.25, 0.5]}, "trend_along": ""}
# learned out of 3 seeds per cell in the published map (docs/reproduction/sensitivity.csv, built at 9d8ef19)
PUBLISHED_LEARNED = {
    "cifar_12conv_relu": {0.25: [3, 1, 0], 0.5: [2, 0, 0]},
    "cifar_12conv_relu_he": {0.25: [3, 3, 2], 0.5: [3, 3, 1]},
}


def test_the_map_tests_its_preregistered_trend_once_per_variant_holm_adjusted(config):
    mapped = config | {"sensitivity": PUBLISHED_MAP}
    learned = {}
    for cell, values in cells(PUBLISHED_MAP):
        for variant, by_width in PUBLISHED_LEARNED.items():
            rank = PUBLISHED_MAP["grid"]["learning_rate"].index(values["learning_rate"])
            learned[(variant, cell)] = by_width[values["width"]][rank]
    rates = rates_table(map_runs(learned), mapped)
    trends = trend_claims(rates, mapped).set_index("claim")
    baseline = trends.loc["fewer runs of cifar_12conv_relu learn as learning_rate increases"]
    he = trends.loc["fewer runs of cifar_12conv_relu_he learn as learning_rate increases"]
    strata = [[(0, 3, 3), (1, 3, 1), (2, 3, 0)], [(0, 3, 2), (1, 3, 0), (2, 3, 0)]]
    p_baseline = trend_test(strata, alternative="two-sided")
    # the independent review's exact stratified trend test: p = 0.004 for the baseline, 0.056 for He init
    assert p_baseline == pytest.approx(0.004, abs=5e-4)
    assert baseline["p_adjusted"] == pytest.approx(min(1, 2 * p_baseline))  # Holm's first step over 2 variants
    assert he["p_adjusted"] == pytest.approx(0.056, abs=5e-4)
    assert baseline["verdict"] == "confirmed" and he["verdict"] == "undetermined"
    assert trend_evidence(rates, baseline["variant"], "learning_rate") == (
        "learned at learning rate 0.001: 5/6, 0.002: 1/6, 0.004: 0/6"
    )
    assert set(trends["cell"]) == {"all"}
