"""Seeds added in planned looks: which runs each look trains, when the study stops, and the correction over
looks that keeps the family-wise error rate."""

import math

import numpy as np
import pandas as pd
import pytest

from study.analysis import statistics
from study.analysis.looks import judge_look, settled_at
from study.layout import first_look_runs, next_look_runs

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
        {"claim": "deep is stuck", "expect": "does_not_learn", "variant": "deep"},
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


# The looks design chosen by simulation, at the effects the published quick-profile study observed (seeds 11-20,
# re-judged on the net as it is evaluated): each variant's rate of learning, and the rate and fix claims of the
# default config. The paired 3-conv claims stay in the family as claims that never settle (p = 1), and so
# would any claim a user adds beyond them.
OBSERVED_RATES = {
    "fmnist_2conv": 1.0,
    "cifar_2conv": 1.0,
    "cifar_6conv_sigmoid": 0.0,
    "cifar_6conv_relu": 1.0,
    "cifar_12conv": 0.4,
    "standardize": 0.9,
    "batchnorm": 0.0,
    "he": 0.8,
    "skip": 1.0,
}
SIMULATED_CLAIMS = [  # (variant, expect, baseline)
    ("fmnist_2conv", "learns", None),
    ("cifar_2conv", "learns", None),
    ("cifar_6conv_sigmoid", "does_not_learn", None),
    ("cifar_6conv_relu", "learns", "cifar_6conv_sigmoid"),
    ("cifar_12conv", "does_not_learn", None),
    ("standardize", "learns", "cifar_12conv"),
    ("batchnorm", "learns", "cifar_12conv"),
    ("he", "learns", "cifar_12conv"),
    ("skip", "learns", "cifar_12conv"),
]
VARIANTS = len(OBSERVED_RATES) + 1  # and the 3-conv net, whose claims every look trains


def claim_p(learned: dict, n: int, p_rate, p_contrast) -> list[float]:
    """Each simulated claim's p at ``n`` seeds a variant, as the claims table computes it."""
    out = []
    for variant, expect, baseline in SIMULATED_CLAIMS:
        k = learned[variant] if expect == "learns" else n - learned[variant]
        if baseline is None:
            out.append(p_rate[n][k])
        else:
            k_base = learned[baseline] if expect == "learns" else n - learned[baseline]
            out.append(max(p_rate[n][k], p_contrast[n][k, k_base]))
    return out


def truly_holds(variant: str, expect: str, baseline: str | None) -> bool:
    rate = OBSERVED_RATES[variant] if expect == "learns" else 1 - OBSERVED_RATES[variant]
    if baseline is None:
        return rate > 0.5
    base = OBSERVED_RATES[baseline] if expect == "learns" else 1 - OBSERVED_RATES[baseline]
    return rate > 0.5 and rate > base


def holm_adjusted(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values: the running maximum of (m - rank) x p in increasing order, capped at 1."""
    order = np.argsort(p_values)
    m = len(p_values)
    stepped = np.maximum.accumulate([(m - rank) * p_values[i] for rank, i in enumerate(order)])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def simulate_design(looks: list[int], never_settling: int, studies: int, rng) -> tuple[float, float]:
    """Mean true claims confirmed and mean training runs per study, for seeds in ``looks`` (Bonferroni over them)
    with the workflow's rule: after each look, only the variants of claims still undetermined get more seeds.
    ``never_settling``: the family's other claims, whose p is 1."""
    n = looks[-1]
    p_rate = {k: [statistics.binomial_p(s, k, 0.5) for s in range(k + 1)] for k in looks}
    p_contrast = {
        k: np.array([[statistics.boschloo_p(a, k, b, k) for b in range(k + 1)] for a in range(k + 1)]) for k in looks
    }
    holds = [truly_holds(*claim) for claim in SIMULATED_CLAIMS]
    settled_true, runs_used = [], []
    for _ in range(studies):
        draws = {variant: rng.random(n) < rate for variant, rate in OBSERVED_RATES.items()}
        open_variants, smallest = set(OBSERVED_RATES) | {"cifar_3conv"}, [math.inf] * len(SIMULATED_CLAIMS)
        confirmed, runs_count, previous = set(), 0, 0
        for k in looks:
            runs_count += (k - previous) * len(open_variants)
            previous = k
            learned = {variant: int(draws[variant][:k].sum()) for variant in OBSERVED_RATES}
            p = claim_p(learned, k, p_rate, p_contrast)
            # a claim settled at an earlier look keeps its p: its variants may have trained no further
            smallest = [
                q if i in confirmed else min(q, new) for i, (q, new) in enumerate(zip(smallest, p, strict=True))
            ]
            family = [statistics.over_looks([q], len(looks)) for q in smallest] + [1.0] * never_settling
            adjusted = holm_adjusted(family)
            if len(settled_true) < 5:  # the procedure's own Holm agrees (statsmodels' is too slow to call 8,000 times)
                assert adjusted == pytest.approx(statistics.holm(family, ALPHA))
            confirmed = {i for i, q in enumerate(adjusted[: len(SIMULATED_CLAIMS)]) if q <= ALPHA}
            still_open = [c for i, c in enumerate(SIMULATED_CLAIMS) if i not in confirmed]
            involved = {variant for claim in still_open for variant in (claim[0], claim[2]) if variant}
            open_variants = involved | {"cifar_3conv", "cifar_2conv"}
        settled_true.append(sum(holds[i] for i in confirmed))
        runs_used.append(runs_count)
    return float(np.mean(settled_true)), float(np.mean(runs_used))


def test_one_look_of_ten_seeds_settles_as_much_as_two_bonferroni_looks_costs_no_more_and_survives_more_claims():
    """Why the quick profile takes one look of 10 seeds, not two (5, 10). At 5 seeds no rate claim and no
    intersection-union fix can settle (their smallest p is 2/32), so the first look never stops a variant: it
    saves no run. At 11 claims the Bonferroni factor happens to cost nothing (10/10 gives 2 x 11 x 2/1024 < 0.05),
    but from a 13th claim on it takes away every rate claim's only way to settle, while one look still settles."""
    results = {}
    for looks in ([5, 10], [10]):
        for never_settling in (2, 4):  # the default family of 11 claims; one with two more
            rng = np.random.default_rng(201)
            results[len(looks), never_settling] = simulate_design(looks, never_settling, 1000, rng)
    print("true claims settled, runs per study, by (looks, claims that never settle):", results)
    assert results[2, 2][1] == results[1, 2][1] == VARIANTS * 10  # the first look saves no run
    assert results[1, 2][0] >= results[2, 2][0]
    assert results[1, 4][0] > results[2, 4][0] + 1  # with 13 claims, two looks lose the rate claims
