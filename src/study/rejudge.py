"""Judge a published study again from its recorded facts, without retraining.

    python -m study.rejudge PUBLISHED OUT [--configfile FILE ...] [--report]

PUBLISHED is a folder written by ``python -m study.reporting.publish`` (docs/reproduction/): its
facts.tar.xz holds every run's history, steps, diagnostics and metrics, the looks taken, the pre-flight
checks and the protocol. OUT becomes a results folder rebuilt from them: the facts unpacked in the results
folder's layout, and OUT/tables/ recomputed by the code the workflow's aggregate and sensitivity rules call,
in seconds. Compare it with the published run: ``python -m study.reporting.diff PUBLISHED OUT``.

Each look the study took is judged again first, on the runs it judged, as the workflow's look checkpoint
does (OUT/looks/): the claims' correction over the looks reads every look's p-values. Which runs each look
judged is a fact, decided when the study ran: where the config judged with would have stopped the study at
another look or given a look's seeds to other variants, a warning says so, and the runs there are are the
runs judged.

The config is the one the study was judged with (PUBLISHED/provenance.json), with defaults the schema added
since filled in; --configfile judges with config files instead, layered over config/config.yaml as the
workflow layers them. A config whose protocol differs from the one fixed before the runs makes the claims
exploratory, as in the workflow.

--report also runs the report notebook on the new tables (OUT/report.html, OUT/figures/): it is
optional because it takes tens of seconds rather than seconds.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from study.analysis.lecture_cell import LectureCellFacts
from study.analysis.looks import judge_look
from study.analysis.sensitivity import MapFacts
from study.analysis.tables import StudyFacts, read_runs, runs_table, write_tables
from study.config import DEFAULT_CONFIG, DEFAULT_SCHEMA, REPOSITORY, check_config, load_config, validate_with_defaults
from study.facts import unpack_facts
from study.layout import Layout, run_folder, tables
from study.provenance import git_commit

REPORT_NOTEBOOK = REPOSITORY / "workflow" / "notebooks" / "report.ipynb"
# The rules whose tables are judged again here; params (Keras' counts) is published as it was.
REJUDGED_RULES = ("aggregate", "sensitivity", "lecture_cell")


def judging_config(published: Path, configfiles: list[Path] | None) -> tuple[dict, list[str]]:
    """The config to judge with and its layers: the published study's (validated, defaults added since filled
    in), or ``configfiles`` over config/config.yaml, read by the project's loader."""
    if configfiles:
        return load_config([DEFAULT_CONFIG, *configfiles]), [str(path) for path in configfiles]
    provenance = json.loads((published / "provenance.json").read_text())
    config = copy.deepcopy(provenance["config"])
    validate_with_defaults(config, DEFAULT_SCHEMA)
    check_config(config)
    return config, provenance["configfiles"]


def decision(look: dict) -> str:
    """What a look decided: 'stop' or 'give the next look's seeds to a, b'."""
    return "stop" if look["stop"] else f"give the next look's seeds to {', '.join(look['next_variants'])}"


def rejudge_looks(out: Path, look_jsons: list[str], config: dict) -> None:
    """Judge each look in ``look_jsons`` (under ``out``, in order) again on the runs it judged, as
    workflow/scripts/look.py does, and write it in place of the recorded one; warn where the study would have
    gone on otherwise under ``config``."""
    previous = None
    for name in look_jsons:
        recorded = json.loads((out / name).read_text())
        run_dirs = [str(out / run_folder(variant, seed)) for variant, seed in recorded["runs"]]
        look = judge_look(runs_table(read_runs(run_dirs, config["outcomes"])[0]), previous, config)
        if decision(look) != decision(recorded):
            print(
                f"warning: judged again, look {look['look']} would {decision(look)}, where the study chose to "
                f"{decision(recorded)}; the runs judged are those the study trained"
            )
        (out / name).write_text(json.dumps(look, indent=2) + "\n")
        previous = look


def study_facts(root: Path, manifest: dict, config: dict, configfiles: list[str]) -> StudyFacts:
    """The manifest's files, found under ``root``, read as the aggregate rule reads them."""

    def paths(key: str) -> list[str]:
        return [str(root / name) for name in manifest[key]]

    return StudyFacts.read(
        run_dirs=paths("run_dirs"),
        stability_run_dirs=paths("stability_run_dirs"),
        look_jsons=paths("look_jsons"),
        preflight_jsons=paths("preflight_jsons"),
        protocol_json=str(root / manifest["protocol_json"]),
        config=config,
        configfiles=configfiles,
        commit=git_commit(REPOSITORY),
    )


def write_report(out: Path, manifest: dict, config: dict) -> None:
    """OUT/report.html and OUT/figures/ from OUT/tables/, as workflow/scripts/report.py makes them."""
    from study.reporting.render import render_report

    study = Layout(str(out))
    render_report(
        REPORT_NOTEBOOK,
        study.report("ipynb"),
        study.report("html"),
        tables={table.name: study.table(table.name) for table in tables()},
        config=config,
        stats_jsons=[out / name for name in manifest["stats_jsons"]],
        figures_dir=study.figures,
    )


def rejudge(published: Path, out: Path, configfiles: list[Path] | None = None, report: bool = False) -> None:
    """Rebuild OUT/tables/ (and with ``report`` the report) from the facts published in ``published``."""
    config, layers = judging_config(published, configfiles)
    manifest = unpack_facts(published, out)
    rejudge_looks(out, manifest["look_jsons"], config)
    (out / "tables").mkdir(exist_ok=True)
    study = Layout(str(out))
    facts = {
        "aggregate": study_facts(out, manifest, config, layers),
        "sensitivity": MapFacts.read([str(out / name) for name in manifest["sensitivity_run_dirs"]], config),
        "lecture_cell": LectureCellFacts.read(
            [str(out / name) for name in manifest.get("lecture_cell_run_dirs", [])], config
        ),
    }
    for rule in REJUDGED_RULES:
        write_tables(tables(rule), facts[rule], {table.name: study.table(table.name) for table in tables(rule)})
    if report:
        write_report(out, manifest, config)
    print(f"Tables judged again in {out / 'tables'}; compare: python -m study.reporting.diff {published} {out}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("published", type=Path, help="a published study's folder (docs/reproduction)")
    parser.add_argument("out", type=Path, help="where to rebuild its results folder: facts, tables[, report]")
    parser.add_argument(
        "--configfile",
        type=Path,
        nargs="+",
        help="judge with these config layers over config/config.yaml instead of the published config",
    )
    parser.add_argument("--report", action="store_true", help="also run the report notebook (tens of seconds)")
    args = parser.parse_args(argv)
    rejudge(args.published, args.out, args.configfile, args.report)


if __name__ == "__main__":
    main()
