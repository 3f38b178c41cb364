"""The study's plan, printed before its first job: jobs per rule, and how long training will take here.

The estimate divides each training job's arithmetic (`study.specs.training_flops`)
by the rate `study.training.bench.throughput` measured for the benchmark model of the nearest size on a
CPU of the same kind (`measured_speeds.csv`), scaled to this machine's cores. It
is a rough guide, not a promise; there is none yet for GPUs.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from study.analysis.looks import planned_looks
from study.config import stability_runs, trained_variants
from study.data.formats import dataset_format
from study.grid import sensitivity_runs, variant_spec
from study.specs import forward_flops, training_flops
from study.training.gpus import gpu_pool
from study.training.runtime import cpu_flags, cpu_name

MEASURED_SPEEDS = Path(__file__).parent / "measured_speeds.csv"
LONG_ON_A_CPU_HOURS = 3


def dataset_facts(config: dict, dataset: str, results: Path | None) -> tuple[tuple[int, ...], int, int]:
    """Image shape, training images and classes of a dataset: from its prepared meta.json, else its format's
    usual."""
    meta = results / "data" / dataset / "meta.json" if results else None
    if meta and meta.exists():
        facts = json.loads(meta.read_text())
        if "classes" in facts:
            return tuple(facts["train"]["shape"]), facts["train"]["images"], facts["classes"]
    typical = dataset_format(config["datasets"][dataset]["format"])
    return typical.shape, typical.train_images, typical.classes


def planned_runs(config: dict, variants: list[str]) -> list[tuple[str, int]]:
    """Every (variant, seed) the study may train: ``variants`` on every seed (all looks taken), its stability
    check's runs of them, and the sensitivity map's cells."""
    runs = [(variant, seed) for variant in variants for seed in config["seeds"]]
    runs += [(variant, seed) for variant, seed in stability_runs(config) if variant in variants]
    return runs + sensitivity_runs(config)


def job_counts(config: dict, variants: list[str]) -> dict[str, int]:
    runs = planned_runs(config, variants)
    trained = {variant for variant, _ in runs} | set(variants)
    datasets = sorted({variant_spec(config, variant)["dataset"] for variant in trained})
    return {
        "download": sum(len(config["datasets"][d]["files"]) for d in datasets),
        "prepare": len(datasets),
        "channel_stats": len(datasets),
        "preflight": len(trained),
        "train": len(runs),
        "look": len(planned_looks(config)),
        "aggregate": 1,
        "sensitivity": 1,
        "params": 1,
        "report": 1,
    }


def speeds_for_this_cpu(training: dict, flags: set[str]) -> pd.DataFrame:
    """The measured rates for a CPU like this one, with the backend and precision its jobs will use."""
    speeds = pd.read_csv(MEASURED_SPEEDS)
    precision = training["precision"]
    if precision == "auto":
        precision = "mixed_bfloat16" if "amx_bf16" in flags else "float32"
    kind = "amx" if "amx_bf16" in flags else "no_amx"
    same = (speeds["cpu"] == kind) & (speeds["precision"] == precision) & (speeds["backend"] == training["backend"])
    return speeds[same]


def training_hours(config: dict, variants: list[str], speeds: pd.DataFrame, results: Path | None) -> float:
    """Hours of training, one job at a time, for every run of ``planned_runs`` still without its metrics.json
    under ``results`` (for all of them without ``results``)."""
    seconds = 0.0
    for variant, seed in planned_runs(config, variants):
        if results and (results / "runs" / variant / f"seed_{seed}" / "metrics.json").exists():
            continue
        spec = variant_spec(config, variant)
        shape, images, classes = dataset_facts(config, spec["dataset"], results)
        images = min(images, config["subset"].get("train", images))
        per_image = forward_flops(spec, shape, classes)
        nearest = speeds.iloc[(speeds["forward_flops"].map(math.log) - math.log(per_image)).abs().argmin()]
        rate = nearest["gflops"] * 1e9 / nearest["cores"] * (os.cpu_count() or 1)
        seconds += training_flops(spec, shape, classes, images) / rate
    return seconds / 3600


def plan_text(config: dict, results: Path, quick: dict | None, quick_command: str, local: bool = True) -> str:
    """The plan in words. ``quick``: the quick profile's config, to suggest when training here is long;
    ``local``: whether jobs run on this machine (not on a cluster's nodes)."""
    variants = trained_variants(config)
    counts = job_counts(config, variants)
    stability = stability_runs(config)
    seeds = config["stability"]["seeds"]
    check = f", and {len(stability)} runs of a stability check on seeds {seeds}" if stability else ""
    looks = config["design"]["looks"]
    at_most, in_looks = ("at most ", f" in looks of {looks} seeds per variant") if len(looks) > 1 else ("", "")
    lines = [
        f"Study plan: {at_most}{sum(counts.values())} jobs ("
        + ", ".join(f"{rule} {n}" for rule, n in counts.items())
        + f") for {len(variants)} variants x {len(config['seeds'])} seeds{in_looks}{check}."
    ]
    if not local:
        return "\n".join([*lines, "Jobs run on the cluster's nodes: no estimate from this machine."])
    if has_gpu():
        return "\n".join([*lines, "A GPU is present: no speed has been measured on GPUs yet, so no estimate."])
    flags = cpu_flags()
    speeds = speeds_for_this_cpu(config["training"], flags)
    if speeds.empty:
        return "\n".join([*lines, "No speed has been measured for this CPU, backend and precision, so no estimate."])
    hours = training_hours(config, variants, speeds, results)
    source = speeds.iloc[0]
    lines.append(
        f"Estimated training time here ({cpu_name()}, {os.cpu_count()} cores, {source['precision']}): "
        f"about {hours:.1f} hours{' if every look is taken' if at_most else ''}, from what "
        f"study.training.bench.throughput measured on {source['measured_on']} "
        f"({source['cores']} cores), scaled by cores."
    )
    if hours > LONG_ON_A_CPU_HOURS and quick is not None:
        quick_hours = training_hours(quick, trained_variants(quick), speeds, None)
        lines += [
            f"That is more than {LONG_ON_A_CPU_HOURS} hours on a CPU. The quick profile tells the lecture's story "
            f"in about {quick_hours:.1f} hours of training here:",
            f"    {quick_command}",
        ]
    return "\n".join(lines)


def has_gpu() -> bool:
    """Whether the jobs have a GPU to claim (`study.training.gpus.gpu_pool`)."""
    return bool(gpu_pool())
