from pathlib import Path

from study.logs import logged_to

with logged_to(snakemake.log[0]):
    from study.train import train_run

    train_run(
        spec=dict(snakemake.params.spec),
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
        seed=int(snakemake.wildcards.seed),
        out_dir=Path(snakemake.output.metrics).parent,
        variant=snakemake.wildcards.variant,
        threads=snakemake.threads,
    )
