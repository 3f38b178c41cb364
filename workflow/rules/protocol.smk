# The protocol: the claims, thresholds, looks, seeds and judging code, written once the study's data is in
# place and frozen (made read-only) by the first training job, which writes it again first if the config's
# rules changed since (study.protocol.freeze); after, nothing does. Every training job and aggregate read it.
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
    script:
        "../scripts/protocol.py"
