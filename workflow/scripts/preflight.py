import json
from pathlib import Path

from study.logs import logged_to
from study.run import Run
from study.runtime import configure_tensorflow

with logged_to(snakemake.log[0]):
    configure_tensorflow()
    from study.preflight import run_preflight

    result = run_preflight(
        Run.from_dict(snakemake.params.run),
        settings=dict(snakemake.params.settings),
        data_dir=Path(snakemake.input.meta).parent,
        stats_path=snakemake.input.stats,
    )
    Path(snakemake.output[0]).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "overfit"}, indent=2))
