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
from study.analysis.sensitivity import ALL_CELLS
from study.analysis.stability import stability_summary
from study.analysis.statistics import CONFIDENCE, POWER
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


def plural(count, noun: str) -> str:
    """'1 epoch', '2 epochs', '10,000 images'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def clauses(*parts: str) -> str:
    """The parts that say something, joined by commas: a missing value leaves its clause out."""
    return ", ".join(part for part in parts if part)


def recipe_text(width, learning_rate, batch_size, images: str, epochs, optimizer: str = "adam") -> str:
    """'width 0.25, Adam lr 0.002, batch 256, 10,000 images, 8 epochs', each clause only where its value is
    given; '' when no number of the recipe is (a variant the lecture does not train)."""
    if all(pd.isna(value) for value in (width, learning_rate, batch_size, epochs)):
        return ""
    name = OPTIMIZER_NAMES.get(optimizer if isinstance(optimizer, str) else "adam", str(optimizer))
    return clauses(
        "" if pd.isna(width) else f"width {width:g}",
        "" if pd.isna(learning_rate) else f"{name} lr {learning_rate:g}",
        "" if pd.isna(batch_size) else f"batch {int(batch_size)}",
        images,
        "" if pd.isna(epochs) else plural(int(epochs), "epoch"),
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
                    plural(int(r["train_images"]), "image"),
                    r["epochs"],
                    r.get("optimizer", "adam"),
                )
                + f" ({plural(int(r['steps']), 'step')})",
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


# The tables the report notebook reads, each its parameter NAME_csv.
REPORT_TABLES = (
    "summary",
    "claims",
    "runs",
    "epochs",
    "steps",
    "fixes",
    "diagnostics",
    "preflight",
    "preflight_calibration",
    "params",
    "stability",
    "sensitivity",
    "sensitivity_claims",
)


def render_report(
    notebook: str | os.PathLike,
    executed: str | os.PathLike,
    html: str | os.PathLike,
    tables: dict[str, str | os.PathLike],
    provenance_json: str | os.PathLike,
    stats_jsons: list[str | os.PathLike],
    figures_dir: str | os.PathLike,
    log_output: bool = False,
) -> None:
    """Run the report ``notebook`` with papermill on ``tables`` (a path per name of REPORT_TABLES), saving it as
    ``executed`` (figures to ``figures_dir``), and export it as ``html``."""
    import papermill

    def resolved(path) -> str:
        return str(Path(path).resolve())

    parameters = {f"{name}_csv": resolved(tables[name]) for name in REPORT_TABLES} | {
        "provenance_json": resolved(provenance_json),
        "stats_jsons": [resolved(path) for path in stats_jsons],
        "figures_dir": resolved(figures_dir),
    }
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(Path(executed).parent.resolve()),
        log_output=log_output,
    )
    export_html(executed, html)


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


# Verdicts a claim gets without a test: shown apart from the tested ones, never counted among them.
NOT_TESTABLE = "not testable"  # its measure cannot reach its threshold at this profile; outside the Holm family
NOT_RUN = "not run"  # a variant it names was not trained in this study
APART = {NOT_TESTABLE: "not testable at this profile", NOT_RUN: "not run in this study"}
LECTURE_FAMILY = "lecture"


def family_of(claims: pd.DataFrame) -> pd.Series:
    """Each claim's family; the lecture's where the table names none."""
    if "family" not in claims:
        return pd.Series(LECTURE_FAMILY, index=claims.index)
    return claims["family"].fillna(LECTURE_FAMILY).astype(str)


def family_name(family: str) -> str:
    """'the lecture's story' for the lecture's claims, 'family he2015' for a family a user's config adds."""
    return "the lecture's story" if family == LECTURE_FAMILY else f"family {family}"


def families(claims: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The claims family by family, in the order the config first names each."""
    return list(claims.groupby(family_of(claims), sort=False))


def apart_text(claims: pd.DataFrame) -> str:
    """'1 not testable at this profile, 8 not run in this study'; '' when every claim was tested."""
    counts = claims["verdict"].value_counts()
    return ", ".join(f"{counts[verdict]} {words}" for verdict, words in APART.items() if verdict in counts)


def story_sentence(family: str, claims: pd.DataFrame) -> str:
    """Whether one family of claims reproduces: only when every one of its claims is confirmed. Claims not
    testable or not run are not counted among those tested, and are named apart."""
    name = family_name(family)
    subject = "the story" if family == LECTURE_FAMILY else "it"
    tested = claims[~claims["verdict"].isin(APART)]
    confirmed = int((tested["verdict"] == "confirmed").sum())
    apart = apart_text(claims)
    shown_apart = f" Shown apart: {apart}." if apart else ""
    if confirmed == len(claims):
        every = {1: "The one claim", 2: "Both claims"}.get(confirmed, f"All {confirmed} claims")
        verb = "is" if confirmed == 1 else "are"
        return f"{every} of {name} {verb} confirmed: {subject} reproduces here."
    if tested.empty:
        none = "The one claim of {} was not" if len(claims) == 1 else f"None of the {len(claims)} claims of {{}} was"
        return f"{none.format(name)} tested here.{shown_apart}"
    title = name[0].upper() + name[1:]
    if confirmed == len(tested):
        every = "the one claim tested is" if confirmed == 1 else f"all {confirmed} claims tested are"
        return (
            f"{title}: {every} confirmed, but not every claim could be tested, so this run reproduces {subject} "
            f"only in part.{shown_apart}"
        )
    others = tested.loc[tested["verdict"] != "confirmed", "verdict"].value_counts()
    rest = ", ".join(f"{count} {verdict}" for verdict, count in others.items())
    verb = "is" if confirmed == 1 else "are"
    return (
        f"{title}: {confirmed} of the {plural(len(tested), 'claim')} tested {verb} confirmed ({rest}), so this "
        f"run does not reproduce {subject} in full; each claim's details below say what it would take.{shown_apart}"
    )


def story_sentences(claims: pd.DataFrame) -> list[str]:
    """One story sentence per family of claims, in the config's order."""
    return [story_sentence(family, part) for family, part in families(claims)]


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


def map_trends(claims: pd.DataFrame) -> pd.DataFrame:
    """The map's own claims, its pre-registered trend tests (cell 'all'), apart from the claims by cell."""
    return claims[claims["cell"] == ALL_CELLS]


def sensitivity_view(claims: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Where each claim holds: one row per claim, one column per cell of the map, each its verdict there."""
    claims = claims[claims["cell"] != ALL_CELLS]
    cell = [cell_label(row, keys) for row in claims.to_dict("records")]
    shown = claims.assign(
        cell=cell, shown=[f"{v} ({e})" for v, e in zip(claims["verdict"], claims["evidence"], strict=True)]
    )
    return shown.pivot(index="claim", columns="cell", values="shown").reindex(columns=list(dict.fromkeys(cell)))


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
VERDICT_MARKS = {"confirmed": "✓", "refuted": "✗", "undetermined": "?", NOT_TESTABLE: "⊘", NOT_RUN: "○"}
# Okabe-Ito blue, vermillion and reddish purple; greys for the undetermined and the claims not run.
REPORT_CSS = """<style>
.study-first { display: flex; gap: 1.5em; align-items: flex-start; }
.study-first .ladders { flex: 1 1 45%; }
.study-first ol { margin: 0; padding-left: 1.6em; }
.study-first li { margin: 0.15em 0; }
.study-first figure { flex: 1 1 55%; margin: 0; }
.study-first .family { font-weight: bold; margin: 0.6em 0 0.2em 0; }
.study-first .reason { color: #333; font-size: smaller; }
.verdict { font-weight: bold; white-space: nowrap; }
.verdict.confirmed { color: #0072B2; } .verdict.refuted { color: #D55E00; } .verdict.undetermined { color: #555; }
.verdict.not-testable { color: #CC79A7; } .verdict.not-run { color: #888; font-weight: normal; }
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


def counted_range(values, noun: str, fmt: str = "g") -> str:
    """'1 epoch', '2 epochs', '2–3 epochs' over the distinct values; '' when there are none."""
    text = value_range(values, fmt)
    return f"{text} {noun}" + ("" if text in ("", "1") else "s") if text else ""


def labelled_range(label: str, values) -> str:
    """'width 0.25-1'; '' when no value is given."""
    text = value_range(values)
    return f"{label} {text}" if text else ""


def run_sentence(summary: pd.DataFrame, provenance: dict) -> str:
    """What ran here beside what the lecture ran, in one sentence each (HTML); a value missing for every
    variant leaves its clause out."""
    seeds = sorted({int(float(s)) for text in summary["seeds"] for s in str(text).split()})
    precisions = sorted({t["precision"] for t in provenance["training"]})
    names = summary["optimizer"] if "optimizer" in summary else pd.Series(["adam"])
    optimizers = "/".join(OPTIMIZER_NAMES.get(name, str(name)) for name in dict.fromkeys(names.fillna("adam")))
    images = counted_range(summary["train_images"], "training image", ",.0f")
    seed_list = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}" if seeds else ""
    ours = "; ".join(
        [
            clauses(", ".join(dict.fromkeys(summary["dataset"])), images and f"{images} a dataset"),
            clauses(
                plural(len(summary), "variant"),
                counted_range(summary["n_seeds"], "seed") + (f" each ({seed_list})" if seed_list else ""),
            ),
            clauses(
                labelled_range("width", summary["width"]),
                labelled_range(f"{optimizers} lr", summary["learning_rate"]),
                labelled_range("batch", summary["batch_size"]),
                counted_range(summary["epochs"], "epoch"),
            ),
            f"{', '.join(precisions)} on {'; '.join(provenance['devices'])}",
        ]
    )
    lecture = clauses(
        "one run of each model",
        labelled_range("width", summary["lecture_width"]),
        labelled_range("Adam lr", summary["lecture_learning_rate"]),
        labelled_range("batch", summary["lecture_batch_size"]),
        "the whole training set",
        counted_range(summary["lecture_epochs"], "epoch"),
    )
    return (
        f"<p><b>What ran here:</b> {html.escape(ours)}.<br><b>What the lecture ran:</b> {html.escape(lecture)}; "
        "its hardware is not stated.</p>"
    )


def verdict_html(verdict: str, protocol: str = "") -> str:
    """The verdict as a symbol and a word; a tested one marked '(exploratory)' when its protocol was."""
    exploratory = protocol == "exploratory" and verdict not in APART
    label = f"{VERDICT_MARKS.get(verdict, '')} {verdict}" + (" (exploratory)" if exploratory else "")
    return f'<span class="verdict {html.escape(verdict.replace(" ", "-"))}">{html.escape(label)}</span>'


def ladder_item(number: int, claim: dict) -> str:
    """One claim of the ladder, numbered as in the forest plot and the details; with its reason when it was
    not tested."""
    reason = claim.get("reason")
    why = (
        f' <span class="reason">({html.escape(reason)})</span>'
        if claim["verdict"] in APART and isinstance(reason, str) and reason
        else ""
    )
    return (
        f'<li value="{number}">{verdict_html(claim["verdict"], claim.get("protocol", ""))} '
        f"{html.escape(claim['claim'])}{why}</li>"
    )


def ladder_html(claims: pd.DataFrame) -> str:
    """The ladder, family by family, one numbered line per claim in the config's order: its verdict as a symbol
    and a word, then the claim (its evidence is in the forest plot beside it and under its <details>). The
    claims not testable at this profile and those not run are listed apart, folded, with their reasons."""
    items = list(numbered(claims))
    family = family_of(claims).tolist()
    several = len(set(family)) > 1
    blocks = []
    for name in dict.fromkeys(family):
        mine = [(i, r) for i, r in items if family[i - 1] == name]
        title = family_name(name)
        if several:
            blocks.append(f'<p class="family">{html.escape(title[0].upper() + title[1:])}</p>')
        tested = [ladder_item(i, r) for i, r in mine if r["verdict"] not in APART]
        if tested:
            blocks.append('<ol class="ladder">' + "".join(tested) + "</ol>")
        for verdict, words in APART.items():
            apart = [ladder_item(i, r) for i, r in mine if r["verdict"] == verdict]
            if apart:
                blocks.append(
                    f"<details><summary>{len(apart)} {html.escape(words)}</summary>"
                    f'<ol class="apart">{"".join(apart)}</ol></details>'
                )
    return '<div class="ladders">' + "".join(blocks) + "</div>"


def forest_alt(claims: pd.DataFrame) -> str:
    """The forest plot in words, for a reader who cannot see it: the claims it plots, and those it leaves out
    as untested."""
    shown = [(i, r) for i, r in numbered(claims) if r["verdict"] not in APART]
    counts = ", ".join(
        f"{n} {verdict}" for verdict, n in pd.Series([r["verdict"] for _, r in shown]).value_counts().items()
    )
    lines = [f"{i}. {r['claim']}: {r['evidence'] or 'no estimate'}, {r['verdict']}" for i, r in shown]
    text = f"Forest plot of the {plural(len(shown), 'tested claim')}" + (f" ({counts}). " if shown else ".")
    text += "; ".join(lines) + ("." if lines else "")
    left_out = untested_numbers(claims)
    return text + (f" Not plotted, without an estimate: claims {'; '.join(left_out)}." if left_out else "")


def number_ranges(numbers: list[int]) -> str:
    """'3, 5–12': runs of consecutive numbers as ranges."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def untested_numbers(claims: pd.DataFrame) -> list[str]:
    """'3 (not testable)', '5–12 (not run)': the numbers of the claims without a test, by verdict."""
    return [
        f"{number_ranges([i for i, r in numbered(claims) if r['verdict'] == verdict])} ({verdict})"
        for verdict in APART
        if (claims["verdict"] == verdict).any()
    ]


def numbered(claims: pd.DataFrame):
    """The claims as records numbered from 1 in the config's order: the numbers of the ladder, the forest plot
    and the details."""
    return enumerate(claims.fillna({"evidence": ""}).to_dict("records"), start=1)


def first_screen(summary: pd.DataFrame, claims: pd.DataFrame, provenance: dict, forest_html: str) -> str:
    """What a reader sees first: what ran beside what the lecture ran, whether the protocol held, each family's
    verdict, and the ladder of claims beside their forest plot."""
    return (
        REPORT_CSS
        + run_sentence(summary, provenance)
        + markdown_html(protocol_note(provenance.get("protocol")))
        + "".join(f"<p><b>{html.escape(sentence)}</b></p>" for sentence in story_sentences(claims))
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
        family = r.get("family") if isinstance(r.get("family"), str) else LECTURE_FAMILY
        holm = (
            f"left out of its Holm family: {r['verdict']}"
            if r["verdict"] in APART
            else f"Holm over {cell_text(r.get('family_tests'))} tests"
        )
        facts = [
            ("test", r["test"]),
            ("family", f"{family} ({holm})"),
            ("Holm-adjusted p", format_p(r["p_adjusted"]) or "not tested"),
            ("evidence (interval at the level Holm tests it at)", r["evidence"]),
            ("lecture reports", r["lecture"]),
        ]
        if "settled_at_look" in r:
            facts.append(("settled at", settled_text(r)))
        if not pd.isna(r.get("seeds_needed")):
            facts.append((f"seeds for {POWER:.0%} power", f"{int(r['seeds_needed'])} per variant, at {r['power_at']}"))
        rows = "".join(f"<li><b>{name}:</b> {escape(value)}</li>" for name, value in facts if cell_text(value))
        seeds = seed_table(r, runs)
        blocks.append(
            f"<details><summary>{i}. {verdict_html(r['verdict'], r.get('protocol', ''))} "
            f"{html.escape(r['claim'])}</summary><div><ul>{rows}</ul>"
            f"{styled(seeds).to_html() if len(seeds) else ''}<p><b>Why:</b> {escape(r['reason'])}</p></div></details>"
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
