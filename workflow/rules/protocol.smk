# The protocol: the claims, thresholds, looks, seeds and judging code, fixed before the first run and
# never rewritten (study.protocol). It is written once the study's data is in place, so a study that
# failed before it could train fixes nothing; every training job and aggregate read it.
rule protocol:
    input:
        stats=ancient(get_planned_stats()),
    output:
        protected(LAYOUT.protocol),
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
