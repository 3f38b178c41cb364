rule prepare:
    input:
        get_dataset_downloads,
    output:
        **{array: LAYOUT.array("{dataset}", array) for array in ARRAYS},
        meta=LAYOUT.meta("{dataset}"),
    log:
        LAYOUT.log("prepare", "{dataset}"),
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        format=get_dataset_format,
    script:
        "../scripts/prepare.py"


rule channel_stats:
    input:
        images=LAYOUT.array("{dataset}", "train_images"),
    output:
        LAYOUT.stats("{dataset}"),
    log:
        LAYOUT.log("channel_stats", "{dataset}"),
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    script:
        "../scripts/channel_stats.py"
