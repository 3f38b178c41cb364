import json
from pathlib import Path

import study_path  # noqa: F401

from study.data.prepare import prepare
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    meta = prepare(
        snakemake.params.format,
        Path(snakemake.input[0]).parent,
        Path(snakemake.output.meta).parent,
    )
    print(json.dumps(meta, indent=2))
