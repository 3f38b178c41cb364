from pathlib import Path

from study.logs import logged_to

with logged_to(snakemake.log[0]):
    from study.analysis.params import params_table
    from study.data.prepare import read_meta
    from study.training.models import reference_counts, variant_counts

    datasets = {
        dataset: read_meta(Path(meta).parent)
        for dataset, meta in zip(snakemake.params.datasets, snakemake.input.metas, strict=True)
    }
    table = params_table(variant_counts(dict(snakemake.params.variants), datasets), reference_counts())
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
