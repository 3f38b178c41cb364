"""Collect every run's recorded facts into the study's tables, judging each run on the way (outcome, cause)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from study.analysis.calibration import calibration_table
from study.analysis.claims import claims_table
from study.analysis.fixes import fixes_table
from study.analysis.looks import looks_table, settled_at, smallest_p
from study.analysis.outcomes import judge_preflight, judge_run
from study.analysis.stability import STABILITY_COLUMNS, stability_table
from study.analysis.statistics import mean_interval
from study.protocol import protocol_status

SUMMARY_METRICS = ["final_train_accuracy", "final_val_accuracy", "best_val_accuracy"]


def mean_std_ci(values) -> dict[str, float]:
    """Mean, sample standard deviation and 95% t-interval half-width across seeds."""
    values = np.asarray(values, dtype=float)
    estimate = mean_interval(values)
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return {"mean": estimate.value, "std": std, "ci95": estimate.high - estimate.value}


RUN_TABLES = ("history.csv", "steps.csv", "diagnostics.csv")


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


def preflight_table(preflight_jsons: list[str | os.PathLike], settings: dict) -> pd.DataFrame:
    """Every variant's pre-flight checks, judged by the config's ``preflight`` thresholds."""
    return pd.DataFrame([judge_preflight(json.loads(Path(p).read_text()), settings) for p in preflight_jsons])


RUN_COLUMNS = [
    "variant",
    "seed",
    "dataset",
    "classes",
    "outcome",
    "outcome_reason",
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


@dataclass(frozen=True)
class StudyFiles:
    """What the tables are made from: the study's runs (its final look's), its stability check's runs, every
    look taken in order, the pre-flight checks, and the protocol written before the first job."""

    run_dirs: list[str]
    stability_run_dirs: list[str]
    look_jsons: list[str]
    preflight_jsons: list[str]
    protocol_json: str


def write_tables(files: StudyFiles, config: dict, configfiles: list[str], commit: str, out: dict) -> None:
    """Write summary, runs, claims, epochs, steps, diagnostics, fixes, preflight, preflight_calibration,
    stability, looks (CSV) and provenance (JSON) to the paths in ``out``. The claims' p-values are corrected
    over the looks. The stability runs (a second, disjoint seed set) enter only the stability table. The
    claims are confirmatory when the protocol written first is the config's and every run was trained under
    it, and exploratory otherwise."""
    metrics, tables = read_runs(files.run_dirs, config["outcomes"])
    protocol_json = Path(files.protocol_json)
    frozen = json.loads(protocol_json.read_text()) if protocol_json.exists() else None
    standing = protocol_status(frozen, config, [m.get("protocol_sha256") for m in metrics])
    variants = config["variants"]
    summarize(metrics, variants).to_csv(out["summary"], index=False)
    runs = runs_table(metrics)
    runs.to_csv(out["runs"], index=False)
    looks = [json.loads(Path(path).read_text()) for path in files.look_jsons]
    claims = claims_table(config["claims"], runs, variants, config["design"], smallest_p(looks[-1] if looks else None))
    claims["settled_at_look"] = claims["claim"].map(settled_at(looks)).astype("Int64")
    seeds_at = {look["look"]: look["seeds_per_variant"] for look in looks}
    claims["settled_with_seeds"] = claims["settled_at_look"].map(seeds_at).astype("Int64")
    claims["looks_taken"] = len(looks)
    claims["protocol"] = "confirmatory" if standing["fixed"] else "exploratory"
    looks_table(looks).to_csv(out["looks"], index=False)
    claims.to_csv(out["claims"], index=False)
    tables["history.csv"].to_csv(out["epochs"], index=False)
    tables["steps.csv"].to_csv(out["steps"], index=False)
    tables["diagnostics.csv"].to_csv(out["diagnostics"], index=False)
    fixes_table(runs, tables["steps.csv"], config.get("fix_ranking"), claims).to_csv(out["fixes"], index=False)
    preflight = preflight_table(files.preflight_jsons, config["preflight"])
    preflight.to_csv(out["preflight"], index=False)
    calibration_table(preflight, runs).to_csv(out["preflight_calibration"], index=False)
    stability = pd.DataFrame(columns=STABILITY_COLUMNS)
    if files.stability_run_dirs:
        second = runs_table(read_runs(files.stability_run_dirs, config["outcomes"])[0])
        stability = stability_table(runs, second, config)
    stability.to_csv(out["stability"], index=False)
    record = provenance(metrics, config, configfiles, commit) | {"protocol": standing}
    Path(out["provenance"]).write_text(json.dumps(record, indent=2) + "\n")
