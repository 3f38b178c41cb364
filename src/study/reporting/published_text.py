"""The words a published study is shown with: its reproduction README (how it was made, its data, its checks)
and the project README's results block (the claims table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from study.analysis.sensitivity import ALL_CELLS
from study.analysis.statistics import POWER
from study.config import REPOSITORY
from study.facts import FACTS_ARCHIVE
from study.reporting.cells import markdown_table
from study.reporting.claim_words import format_p, stability_summary
from study.reporting.notes import lecture_runs_text
from study.reporting.table_views import lecture_cell_view
from study.reporting.timing_text import stage_wall_time, wall_time

START, END = "<!-- results:start -->", "<!-- results:end -->"


QUICK_PROFILE = "quick.yaml"  # config/quick.yaml: published results made with it are labelled "quick profile"


FIRST_SCREEN = "first-screen.png"


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims as the README shows them: each with its evidence, adjusted p, verdict, and for an undetermined
    one the seeds per variant that give POWER at the design's minimal effect."""
    table = pd.DataFrame(
        {
            "claim": claims["claim"],
            "lecture reports": claims["lecture"],
            "evidence (intervals at each claim's Holm level)": claims["evidence"],
            "Holm-adjusted p": [format_p(p) for p in claims.get("p_adjusted", pd.Series([None] * len(claims)))],
            "verdict": claims["verdict"],
            f"seeds for {POWER:.0%} power": [
                "" if pd.isna(n) else f"{int(n)} (at {at})"
                for n, at in zip(claims["seeds_needed"], claims.get("power_at", [""] * len(claims)), strict=True)
            ],
        }
    )
    return markdown_table(table)


def profile_name(provenance: dict) -> str:
    """The config layers the run was made with ('+' between layers), relative to the repository when in it:
    Snakemake records them as absolute paths of the machine the run was made on."""
    return " + ".join(f"`{repository_path(path)}`" for path in provenance["configfiles"]) or "the default config"


def profile_label(provenance: dict) -> str:
    """' (quick profile)' when config/quick.yaml is one of the run's layers, else ''."""
    quick = any(Path(path).name == QUICK_PROFILE for path in provenance["configfiles"])
    return " (quick profile)" if quick else ""


def seeds_text(config: dict, claims: pd.DataFrame) -> str:
    """'11, 12, 13, added in looks of 2, 3 seeds per variant (2 of 2 looks taken); exploration seeds 1, 2 left
    out': the seeds, and how the looks added them."""
    text = ", ".join(str(s) for s in config["seeds"])
    design = config.get("design", {})
    looks = design.get("looks") or []
    if len(looks) > 1:
        taken = int(claims["looks_taken"].max()) if "looks_taken" in claims else len(looks)
        text += (
            f", added in looks of {', '.join(map(str, looks))} seeds per variant ({taken} of {len(looks)} looks "
            "taken; a variant gets a look's seeds only while a claim on it is undetermined)"
        )
    if design.get("exploration_seeds"):
        text += f"; exploration seeds {', '.join(map(str, design['exploration_seeds']))} left out"
    return text


def repository_path(path: str) -> str:
    path = Path(path)
    return path.relative_to(REPOSITORY).as_posix() if path.is_relative_to(REPOSITORY) else path.as_posix()


def subset_description(config: dict) -> str:
    subset = config["subset"]
    if not subset:
        return "the full splits"
    names = {"train": "training", "val": "validation"}
    caps = [f"{subset[split]} {names[split]}" for split in names if split in subset]
    return f"at most {' and '.join(caps)} images per dataset (class-stratified draw, seed {config['subset_seed']})"


def data_provenance(provenance: dict) -> list[str]:
    """Where the data came from, per dataset: the source, the config's note on it, and each file's digest."""
    config = provenance["config"]
    source = f"the mirror `{config['mirror']}`" if config["mirror"] else "the official URLs in the config"
    lines = [f"Fetched from {source} and checked against the config's checksums.", ""]
    for dataset in provenance["data"]:
        note = config["datasets"][dataset].get("note")
        if note:
            lines += [f"- **{dataset}**: {note}"]
    lines += ["", "| dataset | file | sha256 |", "|---|---|---|"]
    for dataset, data in provenance["data"].items():
        lines += [f"| {dataset} | `{name}` | `{digest['sha256']}` |" for name, digest in data["sources"].items()]
    return lines


def restored_text(restore: dict) -> list[str]:
    """Which stages a run took from an earlier publication's facts (config restore), and how to train them."""
    return (
        [
            f"The stages {', '.join(restore['stages'])} were trained in an earlier session and taken from its "
            f"published facts (`{restore['facts']}`, config `restore`): their runs' records, not their models. "
            "Without `RESTORE`, `make lecture-cell sensitivity confirmatory reproduction` trains every stage here.",
            "",
        ]
        if restore.get("stages")
        else []
    )


def reproduction_readme(command: str, provenance: dict, timing: dict, claims: pd.DataFrame) -> str:
    config = provenance["config"]
    precisions = "; ".join(sorted({f"{t['precision']} ({t['precision_choice']})" for t in provenance["training"]}))
    versions = ", ".join(f"{k} {v}" for k, v in provenance["versions"][0].items())
    return "\n".join(
        [
            f"# Reproduction on real data{profile_label(provenance)}: {profile_name(provenance)}",
            "",
            "Regenerate everything in this folder with one command from the repository root:",
            "",
            f"```bash\n{command}\n```",
            "",
            *restored_text(config.get("restore", {})),
            "- Models trained at commit "
            + ", ".join(f"`{c}`" for c in provenance["training_commits"])
            + f"; tables and report built at `{provenance['git_commit']}`",
            f"- Models trained on {'; '.join(provenance['devices'])}",
            f"- Precision: {precisions}",
            f"- Libraries: {versions}",
            f"- Seeds: {seeds_text(config, claims)}; data: {subset_description(config)}",
            f"- Time: {wall_time(timing)}; {timing['training_jobs']} training jobs, "
            f"{timing['training_job_minutes']:.1f} minutes of training-job time.",
            "",
            "## Data provenance",
            "",
            *data_provenance(provenance),
            "",
            "Files: `report.html` (the full report), `summary.csv` (one row per variant), `runs.csv` (one row",
            "per variant and seed, with outcome, cause and the step it left the plateau), `claims.csv` (the",
            "lecture's claims with intervals, adjusted p-values and seeds needed; the project README shows",
            "them as a table), `fixes.csv` (which fix works best), `preflight_calibration.csv` (how far each",
            "pre-flight check can be trusted), `stability.csv` (the claims on a second, disjoint set of seeds,",
            "when the config names one), `sensitivity.csv`, `sensitivity_claims.csv` and `sensitivity.png` (the",
            "sensitivity map, when the config draws one), `looks.csv` (each claim at each look), `protocol.json`",
            "(the protocol fixed before the first run; every run recorded its sha256), `provenance.json`,",
            f"`{FACTS_ARCHIVE}` (every run's recorded history, steps, diagnostics and metrics, the looks, the",
            "pre-flight checks and the protocol: what the tables are computed from) and",
            f"`{FIRST_SCREEN}` (the report's first screen, 1400 × 900, in headless Chromium). Compare two runs with",
            "`python -m study.reporting.diff A B`; judge this one again, with corrected code or config and no",
            "retraining, with `python -m study.rejudge docs/reproduction OUT`.",
            "",
        ]
    )


def stability_section(table: pd.DataFrame, config: dict) -> str:
    """The stability check in a published run's README: what ran, the summary, and the claims side by side."""
    if table.empty:
        return ""
    seeds = " ".join(str(seed) for seed in config["stability"]["seeds"])
    shown = table.drop(columns=["kind"]).rename(columns=lambda c: c.replace("_", " "))
    return "\n".join(
        [
            "## Stability on a second set of seeds",
            "",
            f"The claims whose variants were also trained on seeds {seeds} (config `stability`), beside this "
            f'run\'s: {stability_summary(table)}. "No evidence they differ" is not evidence that they agree; '
            "the interval of the difference says how large a difference is still possible (`stability.csv`).",
            "",
            markdown_table(shown, decimals=3),
            "",
        ]
    )


def results_block(provenance: dict, claims: pd.DataFrame, out: Path) -> str:
    """The project README's results section: what was run, on what machine, the report's first screen (when
    it was captured), where to read more (with the timing), and the claims."""
    picture = (
        [
            f"![The published report's first screen: the claims with their verdicts and forest plot]"
            f"({out.as_posix()}/{FIRST_SCREEN})",
            "",
        ]
        if (out / FIRST_SCREEN).exists()
        else []
    )
    return "\n".join(
        [
            f"Published run{profile_label(provenance)}: {profile_name(provenance)}, "
            f"{len(provenance['config']['seeds'])} seeds per variant at most, trained on "
            f"{'; '.join(provenance['devices'])}. Full report: [`{out.as_posix()}/report.html`]"
            f"({out.as_posix()}/report.html); how it was made, with timing and data provenance: "
            f"[`{out.as_posix()}/README.md`]({out.as_posix()}/README.md).",
            "",
            *picture,
            claims_markdown(claims),
        ]
    )


def replace_results_block(readme: str, block: str, start: str = START, end: str = END) -> str:
    """``readme`` with the text between the ``start`` and ``end`` markers replaced by ``block``."""
    if start not in readme or end not in readme:
        raise ValueError(f"README has no {start} ... {end} block to replace")
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block}\n{end}{tail}"


def sensitivity_section(results: Path, config: dict) -> str:
    """The sensitivity map in a published run's README: what it ran, how long it took, each cell's rates."""
    rates = pd.read_csv(results / "tables" / "sensitivity.csv")
    if rates.empty:
        return ""
    took = stage_wall_time(results, "sensitivity")
    took = f" {took}" if took else ""
    drawn = config["sensitivity"]
    shown = pd.DataFrame(
        {"variant": rates["variant"]}
        | {key: rates[key].map("{:g}".format) for key in drawn["grid"]}
        | {
            "learned": [f"{k}/{n}" for k, n in zip(rates["n_learned"], rates["n_seeds"], strict=True)],
            "rate 95% CI": [
                f"[{low:.2f}, {high:.2f}]" for low, high in zip(rates["rate_low"], rates["rate_high"], strict=True)
            ],
            "this profile's cell": rates["profile_cell"].map({True: "yes", False: ""}),
        }
    )
    return "\n".join(
        [
            "## Sensitivity map",
            "",
            f"{', '.join(drawn['variants'])} in every cell of the grid {drawn['grid']}, on seeds "
            f"{', '.join(map(str, drawn['seeds']))}: {int(rates['n_seeds'].sum())} training runs.{took} The figure is "
            "`sensitivity.png`, where each claim holds is `sensitivity_claims.csv`. A cell's claims describe (a few "
            "seeds a cell confirm nothing); the map's own claims, its pre-registered trend tests, are below the "
            "table.",
            "",
            markdown_table(shown.rename(columns=lambda c: c.replace("_", " "))),
            "",
            *trend_lines(results),
        ]
    )


def trend_lines(results: Path) -> list[str]:
    """The map's pre-registered trend tests (cell 'all' of sensitivity_claims.csv), a line each."""
    claims = pd.read_csv(results / "tables" / "sensitivity_claims.csv")
    trends = claims[claims["cell"] == ALL_CELLS]
    return [
        f"- {row['claim']}: **{row['verdict']}** ({row['evidence']}; exact stratified trend test, Holm-adjusted "
        f"p = {format_p(row['p_adjusted'])})"
        for row in trends.to_dict("records")
    ] + ([""] if len(trends) else [])


def lecture_cell_section(results: Path, config: dict) -> str:
    """The lecture's own cell in a published run's README: what it ran, how long it took, each run."""
    runs = pd.read_csv(results / "tables" / "lecture_cell.csv")
    if runs.empty:
        return ""
    took = stage_wall_time(results, "lecture-cell")
    took = f"{took} " if took else ""
    return "\n".join(
        [
            "## The lecture's own cell",
            "",
            f"{lecture_runs_text(runs, config)} {took}Every run, judged as the study judges it (`lecture_cell.csv`):",
            "",
            markdown_table(lecture_cell_view(runs), decimals=3),
            "",
        ]
    )
