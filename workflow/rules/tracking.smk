# The runs in the trackers, once they are judged (study.tracking): an HParams session per run for
# TensorBoard, and, where the config names an MLflow server, each run's outcome and cause and the claims'
# verdicts as tags. Every run of the study, its stability check and its map.
rule tracking:
    input:
        unpack(get_tracking_inputs),
        protocol=LAYOUT.protocol,
        claims=LAYOUT.table("claims"),
    output:
        hparams=directory(LAYOUT.tensorboard),
    log:
        LAYOUT.log("tracking"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/tracking.py"
