"""Collect every run's recorded facts into the study's tables, judging each run on the way (outcome, cause)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from study.analysis.calibration import calibration_table
from study.analysis.claims import CLAIM_COLUMNS, claims_frame
from study.analysis.fixes import fixes_table
from study.analysis.looks import looks_table, settled_at
from study.analysis.outcomes import judge_preflight, judge_run
from study.analysis.statistics import mean_interval
from study.layout import RUN_FACTS
from study.protocol import protocol_status

SUMMARY_METRICS = ["final_train_accuracy", "final_val_accuracy", "best_val_accuracy"]


def mean_std_ci(values) -> dict[str, float]:
    """Mean, sample standard deviation and 95% t-interval half-width across seeds."""
    values = np.asarray(values, dtype=float)
    estimate = mean_interval(values)
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return {"mean": estimate.value, "std": std, "ci95": estimate.high - estimate.value}


RUN_TABLES = tuple(name for name in RUN_FACTS if name.endswith(".csv"))


class OldRunError(ValueError):
    """A run's files were written by a version of the study that recorded other facts."""


def read_run(run_dir: str | os.PathLike) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A run's metrics.json, and its history, steps and diagnostics tables by file name."""
    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tables = {name: pd.read_csv(run_dir / name) for name in RUN_TABLES}
    if "classes" not in metrics or "train_accuracy" not in tables["history.csv"]:
        raise OldRunError(f"{run_dir} was trained by an older version of the study; delete it and rerun")
    return metrics, tables


def read_runs(run_dirs: list[str | os.PathLike], thresholds: dict) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Every run's metrics with its judgement (``thresholds``: the config's ``outcomes``), and its history, steps
    and diagnostics tables in long format, by file name."""
    records, tables = [], {name: [] for name in RUN_TABLES}
    for run_dir in run_dirs:
        m, own = read_run(run_dir)
        judged = judge_run(
            own["history.csv"],
            own["steps.csv"],
            own["diagnostics.csv"],
            m["classes"],
            thresholds,
            m["run"]["spec"].get("activation", "relu"),
            m.get("dead_runs", {}).get("stopped"),
        )
        records.append(m | judged)
        for name, table in own.items():
            table.insert(0, "seed", m["seed"])
            table.insert(0, "variant", m["variant"])
            tables[name].append(table)
    return records, {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}


def shares(values: list[str]) -> str:
    """'learns 2/3, stuck 1/3': every value with its share of seeds, most common first."""
    counts = pd.Series(values).value_counts()
    return ", ".join(f"{value} {count}/{len(values)}" for value, count in counts.items())


def summarize(metrics: list[dict], variants: dict) -> pd.DataFrame:
    """One row per variant: statistics across seeds beside the lecture's numbers."""
    rows = []
    by_variant: dict[str, list[dict]] = {}
    for m in metrics:
        by_variant.setdefault(m["variant"], []).append(m)
    for name, runs in by_variant.items():
        runs = sorted(runs, key=lambda m: m["seed"])
        lecture = variants[name].get("lecture", {})
        row = {
            "variant": name,
            "dataset": runs[0]["dataset"],
            "n_seeds": len(runs),
            "seeds": " ".join(str(m["seed"]) for m in runs),
            "epochs": runs[0]["epochs"],
            "steps": int(np.mean([m["steps"] for m in runs])),
        }
        for metric in SUMMARY_METRICS:
            for stat, value in mean_std_ci([m[metric] for m in runs]).items():
                row[f"{metric}_{stat}"] = value
        row["final_train_loss_mean"] = float(np.mean([m["final_train_loss"] for m in runs]))
        row["classes"] = runs[0]["classes"]
        row["outcome"] = pd.Series([m["outcome"] for m in runs]).mode().iloc[0]
        row["outcomes"] = shares([m["outcome"] for m in runs])
        row["causes"] = shares([m["cause"] for m in runs])
        row["params"] = runs[0]["params"]
        row["seconds_per_epoch"] = float(np.mean([m["seconds_per_epoch"] for m in runs]))
        row["lecture_train_accuracy"] = lecture.get("train_accuracy", math.nan)
        row["lecture_val_accuracy"] = lecture.get("val_accuracy", math.nan)
        row["lecture_epochs"] = lecture.get("epochs", math.nan)
        row["lecture_says"] = lecture.get("says", "")
        spec = runs[0]["run"]["spec"]
        row |= {"width": spec["width"], "learning_rate": spec["learning_rate"], "batch_size": spec["batch_size"]}
        row["optimizer"] = spec.get("optimizer", {}).get("name", "adam")
        row["train_images"] = runs[0]["train_images"]
        row |= {f"lecture_{key}": lecture.get(key, math.nan) for key in ("width", "learning_rate", "batch_size")}
        rows.append(row)
    order = {name: i for i, name in enumerate(variants)}
    return pd.DataFrame(rows).sort_values("variant", key=lambda s: s.map(order)).reset_index(drop=True)


def _distinct(records: list[dict]) -> list[dict]:
    return [json.loads(text) for text in sorted({json.dumps(r, sort_keys=True) for r in records})]


def device_name(device: dict) -> str:
    """'CPU: Intel(R) Xeon(R) Processor (2 cores)', 'GPU: NVIDIA H200 (1)'."""
    count = f"{device['count']} cores" if device["type"] == "CPU" else str(device["count"])
    return f"{device['type']}: {device['name']} ({count})"


def provenance(metrics: list[dict], config: dict, configfiles: list[str], commit: str) -> dict:
    """What a reader needs to trust and rerun the study; ``configfiles``: the config layers given to Snakemake."""
    return {
        "git_commit": commit,
        "configfiles": [str(path) for path in configfiles],
        "training_commits": sorted({m["git_commit"] for m in metrics}),
        "versions": _distinct([m["versions"] for m in metrics]),
        "devices": sorted({device_name(m["device"]) for m in metrics}),
        "training": _distinct([m["run"]["training"] | m["runtime"] for m in metrics]),
        "data": {m["dataset"]: m["data"] | {"subset": m["run"]["subset"]} for m in metrics},
        "config": config,
    }


RUN_COLUMNS = [
    "variant",
    "seed",
    "dataset",
    "classes",
    "outcome",
    "cause",
    "plateau_exit_step",
    "steps",
    "gradient_ratio",
    "gradient_scale",
    "dead_fraction",
    "saturated_fraction",
    "batchnorm_lag",
    "final_train_accuracy",
    "final_train_loss",
    "final_val_accuracy",
    "final_val_loss",
    "best_val_accuracy",
    "seconds_per_epoch",
]


def runs_table(metrics: list[dict]) -> pd.DataFrame:
    """One row per run: what it is, how it was judged, and its final metrics."""
    return pd.DataFrame([{k: m[k] for k in RUN_COLUMNS} for m in metrics]).astype({"plateau_exit_step": "Int64"})


@dataclass
class StudyFacts:
    """What the aggregate rule's tables are made from: the study's runs (its final look's) judged, with their
    history, steps and diagnostics, its stability check's runs, every look taken in order, the pre-flight
    checks, the protocol written first, the config, and what the tables were made with (the config layers and
    the commit). Each table of ``study.layout.TABLES`` made by aggregate is a function of it, and each fact is
    computed once."""

    metrics: list[dict]
    run_tables: dict[str, pd.DataFrame]
    stability_metrics: list[dict]
    looks: list[dict]
    preflights: list[dict]
    frozen: dict | None
    config: dict
    made_with: dict

    @classmethod
    def read(
        cls, run_dirs, stability_run_dirs, look_jsons, preflight_jsons, protocol_json, config, configfiles, commit
    ) -> StudyFacts:
        metrics, run_tables = read_runs(run_dirs, config["outcomes"])
        stability = read_runs(stability_run_dirs, config["outcomes"])[0] if stability_run_dirs else []
        looks = [json.loads(Path(path).read_text()) for path in look_jsons]
        preflights = [json.loads(Path(path).read_text()) for path in preflight_jsons]
        # a study published from outside the workflow carries no protocol: its verdicts are then exploratory
        protocol = json.loads(Path(protocol_json).read_text()) if Path(protocol_json).exists() else None
        made_with = {"configfiles": configfiles, "commit": commit}
        return cls(metrics, run_tables, stability, looks, preflights, protocol, config, made_with)

    @cached_property
    def runs(self) -> pd.DataFrame:
        return runs_table(self.metrics)

    @cached_property
    def standing(self) -> dict:
        return protocol_status(self.frozen, self.config, [m.get("protocol_sha256") for m in self.metrics])

    @cached_property
    def claims(self) -> pd.DataFrame:
        """The claims as the final look judged them (study.analysis.looks records every column), with when each
        was settled and under which protocol."""
        looks = self.looks
        recorded = {key for claim in looks[-1]["claims"] for key in claim}
        if looks[-1]["claims"] and not set(CLAIM_COLUMNS) <= recorded:
            raise OldRunError(
                f"look {looks[-1]['look']} was judged by an older version of the study, which kept only the "
                "verdicts; delete the study's looks/ folder and rerun (no run is retrained)"
            )
        claims = claims_frame(looks[-1]["claims"])
        claims["settled_at_look"] = claims["claim"].map(settled_at(looks)).astype("Int64")
        seeds_at = {look["look"]: look["seeds_per_variant"] for look in looks}
        claims["settled_with_seeds"] = claims["settled_at_look"].map(seeds_at).astype("Int64")
        claims["looks_taken"] = len(looks)
        claims["protocol"] = "confirmatory" if self.standing["fixed"] else "exploratory"
        return claims

    @cached_property
    def preflight(self) -> pd.DataFrame:
        return pd.DataFrame([judge_preflight(record, self.config["preflight"]) for record in self.preflights])


def summary_table(facts: StudyFacts) -> pd.DataFrame:
    return summarize(facts.metrics, facts.config["variants"])


def looks_of_study(facts: StudyFacts) -> pd.DataFrame:
    return looks_table(facts.looks)


def epochs_table(facts: StudyFacts) -> pd.DataFrame:
    return facts.run_tables["history.csv"]


def steps_table(facts: StudyFacts) -> pd.DataFrame:
    return facts.run_tables["steps.csv"]


def diagnostics_table(facts: StudyFacts) -> pd.DataFrame:
    return facts.run_tables["diagnostics.csv"]


def fixes_of_study(facts: StudyFacts) -> pd.DataFrame:
    return fixes_table(facts.runs, facts.run_tables["steps.csv"], facts.config.get("fix_ranking"), facts.claims)


def preflight_of_study(facts: StudyFacts) -> pd.DataFrame:
    return facts.preflight


def calibration_of_study(facts: StudyFacts) -> pd.DataFrame:
    return calibration_table(facts.preflight, facts.runs)


def provenance_of_study(facts: StudyFacts) -> dict:
    made_with = facts.made_with
    record = provenance(facts.metrics, facts.config, made_with["configfiles"], made_with["commit"])
    return record | {"protocol": facts.standing}


def write_tables(tables, facts, out: dict) -> None:
    """Make each of ``tables`` (study.layout.Table) from ``facts`` and write it to its path in ``out``: a
    DataFrame as CSV, a record as JSON."""
    for table in tables:
        made = table.maker()(facts)
        if table.suffix == "json":
            Path(out[table.name]).write_text(json.dumps(made, indent=2) + "\n")
        else:
            made.to_csv(out[table.name], index=False)
