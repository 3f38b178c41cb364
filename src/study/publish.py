"""Publish a finished run: copy its report and key tables, and describe how it was made.

    python -m study.publish --results results --out docs/reproduction --command "..."

Writes OUT/report.html, OUT/summary.csv, OUT/claims.csv and OUT/README.md
(command, commit, machine, timing, data provenance), and rewrites the block
between the results markers in the project README with the claims table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

START, END = "<!-- results:start -->", "<!-- results:end -->"


def machine_description() -> str:
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024**2:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPU cores{memory}, {platform.system()} {platform.machine()}"


def run_timing(results: Path) -> dict:
    """Span from the first training job's start to the last one's end, and summed job seconds."""
    metrics = [json.loads(p.read_text()) for p in sorted(results.glob("runs/*/seed_*/metrics.json"))]
    starts = [datetime.fromisoformat(m["started_at"]) for m in metrics]
    ends = [datetime.fromisoformat(m["finished_at"]) for m in metrics]
    benchmarks = [pd.read_csv(p, sep="\t")["s"].sum() for p in results.glob("benchmarks/**/*.tsv")]
    return {
        "training_span_minutes": (max(ends) - min(starts)).total_seconds() / 60,
        "training_jobs": len(metrics),
        "training_job_minutes": sum(benchmarks) / 60,
    }


def claims_markdown(claims: pd.DataFrame) -> str:
    lines = ["| claim | lecture reports | seeds agreeing | verdict |", "|---|---|---|---|"]
    for _, c in claims.iterrows():
        lecture = c["lecture"] if isinstance(c["lecture"], str) else ""
        lines.append(f"| {c['claim']} | {lecture} | {c['agree']} | {c['verdict']} |")
    return "\n".join(lines)


def reproduction_readme(command: str, provenance: dict, timing: dict, claims: pd.DataFrame) -> str:
    config = provenance["config"]
    sources = []
    for dataset, data in provenance["data"].items():
        for name, digest in data["sources"].items():
            sources.append(f"| {dataset} | `{name}` | `{digest['sha256']}` |")
    devices = "; ".join(provenance["devices"])
    precisions = "; ".join(
        sorted(
            {
                f"{s.get('precision', 'float32')} ({s.get('precision_choice', 'set in the config')})"
                for s in provenance["settings"]
            }
        )
    )
    versions = ", ".join(f"{k} {v}" for k, v in provenance["versions"][0].items())
    return "\n".join(
        [
            "# Reproduction on real data: the quick profile",
            "",
            "Regenerate everything in this folder with one command from the repository root:",
            "",
            f"```bash\n{command}\n```",
            "",
            "- Models trained at commit "
            + ", ".join(f"`{c}`" for c in provenance["training_commits"])
            + f"; tables and report built at `{provenance['git_commit']}`",
            f"- Machine: {machine_description()}; trained on {devices}",
            f"- Precision: {precisions}",
            f"- Libraries: {versions}",
            f"- Seeds: {', '.join(str(s) for s in config['seeds'])}; subset per dataset: "
            f"{config['subset'].get('train')} training and {config['subset'].get('test')} test images "
            f"(class-stratified draw, seed {config['subset_seed']})",
            f"- Training: {timing['training_jobs']} jobs, {timing['training_span_minutes']:.1f} minutes from the first "
            f"job's start to the last one's end ({timing['training_job_minutes']:.1f} minutes of job time, "
            "pre-flight and data jobs included).",
            "",
            "## Data provenance",
            "",
            "Fetched through the pipeline's own mirror support (`config/offline-mirror.yaml`) and checked against",
            "the config's checksums. Fashion-MNIST is the exact upstream data from Debian's `dataset-fashion-mnist`",
            "(its payload checksums are the upstream ones). **CIFAR-10 here is a JPEG re-encoding** of the official",
            "set, rebuilt into the official binary layout by `../shared/datasets/make_cifar10_mirror.py`: its",
            "pixels are close to, not identical with, the official ones.",
            "",
            "| dataset | file | sha256 |",
            "|---|---|---|",
            *sources,
            "",
            "## The lecture's claims",
            "",
            claims_markdown(claims),
            "",
            "Files: `report.html` (the full report), `summary.csv` (one row per variant), `claims.csv`.",
            "",
        ]
    )


def replace_results_block(readme: str, block: str) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"README has no {START} ... {END} block to replace")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def publish(results: Path, out: Path, command: str, project_readme: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(results / "report.html", out / "report.html")
    for name in ("summary.csv", "claims.csv"):
        shutil.copyfile(results / "tables" / name, out / name)
    provenance = json.loads((results / "tables" / "provenance.json").read_text())
    claims = pd.read_csv(results / "tables" / "claims.csv")
    timing = run_timing(results)
    (out / "README.md").write_text(reproduction_readme(command, provenance, timing, claims))
    block = "\n".join(
        [
            f"Quick profile on real data, {len(provenance['config']['seeds'])} seeds per variant, on "
            f"{machine_description()} ({timing['training_span_minutes']:.0f} minutes of training). "
            f"Full report: [`docs/reproduction/report.html`]({out.as_posix()}/report.html); how it was made: "
            f"[`docs/reproduction/README.md`]({out.as_posix()}/README.md).",
            "",
            claims_markdown(claims),
        ]
    )
    project_readme.write_text(replace_results_block(project_readme.read_text(), block))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("docs/reproduction"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--command", required=True, help="the command that produced the run, as users type it")
    args = parser.parse_args(argv)
    publish(args.results, args.out, args.command, args.readme)


if __name__ == "__main__":
    main()
