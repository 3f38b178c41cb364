checkpoint look:
    input:
        metrics=get_look_metrics,
        previous=get_previous_look,
    output:
        "results/looks/look_{look}.json",
    log:
        "results/logs/looks/look_{look}.log",
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        run_dirs=get_look_run_dirs,
        config=config,
    script:
        "../scripts/look.py"
