"""Publish a finished run: copy its report and key tables, and describe how it was made.

    python -m study.reporting.publish --results results --out docs/reproduction --command "..."

Writes OUT/report.html, the key tables (published_tables), OUT/facts.tar.xz (the
recorded facts every table is computed from, which ``python -m study.rejudge``
judges again without retraining) and OUT/README.md (command, config layers,
commit, device, timing, data provenance), and rewrites the block between the
results markers in the project README with the claims table and the machine.
Everything it states comes from the run's tables and provenance, and the wall
time (in OUT/README.md only) from --wall-seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

from study.config import DEFAULT_CONFIG, load_config
from study.facts import FACTS_ARCHIVE, write_facts
from study.layout import Layout, stability_runs, tables
from study.reporting.browser import find_chromium, missing_chromium, screenshot
from study.reporting.published_text import (
    FIRST_SCREEN,
    lecture_cell_section,
    replace_results_block,
    reproduction_readme,
    results_block,
    sensitivity_section,
    stability_section,
)
from study.reporting.timing_text import stage_seconds


def published_tables() -> list[str]:
    """The tables a published study carries: those the registry (study.layout.TABLES) marks published."""
    return [table.file for table in tables() if table.published]


def run_timing(results: Path, config: dict) -> dict:
    """Span from the first training job's start to the last one's end, and summed job seconds, over the
    runs of the run's tables and its stability check (results/ may hold other runs too)."""
    study = Layout(str(results))
    runs = pd.read_csv(study.table("runs"))
    names = [*zip(runs["variant"], runs["seed"], strict=True), *stability_runs(config)]
    metrics = [json.loads(Path(study.run_file(variant, seed, "metrics.json")).read_text()) for variant, seed in names]
    starts = [datetime.fromisoformat(m["started_at"]) for m in metrics]
    ends = [datetime.fromisoformat(m["finished_at"]) for m in metrics]
    benchmarks = [pd.read_csv(study.benchmark(variant, seed), sep="\t")["s"].sum() for variant, seed in names]
    return {
        "training_span_minutes": (max(ends) - min(starts)).total_seconds() / 60,
        "training_jobs": len(metrics),
        "training_job_minutes": sum(benchmarks) / 60,
    }


def publish(
    results: Path,
    out: Path,
    command: str,
    project_readme: Path,
    configfiles: list[Path],
    wall_seconds: float | None = None,
) -> None:
    """Publish the study in ``results`` made with the config layers ``configfiles`` (over config/config.yaml,
    as the workflow layers them) to ``out``, and its results block to ``project_readme``."""
    config = load_config([DEFAULT_CONFIG, *configfiles])
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(results / "report.html", out / "report.html")
    for name in published_tables():
        shutil.copyfile(results / "tables" / name, out / name)
    if (results / "protocol.json").exists():
        shutil.copyfile(results / "protocol.json", out / "protocol.json")
    write_facts(results, out / FACTS_ARCHIVE, config)
    recorded = json.loads((results / "tables" / "provenance.json").read_text())
    provenance = recorded | {"config": config, "configfiles": [str(path) for path in configfiles]}
    claims = pd.read_csv(results / "tables" / "claims.csv")
    timing = run_timing(results, config) | {
        "wall_seconds": wall_seconds,
        "confirmatory_seconds": stage_seconds(results, "confirmatory"),
    }
    stability = pd.read_csv(results / "tables" / "stability.csv")
    readme = reproduction_readme(command, provenance, timing, claims)
    readme += stability_section(stability, config)
    readme += sensitivity_section(results, config)
    (out / "README.md").write_text(readme + lecture_cell_section(results, config))
    if (results / "figures" / "sensitivity.png").exists():
        shutil.copyfile(results / "figures" / "sensitivity.png", out / "sensitivity.png")
    chromium = find_chromium()
    if chromium:
        screenshot(out / "report.html", out / FIRST_SCREEN, chromium)
    else:
        print(missing_chromium(f"{out / FIRST_SCREEN}"))
    block = results_block(provenance, claims, out)
    project_readme.write_text(replace_results_block(project_readme.read_text(), block))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("docs/reproduction"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--command", required=True, help="the command that produced the run, as users type it")
    parser.add_argument("--wall-seconds", type=float, help="how long that command took, measured around it")
    parser.add_argument(
        "--configfile", type=Path, nargs="*", default=[], help="the config layers the study was made with"
    )
    args = parser.parse_args(argv)
    publish(args.results, args.out, args.command, args.readme, args.configfile, args.wall_seconds)


if __name__ == "__main__":
    main()
