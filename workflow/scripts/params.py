from study.logs import logged_to

with logged_to(snakemake.log[0]):
    from study.datasets import image_shape
    from study.models import reference_counts, variant_counts
    from study.params import params_table

    shapes = {
        dataset: image_shape(meta)
        for dataset, meta in zip(snakemake.params.datasets, snakemake.input.metas, strict=True)
    }
    table = params_table(variant_counts(dict(snakemake.params.variants), shapes), reference_counts())
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
