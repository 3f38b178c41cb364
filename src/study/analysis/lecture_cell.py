"""The lecture's own cell (config ``lecture_cell``): its runs one by one, judged as the study's runs are.

The lecture's setting of a few variants (its width, learning rate and data) on seeds of their own. A few seeds
describe what happens there; they confirm nothing, so the cell has no claims and no p-values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from study.analysis.tables import read_runs
from study.layout import split_cell_variant
from study.specs import planned_steps

LECTURE_CELL_COLUMNS = [
    "variant",
    "seed",
    "width",
    "learning_rate",
    "batch_size",
    "train_images",
    "planned_steps",
    "steps",
    "outcome",
    "cause",
    "plateau_exit_step",
    "ended_dead_at_step",
    "dead_layer",
    "final_train_loss",
    "final_train_accuracy",
    "final_val_accuracy",
    "wall_seconds",
    "precision",
    "device",
]


@dataclass
class LectureCellFacts:
    """The cell's runs, judged (their metrics with outcome, cause and the facts they were decided on)."""

    metrics: list[dict]
    config: dict

    @classmethod
    def read(cls, run_dirs: list[str], config: dict) -> LectureCellFacts:
        return cls(read_runs(run_dirs, config["outcomes"])[0] if run_dirs else [], config)


def lecture_cell_row(m: dict) -> dict:
    spec, stopped = m["run"]["spec"], m["dead_runs"]["stopped"] or {}
    return {
        "variant": split_cell_variant(m["variant"])[0],
        "seed": m["seed"],
        **{key: spec[key] for key in ("width", "learning_rate", "batch_size")},
        "train_images": m["train_images"],
        "planned_steps": planned_steps(spec, m["train_images"]),
        "steps": m["steps"],
        "outcome": m["outcome"],
        "cause": m["cause"],
        "plateau_exit_step": m["plateau_exit_step"],
        "ended_dead_at_step": stopped.get("step"),
        "dead_layer": stopped.get("layer"),
        **{key: m[key] for key in ("final_train_loss", "final_train_accuracy", "final_val_accuracy")},
        "wall_seconds": m["wall_seconds"],
        "precision": m["run"]["training"]["precision"],
        "device": m["device"]["name"],
    }


def ordered_runs(facts: LectureCellFacts) -> list[dict]:
    """The cell's judged runs in the config's order of variants, then by seed."""
    order = {name: i for i, name in enumerate(facts.config["lecture_cell"]["variants"])}
    return sorted(facts.metrics, key=lambda m: (order[split_cell_variant(m["variant"])[0]], m["seed"]))


def lecture_cell_table(facts: LectureCellFacts) -> pd.DataFrame:
    """One row per run of the lecture's cell, in `ordered_runs`' order."""
    rows = pd.DataFrame([lecture_cell_row(m) for m in ordered_runs(facts)], columns=LECTURE_CELL_COLUMNS)
    return rows.astype({"plateau_exit_step": "Int64", "ended_dead_at_step": "Int64"})
