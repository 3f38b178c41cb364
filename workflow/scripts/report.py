from pathlib import Path

import papermill

from study.logs import logged_to
from study.reporting.views import export_html

with logged_to(snakemake.log[0]):
    papermill.execute_notebook(
        snakemake.input.notebook,
        snakemake.output.notebook,
        parameters={
            "summary_csv": str(Path(snakemake.input.summary).resolve()),
            "claims_csv": str(Path(snakemake.input.claims).resolve()),
            "runs_csv": str(Path(snakemake.input.runs).resolve()),
            "epochs_csv": str(Path(snakemake.input.epochs).resolve()),
            "steps_csv": str(Path(snakemake.input.steps).resolve()),
            "fixes_csv": str(Path(snakemake.input.fixes).resolve()),
            "diagnostics_csv": str(Path(snakemake.input.diagnostics).resolve()),
            "preflight_csv": str(Path(snakemake.input.preflight).resolve()),
            "preflight_calibration_csv": str(Path(snakemake.input.preflight_calibration).resolve()),
            "params_csv": str(Path(snakemake.input.params).resolve()),
            "stability_csv": str(Path(snakemake.input.stability).resolve()),
            "sensitivity_csv": str(Path(snakemake.input.sensitivity).resolve()),
            "sensitivity_claims_csv": str(Path(snakemake.input.sensitivity_claims).resolve()),
            "provenance_json": str(Path(snakemake.input.provenance).resolve()),
            "stats_jsons": [str(Path(p).resolve()) for p in snakemake.input.stats],
            "figures_dir": str(Path(snakemake.output.figures).resolve()),
        },
        kernel_name="python3",
        cwd=str(Path(snakemake.output.notebook).parent.resolve()),
        log_output=True,
    )
    export_html(snakemake.output.notebook, snakemake.output.html)
