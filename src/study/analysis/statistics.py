"""The tests and intervals behind every claim, each taken from scipy or statsmodels, and which applies where.

- A rate against a threshold ("the 12-conv net does not learn": stuck in most runs): the
  exact binomial test, two-sided and central (twice the smaller one-sided p), which is the
  dual of the Clopper-Pearson interval given beside it.
- A contrast of two rates ("batch norm makes the 12-conv net learn": it learns where the
  baseline does not): Boschloo's exact test on the 2x2 table, two-sided, with the exact
  unconditional interval of the difference of the rates (Santner and Snell's tail method),
  which covers at least 95% at every pair of rates. The verdict is the test's; the interval
  is not its dual and is the more cautious of the two: at 5 seeds a side the two agree on
  every table (5/5 against 0/5: p = 0.002, interval [0.38, 1]), but at 10, 4/10 against 0/10
  gives p = 0.033 and the interval [-0.09, 0.76]. (Newcombe's hybrid score interval, the usual
  approximate choice, covers as little as 91.5% near rates 0 and 1 at 5 seeds a side.)
- A paired metric ("ReLU beats sigmoid"): below 20 seeds, the exact sign-flip permutation
  test with Hartigan's subset-means interval, exact whenever the differences are symmetric
  under the null (the t-test is not: on two-humped differences, some seeds learning and some
  not, it rejects 6.5% of true nulls at 5 seeds); from 20 seeds, the paired t-test with its
  t-interval. No bootstrap: the percentile bootstrap under-covers at a few seeds.
- Looks: seeds added in planned looks until the claims settle. Each claim's p is Bonferroni-
  corrected over the K looks, min(1, K x its smallest p so far), before Holm's adjustment.
- Many claims: Holm's step-down adjustment over one family.
- Seeds needed: the smallest number of seeds per variant with 80% power at the minimal
  effect the design states, at the level Holm's first step asks (alpha / tests).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import stats
from scipy.special import gammaln, xlogy
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestPower
from statsmodels.stats.proportion import proportion_effectsize

CONFIDENCE = 0.95
POWER = 0.8
EXACT_PAIRED_BELOW = 20  # seeds; from here on the paired t-test, whose level the simulation test checks at 20
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
MAX_SEEDS = 1000  # beyond this, "more seeds" is not a useful answer


class Estimate(NamedTuple):
    """A test's estimate, its 95% interval and its two-sided p-value."""

    value: float
    low: float
    high: float
    p: float


def clopper_pearson(successes: int, n: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% interval of a binomial rate."""
    if n == 0:
        return 0.0, 1.0
    interval = stats.binomtest(successes, n).proportion_ci(CONFIDENCE, method="exact")
    return float(interval.low), float(interval.high)


def binomial_p(successes: int, n: int, threshold: float) -> float:
    """Two-sided central exact binomial p of a rate equal to ``threshold``: twice the smaller one-sided p, so
    that it is below 1 - CONFIDENCE exactly when the Clopper-Pearson interval excludes the threshold."""
    if n == 0:
        return 1.0
    greater = stats.binomtest(successes, n, threshold, alternative="greater").pvalue
    less = stats.binomtest(successes, n, threshold, alternative="less").pvalue
    return float(min(1.0, 2 * min(greater, less)))


def rate_test(successes: int, n: int, threshold: float) -> Estimate:
    """A rate against a threshold: the observed rate, its Clopper-Pearson interval, the exact binomial p."""
    rate = successes / n if n else math.nan
    return Estimate(rate, *clopper_pearson(successes, n), binomial_p(successes, n, threshold))


NUISANCE_POINTS = 101  # baseline rates in each of the two grids over which an exact tail is maximised
BISECTIONS = 24  # halvings of each limit's bracket: limits to within 1e-7, rounded outward


def binomial_pmf(n: int, rates: np.ndarray) -> np.ndarray:
    """P(X = 0..n) for X ~ Binomial(n, rate), one row per rate (scipy's binom.pmf, without its per-call cost)."""
    counts = np.arange(n + 1)
    log_choose = gammaln(n + 1) - gammaln(counts + 1) - gammaln(n - counts + 1)
    rates = np.asarray(rates, dtype=float)[:, None]
    return np.exp(log_choose + xlogy(counts, rates) + xlogy(n - counts, 1 - rates))


def largest_tail(difference: float, n: int, baseline_n: int, in_tail: np.ndarray) -> float:
    """The probability of the tables marked in ``in_tail`` ((n + 1) x (baseline_n + 1)) when the two rates
    differ by ``difference``, at its largest over the baseline rate (the nuisance parameter): a grid over
    the feasible baseline rates, then a finer grid about its best point."""
    low, high = max(0.0, -difference), min(1.0, 1.0 - difference)

    def tail(baseline_rates: np.ndarray) -> np.ndarray:
        first = binomial_pmf(n, np.clip(baseline_rates + difference, 0.0, 1.0))
        return np.einsum("gi,gj,ij->g", first, binomial_pmf(baseline_n, baseline_rates), in_tail)

    rates = np.linspace(low, high, NUISANCE_POINTS)
    coarse = tail(rates)
    best = int(np.argmax(coarse))
    fine = np.linspace(rates[max(best - 1, 0)], rates[min(best + 1, NUISANCE_POINTS - 1)], NUISANCE_POINTS)
    return float(max(coarse[best], tail(fine).max()))


@functools.cache
def difference_interval(
    successes: int, n: int, baseline_successes: int, baseline_n: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The exact unconditional interval of a difference of rates (first minus baseline): Santner and Snell's
    tail method (1980, JASA 75:386), SAS's EXACT RISKDIFF(METHOD=NOSCORE). Each limit inverts a one-sided
    exact test at (1 - confidence) / 2 on the observed difference, the baseline rate maximised out, so the
    interval covers the true difference with probability at least ``confidence`` at every pair of rates."""
    statistic = np.arange(n + 1)[:, None] / n - np.arange(baseline_n + 1)[None, :] / baseline_n
    observed = successes / n - baseline_successes / baseline_n
    at_least = (statistic >= observed - 1e-12).astype(float)
    at_most = (statistic <= observed + 1e-12).astype(float)
    level = (1 - confidence) / 2

    def limit(in_tail: np.ndarray, kept: float, rejected: float) -> float:
        # bisection between a difference the tail test keeps and one it rejects; returns the rejected end
        if largest_tail(rejected, n, baseline_n, in_tail) > level:
            return rejected
        for _ in range(BISECTIONS):
            middle = (kept + rejected) / 2
            if largest_tail(middle, n, baseline_n, in_tail) > level:
                kept = middle
            else:
                rejected = middle
        return rejected

    return limit(at_least, observed, -1.0), limit(at_most, observed, 1.0)


def contrast_test(successes: int, n: int, baseline_successes: int, baseline_n: int) -> Estimate:
    """Two rates against each other: the difference (first minus baseline), its exact interval, and
    Boschloo's exact two-sided p."""
    if n == 0 or baseline_n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan)
    low, high = difference_interval(successes, n, baseline_successes, baseline_n)
    table = [[successes, n - successes], [baseline_successes, baseline_n - baseline_successes]]
    both_margins = successes + baseline_successes in (0, n + baseline_n)
    p = 1.0 if both_margins else float(stats.boschloo_exact(table, alternative="two-sided").pvalue)
    return Estimate(successes / n - baseline_successes / baseline_n, float(low), float(high), p)


def subset_means(differences: np.ndarray) -> np.ndarray:
    """The means of all 2^n - 1 non-empty subsets of the differences, sorted."""
    n = len(differences)
    members = (np.arange(1, 2**n)[:, None] >> np.arange(n)) & 1
    return np.sort(members @ differences / members.sum(axis=1))


def hartigan_interval(differences: np.ndarray) -> tuple[float, float]:
    """The 95% interval of the centre of a symmetric distribution from its subset means (Hartigan 1969, JASA
    64:1303): the subset means cut the line into 2^n pieces that each hold the centre with probability 2^-n,
    so leaving out the k lowest and the k highest, k = floor(2^n x 0.025), covers it with probability at
    least 95%. Below 6 seeds k is 0 and no such interval exists: (-inf, inf)."""
    k = int(2 ** len(differences) * (1 - CONFIDENCE) / 2)
    if k == 0:
        return -math.inf, math.inf
    means = subset_means(differences)
    return float(means[k - 1]), float(means[-k])


def sign_flip_p(differences: np.ndarray) -> float:
    """The exact two-sided sign-flip permutation p of a mean difference of 0 (every sign pattern)."""
    result = stats.permutation_test(
        (differences,), np.mean, permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    )
    return float(result.pvalue)


def paired_test(differences: np.ndarray) -> Estimate:
    """A paired metric: the mean difference, its 95% interval and a two-sided p (NaN below 2 seeds): exact
    sign flips and Hartigan's interval below EXACT_PAIRED_BELOW seeds, the paired t-test from there on.

    Identical differences have no spread: under the t-test their p is 0 when they are not all 0, and the
    interval is the point.
    """
    differences = np.asarray(differences, dtype=float)
    n = len(differences)
    if n < 2 or not np.all(np.isfinite(differences)):  # a missing value is no evidence either way
        mean = float(differences.mean()) if n else math.nan
        return Estimate(mean, math.nan, math.nan, math.nan)
    mean = float(differences.mean())
    if n < EXACT_PAIRED_BELOW:
        return Estimate(mean, *hartigan_interval(differences), sign_flip_p(differences))
    if np.std(differences, ddof=1) <= 1e-12 * max(abs(mean), 1e-300):
        return Estimate(mean, mean, mean, 0.0 if mean != 0 else 1.0)
    result = stats.ttest_1samp(differences, 0.0)
    interval = result.confidence_interval(CONFIDENCE)
    return Estimate(mean, float(interval.low), float(interval.high), float(result.pvalue))


def mean_interval(values: np.ndarray) -> Estimate:
    """A descriptive mean with its 95% t-interval (NaN below 2 values; no test, so no p)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) < 2:
        return Estimate(mean, math.nan, math.nan, math.nan)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return Estimate(mean, mean - half, mean + half, math.nan)


def over_looks(p_values: list[float], looks: int) -> float:
    """A claim's p over a study with ``looks`` planned looks at growing seed sets: Bonferroni over the looks,
    min(1, looks x the smallest p of the looks taken so far). Valid however the looks were stopped, since
    each look's p is a p-value on its own; NaN when no look tested the claim."""
    tested = [p for p in p_values if not math.isnan(p)]
    return min(1.0, looks * min(tested)) if tested else math.nan


def holm(p_values: list[float], alpha: float) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` over one family (NaNs are left out and stay NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = multipletests(p[tested], alpha=alpha, method="holm")[1]
    return adjusted.tolist()


STAYS = 10  # a discrete test's power wavers with n: the answer is where it stays at 80% this many seeds on


def rate_power(n: int, threshold: float, rate: float, alpha: float) -> float:
    """Exact power of the central binomial test of ``threshold`` at level ``alpha`` when the true rate is
    ``rate``, counting only rejections on the side of the truth."""
    counts = np.arange(n + 1)
    rejects = stats.binom.sf(counts - 1, n, threshold) <= alpha / 2  # P(X >= k): the upper tail
    rejects |= stats.binom.cdf(counts, n, threshold) <= alpha / 2  # the lower tail
    side = counts / n > threshold if rate > threshold else counts / n < threshold
    return float(stats.binom.pmf(counts[rejects & side], n, rate).sum())


def seeds_for_rate(threshold: float, rate: float, alpha: float) -> int | None:
    """The fewest seeds from which the exact binomial test of ``threshold`` at level ``alpha`` keeps at least
    80% power (for STAYS more seeds) when the true rate is ``rate``; computed exactly."""
    if rate == threshold:
        return None
    powered = [rate_power(n, threshold, rate, alpha) >= POWER for n in range(1, MAX_SEEDS + STAYS + 1)]
    for n in range(1, MAX_SEEDS + 1):
        if all(powered[n - 1 : n - 1 + STAYS]):
            return n
    return None


CONTRAST_EXACT_UP_TO = 60  # seeds a side: exact power by enumeration, beyond it the normal approximation


def contrast_power(n: int, first: float, second: float, alpha: float) -> float:
    """Exact power at ``n`` seeds a side of Fisher's exact test, which Boschloo's test rejects whenever it does:
    a lower bound on the power of the test the claims use."""
    weights = np.outer(stats.binom.pmf(np.arange(n + 1), n, first), stats.binom.pmf(np.arange(n + 1), n, second))
    rejects = np.array(
        [
            [a > b and stats.fisher_exact([[a, n - a], [b, n - b]]).pvalue <= alpha for b in range(n + 1)]
            for a in range(n + 1)
        ]
    )
    return float((weights * rejects).sum())


@functools.cache
def seeds_for_contrast(difference: float, alpha: float) -> int | None:
    """Seeds per variant for at least 80% power to find two rates ``difference`` apart, placed symmetrically
    about 1/2 (the hardest place for a given difference): exact (a lower bound on the power, through
    Fisher's test) up to CONTRAST_EXACT_UP_TO seeds, the normal approximation on Cohen's h beyond."""
    if difference <= 0:
        return None
    first, second = 0.5 + difference / 2, 0.5 - difference / 2
    for n in range(2, CONTRAST_EXACT_UP_TO + 1):
        if contrast_power(n, first, second, alpha) >= POWER:
            return n
    h = proportion_effectsize(first, second)
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=POWER, alternative="two-sided")
    return min(math.ceil(n), MAX_SEEDS) if np.isfinite(n) else None


def seeds_for_mean(difference: float, sd: float, alpha: float) -> int | None:
    """Seeds for 80% power at a true mean difference ``difference`` with the spread ``sd`` of the paired
    differences: the paired t-test's, and below EXACT_PAIRED_BELOW never fewer than the sign-flip test needs
    to reach ``alpha`` at all (its smallest p is 2 / 2^n)."""
    if difference <= 0 or not sd >= 0:
        return None
    floor = math.ceil(math.log2(2 / alpha))  # the sign-flip test's smallest p, 2 / 2^n, must reach alpha
    if sd == 0:  # no spread: any seeds beyond the floor show the difference
        return floor
    try:
        n = TTestPower().solve_power(effect_size=difference / sd, alpha=alpha, power=POWER, alternative="two-sided")
    except (ValueError, RuntimeError):
        return None
    if not np.isfinite(n):
        return None
    n = max(math.ceil(n), 2)
    if n < EXACT_PAIRED_BELOW:
        n = max(n, floor)
    return min(n, MAX_SEEDS)
