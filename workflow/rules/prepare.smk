rule prepare:
    input:
        get_dataset_downloads,
    output:
        train_images="results/data/{dataset}/train_images.npy",
        train_labels="results/data/{dataset}/train_labels.npy",
        val_images="results/data/{dataset}/val_images.npy",
        val_labels="results/data/{dataset}/val_labels.npy",
        meta="results/data/{dataset}/meta.json",
    log:
        "results/logs/prepare/{dataset}.log",
    conda:
        "../../environment.yml"
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
        images="results/data/{dataset}/train_images.npy",
    output:
        "results/stats/{dataset}.json",
    log:
        "results/logs/channel_stats/{dataset}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    script:
        "../scripts/channel_stats.py"
