"""The report's prose: the method, the design, the looks, the map and the checks, in words from the tables."""

from __future__ import annotations

import pandas as pd

from study.analysis.outcomes import chance_accuracy, plateau_line
from study.analysis.sensitivity import ALL_CELLS
from study.analysis.statistics import CONFIDENCE, POWER
from study.reporting.cells import fraction
from study.reporting.claim_words import format_p, stability_summary
from study.reporting.table_views import cell_label, map_trends

NEAR_CHANCE = 0.05  # how close to 1/classes a validation accuracy is "near chance" in the notes


def calibration_findings(calibration: pd.DataFrame) -> str:
    """What each pre-flight check is good for, in words, from its scores against the full runs."""
    if calibration.empty:
        return "No pre-flight results to score."
    runs = int(calibration["runs"].iloc[0])
    positives = int(calibration["true_positives"].iloc[0] + calibration["false_negatives"].iloc[0])
    lines = [
        f"**How far each pre-flight check can be trusted** in this run: {runs} runs (variant × seed), "
        f"{positives} of which did not learn. A check *flags* a variant when it fails.",
        "",
    ]
    for _, r in calibration.iterrows():
        flagged = int(r["true_positives"] + r["false_positives"])
        if flagged == 0:
            use = "it flagged nothing, so it cannot warn of anything here"
        elif r["precision"] == 1 and r["recall"] == 1:
            use = "every flag was right and it missed no run that failed: a reliable gate"
        elif r["precision"] == 1:
            use = "every flag was right, but it missed some runs that failed: trust a failure, not a pass"
        elif r["recall"] == 1:
            use = "it caught every run that failed, but some flagged runs learned: trust a pass, not a failure"
        else:
            use = "some flags were wrong and some failures missed: a hint, not a gate"
        lines.append(
            f"- *{r['check']}*: precision {fraction(r['true_positives'], flagged)}, recall "
            f"{fraction(r['true_positives'], positives)}; {use}."
        )
    return "\n".join(lines)


def sensitivity_text(rates: pd.DataFrame, claims: pd.DataFrame, keys: list[str]) -> str:
    """How many cells each claim holds in, and where this profile lies on the map."""
    if rates.empty:
        return "This run draws no sensitivity map (`sensitivity` in the config)."
    trends = map_trends(claims)
    claims = claims[claims["cell"] != ALL_CELLS]
    cells = claims["cell"].nunique()
    held = claims.assign(held=claims["verdict"] == "confirmed").groupby("claim", sort=False)["held"].sum()
    counts = "; ".join(f"{claim}: confirmed in {int(n)} of {cells} cells" for claim, n in held.items())
    tested = "; ".join(
        f"{row['claim']}: {row['verdict']} ({row['evidence']}; Holm-adjusted p = {format_p(row['p_adjusted'])})"
        for row in trends.to_dict("records")
    )
    profile = sorted(set(rates.loc[rates["profile_cell"].astype(bool), "cell"]))
    where = (
        f"This run's own setting is the cell {', '.join(profile)}, one cell of the map."
        if profile
        else "This run's own setting is not a cell of the map."
    )
    hypothesis = (
        f" What the map can confirm is its pre-registered hypothesis, one exact trend test per variant, Holm-adjusted "
        f"over the variants: {tested}."
        if tested
        else ""
    )
    return (
        f"{counts}. {where} Each cell's claims are tested and Holm-adjusted within the cell, on a few seeds: they "
        f"describe where a claim holds, they do not confirm it.{hypothesis}"
    )


def lecture_cell_text(rates: pd.DataFrame, config: dict) -> str:
    """Where the lecture's own setting lies on the map."""
    lecture = config["sensitivity"]["lecture"]
    if not lecture:
        return "The config names no lecture setting for the map (sensitivity.lecture)."
    setting = ", ".join(f"{key} {value:g}" for key, value in lecture.items())
    if rates["lecture_cell"].any():
        return f"The lecture's own setting ({setting}) is a cell of the map, marked 'lecture'."
    return f"The lecture's own setting ({setting}) is not a cell of the map: it was not measured here."


def lecture_runs_text(runs: pd.DataFrame, config: dict) -> str:
    """What the lecture's own cell ran (config ``lecture_cell``) and how each variant's runs ended, in words."""
    if runs.empty:
        return "This run trains no lecture cell (`lecture_cell` in the config)."
    first = runs.iloc[0]
    setting = (
        f"width {first['width']:g}, Adam at {first['learning_rate']:g}, batch {int(first['batch_size'])}, "
        f"{int(first['train_images']):,} training images, {int(first['planned_steps'])} steps planned"
    )
    lines = []
    for variant, mine in runs.groupby("variant", sort=False):
        outcomes = ", ".join(f"{outcome} {n}/{len(mine)}" for outcome, n in mine["outcome"].value_counts().items())
        dead = mine["ended_dead_at_step"].dropna()
        ended = f"; ended dead at steps {', '.join(str(int(step)) for step in dead)}" if len(dead) else ""
        lines.append(f"- {variant}: {outcomes}{ended}")
    seeds = ", ".join(str(seed) for seed in config["lecture_cell"]["seeds"])
    return (
        f"The lecture's setting ({setting}), on seeds {seeds}:\n\n" + "\n".join(lines) + "\n\n"
        f"{len(config['lecture_cell']['seeds'])} seeds a variant describe what happens there; they confirm nothing."
    )


def stability_text(stability: pd.DataFrame, config: dict) -> str:
    """What the stability check ran, or how to ask for one."""
    if stability.empty:
        return (
            "This run names no second seed set, so the claims were tested on one set of seeds only. List "
            "seeds of its own under `stability.seeds` in the config to test them again."
        )
    seeds = ", ".join(str(seed) for seed in config["stability"]["seeds"])
    return (
        f"The claims whose variants were also trained on seeds {seeds}, tested on each seed set, on both pooled, "
        f'and the two sets against each other: {stability_summary(stability)}. "No evidence they differ" is not '
        "evidence that they agree: the interval says how large a difference is still possible. Each set's "
        "verdicts, and the pooled ones, are Holm-adjusted over every claim its runs can test, as in the claims table."
    )


def batchnorm_notes(summary: pd.DataFrame, config: dict) -> str:
    """Explain batch-normalized runs that learn on training data while validation sits near chance.

    "Near chance" is within 0.05 of chance accuracy.
    """
    notes = []
    for _, r in summary.iterrows():
        near_chance = chance_accuracy(r["classes"]) + NEAR_CHANCE
        spec = config["variants"].get(r["variant"], {})
        if spec.get("batchnorm") and r["final_val_accuracy_mean"] < near_chance < r["final_train_accuracy_mean"]:
            steps = int(r["steps"])
            momentum = spec["batchnorm_momentum"]
            moved = 1 - momentum**steps
            notes.append(
                f"- **{r['variant']}** reaches train accuracy {r['final_train_accuracy_mean']:.3f} but validation "
                f"accuracy {r['final_val_accuracy_mean']:.3f}. Validation runs the net in inference mode, on the "
                f"moving averages of the batch statistics; with a momentum of {momentum:g} those "
                f"move only about {moved:.0%} of the way in this run's {steps} steps, so they still largely "
                "describe the untrained net. A run whose training loss left the plateau is not counted as "
                "'stuck'; where its net in inference mode stays at chance, it counts as 'learns in training mode "
                "only', which is not learning."
                + (f" Its outcomes across seeds: {r['outcomes']}." if isinstance(r.get("outcomes"), str) else "")
            )
    return "\n".join(notes)


def dataset_classes(summary: pd.DataFrame) -> dict[str, int]:
    """Each dataset of the study with its class count, as its runs recorded it."""
    return {r["dataset"]: int(r["classes"]) for _, r in summary.drop_duplicates("dataset").iterrows()}


def method_notes(config: dict, summary: pd.DataFrame) -> str:
    """How runs and claims were judged in this study, with the config's thresholds."""
    rules = "\n".join(f"- {rule}" for rule in outcome_rules(config["outcomes"], dataset_classes(summary)))
    interval = config["diagnostics"]["step_interval"]
    return (
        f"Each run records its training loss every {interval} steps (`steps.csv`); its outcome comes from that "
        "trajectory and its cause from its last recorded diagnostics (thresholds under `outcomes` in the config):"
        f"\n\n{rules}\n\n" + design_notes(config["design"])
    )


def fewest_seeds_for_an_interval() -> int:
    """The fewest seeds whose 2^n sign patterns can leave out one at each end of a CONFIDENCE interval."""
    n = 1
    while int(2**n * (1 - CONFIDENCE) / 2) < 1:
        n += 1
    return n


def design_notes(design: dict) -> str:
    """How the claims are tested, in words, with the design's level, threshold and minimal effects."""
    effect = design["minimal_effect"]
    level = f"{CONFIDENCE:.0%}"
    return (
        f"*Rate claims* (`learns` or `stuck`, no baseline) test whether the share of seeds with the outcome is above "
        f'{design["rate_threshold"]:g} ("in most runs"): exact binomial test, Clopper-Pearson {level} interval; a '
        "run that is undecided, diverged or learns in training mode only counts as not having the outcome. "
        "*Contrast claims* (`learns` or `stuck` with a baseline: a fix against the net it fixes) test whether the "
        "variant's rate of the outcome exceeds the baseline's: Boschloo's exact test, with the exact unconditional "
        f"{level} interval of the difference beside it (Santner and Snell's tail method, more cautious than the "
        "test: the verdict is the test's). *Paired claims* (`better_than`, `larger_gap`) pair the two variants "
        "seed by seed and test their mean difference with the sign-flip test at every number of seeds (exact "
        "over every sign pattern where they are few enough, Monte-Carlo beyond), with the "
        f"{level} interval of the mean difference the sign flips give (none exists below "
        f"{fewest_seeds_for_an_interval()} seeds). All p-values are two-sided and Holm-adjusted within their "
        "family (the lecture's claims are one family; a config can add others); a claim is *confirmed* when its "
        f"adjusted p is at most {design['alpha']:g} and the estimate points the claimed way, *refuted* when it "
        "points the other way, *undetermined* otherwise. A claim is *not testable* when its measure cannot reach "
        "its threshold at this profile (its reason says why); it is left out of its family's Holm adjustment. A "
        "claim is *not run* when a variant it names was not trained in this study. An undetermined claim gives "
        f"the seeds per variant that would give {POWER:.0%} power, at Holm's first-step level, for a true rate "
        f"{design['rate_threshold'] + effect['rate_above_threshold']:g} (rate claims), two rates "
        f"{effect['rate_difference']:g} apart (contrasts), or a mean difference of "
        f"{effect['accuracy_difference']:g} with the spread seen here (paired claims)." + looks_note(design)
    )


def looks_note(design: dict) -> str:
    """How the planned looks add seeds and correct the p-values ('' without looks)."""
    looks = design.get("looks") or []
    if len(looks) < 2:
        return ""
    return (
        f" Seeds were added in {len(looks)} planned looks of {', '.join(map(str, looks))} seeds per variant: after "
        "each look the claims were judged, and only the variants of claims still undetermined got the next "
        f"look's seeds. Each claim's p is its smallest over the looks taken, times {len(looks)} (Bonferroni over "
        "the planned looks, capped at 1), before Holm's adjustment."
    )


def saturation_note(config: dict) -> str:
    threshold = config["diagnostics"]["saturation"]
    return (
        f"A sigmoid unit counts as saturated when its output is below {threshold} or above {1 - threshold:g}, "
        f"where its derivative is below {threshold * (1 - threshold):.3g}."
    )


def sensitivity_alt(rates: pd.DataFrame, keys: list[str]) -> str:
    """The sensitivity map in words: each variant's seeds that learned, cell by cell."""
    cells = "; ".join(
        f"{r['variant']} at {cell_label(r, keys)}: {r['n_learned']}/{r['n_seeds']} learned"
        for r in rates.to_dict("records")
    )
    return (
        f"Heat map of the share of seeds that learned, one row per variant, one column per cell of the grid. {cells}."
    )


def outcome_rules(thresholds: dict, classes: dict[str, int]) -> list[str]:
    """The outcomes and causes in words, with the thresholds a run was judged by; ``classes``: each dataset's
    class count, whose chance loss sets its plateau line."""
    causes, margin, windows = thresholds["causes"], thresholds["plateau_margin"], thresholds["windows"]
    lines = ", ".join(
        f"{dataset}: ln {count} − {margin} = {plateau_line(count, thresholds):.3f}"
        for dataset, count in classes.items()
    )
    return [
        f"*stuck*: the training loss (mean over each window of steps) never stayed below its dataset's chance "
        f"loss, ln(classes), minus {margin} ({lines}) for {windows} windows in a row",
        f"*learns*: after its last stretch of {windows} or more windows on the plateau, at least {windows} windows "
        f"followed below the line, the mean of its last {windows} windows is below that of its first "
        f"{windows} after leaving, and the net in inference mode at the end is off chance (train-probe loss below "
        "the line; train-probe and validation accuracy at least chance plus "
        f"{thresholds['evaluated_accuracy_margin']})",
        f"*learns in training mode only*: its training loss left the plateau as above, but the net as it is "
        f"evaluated (inference mode, at the last epoch's end) is at chance: its train-probe loss is not below the "
        f"plateau line, or its train-probe accuracy is below chance (1/classes) plus "
        f"{thresholds['evaluated_accuracy_margin']}; it does not count as learning",
        f"*memorizes*: its training loss left the plateau and its train probe is off chance in inference mode, "
        f"but its validation accuracy is below chance plus {thresholds['evaluated_accuracy_margin']}: it fits its "
        "training images only, and does not count as learning",
        f"*overfits*: a learning net whose final train accuracy exceeds its validation accuracy by more than "
        f"{thresholds['overfit_gap']} (both in inference mode at the last epoch's end)",
        f"*undecided*: it left the plateau but fell back onto it for {windows} or more windows, began to leave only "
        "in its last windows, or its loss has not fallen since it left",
        "*diverged*: an infinite or undefined (not-a-number) training loss",
        "a cause is named only for runs that did not learn; dead units are checked first, as a layer of dead "
        "ReLUs is what zeroes the gradient below it",
        f"cause *vanishing gradients*: the first layer's gradient norm is below {causes['vanishing_gradient_ratio']:g} "
        "times the last layer's (last recorded epoch)",
        f"cause *vanishing gradients (uniformly small at every layer)*: no layer's gradient norm reaches "
        f"{causes['small_gradient_scale']:g} times its weight norm, though the first/last ratio is not small",
        "cause of *learns in training mode only*: how far batch norm's moving means lag the probe batch's means, in "
        "batch standard deviations, where the net has batch norm",
        f"cause *dead units*: in some layer more than {causes['dead_fraction']:.0%} of the ReLU (or leaky ReLU) units "
        "output at most 0 for every probe image",
        f"cause *saturation*: in some layer more than {causes['saturated_fraction']:.0%} of the sigmoid (or tanh) "
        "outputs are saturated",
        "cause *not measured*: a net of elu or gelu units records no dead or saturated count, so only vanishing "
        "gradients can be seen in it",
    ]
