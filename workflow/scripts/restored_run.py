from pathlib import Path

import study_path  # noqa: F401

from study.facts import restore_run
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    run, archive = snakemake.params.run, Path(snakemake.input.facts)
    restore_run(archive, run, {name: Path(path) for name, path in snakemake.output.items()})
    print(f"{run['variant']} seed {run['seed']}: restored from {archive}, as recorded there")
