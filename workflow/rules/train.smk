rule train:
    input:
        unpack(get_train_data),
    output:
        history="results/runs/{variant}/seed_{seed}/history.csv",
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
        spec=get_variant_spec,
    script:
        "../scripts/train.py"
