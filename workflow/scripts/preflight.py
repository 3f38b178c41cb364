import json
from pathlib import Path

import study_path  # noqa: F401

from study.logs import logged_to
from study.training.gpus import claim_job_gpu
from study.training.run import Run
from study.training.runtime import configure_backend

with logged_to(snakemake.log[0]):
    run = Run.from_dict(snakemake.params.run)
    claim_job_gpu()  # before Keras loads its backend: the job sees only the GPU it claimed
    configure_backend(run.training["backend"])
    from study.training.preflight import run_preflight

    result = run_preflight(
        run,
        settings=dict(snakemake.params.settings),
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
    )
    Path(snakemake.output[0]).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "overfit"}, indent=2))
