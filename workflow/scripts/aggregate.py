import study_path  # noqa: F401

from study.analysis.tables import StudyFacts, write_tables
from study.layout import run_dirs_of, tables
from study.logs import logged_to
from study.provenance import git_commit

with logged_to(snakemake.log[0]):
    facts = StudyFacts.read(
        run_dirs=run_dirs_of(snakemake.input.metrics),
        stability_run_dirs=run_dirs_of(snakemake.input.stability_metrics),
        look_jsons=snakemake.input.looks,
        preflight_jsons=snakemake.input.preflight,
        protocol_json=snakemake.input.protocol,
        config=snakemake.params.config,
        configfiles=snakemake.params.configfiles,
        commit=git_commit(snakemake.params.repository),
    )
    write_tables(tables("aggregate"), facts, dict(snakemake.output.items()))
