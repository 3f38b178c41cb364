import study_path  # noqa: F401

from study.layout import tables
from study.logs import logged_to
from study.reporting.render import render_report

with logged_to(snakemake.log[0]):
    render_report(
        snakemake.input.notebook,
        snakemake.output.notebook,
        snakemake.output.html,
        tables={table.name: snakemake.input[table.name] for table in tables()},
        config=snakemake.params.config,
        stats_jsons=snakemake.input.stats,
        figures_dir=snakemake.output.figures,
        log_output=True,
    )
