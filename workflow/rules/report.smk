rule report:
    input:
        **get_report_tables(),
        notebook=REPORT_NOTEBOOK,
        stats=get_run_stats(),
    output:
        notebook=LAYOUT.report("ipynb"),
        html=report(
            LAYOUT.report("html"), caption="../report/report.rst", category="Report"
        ),
        figures=report(
            directory(LAYOUT.figures),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        LAYOUT.log("report"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        config=config,
    script:
        "../scripts/report.py"


rule report_pdf:
    input:
        html=LAYOUT.report("html"),
    output:
        pdf=report(
            LAYOUT.report("pdf"), caption="../report/report_pdf.rst", category="Report"
        ),
    log:
        LAYOUT.log("report_pdf"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/report_pdf.py"
