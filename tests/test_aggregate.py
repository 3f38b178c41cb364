import math

import pytest
from scipy import stats

from study.analysis.tables import mean_std_ci, summarize


def test_mean_std_ci_uses_the_t_distribution():
    got = mean_std_ci([0.5, 0.6, 0.7])
    assert got["mean"] == pytest.approx(0.6)
    assert got["std"] == pytest.approx(0.1)
    assert got["ci95"] == pytest.approx(stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3))


def test_single_seed_has_no_spread():
    got = mean_std_ci([0.4])
    assert got["mean"] == 0.4 and math.isnan(got["std"]) and math.isnan(got["ci95"])


def test_summarize_orders_by_config_and_carries_the_lecture():
    def run(variant, seed, acc):
        return {
            "variant": variant,
            "seed": seed,
            "dataset": "cifar10",
            "classes": 10,
            "epochs": 2,
            "steps": 8,
            "final_train_accuracy": acc,
            "final_val_accuracy": acc - 0.1,
            "best_val_accuracy": acc,
            "params": 10,
            "seconds_per_epoch": 1.0,
            "final_train_loss": 1.0,
            "outcome": "learns" if acc > 0.5 else "undecided",
            "cause": "none" if acc > 0.5 else "dead units",
            "train_images": 1000,
            "run": {"spec": {"width": 0.25, "learning_rate": 0.002, "batch_size": 256}},
        }

    lecture = {"train_accuracy": 0.9, "says": "learns", "width": 1.0, "learning_rate": 0.001, "batch_size": 256}
    variants = {"b": {"lecture": lecture}, "a": {}}
    table = summarize([run("a", 1, 0.2), run("b", 2, 0.8), run("b", 1, 0.6)], variants)
    assert table["variant"].tolist() == ["b", "a"]
    b = table.iloc[0]
    assert b["n_seeds"] == 2 and b["seeds"] == "1 2"
    assert b["final_train_accuracy_mean"] == pytest.approx(0.7)
    assert b["final_val_accuracy_mean"] == pytest.approx(0.6)
    assert b["lecture_train_accuracy"] == 0.9 and b["lecture_says"] == "learns"
    # both recipes, side by side
    assert (b["width"], b["learning_rate"], b["train_images"]) == (0.25, 0.002, 1000)
    assert (b["lecture_width"], b["lecture_learning_rate"], b["lecture_batch_size"]) == (1.0, 0.001, 256)
    assert math.isnan(table.iloc[1]["lecture_train_accuracy"])
    assert b["outcome"] == "learns" and b["outcomes"] == "learns 2/2"
    assert table.iloc[1]["outcomes"] == "undecided 1/1"
    assert b["causes"] == "none 2/2" and table.iloc[1]["causes"] == "dead units 1/1"


def test_aggregate_takes_the_claims_as_the_final_look_judged_them_and_refuses_a_look_that_kept_only_verdicts():
    from conftest import REPO

    from study.analysis.claims import CLAIM_COLUMNS
    from study.analysis.tables import OldRunError, StudyFacts
    from study.config import load_config

    config = load_config([REPO / "config" / "config.yaml"])
    judged = dict.fromkeys(CLAIM_COLUMNS) | {"claim": "a learns", "n_seeds": 5, "p_adjusted": 0.03}
    looks = [{"look": 1, "seeds_per_variant": 5, "claims": [judged | {"verdict": "confirmed", "p_min": 0.03}]}]
    facts = StudyFacts([], {}, [], looks, [], None, config, {})
    claims = facts.claims
    assert claims[["claim", "verdict", "p_adjusted"]].values.tolist() == [["a learns", "confirmed", 0.03]]
    assert claims["settled_at_look"].tolist() == [1] and claims["seeds_needed"].dtype == "Int64"
    assert claims["protocol"].tolist() == ["exploratory"], "no protocol was fixed before these runs"
    old = [{"look": 1, "seeds_per_variant": 5, "claims": [{"claim": "a learns", "verdict": "confirmed"}]}]
    with pytest.raises(OldRunError, match="delete the study's looks/ folder"):
        _ = StudyFacts([], {}, [], old, [], None, config, {}).claims
