"""Seeds added in planned looks: which runs each look trains, when the study stops, and the correction over
looks that keeps the family-wise error rate."""

import math

import numpy as np
import pandas as pd
import pytest

from study.analysis import statistics
from study.analysis.looks import first_look_runs, judge_look, next_look_runs, settled_at

ALPHA = 0.05
DESIGN = {
    "alpha": ALPHA,
    "rate_threshold": 0.5,
    "minimal_effect": {"rate_above_threshold": 0.4, "rate_difference": 0.5, "accuracy_difference": 0.05},
    "looks": [8, 12],
    "exploration_seeds": [],
}
CONFIG = {
    "seeds": list(range(11, 23)),
    "variants_to_train": [],
    "variants": {"deep": {}, "fixed": {}, "other": {}},
    "design": DESIGN,
    "claims": [
        {"claim": "deep is stuck", "expect": "stuck", "variant": "deep"},
        {"claim": "other learns", "expect": "learns", "variant": "other"},
    ],
}


def runs(outcomes: dict[str, list[str]], seeds) -> pd.DataFrame:
    rows = [
        {"variant": variant, "seed": seed, "outcome": outcome, "final_train_loss": 1.0, "cause": "none"}
        for variant, values in outcomes.items()
        for seed, outcome in zip(seeds, values, strict=False)
    ]
    return pd.DataFrame(rows)


def test_the_correction_over_looks_is_bonferroni_on_the_smallest_p_so_far():
    assert statistics.over_looks([0.02, 0.01], 3) == pytest.approx(0.03)
    assert statistics.over_looks([0.4, math.nan], 3) == 1.0  # capped at 1
    assert math.isnan(statistics.over_looks([math.nan], 3))
    assert statistics.over_looks([0.004], 1) == 0.004  # one look: the p itself


def test_an_undetermined_claim_gets_the_next_looks_seeds_for_its_variants_and_a_settled_one_none():
    assert first_look_runs(CONFIG) == [(v, s) for v in ("deep", "fixed", "other") for s in range(11, 19)]
    # deep stuck on 8/8: p = 2/256, times 2 looks = 0.016, Holm's first step at 0.05 / 2: settled
    # other learns on 5/8: undetermined
    look_1 = judge_look(
        runs({"deep": ["stuck"] * 8, "other": ["learns"] * 5 + ["stuck"] * 3}, range(11, 19)), None, CONFIG
    )
    verdicts = {claim["claim"]: claim for claim in look_1["claims"]}
    assert verdicts["deep is stuck"]["verdict"] == "confirmed"
    assert verdicts["deep is stuck"]["p_looks"] == pytest.approx(2 * 2 / 256)
    assert verdicts["other learns"]["verdict"] == "undetermined"
    assert look_1["next_variants"] == ["other"] and not look_1["stop"]
    added = next_look_runs(look_1, CONFIG)
    assert sorted(set(added) - {tuple(run) for run in look_1["runs"]}) == [("other", s) for s in range(19, 23)]
    look_2 = judge_look(
        runs({"deep": ["stuck"] * 8, "other": ["learns"] * 5 + ["stuck"] * 7}, range(11, 23)), look_1, CONFIG
    )
    assert look_2["look"] == 2 and look_2["stop"] and look_2["next_variants"] == []  # the last look
    # the smallest p over the looks carries over: deep's p at look 2 is no larger
    assert {c["claim"]: c["p_min"] for c in look_2["claims"]}["deep is stuck"] == pytest.approx(2 / 256)
    assert settled_at([look_1, look_2]) == {"deep is stuck": 1}


def test_every_claim_settled_stops_the_study_early():
    look_1 = judge_look(runs({"deep": ["stuck"] * 8, "other": ["learns"] * 8}, range(11, 19)), None, CONFIG)
    assert look_1["stop"] and look_1["next_variants"] == []


@pytest.mark.parametrize("looks", [[5, 10, 20], [10, 20]])
def test_looks_with_the_correction_keep_the_family_wise_error_of_16_null_claims(looks):
    """Sixteen true null rate claims (rate 1/2), seeds added at each look, as the workflow does: under the
    global null no claim settles unless wrongly, so every claim reaches every look, and the procedure rejects
    something exactly when Holm's first step does at some look: K x the smallest p of any claim at any look,
    times 16, is at most alpha. Without the correction the same looks reject too often (6.5%)."""
    rng = np.random.default_rng(len(looks))
    n = looks[-1]
    p_of = {k: np.array([statistics.binomial_p(s, k, 0.5) for s in range(k + 1)]) for k in looks}
    studies = 20_000  # enough to tell the uncorrected 6.5% from alpha
    tolerance = 3 * math.sqrt(ALPHA * (1 - ALPHA) / studies)
    outcomes = rng.binomial(1, 0.5, (studies, 16, n))
    smallest = np.min([p_of[k][outcomes[:, :, :k].sum(axis=2)] for k in looks], axis=0).min(axis=1)
    corrected = np.mean(len(looks) * smallest * 16 <= ALPHA)
    assert corrected <= ALPHA + tolerance
    assert np.mean(smallest * 16 <= ALPHA) > ALPHA + tolerance
    # the procedure's own functions agree with the vectorised rule on the first studies
    for study in range(20):
        counts = [outcomes[study, :, :k].sum(axis=1) for k in looks]
        p_star = [
            statistics.over_looks([p_of[k][c[j]] for k, c in zip(looks, counts, strict=True)], len(looks))
            for j in range(16)
        ]
        rejected = min(statistics.holm(p_star, ALPHA)) <= ALPHA
        assert rejected == (len(looks) * smallest[study] * 16 <= ALPHA)
