rule aggregate:
    input:
        unpack(get_aggregate_inputs),
        preflight=get_run_preflights(),
        protocol=LAYOUT.protocol,
    output:
        **get_table_outputs("aggregate"),
    log:
        LAYOUT.log("aggregate"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=config,
        configfiles=get_config_layers(),
        repository=str(CHECKOUT),
    script:
        "../scripts/aggregate.py"


rule params:
    input:
        metas=get_run_metas(),
    output:
        **get_table_outputs("params"),
    log:
        LAYOUT.log("params"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        variants=get_run_variant_specs(),
        datasets=get_run_datasets(),
    script:
        "../scripts/params.py"
