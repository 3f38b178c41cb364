rule lecture_cell:
    input:
        **get_lecture_cell_inputs(),
    output:
        **get_table_outputs("lecture_cell"),
    log:
        LAYOUT.log("lecture_cell"),
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
        "../scripts/lecture_cell.py"
