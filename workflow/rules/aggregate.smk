rule aggregate:
    input:
        metrics=get_run_metrics(),
        preflight=get_run_preflights(),
    output:
        summary="results/tables/summary.csv",
        claims="results/tables/claims.csv",
        epochs="results/tables/epochs.csv",
        diagnostics="results/tables/diagnostics.csv",
        preflight="results/tables/preflight.csv",
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
        run_dirs=get_run_dirs(),
        config=config,
        configfiles=get_config_layers(),
        repository=workflow.basedir,
    script:
        "../scripts/aggregate.py"


rule params:
    input:
        metas=get_run_metas(),
    output:
        "results/tables/params.csv",
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
