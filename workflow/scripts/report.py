from study.logs import logged_to
from study.reporting.views import REPORT_TABLES, render_report

with logged_to(snakemake.log[0]):
    render_report(
        snakemake.input.notebook,
        snakemake.output.notebook,
        snakemake.output.html,
        tables={name: snakemake.input[name] for name in REPORT_TABLES},
        provenance_json=snakemake.input.provenance,
        stats_jsons=snakemake.input.stats,
        figures_dir=snakemake.output.figures,
        log_output=True,
    )
