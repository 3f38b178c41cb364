"""The tests and intervals behind every claim, and which applies where.

- A rate against a threshold ("the 12-conv net does not learn": stuck in most runs): the
  exact binomial test, two-sided and central (twice the smaller one-sided p), which is the
  dual of the Clopper-Pearson interval given beside it.
- A contrast of two rates ("batch norm makes the 12-conv net learn": it learns where the
  baseline does not): Boschloo's exact test, two-sided (twice the smaller one-sided p, as scipy
  defines it), with the two variants as its two binomial samples: scipy's ``boschloo_exact``
  takes each COLUMN of the 2x2 table as one sample, so the table is [[k, kb], [n - k, nb - kb]].
  Beside it the exact unconditional interval of the difference of the rates (Santner and
  Snell's tail method), which covers at least the asked confidence at every pair of rates. The
  verdict is the test's; the interval is not its dual and is the more cautious of the two: at 5
  seeds a side 5/5 against 0/5 gives p = 0.002 and the interval [0.38, 1], but at 10, 4/10
  against 0/10 gives p = 0.042 and the interval [-0.09, 0.76]. (Newcombe's hybrid score
  interval, the usual approximate choice, covers as little as 91.5% near rates 0 and 1 at 5
  seeds a side.)
- A paired metric ("ReLU beats sigmoid"): the sign-flip test of a mean difference at every
  number of seeds, exact whenever the differences are symmetric about the null (the t-test is
  not: on two-humped differences, some seeds learning and some not, it rejects 6.5% of true
  nulls at 5 seeds, and more than alpha / 24 at 20 to 30). Up to EXACT_SIGN_FLIPS_UP_TO seeds
  every one of the 2^n sign patterns, beyond it SIGN_FLIP_DRAWS random ones from a fixed seed,
  p = (1 + draws as extreme) / (1 + draws), valid over the draws (Phipson and Smyth 2010). The
  interval is that same test inverted: the means it does not reject, so test and interval agree
  by construction (with all the sign patterns it is Hartigan's subset-means interval, 1969). No
  bootstrap: the percentile bootstrap under-covers at a few seeds.
- A trend of a rate along a dose within strata (the sensitivity map: learning against the
  learning rate, within each width): the exact stratified Cochran-Armitage test, conditional
  on each stratum's successes.
- Looks: seeds added in planned looks until the claims settle. Each claim's p is Bonferroni-
  corrected over the K looks, min(1, K x its smallest p so far), before Holm's adjustment.
- Many claims: Holm's step-down adjustment over one family.
- Seeds needed: the smallest number of seeds per variant with 80% power at the minimal
  effect the design states, and at the effect observed, at the level Holm tests the claim at.
  How the claims combine these tests (a fix as an intersection-union test of a rate and a
  contrast) is `study.analysis.claims`'.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats
from scipy.special import gammaln, xlogy
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestPower
from statsmodels.stats.proportion import proportion_effectsize

CONFIDENCE = 0.95
POWER = 0.8
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
MAX_SEEDS = 1000  # beyond this, "more seeds" is not a useful answer


class Estimate(NamedTuple):
    """A test's estimate, its interval (95% unless asked otherwise) and its two-sided p-value."""

    value: float
    low: float
    high: float
    p: float


@functools.cache
def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial rate."""
    if n == 0:
        return 0.0, 1.0
    interval = stats.binomtest(successes, n).proportion_ci(confidence, method="exact")
    return float(interval.low), float(interval.high)


def binomial_p(successes: int, n: int, threshold: float) -> float:
    """Two-sided central exact binomial p of a rate equal to ``threshold``: twice the smaller one-sided p, so
    that it is below 1 - confidence exactly when the Clopper-Pearson interval excludes the threshold."""
    if n == 0:
        return 1.0
    greater = stats.binomtest(successes, n, threshold, alternative="greater").pvalue
    less = stats.binomtest(successes, n, threshold, alternative="less").pvalue
    return float(min(1.0, 2 * min(greater, less)))


def rate_test(successes: int, n: int, threshold: float, confidence: float = CONFIDENCE) -> Estimate:
    """A rate against a threshold: the observed rate, its Clopper-Pearson interval, the exact binomial p."""
    rate = successes / n if n else math.nan
    return Estimate(rate, *clopper_pearson(successes, n, confidence), binomial_p(successes, n, threshold))


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


@functools.cache
def boschloo_p(successes: int, n: int, baseline_successes: int, baseline_n: int) -> float:
    """Boschloo's exact two-sided p of two equal rates: twice the smaller one-sided p (scipy's convention),
    each the chance, at its largest over the common rate, of a table whose one-sided Fisher p is at most the
    observed one. scipy's boschloo_exact takes each COLUMN of the table as one binomial sample, so the two
    variants are the columns; as rows it would condition on the wrong margins (and exceed its level)."""
    table = [[successes, baseline_successes], [n - successes, baseline_n - baseline_successes]]
    return float(stats.boschloo_exact(table, alternative="two-sided").pvalue)


def contrast_test(
    successes: int, n: int, baseline_successes: int, baseline_n: int, confidence: float = CONFIDENCE
) -> Estimate:
    """Two rates against each other: the difference (first minus baseline), its exact interval, and
    Boschloo's exact two-sided p."""
    if n == 0 or baseline_n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan)
    low, high = difference_interval(successes, n, baseline_successes, baseline_n, confidence)
    p = boschloo_p(successes, n, baseline_successes, baseline_n)
    return Estimate(successes / n - baseline_successes / baseline_n, float(low), float(high), p)


EXACT_SIGN_FLIPS_UP_TO = 16  # seeds: all 2^n sign patterns (65,536 at 16 seeds, 8 MB); beyond, random ones
SIGN_FLIP_DRAWS = 100_000  # random sign patterns beyond that: p resolves to 1e-5, its Monte-Carlo error at
# 0.002 (alpha / 24) is 0.00014
SIGN_FLIP_SEED = 2010  # the random patterns' generator seed (any fixed one): the same data give the same p
SIGN_FLIP_CHUNK = 2**14  # random patterns drawn at a time, so memory stays small at any number of seeds


def sign_patterns(n: int, draws: int = SIGN_FLIP_DRAWS) -> Iterator[np.ndarray]:
    """The sign patterns the sign-flip test compares the data with, as chunks of rows of +-1, the first row
    all +1 (the data as observed): up to EXACT_SIGN_FLIPS_UP_TO seeds all 2^n of them, beyond it the observed
    one and ``draws`` drawn uniformly (with replacement) by a generator seeded with SIGN_FLIP_SEED."""
    if n <= EXACT_SIGN_FLIPS_UP_TO:
        yield 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        return
    yield np.ones((1, n), dtype=np.int64)
    generator = np.random.default_rng(SIGN_FLIP_SEED)
    for start in range(0, draws, SIGN_FLIP_CHUNK):
        yield 1 - 2 * generator.integers(0, 2, (min(SIGN_FLIP_CHUNK, draws - start), n))


class SignFlips(NamedTuple):
    """The differences d under each sign pattern s (the first the observed one): ``flipped_sums``, sum s_i d_i,
    and ``sign_sums``, sum s_i. At a mean mu the pattern's statistic, sum s_i (d_i - mu), is
    flipped_sums - mu x sign_sums: one pass over the patterns serves every mu, with the same patterns."""

    flipped_sums: np.ndarray
    sign_sums: np.ndarray


def sign_flips(differences: np.ndarray, draws: int = SIGN_FLIP_DRAWS) -> SignFlips:
    """The differences' sums under each of the sign patterns of `sign_patterns`."""
    chunks = list(sign_patterns(len(differences), draws))
    return SignFlips(
        np.concatenate([signs @ differences for signs in chunks]),
        np.concatenate([signs.sum(axis=1) for signs in chunks]),
    )


def sign_flip_p_at(flips: SignFlips, mean: float) -> float:
    """The two-sided sign-flip p of a true mean difference ``mean``: the share of the sign patterns (the
    observed one among them) whose |sum s_i (d_i - mean)| is at least the observed |sum (d_i - mean)|. With
    all 2^n patterns this is the exact permutation p; with the observed one and m random ones it is
    (1 + random ones as extreme) / (1 + m), which Phipson and Smyth (2010) show is a valid p over the draws:
    data and draws together, it is at most a level with at most that chance."""
    statistic = np.abs(flips.flipped_sums - mean * flips.sign_sums)
    tolerance = 1e-10 * statistic.max()  # rounding in the sums must not break the ties of equal patterns
    return float(np.mean(statistic >= statistic[0] - tolerance))


def sign_flip_interval_of(flips: SignFlips, confidence: float) -> tuple[float, float]:
    """The means mu the sign-flip test does not reject at 1 - confidence (p(mu) > 1 - confidence).

    A pattern is as extreme as the data at mu, |sum s_i (d_i - mu)| >= |sum (d_i - mu)|, exactly when mu lies
    between the mean of the differences the pattern flips and the mean of those it keeps (the two roots;
    the whole line for the observed pattern and its mirror image). Each such stretch holds the sample
    mean, so p(mu) only falls away from it, and the means kept are those inside at least K of the
    stretches, K the fewest patterns with p = K / (patterns) above the level: from the K-th smallest lower
    end to the K-th largest upper end. With too few patterns for any p to reach the level (fewer than
    log2(2 / (1 - confidence)) seeds) every mean is kept: (-inf, inf)."""
    n = flips.sign_sums[0]  # the observed pattern keeps every sign
    total = flips.flipped_sums[0]
    flipped, kept = (n - flips.sign_sums) / 2, (n + flips.sign_sums) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        flipped_mean = np.where(flipped > 0, (total - flips.flipped_sums) / 2 / flipped, -np.inf)
        kept_mean = np.where(kept > 0, (total + flips.flipped_sums) / 2 / kept, np.inf)
    whole_line = (flipped == 0) | (kept == 0)
    lower = np.where(whole_line, -np.inf, np.minimum(flipped_mean, kept_mean))
    upper = np.where(whole_line, np.inf, np.maximum(flipped_mean, kept_mean))
    patterns = len(lower)
    # the same comparison as the p's: count / patterns, computed as np.mean computes it
    fewest = int(np.argmax(np.arange(patterns + 1) / patterns > 1 - confidence))
    return float(np.sort(lower)[fewest - 1]), float(-np.sort(-upper)[fewest - 1])


def sign_flip_p(differences: np.ndarray, null: float = 0.0, draws: int = SIGN_FLIP_DRAWS) -> float:
    """The two-sided sign-flip p of a mean difference equal to ``null`` (see `sign_flip_p_at`)."""
    differences = np.asarray(differences, dtype=float)
    return sign_flip_p_at(sign_flips(differences, draws), null)


def sign_flip_interval(
    differences: np.ndarray, confidence: float = CONFIDENCE, draws: int = SIGN_FLIP_DRAWS
) -> tuple[float, float]:
    """The interval of a mean difference that inverts the sign-flip test (see `sign_flip_interval_of`)."""
    differences = np.asarray(differences, dtype=float)
    return sign_flip_interval_of(sign_flips(differences, draws), confidence)


def paired_test(
    differences: np.ndarray, confidence: float = CONFIDENCE, null: float = 0.0, draws: int = SIGN_FLIP_DRAWS
) -> Estimate:
    """A paired metric: the mean difference, the interval of the means the sign-flip test does not reject at
    1 - ``confidence``, and the sign-flip test's two-sided p of a mean difference equal to ``null`` (NaN
    below 2 seeds). All 2^n sign patterns up to EXACT_SIGN_FLIPS_UP_TO seeds, ``draws`` random ones beyond."""
    differences = np.asarray(differences, dtype=float)
    n = len(differences)
    if n < 2 or not np.all(np.isfinite(differences)):  # a missing value is no evidence either way
        mean = float(differences.mean()) if n else math.nan
        return Estimate(mean, math.nan, math.nan, math.nan)
    flips = sign_flips(differences, draws)
    low, high = sign_flip_interval_of(flips, confidence)
    return Estimate(float(differences.mean()), low, high, sign_flip_p_at(flips, null))


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
    """Exact power at ``n`` seeds a side of Fisher's exact test, which Boschloo's test rejects whenever it does
    (with equal sides Fisher's two-sided p is twice its one-sided one, as Boschloo's is, and Boschloo's
    one-sided p is at most Fisher's): a lower bound on the power of the test the claims use."""
    weights = np.outer(stats.binom.pmf(np.arange(n + 1), n, first), stats.binom.pmf(np.arange(n + 1), n, second))
    rejects = np.array(
        [
            [a > b and stats.fisher_exact([[a, n - a], [b, n - b]]).pvalue <= alpha for b in range(n + 1)]
            for a in range(n + 1)
        ]
    )
    return float((weights * rejects).sum())


@functools.cache
def seeds_for_rates(first: float, second: float, alpha: float) -> int | None:
    """Seeds per variant for at least 80% power to find the rates ``first`` and ``second`` apart (in either
    order): exact (a lower bound on the power, through Fisher's test) up to CONTRAST_EXACT_UP_TO seeds, the
    normal approximation on Cohen's h beyond."""
    if first == second:
        return None
    high, low = max(first, second), min(first, second)
    for n in range(2, CONTRAST_EXACT_UP_TO + 1):
        if contrast_power(n, high, low, alpha) >= POWER:
            return n
    h = proportion_effectsize(high, low)
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=POWER, alternative="two-sided")
    return min(math.ceil(n), MAX_SEEDS) if np.isfinite(n) else None


def seeds_for_contrast(difference: float, alpha: float) -> int | None:
    """Seeds per variant for at least 80% power to find two rates ``difference`` apart, placed symmetrically
    about 1/2 (the hardest place for a given difference): `seeds_for_rates`."""
    if difference <= 0:
        return None
    return seeds_for_rates(0.5 + difference / 2, 0.5 - difference / 2, alpha)


def seeds_for_mean(difference: float, sd: float, alpha: float) -> int | None:
    """Seeds for 80% power at a true mean difference ``difference`` with the spread ``sd`` of the paired
    differences: the fewest at which the paired t-test has it (the sign-flip test's power comes close to
    it), and never fewer than the sign-flip test needs to reach ``alpha`` at all (its smallest p is 2 / 2^n).
    The t-test's power is scanned seed by seed: statsmodels' solver fails at large effects."""
    if difference <= 0 or not sd >= 0:
        return None
    floor = max(math.ceil(math.log2(2 / alpha)), 2)  # the sign-flip test's smallest p, 2 / 2^n, must reach alpha
    if floor > EXACT_SIGN_FLIPS_UP_TO and alpha < 1 / (1 + SIGN_FLIP_DRAWS):
        return None  # beyond the exact patterns the smallest p is 1 / (1 + draws)
    if sd == 0:  # no spread: any seeds beyond the floor show the difference
        return floor
    power = TTestPower()
    for n in range(2, MAX_SEEDS + 1):
        if power.power(effect_size=difference / sd, nobs=n, alpha=alpha, alternative="two-sided") >= POWER:
            return min(max(n, floor), MAX_SEEDS)
    return None


TREND_DIGITS = 9  # score sums are rounded to this many decimals, so that equal sums count as one (ties)


def stratum_score_sums(groups: Sequence[tuple[float, int, int]]) -> dict[float, float]:
    """The null distribution of one stratum's sum of scores over its successes: with the stratum's number of
    successes fixed, every subset of its runs of that size equally likely (multivariate hypergeometric). By
    dynamic programming over the groups, (score, runs, successes), counting the ways to pick x of a group's
    runs, for each number picked so far and score sum."""
    successes = sum(group_successes for _, _, group_successes in groups)
    ways: dict[tuple[int, float], int] = {(0, 0.0): 1}
    for score, runs, _ in groups:
        grown: dict[tuple[int, float], int] = defaultdict(int)
        for (picked, total), count in ways.items():
            for x in range(min(runs, successes - picked) + 1):
                grown[picked + x, round(total + score * x, TREND_DIGITS)] += count * math.comb(runs, x)
        ways = grown
    all_ways = math.comb(sum(runs for _, runs, _ in groups), successes)
    return {total: count / all_ways for (picked, total), count in ways.items() if picked == successes}


def trend_test(strata: Sequence[Sequence[tuple[float, int, int]]], alternative: str = "two-sided") -> float:
    """The exact stratified Cochran-Armitage trend test: ``strata`` a list of strata (e.g. widths), each a list
    of groups (score, runs, successes), the score e.g. the learning rate, its log or its rank. The statistic
    is T = sum of score x successes over all groups; its null distribution, given each stratum's number of
    successes, is the convolution over the strata of `stratum_score_sums`. "less": fewer successes at higher
    scores, p = P(T <= observed); "greater": P(T >= observed); "two-sided": twice the smaller, at most 1."""
    for groups in strata:
        for _, runs, successes in groups:
            if not 0 <= successes <= runs:
                raise ValueError(f"a group has {successes} successes in {runs} runs")
    distribution = {0.0: 1.0}
    for groups in strata:
        combined: dict[float, float] = defaultdict(float)
        for total, chance in distribution.items():
            for stratum_total, stratum_chance in stratum_score_sums(groups).items():
                combined[round(total + stratum_total, TREND_DIGITS)] += chance * stratum_chance
        distribution = combined
    observed = round(sum(score * successes for groups in strata for score, _, successes in groups), TREND_DIGITS)
    tie = 10.0**-TREND_DIGITS * 10  # sums equal up to rounding are ties
    less = min(1.0, sum(chance for total, chance in distribution.items() if total <= observed + tie))
    greater = min(1.0, sum(chance for total, chance in distribution.items() if total >= observed - tie))
    if alternative == "less":
        return less
    if alternative == "greater":
        return greater
    if alternative == "two-sided":
        return min(1.0, 2 * min(less, greater))
    raise ValueError(f"alternative must be 'less', 'greater' or 'two-sided', not {alternative!r}")
