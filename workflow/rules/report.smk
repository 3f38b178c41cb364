rule report:
    input:
        notebook=REPORT_NOTEBOOK,
        summary="results/tables/summary.csv",
        claims="results/tables/claims.csv",
        runs="results/tables/runs.csv",
        epochs="results/tables/epochs.csv",
        steps="results/tables/steps.csv",
        diagnostics="results/tables/diagnostics.csv",
        fixes="results/tables/fixes.csv",
        preflight="results/tables/preflight.csv",
        preflight_calibration="results/tables/preflight_calibration.csv",
        params="results/tables/params.csv",
        stability="results/tables/stability.csv",
        sensitivity="results/tables/sensitivity.csv",
        sensitivity_claims="results/tables/sensitivity_claims.csv",
        provenance="results/tables/provenance.json",
        stats=get_run_stats(),
    output:
        notebook="results/report.ipynb",
        html=report(
            "results/report.html", caption="../report/report.rst", category="Report"
        ),
        figures=report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        "results/logs/report.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/report.py"


rule report_pdf:
    input:
        html="results/report.html",
    output:
        pdf=report(
            "results/report.pdf", caption="../report/report_pdf.rst", category="Report"
        ),
    log:
        "results/logs/report_pdf.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/report_pdf.py"
