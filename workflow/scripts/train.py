import json
from pathlib import Path

from study.gpus import claim_job_gpu
from study.logs import logged_to
from study.run import Run
from study.runtime import configure_backend
from study.verdicts import preflight_summary, require_preflight

with logged_to(snakemake.log[0]):
    run = Run.from_dict(snakemake.params.run)
    claim_job_gpu()  # before Keras loads its backend: the job sees only the GPU it claimed
    configure_backend(run.training["backend"])
    from study.train import train_run

    preflight = json.loads(Path(snakemake.input.preflight).read_text())
    require_preflight(preflight, snakemake.params.stop_failed)
    train_run(
        run,
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
        out_dir=Path(snakemake.output.metrics).parent,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        preflight=preflight_summary(preflight),
        threads=snakemake.threads,
    )
