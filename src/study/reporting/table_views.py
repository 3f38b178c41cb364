"""The study's tables as the report shows them: columns renamed for readers, values formatted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from study.analysis.sensitivity import ALL_CELLS
from study.reporting.cells import clauses, interval_text, mean_pm_std, plural, step_text
from study.reporting.claim_words import format_p
from study.specs import OPTIMIZER_NAMES


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


def lecture_cell_view(runs: pd.DataFrame) -> pd.DataFrame:
    """The lecture's cell run by run: outcome and why, where it stopped, accuracies and time."""
    columns = {
        "variant": "variant",
        "seed": "seed",
        "outcome": "outcome",
        "outcome_reason": "why",
        "steps": "steps trained",
        "final_train_accuracy": "train accuracy",
        "final_val_accuracy": "validation accuracy",
        "wall_seconds": "seconds",
    }
    return runs[list(columns)].rename(columns=columns)


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
