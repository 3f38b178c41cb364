rule aggregate:
    input:
        metrics=get_run_metrics,
        looks=get_look_files,
        preflight=get_run_preflights(),
        stability_metrics=get_stability_metrics(),
    output:
        summary=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        runs=report(
            "results/tables/runs.csv", caption="../report/runs.rst", category="Tables"
        ),
        claims=report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
        ),
        epochs=report(
            "results/tables/epochs.csv",
            caption="../report/epochs.rst",
            category="Tables",
        ),
        steps="results/tables/steps.csv",
        diagnostics="results/tables/diagnostics.csv",
        fixes=report(
            "results/tables/fixes.csv",
            caption="../report/fixes.rst",
            category="Tables",
        ),
        preflight=report(
            "results/tables/preflight.csv",
            caption="../report/preflight.rst",
            category="Tables",
        ),
        preflight_calibration=report(
            "results/tables/preflight_calibration.csv",
            caption="../report/preflight_calibration.rst",
            category="Tables",
        ),
        stability=report(
            "results/tables/stability.csv",
            caption="../report/stability.rst",
            category="Tables",
        ),
        looks="results/tables/looks.csv",
        provenance="results/tables/provenance.json",
    log:
        "results/logs/aggregate.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        run_dirs=get_run_dirs,
        stability_run_dirs=get_stability_run_dirs(),
        protocol=PROTOCOL,
        config=config,
        configfiles=get_config_layers(),
        repository=workflow.basedir,
    script:
        "../scripts/aggregate.py"


rule params:
    input:
        metas=get_run_metas(),
    output:
        report(
            "results/tables/params.csv",
            caption="../report/params.rst",
            category="Tables",
        ),
    log:
        "results/logs/params.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        variants=get_run_variant_specs(),
        datasets=get_run_datasets(),
    script:
        "../scripts/params.py"
