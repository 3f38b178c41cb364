import json
from pathlib import Path

from study.logs import logged_to
from study.runtime import configure_tensorflow

with logged_to(snakemake.log[0]):
    configure_tensorflow()
    from study.diagnostics import run_preflight

    result = run_preflight(
        variant=snakemake.wildcards.variant,
        spec=dict(snakemake.params.spec),
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
        seed=snakemake.params.seed,
        settings=dict(snakemake.params.settings),
        subset=dict(snakemake.params.subset),
        subset_seed=snakemake.params.subset_seed,
    )
    Path(snakemake.output[0]).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "overfit"}, indent=2))
