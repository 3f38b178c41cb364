import json
from pathlib import Path

import study_path  # noqa: F401

from study.analysis.outcomes import judge_preflight, require_preflight
from study.layout import checkpoint_dir
from study.logs import logged_to
from study.protocol import freeze
from study.tracking.mlflow_runs import tracker_of
from study.training.gpus import claim_job_gpu
from study.training.run import Run
from study.training.runtime import configure_backend

with logged_to(snakemake.log[0]):
    run = Run.from_dict(snakemake.params.run)
    # The gate reads the config, not the rule's params: its thresholds judge, they do not change
    # training, so changing them must not make Snakemake retrain the runs that passed.
    gate = snakemake.config["preflight"]
    preflight = json.loads(Path(snakemake.input.preflight).read_text())
    require_preflight(judge_preflight(preflight, gate), gate["stop_failed"])
    claim_job_gpu()  # before Keras loads its backend: the job sees only the GPU it claimed
    configure_backend(run.training["backend"])
    from study.training.loop import train_run

    protocol_sha256 = freeze(snakemake.input.protocol, snakemake.config)
    # The config, not params: where copies of the run go does not change what it trains.
    tracker = tracker_of(snakemake.config, snakemake.input.protocol, protocol_sha256)
    train_run(
        run,
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
        out_dir=Path(snakemake.output.metrics).parent,
        checkpoint_dir=checkpoint_dir(str(Path(snakemake.output.metrics).parent)),
        threads=snakemake.threads,
        protocol_sha256=protocol_sha256,
        tracker=tracker,
    )
