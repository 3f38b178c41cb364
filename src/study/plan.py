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

from study.data.formats import dataset_format
from study.layout import (
    Layout,
    planned_datasets,
    planned_looks,
    planned_runs,
    planned_variants,
    restored_runs,
    stability_runs,
    table_rules,
    tables,
    trained_variants,
    variant_spec,
    variant_subset,
)
from study.specs import forward_flops, training_flops
from study.training.gpus import gpu_pool
from study.training.runtime import choose_precision, cpu_flags, cpu_name

MEASURED_SPEEDS = Path(__file__).parent / "measured_speeds.csv"
LONG_ON_A_CPU_HOURS = 3


def dataset_facts(config: dict, dataset: str, layout: Layout | None) -> tuple[tuple[int, ...], int, int]:
    """Image shape, training images and classes of a dataset: from its prepared meta.json, else its format's
    usual."""
    meta = Path(layout.meta(dataset)) if layout else None
    if meta and meta.exists():
        facts = json.loads(meta.read_text())
        if "classes" in facts:
            return tuple(facts["train"]["shape"]), facts["train"]["images"], facts["classes"]
    typical = dataset_format(config["datasets"][dataset]["format"])
    return typical.shape, typical.train_images, typical.classes


def job_counts(config: dict, pdf: bool = True) -> dict[str, int]:
    """The most jobs of every rule of the workflow (every look taken): the rules before the tables, one job of
    each rule that writes tables (study.layout.TABLES), and the report (printed to PDF where ``pdf``)."""
    datasets = planned_datasets(config)
    return {
        "download": sum(len(config["datasets"][d]["files"]) for d in datasets),
        "prepare": len(datasets),
        "channel_stats": len(datasets),
        "protocol": 1,
        "preflight": len(planned_variants(config)),
        "train": len(planned_runs(config)),
        "restored_run": len(restored_runs(config)),
        "look": len(planned_looks(config)),
        **dict.fromkeys(table_rules(), 1),
        "report": 1,
        "report_pdf": int(pdf),
        "tracking": 1,
    }


def speeds_for_this_cpu(training: dict, flags: set[str]) -> pd.DataFrame:
    """The measured rates for a CPU like this one, with the backend and precision its jobs will use."""
    speeds = pd.read_csv(MEASURED_SPEEDS)
    precision = training["precision"]
    if precision == "auto":
        precision, _ = choose_precision("CPU", flags)
    kind = "amx" if "amx_bf16" in flags else "no_amx"
    same = (speeds["cpu"] == kind) & (speeds["precision"] == precision) & (speeds["backend"] == training["backend"])
    return speeds[same]


def training_hours(config: dict, speeds: pd.DataFrame, layout: Layout | None) -> float:
    """Hours of training, one job at a time, for every planned run still without its metrics.json in
    ``layout``'s study (for all of them without ``layout``)."""
    seconds = 0.0
    for variant, seed in planned_runs(config):
        if layout and Path(layout.run_file(variant, seed, "metrics.json")).exists():
            continue
        spec = variant_spec(config, variant)
        shape, images, classes = dataset_facts(config, spec["dataset"], layout)
        images = min(images, variant_subset(config, variant).get("train", images))
        per_image = forward_flops(spec, shape, classes)
        nearest = speeds.iloc[(speeds["forward_flops"].map(math.log) - math.log(per_image)).abs().argmin()]
        rate = nearest["gflops"] * 1e9 / nearest["cores"] * (os.cpu_count() or 1)
        seconds += training_flops(spec, shape, classes, images) / rate
    return seconds / 3600


def plan_text(
    config: dict, layout: Layout, quick: dict | None, quick_command: str, local: bool = True, pdf: bool = True
) -> str:
    """The plan in words. ``quick``: the quick profile's config, to suggest when training here is long;
    ``local``: whether jobs run on this machine (not on a cluster's nodes); ``pdf``: whether the report is
    printed to PDF."""
    variants = trained_variants(config)
    counts = job_counts(config, pdf)
    stability = stability_runs(config)
    seeds = config["stability"]["seeds"]
    check = f", and {len(stability)} runs of a stability check on seeds {seeds}" if stability else ""
    looks = config["design"]["looks"]
    at_most, in_looks = ("at most ", f" in looks of {looks} seeds per variant") if len(looks) > 1 else ("", "")
    lines = [
        f"Study plan: {at_most}{sum(counts.values())} jobs ("
        + ", ".join(f"{rule} {n}" for rule, n in counts.items())
        + f") for {len(variants)} variants x {len(config['seeds'])} seeds{in_looks}{check}.",
        power_text(config),
        f"Tables ({layout.path('tables')}/): {', '.join(table.file for table in tables())}; the report: "
        f"{layout.report('html')}.",
    ]
    if not local:
        return "\n".join([*lines, "Jobs run on the cluster's nodes: no estimate from this machine."])
    if has_gpu():
        return "\n".join([*lines, "A GPU is present: no speed has been measured on GPUs yet, so no estimate."])
    flags = cpu_flags()
    speeds = speeds_for_this_cpu(config["training"], flags)
    if speeds.empty:
        return "\n".join([*lines, "No speed has been measured for this CPU, backend and precision, so no estimate."])
    hours = training_hours(config, speeds, layout)
    source = speeds.iloc[0]
    lines.append(
        f"Estimated training time here ({cpu_name()}, {os.cpu_count()} cores, {source['precision']}): "
        f"about {hours:.1f} hours{' if every look is taken' if at_most else ''}, from what "
        f"study.training.bench.throughput measured on {source['measured_on']} "
        f"({source['cores']} cores), scaled by cores."
    )
    if hours > LONG_ON_A_CPU_HOURS and quick is not None:
        quick_hours = training_hours(quick, speeds, None)
        lines += [
            f"That is more than {LONG_ON_A_CPU_HOURS} hours on a CPU. The quick profile tells the lecture's story "
            f"in about {quick_hours:.1f} hours of training here:",
            f"    {quick_command}",
        ]
    return "\n".join(lines)


def power_text(config: dict) -> str:
    """Whether the seeds reach what each testable claim needs for 80% power at the design's effects
    (study.analysis.claims.planned_seeds)."""
    from study.analysis.claims import planned_seeds

    planned = planned_seeds(config)
    if planned.empty:
        return "Power: no claim is tested."
    seeds = len(config["seeds"])
    short = planned[planned["seeds_needed"].isna() | (planned["seeds_needed"] > seeds)]
    needed = planned["seeds_needed"].dropna()
    most = f"at most {int(needed.max())} seeds per variant" if len(needed) else "more seeds than can be planned"
    text = (
        f"Power: at the design's effects the {len(planned)} testable claims need {most} for 80% power (each at "
        f"alpha / (looks x claims in its family), from {planned['level'].min():.2g}); the seeds reach {seeds}"
    )
    if short.empty:
        return text + ": enough for every claim."
    under = "; ".join(
        f"{row.claim} ({'more than can be planned' if pd.isna(row.seeds_needed) else int(row.seeds_needed)})"
        for row in short.itertuples()
    )
    return text + f". Too few for {len(short)}, which may end undetermined: {under}."


def has_gpu() -> bool:
    """Whether the jobs have a GPU to claim (`study.training.gpus.gpu_pool`)."""
    return bool(gpu_pool())


def plan_for_workflow(config: dict, layout: Layout, layers: list[str], local: bool, pdf: bool) -> str:
    """The plan the workflow prints before its first job (``layers``: its --configfile files), with the quick
    profile layered on them as the way to a shorter study."""
    from jsonschema import ValidationError

    from study.config import DEFAULT_CONFIG, ConfigError, load_config

    quick_layer = DEFAULT_CONFIG.with_name("quick.yaml")
    quick, note = None, ""
    if not any(Path(layer).name == quick_layer.name for layer in layers):
        try:  # the Snakefile's config is the first layer, whatever --configfile adds
            quick = load_config([DEFAULT_CONFIG, *layers, quick_layer])
        except (ValidationError, ConfigError) as error:
            note = f"\n(the quick profile does not apply to this config: {error})"
    shown = [*(layers or ["config/config.yaml"]), "config/quick.yaml"]
    command = f'make study ARGS="--configfile {" ".join(shown)}"'
    return plan_text(config, layout, quick, command, local=local, pdf=pdf) + note
