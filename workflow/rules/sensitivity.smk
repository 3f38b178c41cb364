rule sensitivity:
    input:
        **get_sensitivity_inputs(),
    output:
        **get_table_outputs("sensitivity"),
    log:
        LAYOUT.log("sensitivity"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=config,
    script:
        "../scripts/sensitivity.py"
