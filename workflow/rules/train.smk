rule preflight:
    input:
        unpack(get_variant_data),
    output:
        LAYOUT.preflight("{variant}"),
    log:
        LAYOUT.log("preflight", "{variant}"),
    conda:
        "../envs/study.yaml"
    threads: 8
    resources:
        gpu=1,
        mem_mb=get_train_mem_mb,
        runtime=30,
    params:
        run=get_preflight_run,
        settings=get_preflight_measurements(),
    script:
        "../scripts/preflight.py"


rule train:
    input:
        unpack(get_variant_data),
        preflight=LAYOUT.preflight("{variant}"),
        # ancient: a protocol written again after the runs (it was deleted) retrains none of them; they
        # recorded the hash they trained under, so aggregate flags them
        protocol=ancient(LAYOUT.protocol),
    output:
        **get_run_outputs(RUN_FILES),
    log:
        LAYOUT.log("train", "{variant}", "seed_{seed}"),
    benchmark:
        LAYOUT.benchmark("{variant}", "{seed}")
    conda:
        "../envs/study.yaml"
    threads: 8
    resources:
        gpu=1,
        mem_mb=get_train_mem_mb,
        runtime=get_train_runtime,
    params:
        run=get_run,
    script:
        "../scripts/train.py"
