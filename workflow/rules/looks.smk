checkpoint look:
    input:
        unpack(get_look_inputs),
    output:
        LAYOUT.look("{look}"),
    log:
        LAYOUT.log("looks", "look_{look}"),
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
        "../scripts/look.py"
