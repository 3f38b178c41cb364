# The protocol: the claims, thresholds, looks, seeds and judging code, written once the study's data is in
# place and frozen (made read-only) by the first training job (study.protocol). Until then a change of the
# config's rules rewrites it, through its params; after, nothing does. Every training job and aggregate
# read it.
rule protocol:
    input:
        stats=ancient(get_planned_stats()),
    output:
        LAYOUT.protocol,
    log:
        LAYOUT.log("protocol"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        rules=get_protocol_rules,
    script:
        "../scripts/protocol.py"
