"""What the report notebook shows besides figures: its tables as a reader sees them, its notes in words,
and its offline HTML export."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import mistune
import nbformat
import numpy as np
import pandas as pd
import yaml
from nbconvert import HTMLExporter

from study.analysis.claims import format_p
from study.analysis.outcomes import chance_accuracy, outcome_rules
from study.analysis.stability import stability_summary
from study.specs import OPTIMIZER_NAMES

TEMPLATES = Path(__file__).parent / "templates"
NEAR_CHANCE = 0.05  # how close to 1/classes a validation accuracy is "near chance" in the notes
# BatchNormalization's default, which study.training.models keeps.
KERAS_BATCHNORM_MOMENTUM = 0.99


def mean_pm_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def header(name: str) -> str:
    """A column name as words ('lecture_params' -> 'lecture params'); environment variables keep their names."""
    return name if name.isupper() else name.replace("_", " ")


def cell_text(value, decimals: int = 3) -> str:
    """A value as a reader writes it: '' for a missing one, 'yes'/'no' for a boolean, counts with thousands
    separators, other numbers with ``decimals`` decimals."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.{decimals}f}"
    return str(value)


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def styled(table: pd.DataFrame):
    """A table as the report shows it: headers as words, each value as a reader writes it (cell_text), numbers
    right-aligned and text left-aligned, each header aligned with its column, no index."""
    table = table.rename(columns=header)
    styler = table.style.format(cell_text).hide(axis="index")
    alignment = {
        column: [{"selector": "th, td", "props": [("text-align", "right" if is_numeric(table[column]) else "left")]}]
        for column in table.columns
    }
    return styler.set_table_styles(alignment, overwrite=False)


def step_text(step) -> str:
    """The step a run left the plateau at, or 'never'."""
    return "never" if pd.isna(step) else f"{int(step):,}"


def params_view(params: pd.DataFrame) -> pd.DataFrame:
    """The parameter counts as the report shows them: counts as integers, even where the lecture gives none."""
    return pd.DataFrame(
        {
            "model": params["model"],
            "kind": params["kind"],
            "dataset": params["dataset"].fillna(""),
            "parameters": params["params"].astype("Int64"),
            "the lecture's count": params["lecture_params"].astype("Int64"),
            "matches the lecture": params["matches_lecture"].astype("boolean"),
        }
    )


def recipe_text(width, learning_rate, batch_size, images: str, epochs, optimizer: str = "adam") -> str:
    """'width 0.25, Adam lr 0.002, batch 256, 10,000 images, 8 epochs'; '' without epochs."""
    if pd.isna(epochs):
        return ""
    epochs = int(epochs)
    name = OPTIMIZER_NAMES[optimizer]
    return f"width {width:g}, {name} lr {learning_rate:g}, batch {int(batch_size)}, {images}, {epochs} epoch" + (
        "s" if epochs != 1 else ""
    )


def lecture_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The lecture's numbers beside the reproduction's mean ± std and 95% CI across seeds, each with the recipe
    that produced it."""
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "variant": r["variant"],
                "seeds": int(r["n_seeds"]),
                "our recipe": recipe_text(
                    r["width"],
                    r["learning_rate"],
                    r["batch_size"],
                    f"{int(r['train_images']):,} images",
                    r["epochs"],
                    r.get("optimizer", "adam"),
                )
                + f" ({int(r['steps'])} steps)",
                "lecture's recipe (one run)": recipe_text(
                    r["lecture_width"],
                    r["lecture_learning_rate"],
                    r["lecture_batch_size"],
                    "the whole training set",
                    r["lecture_epochs"],
                ),
                "lecture says": r["lecture_says"] if isinstance(r["lecture_says"], str) else "",
                "lecture train acc": r["lecture_train_accuracy"],
                "train acc (mean ± std)": mean_pm_std(r["final_train_accuracy_mean"], r["final_train_accuracy_std"]),
                "lecture val acc": r["lecture_val_accuracy"],
                "val acc (mean ± std)": mean_pm_std(r["final_val_accuracy_mean"], r["final_val_accuracy_std"]),
                "val acc 95% CI ±": r["final_val_accuracy_ci95"],
                "best val acc (mean)": r["best_val_accuracy_mean"],
                "params": int(r["params"]),
                "s / epoch": r["seconds_per_epoch"],
            }
        )
    return pd.DataFrame(rows)


def stats_table(stats_jsons: list[str | os.PathLike]) -> pd.DataFrame:
    rows = []
    for path in stats_jsons:
        s = json.loads(Path(path).read_text())
        for channel, (mean, std) in enumerate(zip(s["mean"], s["std"], strict=True)):
            rows.append(
                {
                    "dataset": s["dataset"],
                    "channel": channel,
                    "mean (0-255)": mean,
                    "std (0-255)": std,
                    "training images": s["images"],
                }
            )
    return pd.DataFrame(rows)


def export_html(notebook: str | os.PathLike, html: str | os.PathLike) -> None:
    """Write the executed notebook as self-contained HTML: no code, images embedded, nothing fetched."""
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    Path(html).write_text(body, encoding="utf-8")


def outcome_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Each variant's outcomes across seeds beside what the lecture says of it."""
    return pd.DataFrame(
        {
            "variant": summary["variant"],
            "lecture says": summary["lecture_says"].fillna(""),
            "outcomes across seeds": summary["outcomes"],
            "causes across seeds": summary["causes"],
            "final train loss (mean)": summary["final_train_loss_mean"],
            "final train acc (mean)": summary["final_train_accuracy_mean"],
            "final val acc (mean)": summary["final_val_accuracy_mean"],
        }
    )


def runs_view(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's outcome beside its cause and the diagnostic signs the cause was read from."""
    return pd.DataFrame(
        {
            "variant": runs["variant"],
            "seed": runs["seed"],
            "outcome": runs["outcome"],
            "cause": runs["cause"],
            "left the plateau at step": runs["plateau_exit_step"].map(step_text),
            "of steps": runs["steps"],
            "gradient first / last layer": runs["gradient_ratio"].map(lambda v: "" if pd.isna(v) else f"{v:.2g}"),
            "most dead ReLUs in a layer": runs["dead_fraction"],
            "most saturated sigmoids in a layer": runs["saturated_fraction"],
            "final train loss": runs["final_train_loss"],
        }
    )


def preflight_table(preflight: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    outcomes = summary.set_index("variant")["outcomes"]
    return pd.DataFrame(
        {
            "variant": preflight["variant"],
            "loss at init": preflight["initial_loss"],
            "chance loss, ln(classes)": preflight["expected_initial_loss"],
            "init loss ok": preflight["initial_loss_ok"],
            "overfits one batch": preflight["overfits"],
            "steps to overfit": preflight["steps_to_overfit"].astype("Int64"),
            "batch loss at end": preflight["final_batch_loss"],
            "full runs ended": preflight["variant"].map(outcomes),
        }
    )


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


def fraction(numerator, denominator) -> str:
    numerator, denominator = int(numerator), int(denominator)
    return f"{numerator}/{denominator}" + (f" ({numerator / denominator:.0%})" if denominator else "")


def protocol_note(protocol: dict | None) -> str:
    """Whether the claims were judged under a protocol fixed before the runs (provenance's 'protocol')."""
    if not protocol or protocol.get("sha256") is None:
        return (
            "**No protocol was fixed before these runs**, so every verdict below is exploratory: it was not "
            "set down before the runs were seen. The workflow writes `results/protocol.json` before its first job."
        )
    fixed = f"`results/protocol.json` (sha256 `{protocol['sha256'][:12]}`, written {protocol['written_at']})"
    if protocol["changed"]:
        return (
            f"**The protocol changed after the first run.** The claims, thresholds, design or recipes the config "
            f"states now (sha256 `{protocol['current_sha256'][:12]}`) differ from those fixed in {fixed}. Every "
            "verdict below is exploratory: its rules were set after runs had been seen."
        )
    if protocol["runs_under_other"]:
        return (
            f"**{protocol['runs_under_other']} runs were not trained under the protocol fixed in {fixed}** (they "
            "were trained before it was written, or under another one), so every verdict below is exploratory."
        )
    return f"Protocol fixed before the runs in {fixed}; every run was trained under it: the verdicts are confirmatory."


def story_sentence(claims: pd.DataFrame) -> str:
    """Whether the lecture's story reproduces: only when every one of its claims is confirmed."""
    confirmed = int((claims["verdict"] == "confirmed").sum())
    if confirmed == len(claims):
        return f"All {len(claims)} claims of the lecture's story are confirmed: the story reproduces here."
    others = claims.loc[claims["verdict"] != "confirmed", "verdict"].value_counts()
    rest = ", ".join(f"{count} {verdict}" for verdict, count in others.items())
    return (
        f"{confirmed} of {len(claims)} claims of the lecture's story are confirmed ({rest}), so this run does "
        "not reproduce the story in full; each claim's details below say what it would take."
    )


def interval_text(mean: float, low: float, high: float, digits: int, sign: str = "") -> str:
    """'0.412 [0.380, 0.441]'; the mean alone when there is no interval, '' when there is no mean."""
    if pd.isna(mean):
        return ""
    text = f"{mean:{sign}.{digits}f}"
    return text if pd.isna(low) else f"{text} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def median_exit_text(row: dict) -> str:
    """The Kaplan-Meier median step with its interval; '≤ N' when it sits at the first recorded window, whose
    end is the earliest step a run can be seen to leave; 'not reached' when fewer than half the seeds left."""
    median = row["median_exit_step"]
    if pd.isna(median):
        return "not reached"
    if median <= row["first_window_step"]:
        return f"≤ {int(row['first_window_step'])}"
    if pd.isna(row["median_exit_low"]) and pd.isna(row["median_exit_high"]):
        return f"{median:.0f} (no interval from these seeds)"
    low = "" if pd.isna(row["median_exit_low"]) else f"{row['median_exit_low']:.0f}"
    high = (
        "not reached"
        if pd.isna(row["median_exit_high"]) or row["median_exit_high"] == float("inf")
        else (f"{row['median_exit_high']:.0f}")
    )
    return f"{median:.0f} [{low}, {high}]"


def fixes_view(fixes: pd.DataFrame) -> pd.DataFrame:
    """The fix ranking as the report shows it: intervals in brackets, the verdict of the claim that tests each."""
    rows = fixes.to_dict("records")
    return pd.DataFrame(
        {
            "rank": fixes["rank"].astype("Int64"),
            "variant": fixes["variant"],
            "learned": fixes["learned"],
            "left the plateau": fixes["left"],
            "step it left (Kaplan-Meier median [95% CI])": [median_exit_text(r) for r in rows],
            "final train acc (mean [95% CI])": [
                interval_text(
                    r["final_train_accuracy_mean"], r["final_train_accuracy_low"], r["final_train_accuracy_high"], 3
                )
                for r in rows
            ],
            "log-rank p against the baseline (descriptive)": fixes["logrank_p"].map(format_p),
            "does it make the net learn? (its claim's verdict)": fixes["verdict"],
        }
    )


def stability_view(stability: pd.DataFrame) -> pd.DataFrame:
    """The stability check as the report shows it: each claim on each seed set, whether the sets differ, and
    the claim on the pooled seeds."""
    rows = stability.to_dict("records")
    return pd.DataFrame(
        {
            "claim": stability["claim"],
            "first seeds: evidence, verdict": [f"{r['evidence_first']}: {r['verdict_first']}" for r in rows],
            "second seeds: evidence, verdict": [f"{r['evidence_second']}: {r['verdict_second']}" for r in rows],
            "second minus first [95% CI]": [
                interval_text(r["difference"], r["difference_low"], r["difference_high"], 2, "+") for r in rows
            ],
            "Holm-adjusted p": stability["p_adjusted"].map(format_p),
            "do the sets differ?": stability["agreement"],
            "pooled seeds: evidence, verdict": [f"{r['evidence_pooled']}: {r['verdict_pooled']}" for r in rows],
        }
    )


def cell_label(row: dict, keys: list[str]) -> str:
    """A cell of the sensitivity map in words: 'learning_rate 0.002, width 0.25'."""
    return ", ".join(f"{key} {row[key]:g}" for key in keys)


def sensitivity_view(claims: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Where each claim holds: one row per claim, one column per cell of the map, each its verdict there."""
    cell = [cell_label(row, keys) for row in claims.to_dict("records")]
    shown = claims.assign(
        cell=cell, shown=[f"{v} ({e})" for v, e in zip(claims["verdict"], claims["evidence"], strict=True)]
    )
    return shown.pivot(index="claim", columns="cell", values="shown").reindex(columns=list(dict.fromkeys(cell)))


def sensitivity_text(rates: pd.DataFrame, claims: pd.DataFrame, keys: list[str]) -> str:
    """How many cells each claim holds in, and where this profile lies on the map."""
    if rates.empty:
        return "This run draws no sensitivity map (`sensitivity` in the config)."
    cells = claims["cell"].nunique()
    held = claims.assign(held=claims["verdict"] == "confirmed").groupby("claim", sort=False)["held"].sum()
    counts = "; ".join(f"{claim}: confirmed in {int(n)} of {cells} cells" for claim, n in held.items())
    profile = sorted(set(rates.loc[rates["profile_cell"].astype(bool), "cell"]))
    where = (
        f"This run's own setting is the cell {', '.join(profile)}, one cell of the map."
        if profile
        else "This run's own setting is not a cell of the map."
    )
    return (
        f"{counts}. {where} Each cell's claims are tested and Holm-adjusted within the cell: the map describes "
        "where a claim holds, it does not confirm it."
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
            moved = 1 - KERAS_BATCHNORM_MOMENTUM**steps
            notes.append(
                f"- **{r['variant']}** reaches train accuracy {r['final_train_accuracy_mean']:.3f} but validation "
                f"accuracy {r['final_val_accuracy_mean']:.3f}. Validation runs the net in inference mode, on the "
                f"moving averages of the batch statistics; with Keras' momentum of {KERAS_BATCHNORM_MOMENTUM} those "
                f"move only about {moved:.0%} of the way in this run's {steps} steps, so they still largely "
                "describe the untrained net. The outcomes judge such runs on training metrics, so this is not "
                "counted as 'stuck'."
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


def design_notes(design: dict) -> str:
    """How the claims are tested, in words, with the design's level, threshold and minimal effects."""
    effect = design["minimal_effect"]
    return (
        f"*Rate claims* (`learns` or `stuck`, no baseline) test whether the share of seeds with the outcome is above "
        f'{design["rate_threshold"]:g} ("in most runs"): exact binomial test, Clopper-Pearson 95% interval; an '
        "undecided or diverged run counts as not having the outcome. "
        "*Contrast claims* (`learns` or `stuck` with a baseline: a fix against the net it fixes) test whether the "
        "variant's rate of the outcome exceeds the baseline's: Boschloo's exact test, with the exact unconditional "
        "95% interval of the difference beside it (Santner and Snell's tail method, more cautious than the test: "
        "the verdict is the test's). *Paired claims* (`better_than`, `larger_gap`) pair the two variants seed "
        "by seed: below 20 seeds the exact sign-flip test with Hartigan's subset-means interval (none exists "
        "below 6 seeds), from 20 the paired t-test and its t-interval. All p-values are two-sided and "
        f"Holm-adjusted within their family; a claim is *confirmed* when its adjusted p is at most "
        f"{design['alpha']:g} and the estimate points the claimed way, *refuted* when it points the other way, "
        "*undetermined* otherwise. An undetermined claim gives the seeds per variant that would give 80% power, at "
        f"Holm's first-step level, for a true rate {design['rate_threshold'] + effect['rate_above_threshold']:g} "
        f"(rate claims), two rates {effect['rate_difference']:g} apart (contrasts), or a mean difference of "
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


def settled_text(row: dict) -> str:
    """'look 1 (5 seeds per variant)', 'not settled after 3 looks (20 seeds)'."""
    if pd.isna(row.get("settled_at_look")):
        looks = int(row.get("looks_taken") or 1)
        seeds = "" if pd.isna(row.get("n_seeds")) else f" ({int(row['n_seeds'])} seeds)"
        return f"not settled after {looks} look{'s' if looks > 1 else ''}{seeds}"
    return f"look {int(row['settled_at_look'])} ({int(row['settled_with_seeds'])} seeds per variant)"


def saturation_note(config: dict) -> str:
    threshold = config["diagnostics"]["saturation"]
    return (
        f"A sigmoid unit counts as saturated when its output is below {threshold} or above {1 - threshold:g}, "
        f"where its derivative is below {threshold * (1 - threshold):.3g}."
    )


# The first screen and the claims' evidence, as HTML the notebook displays.
VERDICT_MARKS = {"confirmed": "✓", "refuted": "✗", "undetermined": "?"}
REPORT_CSS = """<style>
.study-first { display: flex; gap: 1.5em; align-items: flex-start; }
.study-first ol { flex: 1 1 45%; margin: 0; padding-left: 1.6em; }
.study-first li { margin: 0.15em 0; }
.study-first figure { flex: 1 1 55%; margin: 0; }
.verdict { font-weight: bold; white-space: nowrap; }
.verdict.confirmed { color: #0072B2; } .verdict.refuted { color: #D55E00; } .verdict.undetermined { color: #555; }
details { margin: 0.4em 0; } details > summary { cursor: pointer; }
details > div, details > pre { margin: 0.4em 0 0.8em 1.4em; }
figcaption { font-style: italic; color: #333; }
</style>"""


def escape(text) -> str:
    return html.escape(cell_text(text))


def value_range(values, fmt: str = "g") -> str:
    """'0.25' or '0.25-1' over the distinct values, '' when there are none."""
    values = sorted({float(v) for v in values if not pd.isna(v)})
    if not values:
        return ""
    low, high = (f"{v:{fmt}}" for v in (values[0], values[-1]))
    return low if low == high else f"{low}–{high}"


def run_sentence(summary: pd.DataFrame, provenance: dict) -> str:
    """What ran here beside what the lecture ran, in one sentence each (HTML)."""
    seeds = sorted({int(s) for text in summary["seeds"] for s in str(text).split()})
    precisions = sorted({t["precision"] for t in provenance["training"]})
    images = value_range(summary["train_images"], ",.0f")
    names = summary["optimizer"] if "optimizer" in summary else pd.Series(["adam"])
    optimizers = "/".join(OPTIMIZER_NAMES[name] for name in dict.fromkeys(names))
    ours = (
        f"{', '.join(dict.fromkeys(summary['dataset']))}, {images} training images a dataset; "
        f"{len(summary)} variants, {value_range(summary['n_seeds'])} seeds each (seeds {seeds[0]}–{seeds[-1]}); "
        f"width {value_range(summary['width'])}, {optimizers} lr {value_range(summary['learning_rate'])}, "
        f"batch {value_range(summary['batch_size'])}, {value_range(summary['epochs'])} epochs; "
        f"{', '.join(precisions)} on {'; '.join(provenance['devices'])}"
    )
    lecture = (
        f"one run of each model, width {value_range(summary['lecture_width'])}, Adam lr "
        f"{value_range(summary['lecture_learning_rate'])}, batch {value_range(summary['lecture_batch_size'])}, the "
        f"whole training set, {value_range(summary['lecture_epochs'])} epochs; its hardware is not stated"
    )
    return f"<p><b>What ran here:</b> {html.escape(ours)}.<br><b>What the lecture ran:</b> {html.escape(lecture)}.</p>"


def verdict_html(verdict: str, protocol: str = "") -> str:
    label = f"{VERDICT_MARKS.get(verdict, '')} {verdict}" + (" (exploratory)" if protocol == "exploratory" else "")
    return f'<span class="verdict {html.escape(verdict)}">{html.escape(label)}</span>'


def ladder_html(claims: pd.DataFrame) -> str:
    """The lecture's ladder, one numbered line per claim in the config's order: its verdict as a symbol and a
    word, then the claim (its evidence is in the forest plot beside it and under its <details>)."""
    items = [
        f"<li>{verdict_html(r['verdict'], r.get('protocol', ''))} {html.escape(r['claim'])}</li>"
        for r in claims.to_dict("records")
    ]
    return '<ol class="ladder">' + "".join(items) + "</ol>"


def forest_alt(claims: pd.DataFrame) -> str:
    """The forest plot in words, for a reader who cannot see it."""
    counts = ", ".join(f"{n} {verdict}" for verdict, n in claims["verdict"].value_counts().items())
    lines = [f"{i}. {r['claim']}: {r['evidence'] or 'no estimate'}, {r['verdict']}" for i, r in numbered(claims)]
    return f"Forest plot of the {len(claims)} claims ({counts}). " + "; ".join(lines) + "."


def numbered(claims: pd.DataFrame):
    return enumerate(claims.fillna({"evidence": ""}).to_dict("records"), start=1)


def first_screen(summary: pd.DataFrame, claims: pd.DataFrame, provenance: dict, forest_html: str) -> str:
    """What a reader sees first: what ran beside what the lecture ran, whether the protocol held, the story's
    verdict, and the ladder of claims beside their forest plot."""
    return (
        REPORT_CSS
        + run_sentence(summary, provenance)
        + markdown_html(protocol_note(provenance.get("protocol")))
        + f"<p><b>{html.escape(story_sentence(claims))}</b></p>"
        + f'<div class="study-first">{ladder_html(claims)}{forest_html}</div>'
    )


def markdown_html(text: str) -> str:
    """Markdown (the notes' **bold**, `code`, lists) as HTML, for notes placed inside HTML blocks."""
    return mistune.html(text)


def seed_table(claim: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """Every run a claim was judged on: the claim's net and its baseline, seed by seed."""
    # one seed is read as a number (1.0), several as text ("1 2")
    seeds = [] if pd.isna(claim["seeds"]) else [int(float(seed)) for seed in str(claim["seeds"]).split()]
    nets = {claim["variant"]: "the claim's net"}
    if isinstance(claim.get("baseline"), str):
        nets[claim["baseline"]] = "baseline"
    part = pd.concat([runs[(runs["variant"] == net) & runs["seed"].isin(seeds)].sort_values("seed") for net in nets])
    return pd.DataFrame(
        {
            "net": part["variant"] + " (" + part["variant"].map(nets) + ")",
            "seed": part["seed"],
            "outcome": part["outcome"],
            "cause": part["cause"],
            "left the plateau at step": part["plateau_exit_step"].map(step_text),
            "final train loss": part["final_train_loss"],
            "final train acc": part["final_train_accuracy"],
            "final val acc": part["final_val_accuracy"],
        }
    )


def claim_details(claims: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Each claim folded: its verdict in the summary line; its test, family, p, evidence, looks, power, a
    table of its runs seed by seed and the reason in one sentence inside."""
    blocks = []
    for i, r in numbered(claims):
        facts = [
            ("test", r["test"]),
            ("family", f"{r['family']} (Holm over {cell_text(r.get('family_tests'))} tests)"),
            ("Holm-adjusted p", format_p(r["p_adjusted"]) or "not tested"),
            ("evidence (95% interval)", r["evidence"]),
            ("lecture reports", r["lecture"]),
        ]
        if "settled_at_look" in r:
            facts.append(("settled at", settled_text(r)))
        if not pd.isna(r.get("seeds_needed")):
            facts.append(("seeds for 80% power", f"{int(r['seeds_needed'])} per variant, at {r['power_at']}"))
        rows = "".join(f"<li><b>{name}:</b> {escape(value)}</li>" for name, value in facts if cell_text(value))
        blocks.append(
            f"<details><summary>{i}. {verdict_html(r['verdict'], r.get('protocol', ''))} "
            f"{html.escape(r['claim'])}</summary><div><ul>{rows}</ul>"
            f"{styled(seed_table(r, runs)).to_html()}<p><b>Why:</b> {escape(r['reason'])}</p></div></details>"
        )
    return "".join(blocks)


def folded(title: str, body: str) -> str:
    """``body`` (HTML) under a <details> a reader opens."""
    return f"<details><summary>{html.escape(title)}</summary><div>{body}</div></details>"


def config_yaml(config: dict) -> str:
    """The config as YAML, lists of numbers on one line, folded under a <details>."""
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
    return (
        "<details><summary>The configuration this run resolved (YAML, every layer merged)</summary>"
        f"<pre>{html.escape(text)}</pre></details>"
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


def sources_table(provenance: dict) -> pd.DataFrame:
    """Each dataset file the run read, with its digest and how much of the dataset was used."""
    return pd.DataFrame(
        [
            {
                "dataset": name,
                "file": file,
                "sha256": digest["sha256"],
                "subset": ", ".join(f"{split} {count:,}" for split, count in data["subset"].items()) or "whole",
                "train images used": sum(data["train_class_counts"]),
                "validation images used": sum(data["val_class_counts"]),
            }
            for name, data in provenance["data"].items()
            for file, digest in data["sources"].items()
        ]
    )
