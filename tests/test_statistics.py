"""The claims' tests and intervals: against published worked examples, and a test of the tests by simulation."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from study.analysis import statistics
from study.analysis.fixes import logrank_p, median_exit

ALPHA = 0.05
STUDIES = 4000  # simulated studies per case
# Three standard errors of a rate near ALPHA (or of 1 - coverage near 0.05) over STUDIES studies.
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / STUDIES)


# Published worked examples.


def test_clopper_pearson_matches_its_closed_form_at_the_ends_and_newcombes_table():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n) (Clopper and Pearson, 1934)
    assert statistics.clopper_pearson(0, 20) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)))
    assert statistics.clopper_pearson(5, 5)[0] == pytest.approx(0.025 ** (1 / 5))
    assert statistics.clopper_pearson(0, 20)[1] == pytest.approx(0.1684, abs=5e-5)
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 5 (exact): 81/263 and 15/148
    assert statistics.clopper_pearson(81, 263) == pytest.approx((0.2527, 0.3676), abs=1e-4)
    assert statistics.clopper_pearson(15, 148) == pytest.approx((0.0578, 0.1617), abs=1e-4)


def test_the_central_binomial_p_is_the_dual_of_the_clopper_pearson_interval():
    for n in (5, 12, 20):
        for k in range(n + 1):
            low, high = statistics.clopper_pearson(k, n)
            excluded = not low <= 0.5 <= high
            assert (statistics.binomial_p(k, n, 0.5) < ALPHA) == excluded, (k, n)
    assert statistics.binomial_p(5, 5, 0.5) == pytest.approx(2 / 32)  # unanimous 5 seeds: not below 0.05


def test_the_exact_interval_of_a_difference_of_rates_matches_the_published_worked_examples():
    # SAS PROC FREQ, EXACT RISKDIFF(METHOD=NOSCORE), as quoted (4 digits) by the R package tern's vignette
    # "Unconditional Exact Confidence Interval for Difference in Proportions"
    assert statistics.difference_interval(40, 78, 5, 17) == pytest.approx((-0.0466, 0.4676), abs=1e-4)
    assert statistics.difference_interval(27, 57, 3, 3) == pytest.approx((-0.9057, 0.1197), abs=1e-4)
    assert statistics.difference_interval(27, 57, 3, 3, 0.99) == pytest.approx((-0.9586, 0.2677), abs=1e-4)
    # Santner and Snell (1980), JASA 75:386-394, section 4: 0/2 against 2/2 at 90%
    assert statistics.difference_interval(0, 2, 2, 2, 0.90) == pytest.approx((-1.0, 0.0543), abs=1e-4)
    # 5/5 against 0/5: the lower limit solves ((1 + d) / 2)^10 = 0.025, the tail at its largest baseline rate
    assert statistics.contrast_test(5, 5, 0, 5)[1:3] == pytest.approx((2 * 0.025**0.1 - 1, 1.0), abs=1e-6)


def test_the_binomial_probabilities_are_scipys():
    rates = np.array([0.0, 0.013, 0.5, 0.87, 1.0])
    assert statistics.binomial_pmf(7, rates) == pytest.approx(stats.binom.pmf(np.arange(8), 7, rates[:, None]))


def test_boschloos_test_matches_scipys_documented_example_and_is_at_least_as_sharp_as_fishers():
    # the example of scipy.stats.boschloo_exact's documentation (one-sided): p = 0.0355
    assert stats.boschloo_exact([[74, 31], [43, 32]], alternative="greater").pvalue == pytest.approx(0.0355, abs=1e-4)
    # Fisher's lady tasting tea: one-sided p = 17/70 = 0.2429 (Fisher, 1935)
    assert stats.fisher_exact([[3, 1], [1, 3]], alternative="greater").pvalue == pytest.approx(17 / 70)
    five_of_five = statistics.contrast_test(5, 5, 0, 5).p
    assert five_of_five <= stats.fisher_exact([[5, 0], [0, 5]]).pvalue == pytest.approx(2 / 252)


def test_kaplan_meier_median_and_log_rank_match_the_freireich_leukaemia_example():
    # Freireich et al. (1963), 6-MP against placebo, weeks in remission (0: censored); textbook values:
    # KM medians 23 and 8 weeks, log-rank chi-square 16.79 (Kleinbaum and Klein, Survival Analysis)
    treated = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    relapsed = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]

    def runs(times, events):
        return pd.DataFrame(
            {
                "variant": "v",
                "plateau_exit_step": [t if e else None for t, e in zip(times, events, strict=True)],
                "steps": times,
            }
        ).astype({"plateau_exit_step": "Float64"})

    treated_runs, placebo_runs = runs(treated, relapsed), runs(placebo, [1] * 21)
    assert median_exit(treated_runs)[0] == 23 and median_exit(placebo_runs)[0] == 8
    chi2, p = survdiff(np.array(treated + placebo, float), np.array(relapsed + [1] * 21), np.repeat([1, 0], 21))
    assert chi2 == pytest.approx(16.79, abs=0.01)
    assert logrank_p(treated_runs, placebo_runs) == pytest.approx(p)
    assert SurvfuncRight(np.array(placebo, float), np.ones(21)).quantile(0.5) == 8


def test_holm_matches_a_worked_example():
    # Holm (1979): sorted p 0.01, 0.04, 0.03, 0.005 -> 4 x 0.005, 3 x 0.01, max(2 x 0.03, .), max(0.04, .)
    assert statistics.holm([0.01, 0.04, 0.03, 0.005], ALPHA) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(statistics.holm([0.01, math.nan], ALPHA)[1])


def test_from_20_seeds_a_paired_comparison_is_the_t_test_and_its_interval():
    differences = np.linspace(0.1, 0.3, 20)
    estimate = statistics.paired_test(differences)
    half = stats.t.ppf(0.975, 19) * differences.std(ddof=1) / math.sqrt(20)
    assert (estimate.low, estimate.high) == pytest.approx((0.2 - half, 0.2 + half))
    assert estimate.p == pytest.approx(stats.ttest_1samp(differences, 0).pvalue)


def test_below_20_seeds_a_paired_comparison_is_the_exact_sign_flip_test_with_hartigans_interval():
    five = statistics.paired_test(np.full(5, 0.47))
    assert five.p == pytest.approx(2 / 32) and (five.low, five.high) == (-math.inf, math.inf)
    six = np.array([0.1, 0.4, 0.2, 0.6, 0.3, 0.5])
    estimate = statistics.paired_test(six)
    # 2^6 = 64 sign patterns: k = floor(64 x 0.025) = 1, so the interval runs from the lowest subset mean
    # (the smallest difference) to the highest (the largest), and the all-positive pattern is 1 of 32 as extreme
    assert (estimate.low, estimate.high) == (0.1, 0.6) and estimate.p == pytest.approx(2 / 64)
    # Hartigan (1969): 2^n - 1 subset means; of 1, 2, 3 they are 1, 2, 3, 1.5, 2, 2.5, 2
    assert statistics.subset_means(np.array([1.0, 2.0, 3.0])).tolist() == [1, 1.5, 2, 2, 2, 2.5, 3]


# The test of the tests. Rate and contrast tests have finitely many outcomes: their level and coverage are
# computed exactly, over a grid of true rates. Paired tests are simulated, STUDIES studies per case.

GRID = np.round(np.linspace(0.05, 0.95, 19), 2)
EDGES = np.round(np.linspace(0.005, 0.995, 199), 3)


def outcome_weights(n, rate):
    return stats.binom.pmf(np.arange(n + 1), n, rate)


@pytest.mark.parametrize("n", [5, 20])
def test_the_rate_test_keeps_its_level_and_its_interval_covers_at_every_rate(n):
    p_of = np.array([statistics.binomial_p(k, n, 0.5) for k in range(n + 1)])
    assert outcome_weights(n, 0.5) @ (p_of <= ALPHA) <= ALPHA
    intervals = np.array([statistics.clopper_pearson(k, n) for k in range(n + 1)])
    for rate in GRID:
        covered = (intervals[:, 0] <= rate) & (rate <= intervals[:, 1])
        assert outcome_weights(n, rate) @ covered >= 1 - ALPHA, rate


@pytest.fixture(scope="module")
def contrast_tables():
    """Each n's Boschloo p and exact interval for every 2x2 table of n seeds a side."""
    tables = {}
    for n in (5, 20):
        results = [[statistics.contrast_test(a, n, b, n) for b in range(n + 1)] for a in range(n + 1)]
        tables[n] = np.array([[[r.p, r.low, r.high] for r in row] for row in results])
    return tables


@pytest.mark.parametrize("n", [5, 20])
def test_the_contrast_test_keeps_its_level_and_its_interval_covers_at_every_pair_of_rates(n, contrast_tables):
    table = contrast_tables[n]
    for rate in GRID:
        weights = np.outer(outcome_weights(n, rate), outcome_weights(n, rate))
        assert (weights * (table[:, :, 0] <= ALPHA)).sum() <= ALPHA, rate

    def coverage(first, second):
        weights = np.outer(outcome_weights(n, first), outcome_weights(n, second))
        truth = first - second
        return (weights * ((table[:, :, 1] <= truth + 1e-12) & (truth - 1e-12 <= table[:, :, 2]))).sum()

    for first in GRID:
        for second in GRID:
            assert coverage(first, second) >= 1 - ALPHA, (first, second)
    # where approximate intervals (Newcombe's: 91.5% at 5 seeds) fail: near 0 and 1, rates far apart
    for first in EDGES:
        assert coverage(first, 1 - first) >= 1 - ALPHA, first
        assert coverage(first, first) >= 1 - ALPHA, first


def sign_flip_p_values(differences):
    """Exact two-sided sign-flip p of every row at once: the share of sign patterns whose |sum| is at least
    the observed one (the definition `statistics.sign_flip_p` computes with scipy, row by row)."""
    n = differences.shape[1]
    signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    sums = np.abs(differences @ signs.T)
    return np.mean(sums >= sums[:, :1] * (1 - 1e-12), axis=1)


def null_differences(rng, n, shape):
    """Paired differences under a null of mean 0: normal, or two-humped (some seeds learn, some do not)."""
    if shape == "normal":
        return rng.normal(0, 0.05, (STUDIES, n))
    return rng.choice([-0.3, 0.3], (STUDIES, n)) + rng.normal(0, 0.01, (STUDIES, n))


@pytest.mark.parametrize("shape", ["normal", "two-humped"])
@pytest.mark.parametrize("n", [6, 10])
def test_below_20_seeds_the_paired_test_keeps_its_level_and_its_interval_covers(shape, n):
    rng = np.random.default_rng(n)
    small = null_differences(rng, n, shape)
    for row in small[:20]:  # the vectorised p is the function's own
        assert sign_flip_p_values(row[None])[0] == pytest.approx(statistics.paired_test(row).p)
    assert np.mean(sign_flip_p_values(small) <= ALPHA) <= ALPHA + TOLERANCE
    hartigan = np.array([statistics.paired_test(row)[1:3] for row in small])
    assert np.mean((hartigan[:, 0] <= 0) & (0 <= hartigan[:, 1])) >= 1 - ALPHA - TOLERANCE


@pytest.mark.parametrize("shape", ["normal", "two-humped"])
def test_from_20_seeds_the_paired_t_test_keeps_its_level_and_its_interval_covers(shape):
    rng = np.random.default_rng(20)
    large = null_differences(rng, 20, shape)
    t = stats.ttest_1samp(large, 0.0, axis=1)
    assert np.mean(t.pvalue <= ALPHA) <= ALPHA + TOLERANCE
    interval = t.confidence_interval(0.95)
    assert np.mean((interval.low <= 0) & (0 <= interval.high)) >= 1 - ALPHA - TOLERANCE
    assert statistics.paired_test(large[0]).p == pytest.approx(t.pvalue[0])


def test_holm_keeps_the_family_wise_error_over_16_null_claims(contrast_tables):
    """Sixteen true null claims, as many as the lecture's claims and fixes: six rates, six contrasts, four
    paired comparisons, at 20 seeds, where each test can reach alpha / 16. Holm rejects any of them in at
    most alpha of the studies."""
    rng = np.random.default_rng(16)
    n = 20
    rate_p = np.array([statistics.binomial_p(k, n, 0.5) for k in range(n + 1)])
    rates = rate_p[rng.binomial(n, 0.5, (STUDIES, 6))]
    contrasts = contrast_tables[n][rng.binomial(n, 0.5, (STUDIES, 6)), rng.binomial(n, 0.5, (STUDIES, 6)), 0]
    paired = stats.ttest_1samp(rng.normal(0, 0.05, (STUDIES, 4, n)), 0.0, axis=2).pvalue
    families = np.hstack([rates, contrasts, paired])
    # Holm rejects something exactly when its first step does: the smallest p at most alpha / 16
    rejected = families.min(axis=1) * families.shape[1] <= ALPHA
    for family, any_rejected in zip(families[:50], rejected[:50], strict=True):
        assert (min(statistics.holm(list(family), ALPHA)) <= ALPHA) == any_rejected
    assert np.mean(rejected) <= ALPHA + TOLERANCE


def test_seeds_needed_give_the_power_they_promise():
    level = ALPHA / 12
    n = statistics.seeds_for_rate(0.5, 0.9, level)
    p_of = np.array([statistics.binomial_p(k, n, 0.5) for k in range(n + 1)])
    assert outcome_weights(n, 0.9) @ (p_of <= level) >= statistics.POWER
    rng = np.random.default_rng(80)
    # a difference of one spread at 0.05: the t-test's power, not the sign flips' smallest p, sets the seeds
    n = statistics.seeds_for_mean(0.05, 0.05, ALPHA)
    assert math.ceil(math.log2(2 / ALPHA)) < n < statistics.EXACT_PAIRED_BELOW
    p = sign_flip_p_values(rng.normal(0.05, 0.05, (STUDIES, n)))
    assert np.mean(p <= ALPHA) >= statistics.POWER - 2 * TOLERANCE
    n = statistics.seeds_for_contrast(0.8, ALPHA)
    table = np.array([[statistics.contrast_test(a, n, b, n).p for b in range(n + 1)] for a in range(n + 1)])
    weights = np.outer(outcome_weights(n, 0.9), outcome_weights(n, 0.1))
    assert (weights * (table <= ALPHA)).sum() >= statistics.POWER
    assert statistics.seeds_for_rate(0.5, 0.5, level) is None
