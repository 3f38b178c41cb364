from study.analysis.tables import StudyFiles, write_tables
from study.logs import logged_to
from study.provenance import git_commit

with logged_to(snakemake.log[0]):
    write_tables(
        StudyFiles(
            run_dirs=snakemake.params.run_dirs,
            stability_run_dirs=snakemake.params.stability_run_dirs,
            look_jsons=snakemake.input.looks,
            preflight_jsons=snakemake.input.preflight,
            protocol_json=snakemake.params.protocol,
        ),
        config=snakemake.params.config,
        configfiles=snakemake.params.configfiles,
        commit=git_commit(snakemake.params.repository),
        out=dict(snakemake.output.items()),
    )
