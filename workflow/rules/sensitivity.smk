rule sensitivity:
    input:
        metrics=get_sensitivity_metrics(),
    output:
        rates=report(
            "results/tables/sensitivity.csv",
            caption="../report/sensitivity.rst",
            category="Tables",
        ),
        claims="results/tables/sensitivity_claims.csv",
    log:
        "results/logs/sensitivity.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        run_dirs=get_sensitivity_run_dirs(),
        config=config,
    script:
        "../scripts/sensitivity.py"
