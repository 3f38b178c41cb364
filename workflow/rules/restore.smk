# A stage trained in an earlier session, taken from the study's published facts instead of training it
# again (config restore): its runs' history, steps, diagnostics and metrics, and no model. The rule
# matches only the restored stages' variants, and wins over train there. The archive is ancient: publishing
# the study writes it again, with the same facts, and that must not restore them again.
ruleorder: restored_run > train


rule restored_run:
    input:
        facts=ancient(get_restore_facts()),
    output:
        **get_run_outputs(RUN_FACTS),
    log:
        LAYOUT.log("restored_run", "{variant}", "seed_{seed}"),
    wildcard_constraints:
        variant=get_restored_variants_pattern(),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        run=get_run,
    script:
        "../scripts/restored_run.py"
