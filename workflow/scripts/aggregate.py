from study.aggregate import git_commit, write_tables
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    write_tables(
        run_dirs=snakemake.params.run_dirs,
        variants=snakemake.params.config["variants"],
        config=snakemake.params.config,
        commit=git_commit(snakemake.params.repository),
        summary_csv=snakemake.output.summary,
        epochs_csv=snakemake.output.epochs,
        provenance_json=snakemake.output.provenance,
    )
