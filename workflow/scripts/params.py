from pathlib import Path

import study_path  # noqa: F401

from study.logs import logged_to

with logged_to(snakemake.log[0]):
    from study.analysis.params import ParamsFacts
    from study.analysis.tables import write_tables
    from study.data.prepare import read_meta
    from study.layout import tables
    from study.training.models import reference_counts, variant_counts

    datasets = {
        dataset: read_meta(Path(meta).parent)
        for dataset, meta in zip(snakemake.params.datasets, snakemake.input.metas, strict=True)
    }
    facts = ParamsFacts(variant_counts(dict(snakemake.params.variants), datasets), reference_counts())
    write_tables(tables("params"), facts, dict(snakemake.output.items()))
    print(facts.variant_counts, facts.references)
