import json
from pathlib import Path

from study.logs import logged_to
from study.runtime import configure_tensorflow

with logged_to(snakemake.log[0]):
    configure_tensorflow()
    from study.diagnostics import preflight_summary, require_preflight
    from study.train import train_run

    preflight = json.loads(Path(snakemake.input.preflight).read_text())
    require_preflight(preflight, snakemake.params.stop_failed)
    train_run(
        spec=dict(snakemake.params.spec),
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
        seed=int(snakemake.wildcards.seed),
        out_dir=Path(snakemake.output.metrics).parent,
        variant=snakemake.wildcards.variant,
        subset=dict(snakemake.params.subset),
        subset_seed=snakemake.params.subset_seed,
        probe_images=snakemake.params.probe_images,
        verdict_thresholds=dict(snakemake.params.verdicts),
        preflight=preflight_summary(preflight),
        checkpoint_dir=snakemake.params.checkpoint_dir,
        speed=dict(snakemake.params.speed),
        threads=snakemake.threads,
    )
