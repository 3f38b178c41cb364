"""The claims' tests and intervals: against published worked examples and their definitions, and a test of the
tests: each test's size and each interval's coverage at every level Holm's adjustment uses, computed exactly
wherever the outcomes can be enumerated."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from study.analysis import statistics
from study.analysis.fixes import logrank_p, median_exit

ALPHA = 0.05
# The levels Holm's steps test at in a family of up to 24 claims: alpha / k for k = 1..24.
HOLM_LEVELS = ALPHA / np.arange(1, 25)
STUDIES = 4000  # simulated studies per case
# Three standard errors of a rate near ALPHA (or of 1 - coverage near 0.05) over STUDIES studies.
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / STUDIES)
# An exact size may exceed its level by this much, relatively: the rounding of sums of probabilities.
ROUNDING = 1e-9


# Published worked examples.


def test_clopper_pearson_matches_its_closed_form_at_the_ends_and_newcombes_table():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n) (Clopper and Pearson, 1934)
    assert statistics.clopper_pearson(0, 20) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)))
    assert statistics.clopper_pearson(5, 5)[0] == pytest.approx(0.025 ** (1 / 5))
    assert statistics.clopper_pearson(0, 20)[1] == pytest.approx(0.1684, abs=5e-5)
    assert statistics.clopper_pearson(0, 20, 0.99) == pytest.approx((0.0, 1 - 0.005 ** (1 / 20)))
    assert statistics.rate_test(5, 5, 0.5, 0.99)[1] == pytest.approx(0.005 ** (1 / 5))
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 5 (exact): 81/263 and 15/148
    assert statistics.clopper_pearson(81, 263) == pytest.approx((0.2527, 0.3676), abs=1e-4)
    assert statistics.clopper_pearson(15, 148) == pytest.approx((0.0578, 0.1617), abs=1e-4)


def test_the_central_binomial_p_is_the_dual_of_the_clopper_pearson_interval_at_every_holm_level():
    for n in (5, 10, 20):  # the rate test's, whose intervals are cached
        for level in HOLM_LEVELS:
            for k in range(n + 1):
                low, high = statistics.clopper_pearson(k, n, 1 - level)
                excluded = not low <= 0.5 <= high
                assert (statistics.binomial_p(k, n, 0.5) < level) == excluded, (k, n, level)
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
    # the confidence is passed through: at 99% the tail is 0.005
    assert statistics.contrast_test(5, 5, 0, 5, confidence=0.99)[1] == pytest.approx(2 * 0.005**0.1 - 1, abs=1e-6)
    assert statistics.contrast_test(27, 57, 3, 3, 0.99)[1:3] == pytest.approx((-0.9586, 0.2677), abs=1e-4)


def test_the_binomial_probabilities_are_scipys():
    rates = np.array([0.0, 0.013, 0.5, 0.87, 1.0])
    assert statistics.binomial_pmf(7, rates) == pytest.approx(stats.binom.pmf(np.arange(8), 7, rates[:, None]))


def test_boschloos_test_takes_the_variants_as_the_columns_as_in_scipys_documented_example():
    # scipy.stats.boschloo_exact's documentation: 74 of 117 professors and 31 of 63 scientists very satisfied,
    # tabled [[74, 31], [43, 32]]: each COLUMN is one group (117 and 63), and the one-sided p is 0.0355
    documented = [[74, 31], [43, 32]]
    assert np.sum(documented, axis=0).tolist() == [117, 63]
    assert stats.boschloo_exact(documented, alternative="greater").pvalue == pytest.approx(0.0355, abs=1e-4)
    assert statistics.contrast_test(74, 117, 31, 63).p == pytest.approx(2 * 0.0355, abs=2e-4)  # two-sided
    # the review's values, with the variants as the two binomial samples
    assert statistics.contrast_test(10, 10, 4, 10).p == pytest.approx(0.003517, abs=1e-6)
    assert statistics.contrast_test(9, 10, 4, 10).p == pytest.approx(0.022780, abs=1e-6)
    assert statistics.contrast_test(5, 5, 1, 5).p == pytest.approx(0.021484, abs=1e-6)
    assert statistics.contrast_test(4, 10, 0, 10).p == pytest.approx(0.042, abs=5e-4)
    for k, n, kb, nb in [(10, 10, 4, 10), (3, 7, 6, 6), (0, 5, 5, 20), (12, 20, 2, 9), (4, 4, 4, 4), (0, 3, 0, 8)]:
        columns = [[k, kb], [n - k, nb - kb]]
        assert statistics.contrast_test(k, n, kb, nb).p == stats.boschloo_exact(columns).pvalue, (k, n, kb, nb)


NULL_RATES = np.linspace(0, 1, 2001)  # the common rates over which an exact tail is maximised, by brute force


def brute_force_boschloo_p(k, n, kb, nb):
    """Boschloo's two-sided p from its definition, as scipy defines the two sides: each one-sided p is the
    chance, at its largest over the common rate, of the tables whose one-sided Fisher p (the statistic,
    given the table's total successes) is at most the observed one; two-sided, twice the smaller."""
    first, second = np.arange(n + 1)[:, None], np.arange(nb + 1)[None, :]
    fisher_greater = stats.hypergeom.sf(first - 1, n + nb, first + second, n)  # P(first's successes >= first)
    fisher_less = stats.hypergeom.cdf(first, n + nb, first + second, n)
    weights = statistics.binomial_pmf(n, NULL_RATES)[:, :, None] * statistics.binomial_pmf(nb, NULL_RATES)[:, None]

    def largest_tail(fisher):
        return (weights * (fisher <= fisher[k, kb] * (1 + 1e-13))).sum(axis=(1, 2)).max()

    return min(1.0, 2 * min(largest_tail(fisher_greater), largest_tail(fisher_less)))


def test_boschloos_p_is_its_definition_computed_by_brute_force_on_every_small_table():
    for n, nb in itertools.product((3, 4, 5), repeat=2):
        for k, kb in itertools.product(range(n + 1), range(nb + 1)):
            assert statistics.boschloo_p(k, n, kb, nb) == pytest.approx(brute_force_boschloo_p(k, n, kb, nb), abs=1e-3)


def test_boschloos_test_is_at_least_as_sharp_as_fishers():
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
                "outcome": ["learns" if e else "stuck" for e in events],  # a relapse is a run that learned
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


def test_a_paired_comparison_is_the_sign_flip_test_with_the_interval_that_inverts_it():
    five = statistics.paired_test(np.full(5, 0.47))
    assert five.p == pytest.approx(2 / 32) and (five.low, five.high) == (-math.inf, math.inf)
    six = np.array([0.1, 0.4, 0.2, 0.6, 0.3, 0.5])
    estimate = statistics.paired_test(six)
    # 2^6 = 64 sign patterns: p = 4/64 is the smallest above 0.05, so the interval keeps the means inside at
    # least 4 of the patterns' stretches, from the smallest difference to the largest; the all-positive
    # pattern and its mirror are 2 of 64 as extreme
    assert (estimate.low, estimate.high) == pytest.approx((0.1, 0.6)) and estimate.p == pytest.approx(2 / 64)
    assert estimate.value == pytest.approx(0.35)
    # a null other than 0 is the test of the differences less the null
    assert statistics.paired_test(six, null=0.2).p == pytest.approx(statistics.paired_test(six - 0.2).p)
    assert statistics.paired_test(six, null=0.2).p == pytest.approx(statistics.sign_flip_p(six, 0.2))
    # at 99% the 64 patterns leave no interval (2/64 > 0.01): no mean is rejected
    assert statistics.paired_test(six, confidence=0.99)[1:3] == (-math.inf, math.inf)
    assert math.isnan(statistics.paired_test([0.3]).p) and math.isnan(statistics.paired_test([0.3, math.nan]).low)


def subset_means(differences):
    """The means of all 2^n - 1 non-empty subsets of the differences, sorted."""
    n = len(differences)
    members = (np.arange(1, 2**n)[:, None] >> np.arange(n)) & 1
    return np.sort(members @ differences / members.sum(axis=1))


def hartigan_interval(differences, confidence):
    """Hartigan's (1969, JASA 64:1303) interval of the centre of a symmetric distribution: the subset means
    cut the line into 2^n pieces that each hold the centre with probability 2^-n, so leaving out the k lowest
    and the k highest, k = floor(2^n x (1 - confidence) / 2), covers it; (-inf, inf) when k is 0."""
    k = int(2 ** len(differences) * (1 - confidence) / 2)
    if k == 0:
        return -math.inf, math.inf
    means = subset_means(differences)
    return means[k - 1], means[-k]


def test_up_to_16_seeds_the_inverted_interval_is_hartigans_subset_means_interval():
    # Hartigan (1969): 2^n - 1 subset means; of 1, 2, 3 they are 1, 2, 3, 1.5, 2, 2.5, 2
    assert subset_means(np.array([1.0, 2.0, 3.0])).tolist() == [1, 1.5, 2, 2, 2, 2.5, 3]
    rng = np.random.default_rng(1969)
    for n in (5, 6, 7, 9, 12):
        differences = rng.normal(0.1, 0.2, n)
        for confidence in (0.95, 1 - ALPHA / 4, 0.99):
            assert statistics.sign_flip_interval(differences, confidence) == pytest.approx(
                hartigan_interval(differences, confidence)
            ), (n, confidence)


def test_beyond_16_seeds_the_sign_flips_are_random_with_the_observed_pattern_counted_among_them():
    rng = np.random.default_rng(17)
    differences = rng.normal(0.05, 0.2, 17)
    draws = 999
    patterns = np.vstack(list(statistics.sign_patterns(17, draws)))
    assert patterns.shape == (1 + draws, 17) and (patterns[0] == 1).all()
    as_extreme = np.abs(patterns[1:] @ differences) >= abs(differences.sum()) * (1 - 1e-12)
    p = statistics.sign_flip_p(differences, draws=draws)
    assert p == pytest.approx((1 + as_extreme.sum()) / (1 + draws))  # Phipson and Smyth's (1 + b) / (1 + m)
    assert statistics.paired_test(differences).p == statistics.paired_test(differences).p  # a fixed seed
    # with the default draws, within four Monte-Carlo errors of the exact p over all 2^17 patterns
    exact = sign_flip_p_values(differences[None])[0]
    mc_error = math.sqrt(exact * (1 - exact) / statistics.SIGN_FLIP_DRAWS)
    assert statistics.paired_test(differences).p == pytest.approx(exact, abs=4 * mc_error + 1e-5)
    # no t-test from 20 seeds on: still the sign flips, whose smallest p is about 1 / (1 + draws)
    assert statistics.paired_test(np.full(20, 0.3)).p <= 3 / (1 + statistics.SIGN_FLIP_DRAWS)
    steady = np.linspace(0.1, 0.3, 20)  # the t-test's p is 1e-11; the sign flips' is never below 1 / (1 + draws)
    assert (
        statistics.paired_test(steady).p >= 1 / (1 + statistics.SIGN_FLIP_DRAWS) > stats.ttest_1samp(steady, 0).pvalue
    )


# The test of the tests. Rate and contrast tests have finitely many outcomes: their size and coverage are
# computed exactly, over a grid of true rates. The sign-flip test's size given the magnitudes of the
# differences is the share of the sign patterns it rejects, also exact.

GRID = np.round(np.linspace(0.05, 0.95, 19), 2)
EDGES = np.round(np.linspace(0.005, 0.995, 199), 3)
FINE = np.linspace(0.0005, 0.9995, 1000)  # common null rates for an exact size: its largest over them


def outcome_weights(n, rate):
    return stats.binom.pmf(np.arange(n + 1), n, rate)


@pytest.mark.parametrize("n", [5, 10, 20])
def test_the_rate_test_keeps_every_holm_level_and_its_interval_covers_at_every_rate(n):
    p_of = np.array([statistics.binomial_p(k, n, 0.5) for k in range(n + 1)])
    for level in HOLM_LEVELS:
        assert outcome_weights(n, 0.5) @ (p_of <= level) <= level * (1 + ROUNDING), level
        intervals = np.array([statistics.clopper_pearson(k, n, 1 - level) for k in range(n + 1)])
        for rate in np.concatenate([GRID, EDGES]):
            covered = (intervals[:, 0] <= rate) & (rate <= intervals[:, 1])
            assert outcome_weights(n, rate) @ covered >= 1 - level, (rate, level)


def contrast_size(p_of_table, n, nb, level):
    """The chance of a table with p at most ``level`` when both rates are equal, at its largest over FINE."""
    weights = statistics.binomial_pmf(n, FINE)[:, :, None] * statistics.binomial_pmf(nb, FINE)[:, None, :]
    return (weights * (p_of_table <= level)).sum(axis=(1, 2)).max()


@pytest.fixture(scope="module")
def boschloo_tables():
    """Boschloo's p of every table of n and nb seeds, the variants as scipy's columns (the claims' test) and
    as its rows (the orientation the review found wrong)."""
    tables = {}
    for n, nb in [(5, 5), (10, 10), (5, 20)]:
        outcomes = list(itertools.product(range(n + 1), range(nb + 1)))
        columns = [statistics.boschloo_p(k, n, kb, nb) for k, kb in outcomes]
        rows = [  # as rows, a column is empty when every run or none succeeded: scipy gives NaN, the p is 1
            stats.boschloo_exact([[k, n - k], [kb, nb - kb]]).pvalue if 0 < k + kb < n + nb else 1.0
            for k, kb in outcomes
        ]
        tables[n, nb] = np.reshape(columns, (n + 1, nb + 1)), np.reshape(rows, (n + 1, nb + 1))
    return tables


@pytest.mark.parametrize("seeds", [(5, 5), (10, 10), (5, 20)])
def test_boschloos_test_keeps_every_holm_level(seeds, boschloo_tables):
    p_of_table, _ = boschloo_tables[seeds]
    for level in HOLM_LEVELS:
        assert contrast_size(p_of_table, *seeds, level) <= level * (1 + ROUNDING), level


def test_boschloos_test_with_the_variants_as_rows_exceeds_alpha_over_24_at_10_seeds_a_side(boschloo_tables):
    columns, rows = boschloo_tables[10, 10]
    level = ALPHA / 24
    assert contrast_size(rows, 10, 10, level) == pytest.approx(0.00258, abs=1e-5)  # the review's number
    assert contrast_size(rows, 10, 10, level) > level >= contrast_size(columns, 10, 10, level)


@pytest.fixture(scope="module")
def contrast_tables():
    """Each n's Boschloo p and exact 95% interval for every 2x2 table of n seeds a side."""
    tables = {}
    for n in (5, 20):
        results = [[statistics.contrast_test(a, n, b, n) for b in range(n + 1)] for a in range(n + 1)]
        tables[n] = np.array([[[r.p, r.low, r.high] for r in row] for row in results])
    return tables


def difference_coverage(lows, highs, n, first, second):
    """The chance that the interval of the difference of rates, (lows, highs) per table, holds the truth."""
    weights = np.outer(outcome_weights(n, first), outcome_weights(n, second))
    truth = first - second
    return (weights * ((lows <= truth + 1e-12) & (truth - 1e-12 <= highs))).sum()


@pytest.mark.parametrize("n", [5, 20])
def test_the_contrast_test_keeps_its_level_and_its_interval_covers_at_every_pair_of_rates(n, contrast_tables):
    table = contrast_tables[n]
    for rate in GRID:
        weights = np.outer(outcome_weights(n, rate), outcome_weights(n, rate))
        assert (weights * (table[:, :, 0] <= ALPHA)).sum() <= ALPHA, rate

    def coverage(first, second):
        return difference_coverage(table[:, :, 1], table[:, :, 2], n, first, second)

    for first in GRID:
        for second in GRID:
            assert coverage(first, second) >= 1 - ALPHA, (first, second)
    # where approximate intervals (Newcombe's: 91.5% at 5 seeds) fail: near 0 and 1, rates far apart
    for first in EDGES:
        assert coverage(first, 1 - first) >= 1 - ALPHA, first
        assert coverage(first, first) >= 1 - ALPHA, first


def test_the_interval_of_a_difference_covers_at_every_holm_level_at_5_seeds_a_side():
    """At every alpha / k, 5 seeds a side only (an interval costs about 10 ms), over the 19 x 19 rates of GRID
    and the two lines of EDGES where approximate intervals fail. Only the tables with the first count at least
    the second are computed: swapping the variants turns an interval (low, high) into (-high, -low), which the
    95% intervals of every table show (checked here)."""
    n = 5
    pairs = np.array([*itertools.product(GRID, GRID), *((e, 1 - e) for e in EDGES), *((e, e) for e in EDGES)])
    first_weights, second_weights = statistics.binomial_pmf(n, pairs[:, 0]), statistics.binomial_pmf(n, pairs[:, 1])
    truths = (pairs[:, 0] - pairs[:, 1])[:, None, None]
    for level in HOLM_LEVELS:
        intervals = np.zeros((n + 1, n + 1, 2))
        for a, b in itertools.product(range(n + 1), repeat=2):
            if a >= b:
                intervals[a, b] = statistics.difference_interval(a, n, b, n, 1 - level)
                intervals[b, a] = -intervals[a, b, ::-1]
        if level == ALPHA:
            for a, b in itertools.product(range(n + 1), repeat=2):
                assert intervals[a, b] == pytest.approx(statistics.difference_interval(a, n, b, n), abs=1e-12)
        covered = (intervals[:, :, 0] <= truths + 1e-12) & (truths - 1e-12 <= intervals[:, :, 1])
        coverage = np.einsum("pi,pj,pij->p", first_weights, second_weights, covered)
        assert coverage.min() >= 1 - level, (pairs[np.argmin(coverage)], level)


def all_sign_patterns(n):
    return 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)


def sign_flip_p_values(differences):
    """Exact two-sided sign-flip p of every row at once: the share of sign patterns whose |sum| is at least
    the observed one (the definition `statistics.sign_flip_p` computes up to 16 seeds, row by row)."""
    sums = np.abs(differences @ all_sign_patterns(differences.shape[1]).T)
    return np.mean(sums >= sums[:, :1] * (1 - 1e-12), axis=1)


def every_patterns_p(magnitudes):
    """The exact sign-flip p of the differences ``magnitudes`` would give under each of the 2^n sign patterns
    (the first all +), with the patterns' |sums|: under a null symmetric about 0 every pattern is equally
    likely given the magnitudes, so the size at a level is the share of patterns whose p is at most it."""
    half = len(magnitudes) // 2  # each half's signed sums, added pairwise: no 2^n x n matrix of signs
    first, second = (
        all_sign_patterns(half) @ magnitudes[:half],
        all_sign_patterns(len(magnitudes) - half) @ magnitudes[half:],
    )
    sums = np.abs(first[None, :] + second[:, None]).ravel()
    ordered = np.sort(sums)
    tolerance = 1e-10 * ordered[-1]
    return (len(sums) - np.searchsorted(ordered, sums - tolerance)) / len(sums), sums


def magnitude_sets(rng, n):
    """Magnitudes of differences: normal, two-humped (some seeds learn, some do not), and on a grid of 0.01
    (accuracies: ties)."""
    return [
        np.abs(rng.normal(0, 0.05, n)),
        np.abs(rng.choice([-0.3, 0.3], n) + rng.normal(0, 0.01, n)),
        rng.integers(0, 5, n) / 100,
    ]


@pytest.mark.parametrize("n", [5, 10, 16])
def test_the_exact_sign_flip_test_keeps_every_holm_level_given_the_magnitudes(n):
    rng = np.random.default_rng(n)
    for magnitudes in magnitude_sets(rng, n):
        p_of_pattern, _ = every_patterns_p(magnitudes)
        signs = all_sign_patterns(n)
        for pattern in rng.choice(2**n, 12, replace=False):  # the vectorised p is the function's own
            assert statistics.paired_test(signs[pattern] * magnitudes).p == pytest.approx(p_of_pattern[pattern])
        for level in HOLM_LEVELS:
            assert np.mean(p_of_pattern <= level) <= level, level


def test_the_random_sign_flip_test_keeps_every_holm_level_at_20_seeds():
    """Beyond 16 seeds p = (1 + b) / (1 + m), b the m random patterns as extreme as the data. Given the
    magnitudes, the data's 2^20 sign patterns are equally likely under the null, and whatever the data's
    pattern the random patterns times it are uniform and independent, so b is Binomial(m, q), q the exact p
    of the data's pattern: the size (Phipson and Smyth 2010) is the mean over the data's patterns of
    P(b <= level x (1 + m) - 1), computed exactly for q up to 3 x level and bounded beyond (it only falls as
    q grows). This is the size over the draws; at one fixed seed it is within Monte-Carlo error of it."""
    n, draws = 20, statistics.SIGN_FLIP_DRAWS
    rng = np.random.default_rng(n)
    for magnitudes in magnitude_sets(rng, n)[:2]:
        exact_p, _ = every_patterns_p(magnitudes)
        chances, patterns = np.unique(exact_p, return_counts=True)
        for level in HOLM_LEVELS:
            most_as_extreme = math.floor(level * (1 + draws) + 1e-9) - 1
            near = chances <= 3 * level
            rejected = patterns[near] @ stats.binom.cdf(most_as_extreme, draws, chances[near])
            rejected += patterns[~near].sum() * stats.binom.cdf(most_as_extreme, draws, 3 * level)
            assert rejected / 2**n <= level * (1 + ROUNDING), level


@pytest.mark.parametrize("n", [6, 10, 16, 20])
def test_the_paired_interval_is_the_set_of_means_the_sign_flip_test_keeps_at_every_holm_level(n):
    """Duality: the mean mu lies in the interval at confidence 1 - level exactly when the test of mu gives
    p > level, so the interval's coverage is one minus the test's size. Checked at random means and just
    inside and outside each limit; at 20 seeds with 10,000 random patterns (the duality holds at any number)."""
    rng = np.random.default_rng(n)
    draws = 10_000
    differences = np.where(rng.random(n) < 0.5, 0.3, -0.1) + rng.normal(0, 0.05, n)
    limits = [statistics.paired_test(differences, 1 - level, draws=draws)[1:3] for level in HOLM_LEVELS]
    finite = [limit for pair in limits for limit in pair if math.isfinite(limit)]
    nudge = 1e-7 * np.abs(differences).max()
    means = [*rng.uniform(differences.min(), differences.max(), 20), *(m + s for m in finite for s in (-nudge, nudge))]
    p_of = {mean: statistics.paired_test(differences, null=mean, draws=draws).p for mean in means}
    assert finite or n == 6  # the check reaches the limits (at 6 seeds, 2/64 is above every level but 0.05)
    for level, (low, high) in zip(HOLM_LEVELS, limits, strict=True):
        for mean, p in p_of.items():
            assert (low <= mean <= high) == (p > level), (level, mean, p, low, high)


def test_holm_keeps_the_family_wise_error_over_16_null_claims(contrast_tables):
    """Sixteen true null claims, as many as the lecture's claims and fixes: six rates and six contrasts at 20
    seeds, four paired comparisons at 10 (exact sign flips, computed at once), where each test can reach
    alpha / 16. Holm rejects any of them in at most alpha of the studies."""
    rng = np.random.default_rng(16)
    n = 20
    rate_p = np.array([statistics.binomial_p(k, n, 0.5) for k in range(n + 1)])
    rates = rate_p[rng.binomial(n, 0.5, (STUDIES, 6))]
    contrasts = contrast_tables[n][rng.binomial(n, 0.5, (STUDIES, 6)), rng.binomial(n, 0.5, (STUDIES, 6)), 0]
    paired = sign_flip_p_values(rng.normal(0, 0.05, (STUDIES * 4, 10))).reshape(STUDIES, 4)
    families = np.hstack([rates, contrasts, paired])
    # Holm rejects something exactly when its first step does: the smallest p at most alpha / 16
    rejected = families.min(axis=1) * families.shape[1] <= ALPHA
    for family, any_rejected in zip(families[:20], rejected[:20], strict=True):
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
    assert math.ceil(math.log2(2 / ALPHA)) < n <= statistics.EXACT_SIGN_FLIPS_UP_TO
    p = sign_flip_p_values(rng.normal(0.05, 0.05, (STUDIES, n)))
    assert np.mean(p <= ALPHA) >= statistics.POWER - 2 * TOLERANCE
    n = statistics.seeds_for_contrast(0.8, ALPHA)
    table = np.array([[statistics.boschloo_p(a, n, b, n) for b in range(n + 1)] for a in range(n + 1)])
    weights = np.outer(outcome_weights(n, 0.9), outcome_weights(n, 0.1))
    assert (weights * (table <= ALPHA)).sum() >= statistics.POWER
    assert statistics.seeds_for_rate(0.5, 0.5, level) is None


def test_seeds_for_a_large_mean_difference_are_the_sign_flips_floor():
    # 0.05 with a spread of 0.009 (5.6 spreads): statsmodels' solver fails here; the scan finds the t-test
    # powered at a few seeds, so the sign flips' floor decides: 2 / 2^n <= alpha / 24 from 10 seeds on
    level = ALPHA / 24
    n = statistics.seeds_for_mean(0.05, 0.009, level)
    assert n == math.ceil(math.log2(2 / level)) == 10
    rng = np.random.default_rng(10)
    p = sign_flip_p_values(rng.normal(0.05, 0.009, (200, n)))
    assert np.mean(p <= level) >= statistics.POWER
    assert statistics.seeds_for_mean(0.05, 0.009, ALPHA) == 6 and statistics.seeds_for_mean(0.05, 0.0, ALPHA) == 6
    assert statistics.seeds_for_mean(0.0, 0.01, ALPHA) is None


# The exact stratified trend test.


def brute_force_trend_p(strata, alternative):
    """The trend test by enumeration: every way to place each stratum's successes among its runs, equally
    likely, and the share whose sum of scores over the successes is as extreme as the observed."""
    per_stratum = []
    for groups in strata:
        scores = [score for score, runs, _ in groups for _ in range(runs)]
        successes = sum(k for *_, k in groups)
        per_stratum.append([sum(chosen) for chosen in itertools.combinations(scores, successes)])
    totals = np.array([sum(parts) for parts in itertools.product(*per_stratum)])
    observed = sum(score * k for groups in strata for score, _, k in groups)
    less, greater = np.mean(totals <= observed + 1e-9), np.mean(totals >= observed - 1e-9)
    return {"less": less, "greater": greater, "two-sided": min(1.0, 2 * min(less, greater))}[alternative]


def test_the_trend_test_is_its_definition_by_enumeration():
    examples = [
        [[(0, 3, 3), (1, 3, 1), (2, 3, 0)], [(0, 2, 1), (1, 3, 2)]],
        [[(-9.97, 2, 1), (-8.97, 3, 2), (-7.97, 2, 2)], [(-9.97, 3, 0), (-7.97, 2, 1)]],
        [[(1, 4, 2), (2, 1, 1), (4, 3, 0)]],
    ]
    for strata in examples:
        for alternative in ("less", "greater", "two-sided"):
            expected = brute_force_trend_p(strata, alternative)
            assert statistics.trend_test(strata, alternative) == pytest.approx(expected), (strata, alternative)


def test_the_trend_test_of_one_stratum_of_two_groups_is_fishers_exact_test():
    # scores 0 and 1: T counts the high group's successes; fisher_exact's "less" is P(table[0][0] <= observed)
    # given the margins, so the high group goes in the first row
    for high, high_runs, low, low_runs in [(0, 3, 3, 3), (1, 5, 4, 5), (2, 6, 1, 4), (7, 10, 2, 10)]:
        strata = [[(0, low_runs, low), (1, high_runs, high)]]
        table = [[high, high_runs - high], [low, low_runs - low]]
        for alternative in ("less", "greater"):
            fisher = stats.fisher_exact(table, alternative=alternative).pvalue
            assert statistics.trend_test(strata, alternative) == pytest.approx(fisher), (table, alternative)


def test_the_trend_test_gives_the_reviews_p_values_on_the_sensitivity_map_two_sided():
    """Learned out of 3 seeds per cell at learning rates 0.001, 0.002, 0.004 (rank or log-rate scores,
    equally spaced), one stratum per width (0.25, 0.5). The review's 0.004 and 0.056 are the two-sided p's;
    one-sided ("less": fewer learn at higher rates) they are half that."""
    log_rates = np.log2([0.001, 0.002, 0.004])

    def strata(counts, scores):
        return [[(score, 3, k) for score, k in zip(scores, width, strict=True)] for width in counts]

    baseline, he_init = [[3, 1, 0], [2, 0, 0]], [[3, 3, 2], [3, 3, 1]]
    for scores in ([1, 2, 3], log_rates):
        # the baseline's counts are the most extreme its margins allow: (3/126) x (3/36)
        assert statistics.trend_test(strata(baseline, scores), "less") == pytest.approx(3 / 126 * 3 / 36)
        assert statistics.trend_test(strata(baseline, scores)) == pytest.approx(0.004, abs=5e-5)
        assert statistics.trend_test(strata(he_init, scores), "less") == pytest.approx(1 / 36)
        assert statistics.trend_test(strata(he_init, scores)) == pytest.approx(0.056, abs=5e-4)
    with pytest.raises(ValueError):
        statistics.trend_test([[(1, 3, 4)]])
