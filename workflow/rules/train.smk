rule preflight:
    input:
        unpack(get_variant_data),
    output:
        "results/preflight/{variant}.json",
    log:
        "results/logs/preflight/{variant}.log",
    conda:
        "../../environment.yml"
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
        preflight="results/preflight/{variant}.json",
    output:
        history="results/runs/{variant}/seed_{seed}/history.csv",
        steps="results/runs/{variant}/seed_{seed}/steps.csv",
        diagnostics="results/runs/{variant}/seed_{seed}/diagnostics.csv",
        metrics="results/runs/{variant}/seed_{seed}/metrics.json",
        model="results/runs/{variant}/seed_{seed}/model.keras",
    log:
        "results/logs/train/{variant}/seed_{seed}.log",
    benchmark:
        "results/benchmarks/train/{variant}/seed_{seed}.tsv"
    conda:
        "../../environment.yml"
    threads: 8
    resources:
        gpu=1,
        mem_mb=get_train_mem_mb,
        runtime=get_train_runtime,
    params:
        run=get_run,
        checkpoint_dir="results/checkpoints/{variant}/seed_{seed}",
        protocol=PROTOCOL,
    script:
        "../scripts/train.py"
